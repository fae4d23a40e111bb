"""``realmgate liberty import`` and ``realmgate liberty check``.

Examples::

    realmgate liberty import mqwebuser.xml -o realmgate.toml
    realmgate liberty import server.xml --report-format json > report.json   # TOML: stdout
    realmgate liberty import server.xml --var wlp.user.dir=/u/mqweb --keystore ring=conn1/
    realmgate liberty check mqwebuser.xml --token "$T" --remote-addr 10.1.2.3 -H 'colin: x'

``import`` prints the TOML on standard output (the report on standard error) unless
``-o FILE`` is given (then the report goes to standard output). With an error nothing is
written (exit 2) unless ``--partial``. ``check`` exits 0 when the token would be
accepted, 1 when refused, 2 when the configuration cannot be imported or loaded.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from realmgate.cli.common import (
    add_request_arguments,
    add_trace_arguments,
    apply_trace_arguments,
    read_token_argument,
    request_from_args,
)
from realmgate.errors import RealmgateError, UsageError


def register(subparsers: Any) -> None:
    liberty = subparsers.add_parser(
        "liberty",
        help="import IBM Liberty server.xml definitions, or check a token against them",
        description="Bring Liberty <openidConnectClient>, <mpJwt>, <authFilter>, "
        "<jwtBuilder> and <keyStore> definitions to realmgate.",
    )
    sub = liberty.add_subparsers(dest="liberty_command", metavar="ACTION")
    imp = sub.add_parser(
        "import",
        help="convert server.xml to realmgate TOML, with a report of every attribute",
        description="Convert a Liberty server.xml (with includes and variables) to realmgate "
        "TOML. The report says what became of every attribute: mapped, defaulted (Liberty's "
        "default written explicitly) or no equivalent.",
    )
    imp.add_argument("server_xml", metavar="SERVER_XML", help="server.xml or mqwebuser.xml")
    imp.add_argument("-o", "--output", metavar="FILE", help="write the TOML here")
    imp.add_argument("--report-format", choices=("text", "json"), default="text")
    imp.add_argument(
        "--partial",
        action="store_true",
        help="write the definitions that could be imported despite errors",
    )
    imp.add_argument("--force", action="store_true", help="overwrite an existing -o FILE")
    _add_source_arguments(imp)
    imp.set_defaults(func=_import)

    chk = sub.add_parser(
        "check",
        help="would these definitions accept a token, as which user, and if not why",
        description="Import SERVER_XML in memory (nothing is written) and verify a token "
        "with it. Exit 0 accepted, 1 refused, 2 configuration problem.",
    )
    chk.add_argument("server_xml", metavar="SERVER_XML")
    add_request_arguments(chk)
    chk.add_argument("--registry", metavar="PATH", help="SQLite identity registry to map with")
    chk.add_argument("--json", action="store_true", help="print the result as JSON")
    chk.add_argument("--explain", action="store_true", help="show every step of the decision")
    chk.add_argument("--show-toml", action="store_true", help="print the imported TOML too")
    add_trace_arguments(chk)
    _add_source_arguments(chk)
    chk.set_defaults(func=_check)
    liberty.set_defaults(func=lambda args: _usage(liberty))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _add_source_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--var",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a Liberty variable, as on the server command line (repeatable)",
    )
    parser.add_argument(
        "--keystore",
        action="append",
        default=[],
        metavar="ID=PATH",
        help="use this file (e.g. certificates exported from a SAF key ring) "
        "for <keyStore id=ID> (repeatable)",
    )


def _pairs(items: list[str], option: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise UsageError("RG0001E", detail=f"{option} {item[:60]!r} is not NAME=VALUE")
        pairs[name.strip()] = value
    return pairs


def _sources(args: argparse.Namespace) -> tuple[dict[str, str], dict[str, Path]]:
    variables = _pairs(args.var, "--var")
    keystores = {k: Path(v).expanduser() for k, v in _pairs(args.keystore, "--keystore").items()}
    for ident, path in keystores.items():
        if not path.exists():
            raise UsageError("RG0001E", detail=f"--keystore {ident}={path}: no such file")
    return variables, keystores


def _import(args: argparse.Namespace) -> int:
    from realmgate.liberty import import_server_xml

    variables, keystores = _sources(args)
    output = Path(args.output) if args.output else None
    if output is not None and output.exists() and not args.force:
        raise UsageError("RG0001E", detail=f"{output} exists; pass --force to overwrite it")
    out_dir = output.parent if output is not None else None  # stdout: absolute paths
    result = import_server_xml(
        args.server_xml, out_dir=out_dir, variables=variables, keystore_files=keystores
    )
    report = sys.stdout if output is not None else sys.stderr
    if args.report_format == "json":
        print(json.dumps(result.report_dict(), indent=2, ensure_ascii=False), file=report)
    else:
        print(result.report_text(), file=report)
    if not result.files:
        return 2
    if result.errors and not args.partial:
        print(
            RealmgateError("RG6114E", file=args.server_xml, count=len(result.errors)).text,
            file=sys.stderr,
        )
        return 2
    text = result.toml()
    if output is None:
        sys.stdout.write(text)
    else:
        _write_atomically(output, text)
        print(f"wrote {output}: {len(result.clients())} definition(s)", file=sys.stderr)
    return 2 if result.errors else 0


def _write_atomically(path: Path, text: str) -> None:
    """A reader (or a live reload) never sees half a file."""
    directory = path.parent if str(path.parent) else Path(".")
    try:
        with tempfile.NamedTemporaryFile(
            "w", encoding="utf-8", dir=directory, prefix=f".{path.name}.", delete=False
        ) as handle:
            handle.write(text)
        os.replace(handle.name, path)
    except OSError as exc:
        raise UsageError("RG0001E", detail=f"cannot write {path}: {exc.strerror}") from None


def _check(args: argparse.Namespace) -> int:
    from realmgate.liberty.check import check_token

    variables, keystores = _sources(args)
    request = request_from_args(args)
    apply_trace_arguments(args)
    token = None
    if args.token is not None or request is None or not request.headers:
        token = read_token_argument(args.token)
    result = check_token(
        args.server_xml,
        token,
        request,
        registry_path=args.registry,
        variables=variables,
        keystore_files=keystores,
    )
    decision = result.decision
    if args.json:
        print(json.dumps(_check_dict(result), indent=2, default=str, ensure_ascii=False))
    else:
        _print_check(args, result, token)
    if decision is None:
        return 2
    return 0 if decision.accepted else 1


def _check_dict(result: Any) -> dict[str, Any]:
    decision = result.decision
    return {
        "accepted": bool(decision and decision.accepted),
        "decision": decision.to_dict() if decision else None,
        "definition_source": result.sources.get(decision.client_id) if decision else None,
        "import_problems": [p.text for p in result.imported.problems],
        "config_problems": result.config_problems,
        "notes": result.notes,
    }


def _print_check(args: argparse.Namespace, result: Any, token: str | None) -> None:
    for problem in result.imported.problems:
        print(problem.text, file=sys.stderr)
    if args.show_toml:
        print(result.toml)
    if result.decision is None:
        for line in result.config_problems:
            print(line, file=sys.stderr)
        print("the imported definitions cannot be loaded; nothing was checked", file=sys.stderr)
        return
    decision = result.decision
    if args.explain:
        from realmgate.explain import render_report

        print(render_report(token or "", decision))
    source = result.sources.get(decision.client_id or "", "")
    if decision.accepted:
        print(
            f"accepted: runs as local user {decision.local_user!r} (subject "
            f"{decision.subject!r}, realm {decision.realm!r} from {decision.realm_source})"
        )
        print(f"  definition: {source or decision.client_id}")
    else:
        print(f"refused: {decision.reason}")
        if source:
            print(f"  definition: {source}")
        if decision.message_id and not args.explain:
            from realmgate.messages import CATALOGUE

            entry = CATALOGUE.get(decision.message_id)
            if entry is not None:
                print(f"  why: {entry.explanation}")
                print(f"  what to do: {entry.action}")
    for note in result.notes:
        print(f"  note: {note}")
