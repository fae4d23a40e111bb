"""Private keys for the issuing side: the token builder, ``realmgate keys generate``, tests.

A :class:`SigningKey` never shows its private part in ``repr``; its default ``kid`` is the
RFC 7638 thumbprint of its public key, the same kid ``realmgate keys jwks`` publishes.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from realmgate.b64url import B64Error, b64url_decode
from realmgate.keys.jwk import (
    HMAC_MIN_BYTES,
    key_from_public_key,
    public_jwk,
    secret_key,
    thumbprint,
)
from realmgate.keys.material import (
    EC_ALG_BY_CURVE,
    EDDSA_ALGS,
    HMAC_ALGS,
    RSA_ALGS,
    KeyMaterialError,
    VerificationKey,
)

__all__ = [
    "PrivateKey",
    "SigningKey",
    "generate_private_key",
    "load_signing_key",
    "pkcs12_bytes",
    "private_key_pem",
    "self_signed_certificate",
    "signing_key_from_private",
]

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
MIN_RSA_BITS = 2048
_EC_CURVES: dict[str, ec.EllipticCurve] = {
    "P-256": ec.SECP256R1(),
    "P-384": ec.SECP384R1(),
    "P-521": ec.SECP521R1(),
}
_CURVE_NAMES = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}


@dataclass(frozen=True, slots=True, eq=False)
class SigningKey:
    kid: str | None
    kty: str
    """``RSA``, ``EC``, ``OKP`` or ``oct``."""
    algorithms: frozenset[str]
    key: Any = field(repr=False)
    """A ``cryptography`` private key object, or the secret ``bytes`` for ``oct``."""
    source: str = ""
    alias: str | None = None
    certificate: x509.Certificate | None = field(default=None, repr=False)

    def public_key(self) -> Any:
        """The ``cryptography`` public key; a shared secret has none."""
        if self.kty == "oct":
            raise KeyMaterialError("a shared secret has no public key")
        return self.key.public_key()

    def verification_key(self, source: str | None = None) -> VerificationKey:
        """The matching verification key, bound to the same algorithms."""
        where = source or self.source or "signing key"
        if self.kty == "oct":
            return secret_key(self.key, where, kid=self.kid, algorithms=self.algorithms)
        base = key_from_public_key(self.public_key(), source=where, kid=self.kid, alias=self.alias)
        if base.algorithms == self.algorithms:
            return base
        alg = next(iter(self.algorithms)) if len(self.algorithms) == 1 else None
        return key_from_public_key(
            self.public_key(), source=where, kid=self.kid, alias=self.alias, alg=alg
        )


def signing_key_from_private(
    private: Any,
    *,
    source: str,
    kid: str | None = None,
    alias: str | None = None,
    alg: str | None = None,
    certificate: x509.Certificate | None = None,
) -> SigningKey:
    """Wrap a ``cryptography`` private key (or secret bytes) as a :class:`SigningKey`."""
    if isinstance(private, bytes):
        if not private:
            raise KeyMaterialError("the shared secret is empty")
        family = frozenset(a for a in HMAC_ALGS if len(private) >= HMAC_MIN_BYTES[a])
        kty = "oct"
    elif isinstance(private, rsa.RSAPrivateKey):
        if private.key_size < MIN_RSA_BITS:
            raise KeyMaterialError(
                f"a {private.key_size}-bit RSA key is too short to sign (minimum {MIN_RSA_BITS})"
            )
        family, kty = RSA_ALGS, "RSA"
    elif isinstance(private, ec.EllipticCurvePrivateKey):
        crv = _CURVE_NAMES.get(private.curve.name)
        if crv is None:
            raise KeyMaterialError(f"EC curve {private.curve.name} is not supported")
        family, kty = frozenset({EC_ALG_BY_CURVE[crv]}), "EC"
    elif isinstance(private, ed25519.Ed25519PrivateKey):
        family, kty = EDDSA_ALGS, "OKP"
    else:
        raise KeyMaterialError(f"{type(private).__name__} is not a supported private key")
    if alg is not None:
        if alg not in family:
            raise KeyMaterialError(f"a {kty} key of this size cannot sign {alg}")
        family = frozenset({alg})
    if not family:
        raise KeyMaterialError(f"the secret is {len(private)} bytes, under 32 (HS256 minimum)")
    if kid is None and kty != "oct":
        kid = thumbprint(public_jwk(private))
    return SigningKey(kid, kty, family, private, source, alias, certificate)


def load_signing_key(
    data: bytes,
    *,
    source: str,
    password: bytes | None = None,
    alias: str | None = None,
) -> SigningKey:
    """A signing key from PEM (PKCS#8, PKCS#1, SEC1, encrypted), DER, PKCS#12 (the entry
    whose friendly name is ``alias``, else the first key) or a private JWK / JWK Set."""
    stripped = data.lstrip()
    if stripped.startswith(b"{"):
        return _from_jwk_text(stripped, source, alias)
    if b"-----BEGIN" in data:
        return signing_key_from_private(_load_pem(data, password), source=source, alias=alias)
    try:
        private = serialization.load_der_private_key(data, password=password)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        return _from_pkcs12(data, source, password, alias)
    return signing_key_from_private(private, source=source, alias=alias)


def _load_pem(data: bytes, password: bytes | None) -> Any:
    try:
        return serialization.load_pem_private_key(data, password=password)
    except TypeError as exc:
        if "not encrypted" in str(exc):
            return serialization.load_pem_private_key(data, password=None)
        raise KeyMaterialError("the private key is encrypted and no password was given") from None
    except ValueError:
        if password is not None and b"ENCRYPTED" in data:
            raise KeyMaterialError("the password is wrong for this encrypted key") from None
        raise KeyMaterialError("no readable private key in this PEM data") from None


def _from_pkcs12(data: bytes, source: str, password: bytes | None, alias: str | None) -> SigningKey:
    try:
        bundle = pkcs12.load_pkcs12(data, password)
    except ValueError:
        if password is None:
            raise KeyMaterialError(
                "not a PEM, DER or JWK key, and not a PKCS#12 readable without a password"
            ) from None
        raise KeyMaterialError(
            "cannot open as PKCS#12: the password is wrong, or the data is not PKCS#12"
        ) from None
    if bundle.key is None:
        raise KeyMaterialError("the PKCS#12 file holds no private key")
    name = (
        bundle.cert.friendly_name.decode("utf-8", "replace")
        if bundle.cert and bundle.cert.friendly_name
        else None
    )
    if alias is not None and (name is None or name.casefold() != alias.casefold()):
        raise KeyMaterialError(
            f"no private key with alias {alias!r} in the PKCS#12 file (key alias: {name!r})"
        )
    return signing_key_from_private(
        bundle.key,
        source=source,
        alias=name,
        certificate=bundle.cert.certificate if bundle.cert else None,
    )


def _from_jwk_text(text: bytes, source: str, alias: str | None) -> SigningKey:
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise KeyMaterialError(f"not valid JSON ({exc.args[0][:80]})") from None
    if not isinstance(document, Mapping):
        raise KeyMaterialError("a JWK must be a JSON object")
    candidates = document.get("keys") if "keys" in document else [document]
    if not isinstance(candidates, list):
        raise KeyMaterialError("'keys' must be an array")
    private = [k for k in candidates if isinstance(k, Mapping) and ("d" in k or "k" in k)]
    if alias is not None:
        private = [k for k in private if k.get("kid") == alias]
    if not private:
        wanted = f" with kid {alias!r}" if alias is not None else ""
        raise KeyMaterialError(f"no private JWK{wanted} (a private JWK has 'd', or 'k')")
    return signing_key_from_jwk(private[0], source)


def signing_key_from_jwk(jwk: Mapping[str, Any], source: str) -> SigningKey:
    """A signing key from a private JWK (RSA with CRT members, EC, OKP Ed25519, oct)."""
    kty, kid, alg = jwk.get("kty"), jwk.get("kid"), jwk.get("alg")
    if kid is not None and not isinstance(kid, str):
        raise KeyMaterialError("member 'kid' must be a string")
    if alg is not None and not isinstance(alg, str):
        raise KeyMaterialError("member 'alg' must be a string")
    private: Any
    try:
        if kty == "oct":
            private = _b(jwk, "k")
        elif kty == "RSA":
            n, e, d = _i(jwk, "n"), _i(jwk, "e"), _i(jwk, "d")
            if "p" in jwk:
                p, q = _i(jwk, "p"), _i(jwk, "q")
                dp, dq, qi = _i(jwk, "dp"), _i(jwk, "dq"), _i(jwk, "qi")
            else:
                p, q = rsa.rsa_recover_prime_factors(n, e, d)
                dp, dq, qi = rsa.rsa_crt_dmp1(d, p), rsa.rsa_crt_dmq1(d, q), rsa.rsa_crt_iqmp(p, q)
            numbers = rsa.RSAPrivateNumbers(p, q, d, dp, dq, qi, rsa.RSAPublicNumbers(e, n))
            private = numbers.private_key()
        elif kty == "EC":
            crv = jwk.get("crv")
            if crv not in _EC_CURVES:
                raise KeyMaterialError(f"curve {crv!r} is not supported")
            private = ec.derive_private_key(_i(jwk, "d"), _EC_CURVES[crv])
            expected = public_jwk(private)
            if (expected["x"], expected["y"]) != (jwk.get("x"), jwk.get("y")):
                raise KeyMaterialError("its 'd' does not match its public point")
        elif kty == "OKP" and jwk.get("crv") == "Ed25519":
            private = ed25519.Ed25519PrivateKey.from_private_bytes(_b(jwk, "d"))
            if public_jwk(private)["x"] != jwk.get("x"):
                raise KeyMaterialError("its 'd' does not match its public 'x'")
        else:
            raise KeyMaterialError(f"key type {kty!r} / curve {jwk.get('crv')!r} cannot sign")
    except ValueError as exc:
        raise KeyMaterialError(f"its private numbers are invalid ({exc})") from None
    return signing_key_from_private(private, source=source, kid=kid, alg=alg)


def _b(jwk: Mapping[str, Any], name: str) -> bytes:
    value = jwk.get(name)
    if not isinstance(value, str):
        raise KeyMaterialError(f"member {name!r} is missing or not a string")
    try:
        return b64url_decode(value)
    except B64Error as exc:
        raise KeyMaterialError(f"member {name!r} is not base64url: {exc}") from None


def _i(jwk: Mapping[str, Any], name: str) -> int:
    return int.from_bytes(_b(jwk, name), "big")


def generate_private_key(
    kind: str, *, size: int | None = None, curve: str | None = None
) -> PrivateKey:
    """A new private key: ``rsa`` (2048 bits unless ``size``; never under 2048), ``ec``
    (``curve`` P-256 unless given; P-384, P-521) or ``ed25519``."""
    if kind == "rsa":
        bits = 2048 if size is None else size
        if bits < MIN_RSA_BITS or bits > 16384:
            raise KeyMaterialError(f"RSA size {bits} is out of range ({MIN_RSA_BITS} to 16384)")
        return rsa.generate_private_key(public_exponent=65537, key_size=bits)
    if size is not None:
        raise KeyMaterialError(f"a size applies only to RSA keys, not {kind}")
    if kind == "ec":
        name = curve or "P-256"
        if name not in _EC_CURVES:
            raise KeyMaterialError(f"curve {name!r} is not supported (P-256, P-384, P-521)")
        return ec.generate_private_key(_EC_CURVES[name])
    if curve is not None:
        raise KeyMaterialError(f"a curve applies only to EC keys, not {kind}")
    if kind == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    raise KeyMaterialError(f"key type {kind!r} is not supported (rsa, ec, ed25519)")


def private_key_pem(key: PrivateKey, password: bytes | None = None) -> bytes:
    """PKCS#8 PEM, encrypted with the best available cipher when ``password`` is given."""
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )


def self_signed_certificate(key: PrivateKey, common_name: str, days: int) -> x509.Certificate:
    """A self-signed end-entity certificate for ``key`` (for trust stores and tests)."""
    if days <= 0:
        raise KeyMaterialError(f"a certificate must be valid for at least one day, not {days}")
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    )
    digest = None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return builder.sign(key, digest)


def pkcs12_bytes(
    key: PrivateKey | None,
    cert: x509.Certificate | None,
    alias: str,
    password: bytes | None,
    *,
    extra_certs: list[tuple[str, x509.Certificate]] | None = None,
) -> bytes:
    """A PKCS#12 file with ``key`` and ``cert`` under the friendly name ``alias`` (either may
    be None for a certificates-only trust store) and ``extra_certs`` under their names."""
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    cas = [pkcs12.PKCS12Certificate(c, name.encode("utf-8")) for name, c in (extra_certs or [])]
    if key is None and cert is not None:
        cas.insert(0, pkcs12.PKCS12Certificate(cert, alias.encode("utf-8")))
        cert = None
    return pkcs12.serialize_key_and_certificates(
        alias.encode("utf-8") if key is not None else None, key, cert, cas or None, encryption
    )
