"""``realmgate demo``: the README's main job on embedded defaults.

Creates (once, under ``--data-dir``) a local issuer key, a configuration trusting it and a
registry with a sample mapping, starts ``realmgate serve`` on that configuration in the
foreground, and prints two ready-to-paste ``curl`` commands: a fresh token that the server
maps to the local user, and an expired one that shows the refusal message. Ctrl-C stops it.

``--no-serve`` keeps the one-shot behaviour: issue both tokens, verify them in-process,
print the results and exit (0 when the fresh token is accepted and the expired one refused).
"""

from __future__ import annotations

import argparse
import errno
import os
import shlex
import sys
from pathlib import Path
from typing import Any

from realmgate.demo import DemoFiles, demo_tokens, prepare_demo
from realmgate.errors import UsageError
from realmgate.explain import render_report


def register(sub: Any) -> None:
    demo = sub.add_parser(
        "demo",
        help="run the self-contained demo server and print curl commands to try it",
        description="Creates (once) a local issuer key, a configuration trusting it and a "
        "registry with a sample mapping under --data-dir, starts the HTTP service on it "
        "and prints a curl command with a fresh token (mapped to a local user) and one "
        "with an expired token (refused, with the message). Ctrl-C stops the server.",
    )
    demo.add_argument(
        "--data-dir",
        default=os.environ.get("REALMGATE_DEMO_DIR", ".realmgate/demo"),
        help="where the demo files live (default .realmgate/demo)",
    )
    demo.add_argument("--host", default=None, help="address to listen on (default 127.0.0.1)")
    demo.add_argument(
        "--port",
        type=int,
        default=None,
        help="port (default [demo] port or 8080; a free port if 8080 is taken)",
    )
    demo.add_argument(
        "--no-serve",
        action="store_true",
        help="do not start the server: verify both tokens in-process and exit",
    )
    demo.set_defaults(func=_demo)


def _one_shot(files: DemoFiles) -> int:
    from realmgate.verifier import Verifier

    verifier = Verifier(files.config)
    good, expired = demo_tokens(files)
    accepted = verifier.verify(good)
    print()
    print("1. A fresh token from the demo issuer:")
    print(
        f"   {accepted.reason or 'accepted'}: subject {accepted.subject!r} realm "
        f"{accepted.realm!r} -> local user {accepted.local_user!r} (client "
        f"{accepted.client_id}, key {accepted.key_id}, {accepted.algorithm})"
    )
    refused = verifier.verify(expired, explain=True)
    print()
    print("2. The same issuer's token that expired an hour ago, explained:")
    print("   " + render_report(expired, refused).replace("\n", "\n   "))
    print()
    print(f"Try it yourself: realmgate explain --config {files.config} --token <token>")
    return 0 if accepted.accepted and not refused.accepted else 1


def curl_commands(files: DemoFiles, url: str) -> tuple[str, str]:
    """The two commands the demo prints (also used by the tests)."""
    good, expired = demo_tokens(files)
    template = "curl -si -H {header} {url}"
    return (
        template.format(header=shlex.quote(f"Authorization: Bearer {good}"), url=url + "/auth"),
        template.format(header=shlex.quote(f"Authorization: Bearer {expired}"), url=url + "/auth"),
    )


def _ready(files: DemoFiles, url: str) -> None:
    fresh, expired = curl_commands(files, url)
    config = shlex.quote(str(files.config))
    lines = [
        "",
        f"realmgate is serving the demo on {url} (Ctrl-C stops it).",
        "",
        "1. A fresh token (valid 10 minutes): 200 and X-Realmgate-User: ALICE01, the local "
        "user that subject 'alice' of realm 'DEMO' maps to:",
        "",
        f"   {fresh}",
        "",
        "2. A token that expired an hour ago: 401 with X-Realmgate-Message: RG4001E and the "
        "reason in WWW-Authenticate:",
        "",
        f"   {expired}",
        "",
        f"More: curl {url}/jwks.json   curl {url}/metrics   "
        f"realmgate explain --config {config} --token <token>",
        f"Map another user: realmgate map add --config {config} --user bob --realm DEMO "
        "--local-user BOB01",
        "",
    ]
    print("\n".join(lines), flush=True)


def _demo(args: argparse.Namespace) -> int:
    files = prepare_demo(Path(args.data_dir))
    state = "created" if files.created else "reused"
    print(f"demo files {state} in {files.data_dir} (configuration {files.config})", flush=True)
    if args.no_serve:
        return _one_shot(files)

    from realmgate.logformat import configure_logging
    from realmgate.server.runner import Listen, run
    from realmgate.server.service import Service

    service = Service(files.config)
    configure_logging(service.state.config.trace_spec)
    demo = service.state.settings.demo
    host = args.host or demo.host
    port = demo.port if args.port is None else args.port
    try:
        return run(lambda: service, Listen(host, port), on_ready=lambda s, url: _ready(files, url))
    except UsageError as exc:
        in_use = exc.message_id == "RG8041E" and os.strerror(errno.EADDRINUSE) in exc.text
        if not in_use or args.port is not None:
            raise
    print(f"port {port} is in use; serving the demo on a free port instead", file=sys.stderr)
    return run(lambda: service, Listen(host, 0), on_ready=lambda s, url: _ready(files, url))
