"""``realmgate revoke`` / ``revoke list`` / ``unrevoke``: the revocation list (issue 8).

A revocation names a token's ``jti``, a subject (the value of the definition's user claim;
distinguished names compare in normal form) or the ``kid`` of a signing key, optionally only
for one issuer. It is stored in the identity registry, so every node sharing the registry
refuses such tokens (RG8510E) within its refresh interval — about a second at most with a
PostgreSQL registry, 0.25 s with a shared SQLite file.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from realmgate.cli.registry_cmd import add_registry_arguments, describe, open_from_args
from realmgate.errors import UsageError
from realmgate.registry import ANY, IdentityRegistry, Revocation, RevocationList
from realmgate.registry.base import utc_text


def register(sub: Any) -> None:
    revoke = sub.add_parser(
        "revoke",
        help="revoke tokens by jti, subject or key id (or: revoke list)",
        description="Add an entry to the revocation list kept in the identity registry. "
        "Every node using the registry refuses matching tokens (RG8510E) after checking the "
        "signature. 'realmgate revoke list' shows the list; 'realmgate unrevoke' removes an "
        "entry.",
    )
    _target_arguments(revoke)
    revoke.add_argument("--reason", help="free text stored with the entry and shown in refusals")
    add_registry_arguments(revoke)
    revoke.set_defaults(func=_revoke)
    commands = revoke.add_subparsers(dest="revoke_command", metavar="list")
    listing = commands.add_parser(
        "list", help="list the revocations", description="List the revocation list."
    )
    listing.add_argument("--json", action="store_true", help="print JSON")
    add_registry_arguments(listing, suppress=True)
    listing.set_defaults(func=_list)

    unrevoke = sub.add_parser(
        "unrevoke",
        help="remove an entry from the revocation list",
        description="Remove a revocation; tokens it refused are accepted again by every node "
        "within its refresh interval. The issuer scope must match the entry's.",
    )
    _target_arguments(unrevoke)
    add_registry_arguments(unrevoke)
    unrevoke.set_defaults(func=_unrevoke)


def _target_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--jti", help="one token, by its jti claim")
    parser.add_argument("--subject", help="every token of a subject (the user claim's value)")
    parser.add_argument("--kid", help="every token signed by the key with this key id")
    parser.add_argument(
        "--issuer",
        default=ANY,
        help="only tokens from this issuer (exact iss value; default: every issuer)",
    )


def _target(args: argparse.Namespace) -> tuple[str, str]:
    given = [(kind, getattr(args, kind)) for kind in ("jti", "subject", "kid")]
    chosen = [(kind, value) for kind, value in given if value is not None]
    if len(chosen) != 1:
        raise UsageError("RG0001E", detail="give exactly one of --jti, --subject and --kid")
    return chosen[0]


def _list_of(registry: IdentityRegistry) -> RevocationList:
    if not isinstance(registry, RevocationList):
        raise UsageError("RG0001E", detail=f"{describe(registry)} keeps no revocation list")
    return registry


def _revoke(args: argparse.Namespace) -> int:
    kind, value = _target(args)
    registry = open_from_args(args, create=True)
    try:
        stored = _list_of(registry).revoke(Revocation(kind, value, args.issuer, args.reason))
    finally:
        registry.close()
    reason = f" (reason: {stored.reason})" if stored.reason else ""
    print(
        f"Revoked {stored.kind} {stored.value!r}{stored.scope_text()} at "
        f"{utc_text(stored.revoked_at)}{reason}."
    )
    return 0


def _unrevoke(args: argparse.Namespace) -> int:
    kind, value = _target(args)
    registry = open_from_args(args, create=False)
    try:
        removed = _list_of(registry).unrevoke(kind, value, args.issuer)
    finally:
        registry.close()
    print(
        f"Removed the revocation of {removed.kind} {removed.value!r}{removed.scope_text()} "
        f"(revoked at {utc_text(removed.revoked_at)})."
    )
    return 0


def _list(args: argparse.Namespace) -> int:
    if any(getattr(args, kind) is not None for kind in ("jti", "subject", "kid")):
        raise UsageError("RG0001E", detail="'revoke list' takes no --jti, --subject or --kid")
    registry = open_from_args(args, create=False)
    try:
        entries = _list_of(registry).revocations()
    finally:
        registry.close()
    if args.json:
        print(json.dumps([e.to_dict() for e in entries], indent=2, ensure_ascii=False))
        return 0
    if not entries:
        print("No revocations.")
        return 0
    rows = [("KIND", "VALUE", "ISSUER", "REVOKED AT", "REASON")]
    rows += [
        (e.kind, repr(e.value), repr(e.issuer), utc_text(e.revoked_at), e.reason or "")
        for e in entries
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        print("  ".join([*cells, row[4]]).rstrip())
    print(f"{len(entries)} revocation(s).")
    return 0
