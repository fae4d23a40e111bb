"""Verify tokens inside an application: ASGI (Starlette, FastAPI, Litestar) and WSGI (Flask,
Django) middleware.

The identity lands where the framework's handlers look:

* ASGI: ``scope["state"]["realmgate"]``, which Starlette/FastAPI show as
  ``request.state.realmgate`` and Litestar as ``request.state["realmgate"]``;
* WSGI: ``environ["realmgate.identity"]`` (Flask: ``request.environ``; Django:
  ``request.META``).

The value is the accepted :class:`~realmgate.decision.Decision` (``local_user``, ``realm``,
``subject``, ``client_id``, ``claims``…) or None.

Path rules say which routes require a token: ``require`` and ``exempt`` are lists of rules,
``"/api"`` (that path and everything below it, at a ``/`` boundary) or ``"=/login"`` (that
exact path). A path requires a token when it matches a ``require`` rule and no ``exempt``
rule. A route that requires a token and does not get a good one is answered by the
middleware as ``/auth`` would answer it (401 with the RFC 6750 challenge, 403 when the
identity is not mapped, 503 when keys or the registry are unavailable, each with
``X-Realmgate-Message``). On other routes a token is still verified when present, and the
identity is set if it is accepted, so a page can greet a known user without demanding one.

The request the auth filters see is the one the application sees (its client address,
URL and headers); behind a reverse proxy, have the server or framework resolve forwarded
headers (uvicorn ``--forwarded-allow-ips``, werkzeug ``ProxyFix``) as usual. Note that
uvicorn believes ``X-Forwarded-For`` from 127.0.0.1 by default: with a ``remote_address``
filter and no local proxy, run it with ``--no-proxy-headers`` (``realmgate serve`` does),
or any local process can claim any address.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from realmgate.configmodel import Config
from realmgate.decision import Decision
from realmgate.errors import UsageError
from realmgate.request import RequestInfo
from realmgate.server.httpio import Receive, Scope, Send, header_list, respond
from realmgate.server.outcome import answer
from realmgate.verifier import Verifier

ASGI_KEY = "realmgate"
WSGI_KEY = "realmgate.identity"
_REASONS = {401: "Unauthorized", 403: "Forbidden", 500: "Internal Server Error",
            503: "Service Unavailable"}  # fmt: skip


class PathRules:
    """Which paths require a token (see the module docstring for the rule syntax)."""

    def __init__(self, require: Iterable[str] = ("/",), exempt: Iterable[str] = ()) -> None:
        self.require = [self._parse(rule) for rule in require]
        self.exempt = [self._parse(rule) for rule in exempt]

    @staticmethod
    def _parse(rule: str) -> tuple[bool, str]:
        exact = rule.startswith("=")
        path = rule[1:] if exact else rule
        if not isinstance(rule, str) or not path.startswith("/"):
            raise UsageError("RG8050E", rule=rule, detail="a rule is a path starting with '/'")
        return exact, path if exact or path == "/" else path.rstrip("/")

    @staticmethod
    def _matches(rules: Sequence[tuple[bool, str]], path: str) -> bool:
        for exact, pattern in rules:
            if exact:
                if path == pattern:
                    return True
            elif pattern == "/" or path == pattern or path.startswith(pattern + "/"):
                return True
        return False

    def requires_token(self, path: str) -> bool:
        return self._matches(self.require, path) and not self._matches(self.exempt, path)


def _verifier(source: Verifier | Config | str | Path) -> Verifier:
    return source if isinstance(source, Verifier) else Verifier(source)


def _has_token_hint(headers: dict[str, str], verifier: Verifier) -> bool:
    """Whether the request carries something a definition would read as a token."""
    if "authorization" in headers:
        return True
    return any(d.header and d.header.lower() in headers for d in verifier.config.clients)


class ASGIMiddleware:
    """``app = ASGIMiddleware(app, "realmgate.toml", require=["/api"], exempt=["/api/ping"])``."""

    def __init__(
        self,
        app: Callable[[Scope, Receive, Send], Any],
        verifier: Verifier | Config | str | Path,
        *,
        require: Iterable[str] = ("/",),
        exempt: Iterable[str] = (),
        error_detail: str = "full",
    ) -> None:
        self.app = app
        self.verifier = _verifier(verifier)
        self.rules = PathRules(require, exempt)
        self.error_detail = error_detail

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        from realmgate.keys.inline_pass import run_inline

        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        client = scope.get("client")
        host = next((v for k, v in headers if k.lower() == "host"), "localhost")
        query = scope.get("query_string", b"").decode("latin-1")
        url = f"{scope.get('scheme', 'http')}://{host}{scope['path']}" + (
            f"?{query}" if query else ""
        )
        info = RequestInfo.build(
            headers, remote_addr=client[0] if client else None, url=url,
            method=scope.get("method", "GET"),
        )  # fmt: skip
        required = self.rules.requires_token(scope["path"])
        decision: Decision | None = None
        if required or _has_token_hint(dict(info.headers), self.verifier):
            decision = await run_inline(partial(self.verifier.verify_request, info))
        state = scope.setdefault("state", {})
        state[ASGI_KEY] = decision if decision is not None and decision.accepted else None
        if required and (decision is None or not decision.accepted):
            assert decision is not None
            result = answer(decision, self.error_detail)
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
                return
            await respond(send, result.status, result.body.encode(), header_list(result.headers))
            return
        await self.app(scope, receive, send)


class WSGIMiddleware:
    """``app.wsgi_app = WSGIMiddleware(app.wsgi_app, "realmgate.toml", require=["/api"])``."""

    def __init__(
        self,
        app: Callable[..., Iterable[bytes]],
        verifier: Verifier | Config | str | Path,
        *,
        require: Iterable[str] = ("/",),
        exempt: Iterable[str] = (),
        error_detail: str = "full",
    ) -> None:
        self.app = app
        self.verifier = _verifier(verifier)
        self.rules = PathRules(require, exempt)
        self.error_detail = error_detail

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        from wsgiref.util import request_uri

        headers = [
            (key[5:].replace("_", "-"), value)
            for key, value in environ.items()
            if key.startswith("HTTP_") and isinstance(value, str)
        ]
        if environ.get("CONTENT_TYPE"):
            headers.append(("content-type", environ["CONTENT_TYPE"]))
        info = RequestInfo.build(
            headers,
            remote_addr=environ.get("REMOTE_ADDR"),
            url=request_uri(environ),
            method=environ.get("REQUEST_METHOD", "GET"),
        )
        path = environ.get("PATH_INFO", "/") or "/"
        required = self.rules.requires_token(path)
        decision: Decision | None = None
        if required or _has_token_hint(dict(info.headers), self.verifier):
            decision = self.verifier.verify_request(info)
        environ[WSGI_KEY] = decision if decision is not None and decision.accepted else None
        if required and (decision is None or not decision.accepted):
            assert decision is not None
            result = answer(decision, self.error_detail)
            body = result.body.encode()
            reply = [(k, v) for k, v in result.headers]
            reply += [("Content-Type", "text/plain; charset=utf-8"),
                      ("Content-Length", str(len(body)))]  # fmt: skip
            start_response(f"{result.status} {_REASONS.get(result.status, 'Error')}", reply)
            return [body]
        return self.app(environ, start_response)
