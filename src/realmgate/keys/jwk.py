"""JSON Web Keys (RFC 7517/7518) to verification keys and back, and RFC 7638 thumbprints.

Every key leaves here bound to the algorithms it may verify (see ``material.py``): the JWK
``alg`` when present (it must fit the key type and curve), otherwise the family of its type.
Checks that cost nothing at load time and close known attacks are made here, once: points on
the curve, RSA exponent odd and > 1, the ROCA fingerprint, HMAC keys at least as long as the
hash, ``use``/``key_ops`` that say "signature verification". The RSA checks live in
:mod:`realmgate.keys.rsacheck`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

from realmgate.b64url import B64Error, b64url_decode, b64url_encode
from realmgate.keys.material import (
    EC_ALG_BY_CURVE,
    EDDSA_ALGS,
    HMAC_ALGS,
    RSA_ALGS,
    KeyMaterialError,
    VerificationKey,
)
from realmgate.keys.rsacheck import check_rsa

__all__ = [
    "PublicKey",
    "jwk_from_public_key",
    "key_from_jwk",
    "key_from_public_key",
    "load_jwks",
    "public_jwk",
    "secret_fingerprint",
    "secret_key",
    "thumbprint",
]

PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey

_CURVES: dict[str, tuple[ec.EllipticCurve, int]] = {
    "P-256": (ec.SECP256R1(), 32),
    "P-384": (ec.SECP384R1(), 48),
    "P-521": (ec.SECP521R1(), 66),
}
_CURVE_BY_OPENSSL_NAME = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}
HMAC_MIN_BYTES = {"HS256": 32, "HS384": 48, "HS512": 64}
"""RFC 7518 section 3.2: the key must be at least as long as the hash output."""
_THUMBPRINT_MEMBERS = {
    "RSA": ("e", "kty", "n"),
    "EC": ("crv", "kty", "x", "y"),
    "OKP": ("crv", "kty", "x"),
    "oct": ("k", "kty"),
}


def key_from_jwk(jwk: Mapping[str, Any], source: str) -> VerificationKey:
    """A verification key from one JWK; private JWKs are accepted and only their public part
    is kept. Raises :class:`KeyMaterialError` saying why the key is unusable."""
    if not isinstance(jwk, Mapping):
        raise KeyMaterialError(f"a JWK must be a JSON object, not {type(jwk).__name__}")
    kty = _text(jwk, "kty", required=True) or ""
    kid = _text(jwk, "kid")
    alg = _text(jwk, "alg")
    use = _text(jwk, "use")
    if use is not None and use != "sig":
        raise KeyMaterialError(f"its use is {use!r}, not 'sig'")
    key_ops = _key_ops(jwk)
    x5t = _text(jwk, "x5t")
    x5t_s256 = _text(jwk, "x5t#S256")
    if kty == "oct":
        secret = _bytes(jwk, "k")
        if not secret:
            raise KeyMaterialError("its 'k' is empty")
        if alg is not None:
            if alg not in HMAC_ALGS:
                raise KeyMaterialError(f"alg {alg!r} is not an HMAC signature algorithm")
            algorithms = frozenset({alg})
        else:
            algorithms = HMAC_ALGS
        algorithms = frozenset(a for a in algorithms if len(secret) >= HMAC_MIN_BYTES[a])
        if not algorithms:
            need = HMAC_MIN_BYTES[alg] if alg else HMAC_MIN_BYTES["HS256"]
            raise KeyMaterialError(
                f"its secret is {len(secret)} bytes; {alg or 'HS256'} needs at least {need} "
                "(RFC 7518 section 3.2)"
            )
        return VerificationKey(
            kid=kid,
            kty="oct",
            algorithms=algorithms,
            key=secret,
            source=source,
            fingerprint=secret_fingerprint(secret),
            bits=len(secret) * 8,
            use=use,
            key_ops=key_ops,
        )
    public = _public_key_of(kty, jwk)
    return key_from_public_key(
        public,
        source=source,
        kid=kid,
        alg=alg,
        x5t=x5t,
        x5t_s256=x5t_s256,
        use=use,
        key_ops=key_ops,
    )


def _public_key_of(kty: str, jwk: Mapping[str, Any]) -> PublicKey:
    if kty == "RSA":
        n, e = _uint(jwk, "n"), _uint(jwk, "e")
        try:
            return rsa.RSAPublicNumbers(e, n).public_key()
        except ValueError as exc:
            raise KeyMaterialError(f"its RSA numbers are invalid ({exc})") from None
    if kty == "EC":
        crv = _text(jwk, "crv", required=True)
        if crv not in _CURVES:
            raise KeyMaterialError(f"curve {crv!r} is not supported (P-256, P-384, P-521)")
        curve, size = _CURVES[crv]
        x, y = _bytes(jwk, "x"), _bytes(jwk, "y")
        if len(x) != size or len(y) != size:
            raise KeyMaterialError(
                f"{crv} coordinates must be {size} bytes each (RFC 7518 section 6.2.1.2)"
            )
        numbers = ec.EllipticCurvePublicNumbers(
            int.from_bytes(x, "big"), int.from_bytes(y, "big"), curve
        )
        try:
            return numbers.public_key()
        except ValueError:
            raise KeyMaterialError(f"its point (x, y) is not on curve {crv}") from None
    if kty == "OKP":
        crv = _text(jwk, "crv", required=True)
        if crv != "Ed25519":
            why = "is not supported" if crv == "Ed448" else "is not a signature curve"
            raise KeyMaterialError(f"OKP curve {crv!r} {why} (only Ed25519)")
        x = _bytes(jwk, "x")
        if len(x) != 32:
            raise KeyMaterialError("an Ed25519 'x' must be 32 bytes")
        return ed25519.Ed25519PublicKey.from_public_bytes(x)
    raise KeyMaterialError(f"key type {kty!r} is not supported (RSA, EC, OKP, oct)")


def key_from_public_key(
    pubkey: Any,
    *,
    source: str,
    kid: str | None = None,
    alias: str | None = None,
    alg: str | None = None,
    x5t: str | None = None,
    x5t_s256: str | None = None,
    use: str | None = None,
    key_ops: frozenset[str] | None = None,
) -> VerificationKey:
    """Bind a ``cryptography`` public key (a private key gives its public part) to the
    algorithms of its type and curve, or to ``alg`` alone if given."""
    if hasattr(pubkey, "private_bytes") and hasattr(pubkey, "public_key"):
        pubkey = pubkey.public_key()
    if isinstance(pubkey, rsa.RSAPublicKey):
        numbers = pubkey.public_numbers()
        check_rsa(numbers.n, numbers.e)
        kty, family, bits = "RSA", RSA_ALGS, pubkey.key_size
    elif isinstance(pubkey, ec.EllipticCurvePublicKey):
        crv = _CURVE_BY_OPENSSL_NAME.get(pubkey.curve.name)
        if crv is None:
            raise KeyMaterialError(f"EC curve {pubkey.curve.name} is not supported")
        kty, family, bits = "EC", frozenset({EC_ALG_BY_CURVE[crv]}), pubkey.curve.key_size
    elif isinstance(pubkey, ed25519.Ed25519PublicKey):
        kty, family, bits = "OKP", EDDSA_ALGS, 256
    elif isinstance(pubkey, ed448.Ed448PublicKey):
        raise KeyMaterialError("Ed448 keys are not supported (only Ed25519)")
    else:
        raise KeyMaterialError(f"{type(pubkey).__name__} is not a supported public key")
    if alg is not None and alg not in family:
        raise KeyMaterialError(
            f"alg {alg!r} does not fit this {kty} key (it can verify {', '.join(sorted(family))})"
        )
    return VerificationKey(
        kid=kid,
        kty=kty,
        algorithms=frozenset({alg}) if alg else family,
        key=pubkey,
        source=source,
        fingerprint=thumbprint(public_jwk(pubkey)),
        alias=alias,
        x5t=x5t,
        x5t_s256=x5t_s256,
        bits=bits,
        use=use,
        key_ops=key_ops,
    )


def secret_key(
    secret: bytes,
    source: str,
    kid: str | None = None,
    algorithms: frozenset[str] = HMAC_ALGS,
) -> VerificationKey:
    """A shared-secret key for HS*. Short secrets are accepted here (``realmgate check``
    warns, RG6053W); JWKs, which carry their own ``alg``, are held to RFC 7518 section 3.2."""
    if not isinstance(secret, bytes) or not secret:
        raise KeyMaterialError("the shared secret is empty")
    extra = set(algorithms) - HMAC_ALGS
    if extra:
        raise KeyMaterialError(f"a shared secret cannot verify {', '.join(sorted(extra))}")
    return VerificationKey(
        kid=kid,
        kty="oct",
        algorithms=frozenset(algorithms),
        key=secret,
        source=source,
        fingerprint=secret_fingerprint(secret),
        bits=len(secret) * 8,
    )


def secret_fingerprint(secret: bytes) -> str:
    """A short SHA-256 prefix naming a secret without revealing it."""
    return "sha256:" + hashlib.sha256(secret).hexdigest()[:16]


def public_jwk(
    public_key: Any, kid: str | None = None, alg: str | None = None, use: str | None = "sig"
) -> dict[str, Any]:
    """The public JWK of a ``cryptography`` key (a private key gives its public part)."""
    if hasattr(public_key, "private_bytes") and hasattr(public_key, "public_key"):
        public_key = public_key.public_key()
    jwk: dict[str, Any]
    if isinstance(public_key, rsa.RSAPublicKey):
        numbers = public_key.public_numbers()
        jwk = {"kty": "RSA", "n": _b64_uint(numbers.n), "e": _b64_uint(numbers.e)}
    elif isinstance(public_key, ec.EllipticCurvePublicKey):
        crv = _CURVE_BY_OPENSSL_NAME.get(public_key.curve.name)
        if crv is None:
            raise KeyMaterialError(f"EC curve {public_key.curve.name} is not supported")
        size = _CURVES[crv][1]
        point = public_key.public_numbers()
        jwk = {
            "kty": "EC",
            "crv": crv,
            "x": b64url_encode(point.x.to_bytes(size, "big")),
            "y": b64url_encode(point.y.to_bytes(size, "big")),
        }
    elif isinstance(public_key, ed25519.Ed25519PublicKey):
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

        raw = public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
        jwk = {"kty": "OKP", "crv": "Ed25519", "x": b64url_encode(raw)}
    else:
        raise KeyMaterialError(f"{type(public_key).__name__} has no public JWK form")
    if kid is not None:
        jwk["kid"] = kid
    if use is not None:
        jwk["use"] = use
    if alg is not None:
        jwk["alg"] = alg
    return jwk


jwk_from_public_key = public_jwk


def thumbprint(jwk: Mapping[str, Any]) -> str:
    """RFC 7638 JWK SHA-256 thumbprint, base64url."""
    kty = jwk.get("kty")
    members = _THUMBPRINT_MEMBERS.get(kty) if isinstance(kty, str) else None
    if members is None:
        raise KeyMaterialError(f"no thumbprint for key type {kty!r}")
    required: dict[str, str] = {}
    for name in members:
        value = jwk.get(name)
        if not isinstance(value, str):
            raise KeyMaterialError(f"member {name!r} is missing or not a string")
        required[name] = value
    canonical = json.dumps(required, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return b64url_encode(hashlib.sha256(canonical.encode("utf-8")).digest())


def load_jwks(data: Mapping[str, Any], source: str) -> tuple[list[VerificationKey], list[str]]:
    """The usable keys of a JWK Set and one problem line per key skipped.

    Beyond each key's own checks: keys sharing a ``kid`` (with different material) are all
    skipped, since a ``kid`` must name one key; and when a set mixes shared secrets with
    public keys the secrets are skipped, since a published set must not carry them.
    """
    entries = data.get("keys") if isinstance(data, Mapping) else None
    if not isinstance(entries, list):
        return [], [f"{source}: not a JWK Set (no 'keys' array)"]
    keys: list[VerificationKey] = []
    problems: list[str] = []
    for index, entry in enumerate(entries, start=1):
        kid = entry.get("kid") if isinstance(entry, Mapping) else None
        name = f"key #{index}" + (f" (kid {kid!r})" if isinstance(kid, str) else "")
        try:
            keys.append(key_from_jwk(entry, f"{source} {name}"))
        except KeyMaterialError as exc:
            problems.append(f"{source} {name}: skipped, {exc}")
    if any(k.kty == "oct" for k in keys) and any(k.kty != "oct" for k in keys):
        problems.extend(
            f"{k.source}: skipped, a shared secret in a set with public keys"
            for k in keys
            if k.kty == "oct"
        )
        keys = [k for k in keys if k.kty != "oct"]
    ambiguous = _ambiguous_kids(entries)
    if ambiguous:
        problems.extend(
            f"{k.source}: skipped, kid {k.kid!r} names different keys in the set"
            for k in keys
            if k.kid in ambiguous
        )
        keys = [k for k in keys if k.kid not in ambiguous]
    return keys, problems


def _ambiguous_kids(entries: Iterable[Any]) -> set[str]:
    """Kids given to entries that are not the same key, usable or not: if one of them was
    skipped, which key the issuer means by that kid is still unclear."""
    seen: dict[str, str] = {}
    ambiguous: set[str] = set()
    for entry in entries:
        kid = entry.get("kid") if isinstance(entry, Mapping) else None
        if not isinstance(kid, str):
            continue
        try:
            identity = thumbprint(entry)
        except KeyMaterialError:
            identity = json.dumps(entry, sort_keys=True, default=str)
        if seen.setdefault(kid, identity) != identity:
            ambiguous.add(kid)
    return ambiguous


def _text(jwk: Mapping[str, Any], name: str, *, required: bool = False) -> str | None:
    if name not in jwk:
        if required:
            raise KeyMaterialError(f"member {name!r} is missing")
        return None
    value = jwk[name]
    if not isinstance(value, str):
        found = "null" if value is None else type(value).__name__
        raise KeyMaterialError(f"member {name!r} must be a string, not {found}")
    return value


def _bytes(jwk: Mapping[str, Any], name: str) -> bytes:
    value = _text(jwk, name, required=True)
    assert value is not None
    try:
        return b64url_decode(value)
    except B64Error as exc:
        raise KeyMaterialError(f"member {name!r} is not base64url: {exc}") from None


def _uint(jwk: Mapping[str, Any], name: str) -> int:
    raw = _bytes(jwk, name)
    if not raw:
        raise KeyMaterialError(f"member {name!r} is empty")
    return int.from_bytes(raw, "big")


def _b64_uint(value: int) -> str:
    return b64url_encode(value.to_bytes((value.bit_length() + 7) // 8 or 1, "big"))


def _key_ops(jwk: Mapping[str, Any]) -> frozenset[str] | None:
    if "key_ops" not in jwk:
        return None
    ops = jwk["key_ops"]
    if not isinstance(ops, list) or not all(isinstance(op, str) for op in ops):
        raise KeyMaterialError("member 'key_ops' must be an array of strings")
    if len(set(ops)) != len(ops):
        raise KeyMaterialError("member 'key_ops' repeats a value (RFC 7517 section 4.3)")
    if "verify" not in ops:
        raise KeyMaterialError(f"its key_ops {ops} do not include 'verify'")
    return frozenset(ops)
