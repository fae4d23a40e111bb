"""``realmgate keys``: make signing keys, publish public JWK Sets, show what a file holds.

realmgate keys generate --type rsa --out issuer-key.pem --cert-out truststore/issuer.pem
realmgate keys jwks truststore/ issuer-key.pem
realmgate keys show truststore.p12 --password-env TS_PASSWORD
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.serialization import Encoding

from realmgate.errors import UsageError
from realmgate.keys.jwk import key_from_public_key, public_jwk, thumbprint
from realmgate.keys.material import KeyMaterialError, VerificationKey
from realmgate.keys.signing import (
    SigningKey,
    generate_private_key,
    load_signing_key,
    pkcs12_bytes,
    private_key_pem,
    self_signed_certificate,
    signing_key_from_private,
)
from realmgate.keys.truststore import TrustStore, load_trust_store

__all__ = ["register"]


def register(subparsers: Any) -> None:
    keys = subparsers.add_parser(
        "keys", help="generate keys, print JWK Sets, show key and trust store files"
    )
    sub = keys.add_subparsers(dest="keys_command", metavar="SUBCOMMAND")
    keys.set_defaults(func=lambda args: _usage(keys))

    gen = sub.add_parser("generate", help="make a private key (and a self-signed certificate)")
    gen.add_argument("--type", required=True, choices=("rsa", "ec", "ed25519"), dest="kind")
    gen.add_argument("--size", type=int, help="RSA modulus bits (default 2048, minimum 2048)")
    gen.add_argument("--curve", choices=("P-256", "P-384", "P-521"), help="EC curve (P-256)")
    gen.add_argument("--out", required=True, type=Path, help="private key file to create")
    gen.add_argument("--format", choices=("pem", "pkcs12"), default="pem")
    gen.add_argument("--password-env", metavar="VAR", help="encrypt with the password in $VAR")
    gen.add_argument("--alias", help="PKCS#12 friendly name (default: the common name)")
    gen.add_argument("--cn", help="certificate common name (default: the alias, or realmgate)")
    gen.add_argument("--days", type=int, default=365, help="certificate validity (365)")
    gen.add_argument(
        "--cert-out", type=Path, help="also write the self-signed certificate (PEM) here"
    )
    gen.set_defaults(func=_generate)

    jwks = sub.add_parser(
        "jwks", help="print the public JWK Set of key, certificate or store files"
    )
    jwks.add_argument("files", nargs="+", type=Path, metavar="FILE")
    jwks.add_argument("--kid", help="kid to use (only with a single key; default: thumbprint)")
    jwks.add_argument("--alg", help="alg to bind each key to")
    jwks.add_argument("--password-env", metavar="VAR", help="password for PKCS#12 / encrypted PEM")
    jwks.set_defaults(func=_jwks)

    show = sub.add_parser("show", help="describe each key in a key, certificate or store file")
    show.add_argument("file", type=Path, metavar="FILE")
    show.add_argument("--password-env", metavar="VAR", help="password for PKCS#12 / encrypted PEM")
    show.add_argument("--json", action="store_true", help="machine-readable output")
    show.set_defaults(func=_show)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def _password(args: argparse.Namespace) -> bytes | None:
    name = getattr(args, "password_env", None)
    if name is None:
        return None
    value = os.environ.get(name)
    if not value:
        raise UsageError(
            "RG0002E",
            what="the password",
            source=f"environment variable {name}",
            detail="it is not set or empty",
        )
    return value.encode("utf-8")


def _create(path: Path, data: bytes, mode: int) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        raise UsageError(
            "RG0001E", detail=f"{path} exists; remove it or choose another path"
        ) from None
    except OSError as exc:
        raise UsageError(
            "RG0002E", what="the output file", source=str(path), detail=exc.strerror
        ) from None
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def _generate(args: argparse.Namespace) -> int:
    password = _password(args)
    if args.format == "pkcs12" and password is None:
        raise UsageError("RG0001E", detail="--format pkcs12 needs --password-env")
    try:
        private = generate_private_key(args.kind, size=args.size, curve=args.curve)
    except KeyMaterialError as exc:
        raise UsageError("RG0001E", detail=str(exc)) from None
    common_name = args.cn or args.alias or "realmgate"
    alias = args.alias or common_name
    certificate = None
    if args.cert_out is not None or args.format == "pkcs12":
        try:
            certificate = self_signed_certificate(private, common_name, args.days)
        except KeyMaterialError as exc:
            raise UsageError("RG0001E", detail=str(exc)) from None
    if args.format == "pkcs12":
        _create(args.out, pkcs12_bytes(private, certificate, alias, password), 0o600)
    else:
        _create(args.out, private_key_pem(private, password), 0o600)
    if args.cert_out is not None and certificate is not None:
        _create(args.cert_out, certificate.public_bytes(Encoding.PEM), 0o644)
    key = signing_key_from_private(private, source=str(args.out))
    print(f"private key: {args.out} ({args.format}{', encrypted' if password else ''})")
    if args.cert_out is not None:
        print(f"certificate: {args.cert_out} (CN={common_name}, {args.days} days)")
    print(f"kid (RFC 7638 thumbprint): {key.kid}")
    print(f"algorithms: {', '.join(sorted(key.algorithms))}")
    return 0


def _load_public(path: Path, password: bytes | None) -> list[tuple[VerificationKey, Any]]:
    """(key, certificate or None) for each public key a file or directory holds."""
    if not path.exists():
        raise UsageError("RG0002E", what="keys", source=str(path), detail="no such file")
    try:
        store = load_trust_store(path, password=password)
    except KeyMaterialError as store_error:
        if path.is_dir():
            raise UsageError(
                "RG0002E", what="keys", source=str(path), detail=str(store_error)
            ) from None
        signing = _load_private(path, password, store_error)
        if signing.kty == "oct":
            raise UsageError(
                "RG0002E",
                what="keys",
                source=str(path),
                detail="it holds a shared secret, which has no public form",
            ) from None
        key = key_from_public_key(
            signing.public_key(), source=str(path), kid=signing.kid, alias=signing.alias
        )
        return [(key, signing.certificate)]
    return _store_entries(store)


def _store_entries(store: TrustStore) -> list[tuple[VerificationKey, Any]]:
    for problem in store.problems:
        print(f"skipped: {problem}", file=sys.stderr)
    return [(k, store.certificate_of(k)) for k in store.keys]


def _load_private(path: Path, password: bytes | None, first: Exception) -> SigningKey:
    try:
        return load_signing_key(path.read_bytes(), source=str(path), password=password)
    except KeyMaterialError as exc:
        raise UsageError(
            "RG0002E", what="keys", source=str(path), detail=f"{first}; as a private key: {exc}"
        ) from None
    except OSError as exc:
        raise UsageError("RG0002E", what="keys", source=str(path), detail=exc.strerror) from None


def _jwks(args: argparse.Namespace) -> int:
    password = _password(args)
    entries = [entry for path in args.files for entry in _load_public(path, password)]
    if args.kid is not None and len(entries) != 1:
        raise UsageError(
            "RG0001E", detail=f"--kid needs exactly one key, and the files hold {len(entries)}"
        )
    published: list[dict[str, Any]] = []
    seen: set[str] = set()
    for key, _certificate in entries:
        if key.fingerprint in seen:
            continue
        seen.add(key.fingerprint)
        if args.alg is not None:
            try:
                key_from_public_key(key.key, source=key.source, alg=args.alg)
            except KeyMaterialError as exc:
                raise UsageError("RG0001E", detail=f"--alg {args.alg}: {exc}") from None
        published.append(
            public_jwk(key.key, kid=args.kid or key.fingerprint, alg=args.alg, use="sig")
        )
    print(json.dumps({"keys": published}, indent=2))
    return 0


def _describe(key: VerificationKey, certificate: Any) -> dict[str, Any]:
    jwk = public_jwk(key.key)
    info: dict[str, Any] = {
        "alias": key.alias,
        "kid": key.kid,
        "kty": key.kty,
        "curve": jwk.get("crv"),
        "bits": key.bits,
        "algorithms": sorted(key.algorithms),
        "thumbprint": thumbprint(jwk),
        "x5t": key.x5t,
        "x5t#S256": key.x5t_s256,
    }
    if certificate is not None:
        info["subject"] = certificate.subject.rfc4514_string()
        info["issuer"] = certificate.issuer.rfc4514_string()
        info["not_before"] = certificate.not_valid_before_utc.isoformat()
        info["not_after"] = certificate.not_valid_after_utc.isoformat()
    return info


def _show(args: argparse.Namespace) -> int:
    described = [_describe(k, c) for k, c in _load_public(args.file, _password(args))]
    if args.json:
        print(json.dumps({"file": str(args.file), "keys": described}, indent=2))
        return 0
    for info in described:
        shape = info["curve"] or f"{info['bits']} bits"
        print(f"{info['alias'] or info['kid'] or '(no alias)'}: {info['kty']} {shape}")
        for name in (
            "kid",
            "algorithms",
            "thumbprint",
            "x5t",
            "x5t#S256",
            "subject",
            "issuer",
            "not_before",
            "not_after",
        ):
            value = info.get(name)
            if value:
                shown = ", ".join(value) if isinstance(value, list) else value
                print(f"  {name}: {shown}")
    return 0
