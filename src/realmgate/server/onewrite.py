"""A kept answer written in one piece: status line, headers and body in a single socket write.

Through ASGI an answer is two messages, and uvicorn's httptools protocol handles each header
of the first one afresh on every request (two regular-expression searches and a
``lower()``), then writes the head and the body with a ``transport.write`` each: two
``send`` system calls and two TCP segments for a 200 of three bytes. ``/auth`` answers come
from a table kept per identity (:func:`realmgate.server.forwardauth.encode`), so their
headers can be checked once, when the answer is made, and the whole answer written at once.

:func:`send_kept` does that when ``send`` is the ``send`` of uvicorn's own httptools
request cycle in the plain state (nothing sent yet, keep-alive, no access log, writing not
paused), and leaves the cycle exactly as uvicorn's two sends would (``tests/test_onewrite.py``
compares the bytes written, every attribute of the cycle uvicorn reads afterwards and the
call that hands the connection back to the protocol, for every status ``/auth`` answers).
Anything else (the h11 protocol, another server, a ``HEAD``, a connection to be closed, a
newer uvicorn whose cycle has changed shape) gets the two ordinary messages, so the answer
on the wire is the same either way.

Measured (issue 5, the 2-core benchmark machine, wrk on loopback, medians of 9 interleaved
rounds, 2026-12-04): ``/healthz`` answered this way serves 38 970 requests/s where the same
trivial answer sent as two ordinary messages on plain uvicorn serves 34 690 (+12 %); a
cached ``/auth`` went from 78 % of the old two-message ``/healthz`` to 92 % of that trivial
endpoint. uvicorn's per-header checks alone cost about 0.45 µs a header (timeit).
``benchmarks/results-2026-12-04.md`` has the runs.
"""

from __future__ import annotations

import re
from typing import Any

from realmgate.server.httpio import Send

_Cycle: Any
try:
    from uvicorn.protocols.http.httptools_impl import HEADER_RE as _NAME_REFUSED
    from uvicorn.protocols.http.httptools_impl import HEADER_VALUE_RE as _VALUE_REFUSED
    from uvicorn.protocols.http.httptools_impl import STATUS_LINE as _STATUS_LINE
    from uvicorn.protocols.http.httptools_impl import RequestResponseCycle as _Cycle
except ImportError:  # pragma: no cover - uvicorn or httptools missing: ordinary messages only
    _Cycle = None
    _STATUS_LINE = {}
    _NAME_REFUSED = _VALUE_REFUSED = re.compile(b"")


class KeptHead:
    """The headers of a kept answer, checked once and joined as they go on the wire."""

    __slots__ = ("block", "body", "status")

    def __init__(self, status: int, headers: tuple[tuple[bytes, bytes], ...], body: bytes) -> None:
        lines = []
        length = None
        for name, value in headers:
            # uvicorn's own checks, as its send makes them on every answer.
            if _NAME_REFUSED.search(name) or _VALUE_REFUSED.search(value):
                raise ValueError(f"header {name!r} cannot be written as it is")
            name = name.lower()
            if name in (b"connection", b"transfer-encoding"):
                raise ValueError(f"header {name!r} changes framing: not for a kept answer")
            if name == b"content-length":
                length = int(value)
            lines.append(name + b": " + value + b"\r\n")
        if length != len(body):
            raise ValueError("a kept answer needs its exact content-length")
        self.status = status
        self.block = b"".join(lines)
        self.body = body


_defaults: tuple[Any, bytes] = (None, b"")
"""(uvicorn's default header list, its wire form): the list is replaced every second (the
``date`` header), so its form is made once per list."""


def _default_block(headers: list[tuple[bytes, bytes]]) -> bytes | None:
    global _defaults
    kept, block = _defaults
    if kept is headers:
        return block
    lines = []
    for name, value in headers:
        if _NAME_REFUSED.search(name) or _VALUE_REFUSED.search(value):
            return None
        name = name.lower()
        if name in (b"connection", b"transfer-encoding", b"content-length"):
            return None
        lines.append(name + b": " + value + b"\r\n")
    block = b"".join(lines)
    _defaults = (headers, block)
    return block


def send_kept(send: Send, head: KeptHead, method: str) -> bool:
    """Write ``head`` in one piece through ``send``'s uvicorn cycle; False (nothing done) when
    the ordinary ASGI messages must be sent instead (module docstring)."""
    cycle: Any = getattr(send, "__self__", None)
    if _Cycle is None or type(cycle) is not _Cycle or method == "HEAD":
        return False
    try:
        if (
            cycle.response_started
            or cycle.disconnected
            or not cycle.keep_alive
            or cycle.access_log
            or cycle.chunked_encoding is not None
            or cycle.flow.write_paused
        ):
            return False
        defaults = _default_block(cycle.default_headers)
        transport, event, on_response = cycle.transport, cycle.message_event, cycle.on_response
    except AttributeError:  # a uvicorn whose cycle no longer looks like this
        return False
    status_line = _STATUS_LINE.get(head.status)
    if status_line is None or defaults is None:
        return False
    # What uvicorn's send does for the start message, then for the final body message.
    cycle.response_started = True
    cycle.waiting_for_100_continue = False
    cycle.chunked_encoding = False
    cycle.expected_content_length = 0
    transport.write(b"".join((status_line, defaults, head.block, b"\r\n", head.body)))
    cycle.response_complete = True
    event.set()
    on_response()
    return True
