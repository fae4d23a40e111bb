"""``realmgate token create``: the client side, issuing a signed JWT."""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

from realmgate.builder import TokenBuilder
from realmgate.cli.common import read_secret_input
from realmgate.errors import UsageError
from realmgate.keys.material import ALL_ALGS, KeyMaterialError
from realmgate.keys.signing import SigningKey, load_signing_key, signing_key_from_private


def register(sub: Any) -> None:
    token = sub.add_parser("token", help="issue tokens (the client side)")
    commands = token.add_subparsers(dest="token_command", metavar="SUBCOMMAND")
    create = commands.add_parser(
        "create",
        help="print a signed compact JWT",
        description="Sign a JWT with a private key from a PEM or PKCS#12 file, stdin (-) or "
        "an environment variable (env:NAME), or with a shared secret for HS*.",
    )
    source = create.add_mutually_exclusive_group(required=True)
    source.add_argument("--key", help="private key: PEM/PKCS#12/JWK file, '-' (stdin) or env:NAME")
    source.add_argument("--secret-env", metavar="NAME", help="HS* shared secret from this variable")
    create.add_argument(
        "--key-password-env",
        metavar="NAME",
        help="password of an encrypted PEM or PKCS#12 key, from this variable",
    )
    create.add_argument("--alias", help="PKCS#12 friendly name of the key to use")
    create.add_argument("--alg", required=True, help="RS256, PS256, ES256, EdDSA, HS256, …")
    create.add_argument("--iss", required=True, help="issuer (iss)")
    create.add_argument("--sub", required=True, help="subject (sub): the user")
    create.add_argument("--realm", help="realm claim")
    create.add_argument("--aud", action="append", help="audience (repeatable)")
    create.add_argument("--ttl", type=int, default=600, help="seconds until exp (default 600)")
    create.add_argument("--nbf", type=int, help="not-before, seconds since the epoch")
    create.add_argument("--kid", help="key id header")
    create.add_argument(
        "--claim",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra claim; VALUE is JSON if it parses, else a string",
    )
    create.add_argument("--jti", action="store_true", help="add a random jti (replay protection)")
    create.set_defaults(func=_create)
    token.set_defaults(func=lambda args: _usage(token))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _extra_claims(items: list[str]) -> dict[str, Any]:
    claims: dict[str, Any] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise UsageError("RG0001E", detail=f"--claim {item[:40]!r} is not NAME=VALUE")
        try:
            claims[name] = json.loads(value)
        except ValueError:
            claims[name] = value
    return claims


def _signing_key(args: argparse.Namespace) -> SigningKey:
    if args.secret_env:
        secret = os.environ.get(args.secret_env)
        if not secret:
            raise UsageError(
                "RG0002E",
                what="the shared secret",
                source=f"environment variable {args.secret_env}",
                detail="not set",
            )
        try:
            return signing_key_from_private(secret.encode(), source=f"${args.secret_env}")
        except KeyMaterialError as exc:
            raise UsageError(
                "RG0002E", what="the shared secret", source=f"${args.secret_env}", detail=str(exc)
            ) from None
    password = None
    if args.key_password_env:
        value = os.environ.get(args.key_password_env)
        if value is None:
            raise UsageError(
                "RG0002E",
                what="the key password",
                source=f"environment variable {args.key_password_env}",
                detail="not set",
            )
        password = value.encode()
    data = read_secret_input(args.key, "the private key")
    source = "standard input" if args.key == "-" else args.key
    try:
        return load_signing_key(data, source=source, password=password, alias=args.alias)
    except KeyMaterialError as exc:
        raise UsageError(
            "RG0002E", what="the private key", source=source, detail=str(exc)
        ) from None


def _create(args: argparse.Namespace) -> int:
    if args.alg not in ALL_ALGS:
        raise UsageError(
            "RG0001E", detail=f"--alg {args.alg!r} is not one of {', '.join(sorted(ALL_ALGS))}"
        )
    key = _signing_key(args)
    builder = TokenBuilder(key, args.alg, args.iss, kid=args.kid)
    aud = args.aud[0] if args.aud and len(args.aud) == 1 else args.aud
    print(
        builder.build(
            args.sub,
            realm=args.realm,
            audience=aud,
            ttl=args.ttl,
            jti=args.jti,
            extra=_extra_claims(args.claim),
            not_before=args.nbf,
        )
    )
    return 0
