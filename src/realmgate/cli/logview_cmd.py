"""``realmgate logview FILE``: read long trace records flowed to the terminal width.

Examples::

    realmgate logview trace.log                    # every record, flowed to the terminal
    realmgate logview trace.log --from -20         # the last 20 records
    realmgate logview trace.log --from 100 --lines 5
    realmgate logview trace.log --follow           # the last 10, then new ones (Ctrl-C stops)
    realmgate logview messages.log --encoding cp1047 --width 72

See :mod:`realmgate.logview` for how records and following work, :mod:`realmgate.ebcdic`
for encodings and :mod:`realmgate.logrender` for flowing.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import stat
import sys
from typing import Any

from realmgate.ebcdic import ENCODINGS
from realmgate.errors import UsageError
from realmgate.logview import MIN_WIDTH, ViewOptions, follow, view

DEFAULT_FOLLOW_LINES = 10


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "logview",
        help="show long log/trace records flowed to the terminal width (EBCDIC too)",
        description=(
            "Show the records (lines) of a log or trace file, each flowed to the terminal "
            "width with continuation lines indented. Decodes UTF-8, ASCII and EBCDIC "
            "(cp037, cp1047, cp500), pretty-prints JSON records, and can follow a growing "
            "file through truncation and re-creation."
        ),
    )
    parser.add_argument("file", metavar="FILE", help="the log or trace file ('-' for stdin)")
    parser.add_argument(
        "--width",
        metavar="N",
        default=None,
        help=f"line width (default: the terminal width; at least {MIN_WIDTH})",
    )
    parser.add_argument(
        "--from",
        dest="from_",
        metavar="N",
        default=None,
        help="first record to show, 1-based; negative counts from the end like tail "
        "(default: 1, or the last 10 with --follow)",
    )
    parser.add_argument(
        "--lines",
        metavar="N",
        default=None,
        help="number of records to show (default: all); with --follow and no --from, "
        "start with the last N",
    )
    parser.add_argument(
        "--follow",
        "-f",
        action="store_true",
        help="keep showing records as the file grows (survives truncation and re-creation; "
        "Ctrl-C stops)",
    )
    parser.add_argument(
        "--encoding",
        choices=ENCODINGS,
        default="auto",
        help="file encoding (default: auto-detect ASCII/UTF-8 or EBCDIC)",
    )
    parser.add_argument(
        "--json-pretty",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="pretty-print records that are JSON objects (default: on)",
    )
    parser.set_defaults(func=handler)


def _int_option(value: str | None, option: str) -> int | None:
    if value is None:
        return None
    try:
        return int(value.strip())
    except ValueError:
        raise UsageError(
            "RG0001E", detail=f"{option} needs a whole number, not {value!r}"
        ) from None


def _options(args: argparse.Namespace) -> tuple[ViewOptions, int | None, int | None]:
    width = _int_option(args.width, "--width")
    if width is None:
        width = shutil.get_terminal_size(fallback=(80, 24)).columns
        width = max(width, MIN_WIDTH)
    elif width < MIN_WIDTH:
        raise UsageError("RG0001E", detail=f"--width must be at least {MIN_WIDTH}, not {width}")
    start = _int_option(args.from_, "--from")
    if start == 0:
        raise UsageError(
            "RG0001E", detail="--from counts from 1 (first record) or from -1 (last record)"
        )
    lines = _int_option(args.lines, "--lines")
    if lines is not None and lines < 1:
        raise UsageError("RG0001E", detail=f"--lines must be at least 1, not {lines}")
    options = ViewOptions(width=width, encoding=args.encoding, json_pretty=args.json_pretty)
    return options, start, lines


def _check_file(path: str) -> None:
    try:
        st = os.stat(path)
    except OSError as exc:
        raise UsageError(
            "RG0002E", what="the log file", source=path, detail=exc.strerror or str(exc)
        ) from None
    if stat.S_ISDIR(st.st_mode):
        raise UsageError("RG0002E", what="the log file", source=path, detail="it is a directory")


def handler(args: argparse.Namespace) -> int:
    options, start, lines = _options(args)
    path: str = args.file
    out = sys.stdout
    if args.follow:
        if path == "-":
            raise UsageError("RG0001E", detail="--follow needs a file, not standard input")
        if start is not None and lines is not None:
            raise UsageError(
                "RG0001E",
                detail="with --follow give --from (where to start) or --lines (start with "
                "the last N), not both",
            )
        _check_file(path)
        first = start if start is not None else -(lines or DEFAULT_FOLLOW_LINES)

        def notice(text: str) -> None:
            print(f"realmgate logview: {text}", file=sys.stderr, flush=True)

        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how following ends
            follow(path, out, options, first, notice=notice)
        return 0
    try:
        if path == "-":
            view(sys.stdin.buffer, out, options, start or 1, lines)
        else:
            _check_file(path)
            try:
                fh = open(path, "rb")  # noqa: SIM115
            except OSError as exc:
                raise UsageError(
                    "RG0002E",
                    what="the log file",
                    source=path,
                    detail=exc.strerror or str(exc),
                ) from None
            with fh:
                view(fh, out, options, start or 1, lines)
        out.flush()
    except BrokenPipeError:
        # the reader (e.g. `head`) went away: stop quietly, and keep Python's exit flush quiet
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    return 0
