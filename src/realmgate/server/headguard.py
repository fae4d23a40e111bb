"""Bounds on the request head that uvicorn's httptools protocol does not enforce itself.

uvicorn (with httptools) gathers a request's line and headers in memory without any size
limit and starts no timer on a new connection, so before the application sees a request:

* one client could send an endless header and grow the process by hundreds of MB
  (``h11_max_incomplete_event_size`` applies to the h11 protocol only);
* a client that connects and then sends nothing, or drips its headers a byte at a time
  (slowloris), would hold its connection, and a file descriptor, for ever.

:func:`guarded_protocol` makes a subclass of uvicorn's ``HttpToolsProtocol`` that counts the
bytes of each request head while it arrives and answers **431** (RG8001E) and closes once
they pass ``[limits] max_header_bytes`` plus :data:`FRAMING_ALLOWANCE` (the application then
applies the exact limit to what it receives), and gives each request ``[server]
request_timeout`` seconds from its first byte (or from the connection's opening) until it has
fully arrived: past that it answers **408** (RG8002E) if part of a head came, else closes.
A request whose body the application is reading is left to the application's own timeout.
Both values are read from the service on every connection, so a reload applies to new
connections. Memory per connection is bounded by the limit plus one socket read.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from realmgate.messages import render

FRAMING_ALLOWANCE = 4096
"""Bytes allowed on top of ``max_header_bytes`` for the request line and header framing
(the application's count leaves out ``HTTP/1.1``, ``: `` and line ends)."""

Limits = Callable[[], tuple[int, float]]
"""Returns (max_header_bytes, request_timeout) now."""


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a bounded, timed request head (module docstring)."""

    limits: Limits = staticmethod(lambda: (16384, 10.0))  # replaced by guarded_protocol()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._head_limit, self._timeout = type(self).limits()
        self._head_limit += FRAMING_ALLOWANCE
        self._in_head = True
        self._head_bytes = 0
        self._refused = False
        self._deadline: asyncio.TimerHandle | None = None
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        if self._in_head:
            self._head_bytes += len(data)
        super().data_received(data)
        if (
            self._in_head
            and self._head_bytes > self._head_limit
            and not self._refused
            and not self.transport.is_closing()
        ):
            self._refuse(
                431,
                "Request Header Fields Too Large",
                render(
                    "RG8001E",
                    {"size": f"at least {self._head_bytes}", "limit": self._head_limit},
                ),
            )

    # -- parser callbacks ------------------------------------------------------------------
    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()

    def on_headers_complete(self) -> None:
        self._in_head = False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._disarm()
        self._in_head = True
        self._head_bytes = 0

    # -- the deadline ----------------------------------------------------------------------
    def _arm(self) -> None:
        if self._deadline is None:
            self._deadline = self.loop.call_later(self._timeout, self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self) -> None:
        self._deadline = None
        if self.transport.is_closing() or self._refused:
            return
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            # The application is handling this request (and times its body itself): look
            # again later, so a body still dripping after the response is cut off then.
            self._arm()
            return
        if self._in_head and self._head_bytes:
            detail = "the request line and headers did not arrive"
            self._refuse(
                408,
                "Request Timeout",
                render("RG8002E", {"timeout": f"{self._timeout:g}", "detail": detail}),
            )
            return
        self._refused = True
        self.transport.close()

    def _refuse(self, status: int, phrase: str, text: str) -> None:
        self._refused = True
        self._disarm()
        body = (text + "\n").encode("utf-8")
        message_id = text.split(" ", 1)[0].encode("ascii")
        head = (
            f"HTTP/1.1 {status} {phrase}\r\n"
            "content-type: text/plain; charset=utf-8\r\n"
            f"content-length: {len(body)}\r\n"
            "connection: close\r\n"
        ).encode("ascii")
        self.transport.write(head + b"x-realmgate-message: " + message_id + b"\r\n\r\n" + body)
        self.transport.close()


def guarded_protocol(limits: Limits) -> type[GuardedHttpToolsProtocol]:
    """A protocol class for ``uvicorn.Config(http=...)`` whose bounds come from ``limits``."""
    attributes: dict[str, Any] = {"limits": staticmethod(limits)}
    return type("RealmgateHttpProtocol", (GuardedHttpToolsProtocol,), attributes)
