"""Helpers shared by the command modules: where the configuration comes from, reading inputs."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from realmgate.configmodel import Config
from realmgate.errors import UsageError
from realmgate.request import RequestInfo

DEFAULT_CONFIG = "realmgate.toml"


def default_config_path() -> str:
    return os.environ.get("REALMGATE_CONFIG") or DEFAULT_CONFIG


def add_config_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        "-c",
        default=None,
        metavar="FILE",
        help=f"configuration file (default: $REALMGATE_CONFIG or ./{DEFAULT_CONFIG})",
    )


def config_path_from_args(args: argparse.Namespace) -> str:
    return str(getattr(args, "config", None) or default_config_path())


def config_from_args(args: argparse.Namespace) -> Config:
    """Load the configuration named by ``--config``; raises ConfigError with every problem."""
    from realmgate.config import load_config

    return load_config(config_path_from_args(args))


def read_secret_input(spec: str, what: str) -> bytes:
    """Read a value given as ``-`` (stdin), ``env:NAME`` or a file path.

    Secrets never need to be on disk: ``-`` and ``env:`` exist for that.
    """
    if spec == "-":
        data = sys.stdin.buffer.read()
        if not data:
            raise UsageError("RG0002E", what=what, source="standard input", detail="it is empty")
        return data
    if spec.startswith("env:"):
        name = spec[4:]
        value = os.environ.get(name)
        if not value:
            raise UsageError(
                "RG0002E", what=what, source=f"environment variable {name}", detail="not set"
            )
        return value.encode()
    path = Path(spec)
    try:
        return path.read_bytes()
    except OSError as exc:
        raise UsageError("RG0002E", what=what, source=str(path), detail=exc.strerror) from None


def read_token_argument(value: str | None) -> str:
    """A token from ``--token T``, ``--token -`` (stdin) or, when omitted, stdin."""
    if value is None or value == "-":
        if sys.stdin is None or sys.stdin.isatty():
            raise UsageError("RG0001E", detail="no token: pass --token TOKEN or pipe it on stdin")
        text = sys.stdin.read()
    elif value.startswith("env:"):
        text = read_secret_input(value, "the token").decode(errors="replace")
    else:
        text = value
    return text.strip()


def add_request_arguments(parser: argparse.ArgumentParser) -> None:
    """The token and the request the auth filters see, for verify/explain/liberty check."""
    parser.add_argument("--token", "-t", help="the token, '-' for stdin, or env:NAME")
    parser.add_argument("--remote-addr", help="client address the auth filters see")
    parser.add_argument("--url", help="full request URL the auth filters see")
    parser.add_argument("--method", default="GET")
    parser.add_argument(
        "--header",
        "-H",
        action="append",
        default=[],
        metavar="'NAME: VALUE'",
        help="a request header (repeatable); the token may come from one",
    )


def request_from_args(args: argparse.Namespace) -> RequestInfo | None:
    """The request described by ``add_request_arguments``; None when nothing was given."""
    headers: list[tuple[str, str]] = []
    for item in args.header:
        name, sep, value = item.partition(":")
        if not sep or not name.strip():
            raise UsageError("RG0001E", detail=f"--header {item[:40]!r} is not 'Name: value'")
        headers.append((name.strip(), value.strip()))
    if not headers and args.remote_addr is None and args.url is None:
        return None
    return RequestInfo.build(
        headers, remote_addr=args.remote_addr, url=args.url, method=args.method
    )


def add_trace_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--trace",
        metavar="SPEC",
        help="log realmgate's steps to standard error, Liberty trace syntax "
        "(e.g. '*=info:realmgate.keys=fine:realmgate.select=finest'); overrides [trace] spec",
    )
    parser.add_argument("--log-format", choices=("text", "json"), default="text")


def apply_trace_arguments(args: argparse.Namespace, config_spec: str | None = None) -> None:
    """Configure logging from ``--trace`` (else the configuration's spec, if given) and
    report bad clauses, which are skipped rather than fatal (as Liberty does)."""
    spec = getattr(args, "trace", None) or config_spec
    if spec is None:
        return
    from realmgate.logformat import configure_logging

    applied = configure_logging(spec, getattr(args, "log_format", "text"), sys.stderr)
    for problem in applied.problems:
        print(problem.text, file=sys.stderr)
