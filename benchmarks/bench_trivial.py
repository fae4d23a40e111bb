"""The issue's literal HTTP floor: a trivial ASGI endpoint answering 200 with two ordinary
messages, served by plain uvicorn (uvloop, httptools, one worker, no access log) the way a
user's own trivial application would be. ``bench_http.py`` runs it beside ``realmgate
serve``, whose ``/healthz`` writes its answer in one piece like ``/auth`` (the stricter
floor)."""

from __future__ import annotations

from typing import Any

_HEADERS = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", b"3")]


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": _HEADERS})
    await send({"type": "http.response.body", "body": b"ok\n"})
