"""``realmgate`` entry point: parse arguments, dispatch, turn every failure into a message.

Exit codes: 0 success / accepted, 1 refused (a token or identity was refused), 2 usage or
configuration error, 3 internal fault. No traceback reaches the terminal.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import NoReturn

from realmgate.errors import ConfigError, RealmgateError, UsageError

COMMAND_MODULES = (
    "realmgate.cli.verify_cmd",
    "realmgate.cli.token_cmd",
    "realmgate.cli.keys_cmd",
    "realmgate.cli.map_cmd",
    "realmgate.cli.revoke_cmd",
    "realmgate.cli.registry_cmd",
    "realmgate.cli.demo_cmd",
    "realmgate.cli.serve_cmd",
    "realmgate.cli.logview_cmd",
    "realmgate.cli.liberty_cmd",
)


class _Parser(argparse.ArgumentParser):
    """argparse that raises a catalogue message instead of printing usage and exiting."""

    def error(self, message: str) -> NoReturn:
        raise UsageError("RG0001E", detail=f"{self.prog}: {message}")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="realmgate",
        description="Verify JWTs from trusted clients and map them to local users.",
    )
    parser.add_argument("--version", action="version", version="realmgate 0.1.0")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if getattr(args, "func", None) is None:
            parser.print_help()
            return 2
        return int(args.func(args))
    except ConfigError as exc:
        print(exc.report(), file=sys.stderr)
        return 2
    except RealmgateError as exc:
        print(exc.text, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # the last line of defence: a message, never a traceback
        from realmgate.messages import render

        print(
            render("RG9001S", {"during": "running the command", "detail": repr(exc)[:200]}),
            file=sys.stderr,
        )
        return 3


if __name__ == "__main__":
    sys.exit(main())
