"""Trust stores: the certificates and public keys a definition trusts, each under an alias.

Accepted, by content (and by extension only to tell PKCS#12 from DER):

* a PEM file of certificates and/or public keys (SubjectPublicKeyInfo or PKCS#1
  ``RSA PUBLIC KEY``); private key blocks are ignored, only public material is trusted;
* a DER certificate or public key (``.der``, ``.cer``, ``.crt``);
* a JWK Set (or one JWK) in JSON: alias = ``kid``;
* PKCS#12 (``.p12``, ``.pfx``): alias = each certificate's friendly name, with or without
  private keys;
* a directory of such files (hidden files and other extensions are skipped).

A file's alias is its stem; with several objects in one file the first is ``stem``, the next
``stem#2`` and so on. :meth:`TrustStore.select` matches an alias exactly, and falls back to a
case-insensitive match because PKCS#12 friendly names are often upper-cased by the tools
that write them (RACF, ``keytool``), while configurations spell them as they remember them.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from realmgate.b64url import b64url_encode
from realmgate.keys.jwk import key_from_jwk, key_from_public_key
from realmgate.keys.material import KeyMaterialError, VerificationKey

__all__ = ["TrustStore", "load_trust_store"]

_FILE_SUFFIXES = frozenset(
    {".pem", ".crt", ".cer", ".der", ".pub", ".key", ".json", ".jwks", ".jwk", ".p12", ".pfx"}
)
_PKCS12_SUFFIXES = frozenset({".p12", ".pfx"})
_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----\r?\n.*?-----END \1-----", re.DOTALL)
_MAX_FILE_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class TrustStore:
    path: Path
    keys: tuple[VerificationKey, ...]
    certificates: tuple[x509.Certificate | None, ...] = field(default=(), repr=False)
    """Parallel to ``keys``: the certificate each key came from, if any."""
    problems: tuple[str, ...] = ()
    """Entries skipped as unusable, one line each (shown by ``check`` and ``keys show``)."""

    def aliases(self) -> list[str]:
        """Every alias, in store order, each once."""
        return list(dict.fromkeys(k.alias for k in self.keys if k.alias is not None))

    def select(self, alias: str) -> tuple[VerificationKey, ...]:
        """Keys under ``alias``: exact match, else case-insensitive; empty if none."""
        exact = tuple(k for k in self.keys if k.alias == alias)
        if exact:
            return exact
        folded = alias.casefold()
        return tuple(k for k in self.keys if k.alias is not None and k.alias.casefold() == folded)

    def by_kid(self, kid: str) -> tuple[VerificationKey, ...]:
        return tuple(k for k in self.keys if k.kid == kid)

    def certificate_of(self, key: VerificationKey) -> x509.Certificate | None:
        for candidate, certificate in zip(self.keys, self.certificates, strict=False):
            if candidate is key:
                return certificate
        return None


@dataclass
class _Builder:
    path: Path
    keys: list[VerificationKey] = field(default_factory=list)
    certificates: list[x509.Certificate | None] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def source(self, alias: str) -> str:
        return f"trust store {self.path} alias {alias!r}"

    def add_public(self, public: Any, alias: str, certificate: x509.Certificate | None) -> None:
        x5t = x5t_s256 = None
        if certificate is not None:
            der = certificate.public_bytes(serialization.Encoding.DER)
            x5t = b64url_encode(hashlib.sha1(der, usedforsecurity=False).digest())
            x5t_s256 = b64url_encode(hashlib.sha256(der).digest())
        try:
            key = key_from_public_key(
                public,
                source=self.source(alias),
                kid=alias,
                alias=alias,
                x5t=x5t,
                x5t_s256=x5t_s256,
            )
        except KeyMaterialError as exc:
            self.problems.append(f"{self.source(alias)}: skipped, {exc}")
            return
        self.keys.append(key)
        self.certificates.append(certificate)

    def build(self) -> TrustStore:
        if not self.keys:
            why = "; ".join(self.problems) if self.problems else "it holds no certificate or key"
            raise KeyMaterialError(f"no usable key in {self.path}: {why}")
        return TrustStore(
            self.path, tuple(self.keys), tuple(self.certificates), tuple(self.problems)
        )


def load_trust_store(path: Path, *, password: bytes | None = None) -> TrustStore:
    """Read a trust store file or directory; raise :class:`KeyMaterialError` saying why it
    cannot be used (the password is never part of a message)."""
    path = Path(path)
    builder = _Builder(path)
    if path.is_dir():
        files = sorted(
            p
            for p in path.iterdir()
            if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in _FILE_SUFFIXES
        )
        for file in files:
            _load_file(builder, file, password)
    else:
        _load_file(builder, path, password)
    return builder.build()


def _load_file(builder: _Builder, file: Path, password: bytes | None) -> None:
    try:
        if file.stat().st_size > _MAX_FILE_BYTES:
            raise KeyMaterialError(f"{file} is larger than {_MAX_FILE_BYTES} bytes")
        data = file.read_bytes()
    except OSError as exc:
        raise KeyMaterialError(f"cannot read {file}: {exc.strerror}") from None
    stem = file.stem
    if file.suffix.lower() in _PKCS12_SUFFIXES:
        _load_pkcs12(builder, file, data, password)
    elif data.lstrip()[:1] == b"{":
        _load_jwks(builder, file, data)
    elif b"-----BEGIN " in data:
        _load_pem(builder, file, data, stem)
    else:
        _load_der(builder, file, data, stem, password)


def _aliases(stem: str, count: int) -> list[str]:
    return [stem] + [f"{stem}#{n}" for n in range(2, count + 1)]


def _load_pem(builder: _Builder, file: Path, data: bytes, stem: str) -> None:
    objects: list[tuple[Any, x509.Certificate | None]] = []
    for match in _PEM_BLOCK.finditer(data):
        label, block = match.group(1).decode("ascii"), match.group(0)
        try:
            if label in ("CERTIFICATE", "X509 CERTIFICATE", "TRUSTED CERTIFICATE"):
                cert = x509.load_pem_x509_certificate(block)
                objects.append((cert.public_key(), cert))
            elif label in ("PUBLIC KEY", "RSA PUBLIC KEY"):
                objects.append((serialization.load_pem_public_key(block), None))
        except ValueError as exc:
            raise KeyMaterialError(f"{file}: a {label} block cannot be read ({exc})") from None
    if not objects:
        raise KeyMaterialError(f"{file} holds no PEM certificate or public key")
    for alias, (public, certificate) in zip(_aliases(stem, len(objects)), objects, strict=True):
        builder.add_public(public, alias, certificate)


def _load_der(
    builder: _Builder, file: Path, data: bytes, stem: str, password: bytes | None
) -> None:
    try:
        certificate = x509.load_der_x509_certificate(data)
    except ValueError:
        pass
    else:
        builder.add_public(certificate.public_key(), stem, certificate)
        return
    try:
        public = serialization.load_der_public_key(data)
    except ValueError:
        pass
    else:
        builder.add_public(public, stem, None)
        return
    _load_pkcs12(builder, file, data, password)


def _load_jwks(builder: _Builder, file: Path, data: bytes) -> None:
    try:
        document = json.loads(data)
    except ValueError as exc:
        raise KeyMaterialError(f"{file} is not valid JSON ({str(exc)[:80]})") from None
    if not isinstance(document, Mapping):
        raise KeyMaterialError(f"{file} is not a JWK or JWK Set object")
    entries = document.get("keys", [document])
    if not isinstance(entries, list):
        raise KeyMaterialError(f"{file}: 'keys' is not an array")
    seen: dict[str, str] = {}
    for index, entry in enumerate(entries, start=1):
        kid = entry.get("kid") if isinstance(entry, Mapping) else None
        alias = kid if isinstance(kid, str) and kid else f"{file.stem}#{index}"
        try:
            key = key_from_jwk(entry, builder.source(alias))
        except KeyMaterialError as exc:
            builder.problems.append(f"{builder.source(alias)}: skipped, {exc}")
            continue
        if seen.setdefault(alias, key.fingerprint) != key.fingerprint:
            raise KeyMaterialError(f"{file}: kid {alias!r} names two different keys")
        if key.kty == "oct":
            builder.problems.append(
                f"{builder.source(alias)}: skipped, a trust store holds public keys, not "
                "shared secrets (use shared_secret_env)"
            )
            continue
        builder.keys.append(_with_alias(key, alias))
        builder.certificates.append(None)


def _with_alias(key: VerificationKey, alias: str) -> VerificationKey:
    return VerificationKey(
        kid=key.kid,
        kty=key.kty,
        algorithms=key.algorithms,
        key=key.key,
        source=key.source,
        fingerprint=key.fingerprint,
        alias=alias,
        x5t=key.x5t,
        x5t_s256=key.x5t_s256,
        bits=key.bits,
        use=key.use,
        key_ops=key.key_ops,
    )


def _load_pkcs12(builder: _Builder, file: Path, data: bytes, password: bytes | None) -> None:
    try:
        bundle = pkcs12.load_pkcs12(data, password)
    except ValueError:
        if password is None:
            raise KeyMaterialError(
                f"{file} is not a readable certificate, key or PKCS#12 file (if it is PKCS#12, "
                "it needs a password: set trust_store_password_env)"
            ) from None
        raise KeyMaterialError(
            f"cannot open PKCS#12 file {file}: the password is wrong, or the file is damaged"
        ) from None
    entries = ([bundle.cert] if bundle.cert is not None else []) + list(bundle.additional_certs)
    names = [
        e.friendly_name.decode("utf-8", "replace") if e.friendly_name else None for e in entries
    ]
    fallback = iter(_aliases(file.stem, len(entries) + 1))
    for entry, name in zip(entries, names, strict=True):
        alias = name or next(a for a in fallback if a not in names)
        builder.add_public(entry.certificate.public_key(), alias, entry.certificate)
    if bundle.key is not None and bundle.cert is None:
        # A key without its certificate: trust its public part under the file stem.
        alias = next(a for a in fallback if a not in names)
        builder.add_public(bundle.key.public_key(), alias, None)
