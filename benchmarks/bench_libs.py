"""The other Python JWT libraries, each verifying with the checks realmgate makes.

Every verifier gets a preloaded key object (no per-call key parsing that the library lets a
caller avoid) and checks the signature with the one allowed algorithm, ``exp`` (required),
``nbf``, ``iat``, ``iss`` and ``aud``, with the 60 s leeway of the realmgate definitions.
They are installed by the ``bench`` extra: ``pip install -e '.[bench]'``. A library that is
not installed, or cannot do an algorithm, is reported as missing.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

from bench_fixtures import AUDIENCE, AlgKeys, issuer_of

Verify = Callable[[str], Any]


def pyjwt(keys: AlgKeys) -> Verify | None:
    try:
        import jwt
    except ImportError:
        return None
    alg, key, issuer = keys.alg, keys.public, issuer_of(keys.alg)
    options = {"require": ["exp", "iss", "aud"]}

    def verify(token: str) -> Any:
        return jwt.decode(
            token,
            key,
            algorithms=[alg],
            audience=AUDIENCE,
            issuer=issuer,
            leeway=60,
            options=options,
        )

    return verify


def joserfc(keys: AlgKeys) -> Verify | None:
    try:
        from joserfc import jwt
        from joserfc.jwk import ECKey, OctKey, OKPKey, RSAKey
    except ImportError:
        return None
    alg = keys.alg
    key: Any
    if alg == "HS256":
        key = OctKey.import_key(keys.public)
    else:
        kind = {"RS256": RSAKey, "PS256": RSAKey, "ES256": ECKey, "EdDSA": OKPKey}[alg]
        key = kind.import_key(keys.public_pem())
    registry = jwt.JWTClaimsRegistry(
        leeway=60,
        iss={"essential": True, "value": issuer_of(alg)},
        aud={"essential": True, "value": AUDIENCE},
        exp={"essential": True},
    )
    algorithms = [alg]
    warnings.filterwarnings("ignore", module="joserfc")  # EdDSA is "deprecated" in 1.x

    def verify(token: str) -> Any:
        decoded = jwt.decode(token, key, algorithms=algorithms)
        registry.validate(decoded.claims)
        return decoded.claims

    return verify


def authlib(keys: AlgKeys) -> Verify | None:
    try:
        import authlib.deprecate  # noqa: F401  # installs an "always" filter for its warnings

        with warnings.catch_warnings():  # "authlib.jose module is deprecated"
            warnings.simplefilter("ignore")
            from authlib.jose import JsonWebKey, JsonWebToken
    except ImportError:
        return None
    alg = keys.alg
    if alg == "HS256":
        key = JsonWebKey.import_key(keys.public, {"kty": "oct"})
    else:
        key = JsonWebKey.import_key(keys.public_pem())
    engine = JsonWebToken([alg])
    options = {
        "iss": {"essential": True, "value": issuer_of(alg)},
        "aud": {"essential": True, "value": AUDIENCE},
        "exp": {"essential": True},
    }

    def verify(token: str) -> Any:
        claims = engine.decode(token, key, claims_options=options)
        claims.validate(leeway=60)
        return claims

    return verify


LIBRARIES: dict[str, Callable[[AlgKeys], Verify | None]] = {
    "PyJWT": pyjwt,
    "joserfc": joserfc,
    "authlib": authlib,
}


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, str] = {}
    for name, dist in (("PyJWT", "pyjwt"), ("joserfc", "joserfc"), ("authlib", "authlib")):
        try:
            out[name] = version(dist)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out
