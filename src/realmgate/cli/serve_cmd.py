"""``realmgate serve``: the HTTP service (forward-auth, verify API, key publishing, health,
metrics, admin) under uvicorn. See docs/server.md."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from realmgate.cli.common import add_config_argument, add_trace_arguments, config_path_from_args
from realmgate.errors import UsageError


def register(sub: Any) -> None:
    serve = sub.add_parser(
        "serve",
        help="run the HTTP service (forward-auth for nginx/Traefik/Envoy, verify API, JWKS)",
        description="Serve /auth, /v1/verify, /v1/token, /jwks.json, discovery, /healthz, "
        "/readyz and /metrics; the admin endpoints on [admin] listen/socket when enabled. "
        "The configuration is reloaded when its files change, on SIGHUP and from the admin "
        "endpoint; a configuration that fails to load is refused and the old one stays.",
    )
    add_config_argument(serve)
    serve.add_argument("--host", default=None, help="address to listen on ([server] host)")
    serve.add_argument("--port", type=int, default=None, help="port ([server] port, 8080)")
    serve.add_argument(
        "--workers", type=int, default=1, help="worker processes sharing the port (default 1)"
    )
    add_trace_arguments(serve)
    serve.set_defaults(func=_serve)


def _serve(args: argparse.Namespace) -> int:
    from realmgate.logformat import configure_logging
    from realmgate.server.runner import Listen, run
    from realmgate.server.service import Service

    if args.workers < 1 or args.workers > 64:
        raise UsageError("RG0001E", detail=f"--workers must be 1 to 64, got {args.workers}")
    if args.port is not None and not 0 <= args.port <= 65535:
        raise UsageError("RG0001E", detail=f"--port must be 0 to 65535, got {args.port}")
    path = config_path_from_args(args)
    first = Service(path)  # loads and checks everything: a bad configuration stops here
    # --trace wins over [trace] spec at start; the admin endpoint can change it later.
    applied = configure_logging(args.trace or first.state.config.trace_spec, args.log_format)
    for problem in applied.problems:
        print(problem.text, file=sys.stderr)
    settings = first.state.settings.server
    listen = Listen(args.host or settings.host, settings.port if args.port is None else args.port)
    services = iter([first])

    def factory() -> Service:
        # The first service is the one already checked; pre-forked workers build their own.
        return next(services, None) or Service(path)

    return run(factory, listen, workers=args.workers)
