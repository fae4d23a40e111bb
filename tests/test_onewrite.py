"""A kept answer written in one piece (``realmgate.server.onewrite``) leaves the wire and
uvicorn's request cycle exactly as uvicorn's own two ``send`` calls would, and falls back to
them whenever it cannot."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from uvicorn.protocols.http.httptools_impl import RequestResponseCycle

from realmgate.decision import Decision
from realmgate.server.forwardauth import encode
from realmgate.server.onewrite import KeptHead, send_kept

DEFAULTS = [(b"server", b"uvicorn"), (b"date", b"Fri, 04 Dec 2026 00:00:00 GMT")]


class Transport:
    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.written.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True


class Flow:
    write_paused = False


def _cycle(method: str = "GET", *, keep_alive: bool = True, **changes: Any) -> Any:
    responses: list[int] = []
    cycle = RequestResponseCycle(
        scope={"type": "http", "method": method, "path": "/auth", "headers": []},  # type: ignore[typeddict-item]
        transport=Transport(),  # type: ignore[arg-type]
        flow=Flow(),  # type: ignore[arg-type]
        logger=None,  # type: ignore[arg-type]
        access_logger=None,  # type: ignore[arg-type]
        access_log=False,
        default_headers=list(DEFAULTS),
        message_event=asyncio.Event(),
        expect_100_continue=True,
        keep_alive=keep_alive,
        on_response=lambda: responses.append(1),
    )
    for name, value in changes.items():
        setattr(cycle, name, value)
    cycle.responses = responses  # type: ignore[attr-defined]
    return cycle


def _state(cycle: Any) -> dict[str, Any]:
    return {
        "written": b"".join(cycle.transport.written),
        "response_started": cycle.response_started,
        "response_complete": cycle.response_complete,
        "waiting_for_100_continue": cycle.waiting_for_100_continue,
        "chunked_encoding": cycle.chunked_encoding,
        "expected_content_length": cycle.expected_content_length,
        "keep_alive": cycle.keep_alive,
        "event": cycle.message_event.is_set(),
        "responses": len(cycle.responses),
        "closed": cycle.transport.closed,
    }


def _decisions() -> list[Decision]:
    accepted = Decision(
        accepted=True,
        client_id="linux",
        issuer="LINUX",
        subject="colin",
        realm="LINUX",
        local_user="IBMUSER",
        status=200,
    )
    refused = [
        Decision(accepted=False, message_id=mid, reason=f"{mid} something failed", status=status)
        for mid, status in (("RG4001E", 401), ("RG6001E", 403), ("RG7011E", 503))
    ]
    return [accepted, *refused]


@pytest.mark.parametrize("index", range(4))
def test_kept_answer_writes_what_uvicorns_sends_write(index: int) -> None:
    decision = _decisions()[index]
    status, body, _own, full, kept = encode(decision, "full")
    assert kept is not None
    ordinary, fast = _cycle(), _cycle()

    async def both() -> None:
        await ordinary.send({"type": "http.response.start", "status": status, "headers": full})
        await ordinary.send({"type": "http.response.body", "body": body})
        assert send_kept(fast.send, kept, "GET")

    asyncio.run(both())
    assert _state(fast) == _state(ordinary)
    assert len(fast.transport.written) == 1  # one write, where uvicorn makes two
    assert len(ordinary.transport.written) == 2


@pytest.mark.parametrize(
    ("method", "changes", "keep_alive"),
    [
        ("HEAD", {}, True),
        ("GET", {}, False),
        ("GET", {"access_log": True}, True),
        ("GET", {"response_started": True}, True),
        ("GET", {"disconnected": True}, True),
        ("GET", {"chunked_encoding": True}, True),
    ],
)
def test_anything_unusual_takes_the_ordinary_messages(
    method: str, changes: dict[str, Any], keep_alive: bool
) -> None:
    _, _, _, _, kept = encode(_decisions()[0], "full")
    assert kept is not None
    cycle = _cycle(method, keep_alive=keep_alive, **changes)
    before = _state(cycle)
    assert not send_kept(cycle.send, kept, method)
    assert _state(cycle) == before


def test_paused_writing_and_other_servers_take_the_ordinary_messages() -> None:
    _, _, _, _, kept = encode(_decisions()[0], "full")
    assert kept is not None
    cycle = _cycle()
    cycle.flow.write_paused = True
    assert not send_kept(cycle.send, kept, "GET")

    async def other_server_send(message: dict[str, Any]) -> None:
        raise AssertionError("not called")

    assert not send_kept(other_server_send, kept, "GET")

    class NotUvicorns(RequestResponseCycle):
        pass

    subclassed = _cycle()
    subclassed.__class__ = NotUvicorns
    assert not send_kept(subclassed.send, kept, "GET")

    reshaped = _cycle()  # a uvicorn whose cycle has lost an attribute this relies on
    del reshaped.flow
    assert not send_kept(reshaped.send, kept, "GET")
    assert not reshaped.response_started


def test_default_headers_uvicorn_would_refuse_take_the_ordinary_messages() -> None:
    _, _, _, _, kept = encode(_decisions()[0], "full")
    assert kept is not None
    for bad in ([(b"x-bad", b"a\nb")], [(b"bad name", b"x")], [(b"connection", b"close")]):
        cycle = _cycle(default_headers=bad)
        assert not send_kept(cycle.send, kept, "GET")
        assert not cycle.response_started


def test_a_kept_head_refuses_what_uvicorn_refuses_or_reframes() -> None:
    ok = ((b"content-type", b"text/plain"), (b"content-length", b"2"))
    assert KeptHead(200, ok, b"ok").block.startswith(b"content-type: text/plain\r\n")
    with pytest.raises(ValueError):
        KeptHead(200, (*ok, (b"x-user", b"a\r\nset-cookie: evil")), b"ok")
    with pytest.raises(ValueError):
        KeptHead(200, (*ok, (b"x user", b"a")), b"ok")
    with pytest.raises(ValueError):
        KeptHead(200, (*ok, (b"connection", b"close")), b"ok")
    with pytest.raises(ValueError):
        KeptHead(200, ok, b"longer than two")
    with pytest.raises(ValueError):
        KeptHead(200, ((b"content-type", b"text/plain"),), b"ok")
