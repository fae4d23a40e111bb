"""Minimal HTTP plumbing over raw ASGI: a request view, bounded body reads, responses.

The service is a raw ASGI application rather than a Starlette one because the forward-auth
path is the hot path and the framework's per-request cost showed up in the measurement
(docs/server.md): routing here is one dict lookup.

Every client-caused failure is an :class:`HttpError` with a catalogue message, turned into a
4xx response by the application; nothing a client sends is allowed to surface as a 500.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping
from typing import Any

from realmgate.messages import render

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Headers = list[tuple[bytes, bytes]]

TEXT = b"text/plain; charset=utf-8"
JSON = b"application/json"


class HttpError(Exception):
    """A client error with its status, catalogue message and extra response headers."""

    def __init__(
        self,
        status: int,
        message_id: str,
        headers: Iterable[tuple[str, str]] = (),
        *,
        text: str | None = None,
        **values: Any,
    ) -> None:
        self.status = status
        self.message_id = message_id
        self.text = text if text is not None else render(message_id, values)
        self.headers = list(headers)
        super().__init__(self.text)


class HttpRequest:
    """What the handlers need from an ASGI HTTP scope; header names are lower-case and
    repeated headers are joined (``, `` or ``; `` for cookies) as RequestInfo does."""

    __slots__ = ("headers", "method", "path", "peer", "query", "receive", "scheme", "scope")

    def __init__(self, scope: Scope, receive: Receive, max_header_bytes: int) -> None:
        self.scope = scope
        self.receive = receive
        self.method: str = scope["method"]
        self.path: str = scope["path"]
        self.scheme: str = scope.get("scheme", "http")
        self.query: str = scope.get("query_string", b"").decode("latin-1")
        client = scope.get("client")
        self.peer: str | None = client[0] if client else None
        size = len(self.path) + len(self.query)
        headers: dict[str, str] = {}
        for raw_name, raw_value in scope["headers"]:
            size += len(raw_name) + len(raw_value) + 4
            name = raw_name.decode("latin-1").lower()
            value = raw_value.decode("latin-1")
            if name in headers:
                headers[name] += ("; " if name == "cookie" else ", ") + value
            else:
                headers[name] = value
        if size > max_header_bytes:
            raise HttpError(431, "RG8001E", size=size, limit=max_header_bytes)
        self.headers = headers

    async def body(self, limit: int, timeout: float) -> bytes:
        """The whole body, at most ``limit`` bytes, within ``timeout`` seconds."""
        declared = self.headers.get("content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > limit:
            raise HttpError(413, "RG0003E", detail=f"the body is over the limit of {limit} bytes")
        chunks: list[bytes] = []
        size = 0
        try:
            async with asyncio.timeout(timeout):
                while True:
                    message = await self.receive()
                    if message["type"] == "http.disconnect":
                        raise HttpError(400, "RG0003E", detail="the client went away")
                    chunk = message.get("body", b"")
                    size += len(chunk)
                    if size > limit:
                        raise HttpError(
                            413, "RG0003E", detail=f"the body is over the limit of {limit} bytes"
                        )
                    chunks.append(chunk)
                    if not message.get("more_body", False):
                        break
        except TimeoutError:
            raise HttpError(
                408, "RG8002E", timeout=timeout, detail="the body did not arrive"
            ) from None
        return b"".join(chunks)

    async def json_object(self, limit: int, timeout: float) -> dict[str, Any]:
        data = await self.body(limit, timeout)
        ctype = self.headers.get("content-type", "application/json").split(";")[0].strip()
        if ctype.lower() not in ("application/json", ""):
            raise HttpError(415, "RG0003E", detail=f"expected application/json, got {ctype[:60]!r}")
        try:
            value = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise HttpError(
                400, "RG0003E", detail=f"not JSON ({type(exc).__name__}: {str(exc)[:80]})"
            ) from None
        if not isinstance(value, dict):
            raise HttpError(400, "RG0003E", detail="expected a JSON object")
        return value


_UNSAFE = frozenset(["%", *(chr(c) for c in range(32)), chr(127)])
_PLAIN = re.compile(r"[ -$&-~]*\Z")  # printable ASCII without '%'


def header_value(text: str) -> str:
    """``text`` made safe for a response header, reversibly: printable ASCII passes as is,
    anything else (and ``%`` itself) is percent-encoded as UTF-8, so ``urllib.parse.unquote``
    gives back the original and a CR/LF in a claim can never split a header."""
    if _PLAIN.match(text):
        return text
    out: list[str] = []
    for char in text:
        if char.isascii() and char not in _UNSAFE:
            out.append(char)
        else:
            out.extend(f"%{b:02X}" for b in char.encode("utf-8", "surrogatepass"))
    return "".join(out)


def header_list(headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> Headers:
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    return [
        (
            k.lower().encode("latin-1"),
            v.replace("\r", " ").replace("\n", " ").encode("latin-1", "replace"),
        )
        for k, v in pairs
    ]


async def respond(
    send: Send,
    status: int,
    body: bytes = b"",
    headers: Headers | None = None,
    content_type: bytes = TEXT,
) -> None:
    out: Headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    if headers:
        out.extend(headers)
    await send({"type": "http.response.start", "status": status, "headers": out})
    await send({"type": "http.response.body", "body": body})


async def respond_json(send: Send, status: int, value: Any, headers: Headers | None = None) -> None:
    body = json.dumps(value, separators=(",", ":"), default=str).encode("utf-8")
    await respond(send, status, body, headers, JSON)


async def respond_error(send: Send, error: HttpError) -> None:
    headers = header_list([("x-realmgate-message", error.message_id), *error.headers])
    await respond(send, error.status, (error.text + "\n").encode("utf-8"), headers)
