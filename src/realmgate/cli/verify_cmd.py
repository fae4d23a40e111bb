"""``realmgate verify``, ``explain``, ``messages`` and ``check``: the diagnostic commands."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from realmgate.cli.common import (
    add_config_argument,
    add_request_arguments,
    add_trace_arguments,
    apply_trace_arguments,
    config_from_args,
    read_token_argument,
    request_from_args,
)
from realmgate.decision import Decision
from realmgate.errors import UsageError
from realmgate.messages import CATALOGUE


def register(sub: Any) -> None:
    for name, handler, text in (
        ("verify", _verify, "verify a token; exit 0 accepted, 1 refused, 2 usage/config error"),
        ("explain", _explain, "explain step by step how a token is judged, and the fix"),
    ):
        parser = sub.add_parser(name, help=text, description=text)
        add_config_argument(parser)
        _add_request_arguments(parser)
        if name == "verify":
            parser.add_argument(
                "--json",
                action="store_true",
                help="print the whole decision, trace included, as JSON",
            )
        parser.set_defaults(func=handler)

    messages = sub.add_parser("messages", help="the message catalogue (all, or one id)")
    messages.add_argument("id", nargs="?", help="a message id such as RG4001E")
    messages.add_argument("--json", action="store_true")
    messages.set_defaults(func=_messages)

    check = sub.add_parser("check", help="validate the configuration and warn about pitfalls")
    add_config_argument(check)
    check.add_argument("--strict", action="store_true", help="exit 1 when there are warnings")
    check.set_defaults(func=_check)


def _add_request_arguments(parser: argparse.ArgumentParser) -> None:
    add_request_arguments(parser)
    add_trace_arguments(parser)
    parser.add_argument("--default-issuer", help="issuer to assume when the token has no iss")
    parser.add_argument(
        "--mode",
        choices=("config", "discovery", "auto"),
        help="the verify API: config = configured definitions chosen by issuer "
        "(verify_jwt_using_config), discovery = OIDC discovery only "
        "(verify_jwt_using_discovery), auto = config then discovery (verify_jwt); "
        "without --mode, the request pipeline with its auth filters",
    )
    parser.add_argument(
        "--discovery-url",
        metavar="URL",
        help="with --mode discovery: the discovery document to use instead of the one "
        "derived from the token's iss (its issuer must still equal the token's)",
    )


def _decide(args: argparse.Namespace, explain: bool) -> tuple[str | None, Decision]:
    from realmgate.verifier import Verifier

    config = config_from_args(args)
    apply_trace_arguments(args)
    request = request_from_args(args)
    verifier = Verifier(config)
    if args.discovery_url is not None and args.mode != "discovery":
        raise UsageError("RG0001E", detail="--discovery-url needs --mode discovery")
    if args.mode is not None:
        token = read_token_argument(args.token)
        if args.mode == "discovery":
            return token, verifier.verify_jwt_using_discovery(
                token, args.discovery_url, explain=explain
            )
        api = verifier.verify_jwt if args.mode == "auto" else verifier.verify_jwt_using_config
        return token, api(token, args.default_issuer, explain=explain)
    if args.token is None and request is not None and request.headers:
        return None, verifier.verify_request(request, explain=explain)
    token = read_token_argument(args.token)
    return token, verifier.verify(
        token, request, explain=explain, default_issuer=args.default_issuer
    )


def _verify(args: argparse.Namespace) -> int:
    _, decision = _decide(args, explain=args.json)
    if args.json:
        print(json.dumps(decision.to_dict(), indent=2, default=str, ensure_ascii=False))
    elif decision.accepted:
        print(
            f"accepted: local user {decision.local_user} (realm {decision.realm!r} from "
            f"{decision.realm_source}, subject {decision.subject!r}, client "
            f"{decision.client_id}, key {decision.key_id}, {decision.algorithm})"
        )
    else:
        print(f"refused: {decision.reason}")
    return 0 if decision.accepted else 1


def _explain(args: argparse.Namespace) -> int:
    from realmgate.explain import render_report

    token, decision = _decide(args, explain=True)
    print(render_report(token or "", decision))
    return 0 if decision.accepted else 1


def _messages(args: argparse.Namespace) -> int:
    if args.id:
        wanted = args.id.upper()
        entries = [e for e in CATALOGUE.values() if e.id == wanted or e.id[:6] == wanted]
        if not entries:
            raise UsageError("RG0001E", detail=f"no message {args.id!r} in the catalogue")
    else:
        entries = list(CATALOGUE.values())
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "id": e.id,
                        "severity": e.severity,
                        "text": e.text,
                        "explanation": e.explanation,
                        "action": e.action,
                    }
                    for e in entries
                ],
                indent=2,
            )
        )
        return 0
    for entry in entries:
        print(f"{entry.id} ({entry.severity}) {entry.text}")
        if args.id:
            print(f"  Explanation: {entry.explanation}")
            print(f"  User action: {entry.action}")
    return 0


def _check(args: argparse.Namespace) -> int:
    from realmgate.check import lint

    config = config_from_args(args)
    warnings = lint(config)
    for warning in warnings:
        print(warning.text)
    print(
        f"{config.path}: {len(config.clients)} definition(s), {len(config.filters)} "
        f"filter(s), {len(warnings)} warning(s)",
        file=sys.stderr,
    )
    return 1 if (warnings and args.strict) else 0
