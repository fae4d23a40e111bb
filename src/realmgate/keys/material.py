"""A verification key bound to the algorithms it may verify.

A key never verifies an algorithm outside ``algorithms``: that binding, made when the key is
loaded (from the JWK ``alg``, or from the key type and curve), is what stops RS/HS confusion
and cross-curve substitution whatever the token header claims.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

RSA_ALGS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"})
HMAC_ALGS = frozenset({"HS256", "HS384", "HS512"})
EC_ALG_BY_CURVE = {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}
EDDSA_ALGS = frozenset({"EdDSA"})
ALL_ALGS = RSA_ALGS | HMAC_ALGS | frozenset(EC_ALG_BY_CURVE.values()) | EDDSA_ALGS


class KeyMaterialError(Exception):
    """A key, certificate or store could not be read or is unusable; ``str()`` says why."""


@dataclass(frozen=True, slots=True, eq=False)
class VerificationKey:
    kid: str | None
    kty: str
    """JWK key type: ``RSA``, ``EC``, ``OKP`` or ``oct``."""
    algorithms: frozenset[str]
    """The JWS algorithms this key may verify."""
    key: Any = field(repr=False)
    """A ``cryptography`` public key object, or ``bytes`` for ``oct``."""
    source: str
    """Human description of where it came from, for messages."""
    fingerprint: str
    """RFC 7638 JWK SHA-256 thumbprint (base64url); for ``oct`` a hash of the secret."""
    alias: str | None = None
    x5t: str | None = None
    x5t_s256: str | None = None
    bits: int | None = None
    """RSA modulus size, EC curve size, 256 for Ed25519, secret length * 8 for oct."""
    use: str | None = None
    key_ops: frozenset[str] | None = None

    def label(self) -> str:
        return self.kid or self.alias or self.fingerprint[:16]
