"""``realmgate map``: manage and test identity mappings, like RACF's RACMAP command.

``map add`` is RACMAP MAP, ``map remove`` DELMAP, ``map list`` LISTMAP and ``map test``
QUERY. Changes are in force in running verifiers within their refresh interval.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from realmgate.cli.common import add_config_argument, config_from_args
from realmgate.errors import UsageError
from realmgate.mapping import IdentityMapper, MappingResult
from realmgate.messages import render
from realmgate.registry import (
    IdentityRegistry,
    MappingRule,
    SQLiteRegistry,
    open_registry,
    validate_rule,
)

_Handler = Callable[[argparse.Namespace], int]


def register(sub: Any) -> None:
    group = sub.add_parser(
        "map",
        help="manage identity mappings (user, realm) → local user",
        description="Manage the identity registry, like RACF's RACMAP command. A user filter "
        "is a user name, a distinguished name or '*'; a realm filter is an exact realm or '*'.",
    )
    commands = group.add_subparsers(dest="map_command", metavar="SUBCOMMAND")

    add = _subcommand(
        commands,
        "add",
        "add a mapping rule (filters cannot be changed: remove and add again)",
        _add,
    )
    _filter_arguments(add)
    add.add_argument("--local-user", required=True, help="local user the work runs as")
    add.add_argument("--label", help="free text shown by 'map list'")

    remove = _subcommand(commands, "remove", "remove the rule with exactly these filters", _remove)
    _filter_arguments(remove)

    listing = _subcommand(commands, "list", "list every rule", _list)
    listing.add_argument("--json", action="store_true", help="print JSON")

    test = _subcommand(
        commands,
        "test",
        "show which rule maps a user and realm, and why each more specific filter did not",
        _test,
    )
    test.add_argument("--user", required=True, help="the token's user (subject) as sent")
    test.add_argument("--realm", required=True, help="the token's realm as derived")
    test.add_argument("--json", action="store_true", help="print JSON")

    group.set_defaults(func=lambda args: _usage(group))


def _subcommand(
    commands: Any, name: str, help_text: str, handler: _Handler
) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = commands.add_parser(
        name, help=help_text, description=help_text
    )
    parser.add_argument(
        "--registry",
        metavar="PATH",
        help="SQLite registry file (default: the registry of the configuration)",
    )
    add_config_argument(parser)
    parser.set_defaults(func=handler)
    return parser


def _filter_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--user", required=True, help="user name, distinguished name or '*'")
    parser.add_argument("--realm", required=True, help="exact realm or '*'")


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _open(args: argparse.Namespace, *, create: bool) -> IdentityRegistry:
    """The registry named by ``--registry``, else the configuration's ``[registry]``."""
    if args.registry:
        if getattr(args, "config", None):
            raise UsageError("RG0001E", detail="give --registry or --config, not both")
        return SQLiteRegistry(args.registry, create=create)
    config = config_from_args(args)
    return open_registry(config.registry, Path(config.path).parent, create=create)


def _add(args: argparse.Namespace) -> int:
    # Validate first so the confirmation shows the filter as stored (DNs normalised).
    rule = validate_rule(MappingRule(args.user, args.realm, args.local_user, args.label))
    registry = _open(args, create=True)
    try:
        registry.add(rule)
    finally:
        registry.close()
    print(f"Added mapping {rule.filter_text()} → local user {rule.local_user!r}.")
    return 0


def _remove(args: argparse.Namespace) -> int:
    registry = _open(args, create=False)
    try:
        rule = registry.remove(args.user, args.realm)
    finally:
        registry.close()
    print(f"Removed mapping {rule.filter_text()} → local user {rule.local_user!r}.")
    return 0


def _list(args: argparse.Namespace) -> int:
    registry = _open(args, create=False)
    try:
        rules = registry.rules()
    finally:
        registry.close()
    if args.json:
        print(json.dumps([r.to_dict() for r in rules], indent=2, ensure_ascii=False))
        return 0
    if not rules:
        print("No mapping rules.")
        return 0
    rows = [("USER FILTER", "REALM FILTER", "LOCAL USER", "LABEL")]
    rows += [(repr(r.user), repr(r.realm), repr(r.local_user), r.label or "") for r in rules]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        print("  ".join([*cells, row[3]]).rstrip())
    print(f"{len(rules)} rule(s).")
    return 0


def _test(args: argparse.Namespace) -> int:
    registry = _open(args, create=False)
    try:
        result = IdentityMapper(registry, refresh_interval=0).resolve(args.user, args.realm)
    finally:
        registry.close()
    refusal = None
    if not result.mapped:
        refusal = render(
            "RG5001E",
            {
                "user": args.user,
                "realm": args.realm,
                "tried": result.tried_text(),
                "realm_source": "the command line (--realm)",
            },
        )
    if args.json:
        print(json.dumps(_test_json(args, result, refusal), indent=2, ensure_ascii=False))
    else:
        _print_test(args, result, refusal)
    return 0 if result.mapped else 1


def _test_json(
    args: argparse.Namespace, result: MappingResult, refusal: str | None
) -> dict[str, Any]:
    return {
        "mapped": result.mapped,
        "user": args.user,
        "realm": args.realm,
        "local_user": result.local_user,
        "rule": result.rule.to_dict() if result.rule else None,
        "tried": [attempt._asdict() for attempt in result.tried],
        "message_id": "RG5001E" if refusal else None,
        "message": refusal,
    }


def _print_test(args: argparse.Namespace, result: MappingResult, refusal: str | None) -> None:
    if result.rule is not None:
        label = f" (label {result.rule.label!r})" if result.rule.label else ""
        print(
            f"user {args.user!r} realm {args.realm!r} maps to local user "
            f"{result.local_user!r} by rule {result.rule.filter_text()}{label}."
        )
    print("Filters tried, most specific first:")
    for number, attempt in enumerate(result.tried, 1):
        print(f"  {number}. {attempt.describe()}")
    if refusal:
        print(refusal)
