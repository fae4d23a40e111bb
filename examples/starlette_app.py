"""A Starlette application protected by realmgate's ASGI middleware.

Everything under /api needs a token; /api/ping and / do not (/ greets a known user anyway).

    REALMGATE_CONFIG=.realmgate/demo/realmgate.toml .venv/bin/uvicorn examples.starlette_app:app

FastAPI is the same: ``app.add_middleware(ASGIMiddleware, verifier=..., require=[...])``.
"""

from __future__ import annotations

import os

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from realmgate.middleware import ASGIMiddleware


async def home(request: Request) -> PlainTextResponse:
    identity = request.state.realmgate
    name = identity.local_user if identity else "stranger"
    return PlainTextResponse(f"hello, {name}\n")


async def ping(request: Request) -> PlainTextResponse:
    return PlainTextResponse("pong\n")


async def whoami(request: Request) -> JSONResponse:
    identity = request.state.realmgate  # always set here: /api requires a token
    return JSONResponse(
        {
            "local_user": identity.local_user,
            "subject": identity.subject,
            "realm": identity.realm,
            "client": identity.client_id,
        }
    )


def create_app(config: str) -> Starlette:
    return Starlette(
        routes=[Route("/", home), Route("/api/ping", ping), Route("/api/whoami", whoami)],
        middleware=[
            Middleware(ASGIMiddleware, verifier=config, require=["/api"], exempt=["=/api/ping"])
        ],
    )


if os.environ.get("REALMGATE_CONFIG"):
    app = create_app(os.environ["REALMGATE_CONFIG"])
