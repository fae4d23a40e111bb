"""``/auth``'s direct path (realmgate.server.forwardauth.ForwardAuth): for configurations
without auth filters it reads the token header straight from the ASGI scope. It must answer
exactly as the general path (the full request view) does, and keep the metrics."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from realmgate.extract import extract_token
from realmgate.request import RequestInfo
from realmgate.server.app import RealmgateApp
from realmgate.server.forwardauth import plain_token
from realmgate.server.httpio import HttpRequest
from realmgate.server.service import Service
from tests.serverkit import ISSUER, Env, make_env

Answer = tuple[int, list[tuple[bytes, bytes]], bytes]


@pytest.fixture
def env(tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> Env:
    return make_env(tmp_path, rsa_key)


def scope(headers: list[tuple[bytes, bytes]], method: str = "GET", path: str = "/auth") -> Any:
    return {
        "type": "http",
        "method": method,
        "path": path,
        "query_string": b"",
        "scheme": "http",
        "client": ("127.0.0.1", 40000),
        "headers": [(b"host", b"gate.test"), *headers],
    }


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _answer(
    app: RealmgateApp,
    headers: list[tuple[bytes, bytes]],
    *,
    general: bool = False,
    method: str = "GET",
) -> Answer:
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    request = scope(headers, method)
    if general:
        limit = app.service.state.config.limits.max_header_bytes
        await app.forward_auth._general(HttpRequest(request, _receive, limit), send)
    else:
        await app(request, _receive, send)
    return sent[0]["status"], sent[0]["headers"], sent[1]["body"]


def _digitless(answer: Answer) -> str:
    return re.sub(r"\d+", "0", repr(answer))


def both(app: RealmgateApp, headers: list[tuple[bytes, bytes]], method: str = "GET") -> Answer:
    """The direct path's answer, after checking the general path gives the same twice (the
    second time from the verified-token cache when the token was accepted)."""

    async def run() -> Answer:
        fast = [await _answer(app, headers, method=method) for _ in range(2)]
        general = [await _answer(app, headers, general=True, method=method) for _ in range(2)]
        # The texts of a refusal give the time of the check: compare them without digits.
        assert [_digitless(a) for a in fast] == [_digitless(a) for a in general]
        return fast[0]

    return asyncio.run(run())


def test_direct_path_answers_as_the_general_path(env: Env) -> None:
    app = RealmgateApp(Service(env.config), watch=False)
    assert app.forward_auth._routing(app.service.state)[2] == b"authorization"
    good, expired = env.token(), env.expired()
    cases: list[list[tuple[bytes, bytes]]] = [
        [(b"authorization", f"Bearer {good}".encode())],
        [(b"Authorization", f"bearer  {good} ".encode())],  # case, spaces: still accepted
        [(b"authorization", f"Bearer {good}\x85".encode("latin-1"))],
        [(b"authorization", f"Bearer {good}".encode()), (b"authorization", b"Bearer x")],
        [(b"authorization", f"Bearer {expired}".encode())],
        [(b"authorization", f"Bearer {env.token('mallory')}".encode())],
        [(b"authorization", b"Basic dXNlcjpwdw==")],
        [(b"authorization", b"Bearer ")],
        [(b"x-other", b"1")],
    ]
    statuses = [both(app, headers)[0] for headers in cases]
    assert statuses == [200, 200, 200, 401, 401, 403, 401, 401, 401]
    status, headers, body = both(app, cases[0], "HEAD")
    assert status == 200 and body == b"" and (b"content-length", b"0") in headers
    assert (b"x-realmgate-user", b"ALICE01") in headers


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(value=st.binary(max_size=200), name=st.sampled_from([b"authorization", b"AUTHORIZATION"]))
def test_any_header_value_answers_as_the_general_path(env: Env, value: bytes, name: bytes) -> None:
    app = RealmgateApp(Service(env.config), watch=False)
    assert both(app, [(name, value)])[0] == 401


def test_trusted_proxy_without_filters_uses_direct_path(env: Env) -> None:
    env.write('[server]\ntrusted_proxies = ["127.0.0.0/8"]\n')
    app = RealmgateApp(Service(env.config), watch=False)
    forwarded = [(b"x-forwarded-for", b"garbage, 10.1.2.3"), (b"x-forwarded-host", b"a.example")]
    headers = [(b"authorization", f"Bearer {env.token()}".encode()), *forwarded]
    assert both(app, headers)[0] == 200


def test_custom_token_header(env: Env) -> None:
    text = env.config.read_text()
    env.config.write_text(
        text.replace("clock_skew = 60\n", 'clock_skew = 60\nheader = "X-Token"\n')
    )
    app = RealmgateApp(Service(env.config), watch=False)
    assert app.forward_auth._routing(app.service.state)[2] == b"x-token"
    assert both(app, [(b"x-token", env.token().encode())])[0] == 200
    status, headers, _ = both(app, [(b"authorization", f"Bearer {env.token()}".encode())])
    assert status == 401 and (b"x-realmgate-message", b"RG1001E") in headers


def test_oversized_head_is_431_on_the_direct_path(env: Env) -> None:
    app = RealmgateApp(Service(env.config), watch=False)
    status, headers, _ = asyncio.run(_answer(app, [(b"x-big", b"x" * 20_000)]))
    assert status == 431 and (b"x-realmgate-message", b"RG8001E") in headers


def test_reload_to_filtered_configuration_leaves_direct_path(env: Env) -> None:
    app = RealmgateApp(Service(env.config), watch=False)
    headers = [(b"authorization", f"Bearer {env.token()}".encode())]
    assert asyncio.run(_answer(app, headers))[0] == 200
    filtered = 'clock_skew = 60\nauth_filter = "office"\n'
    text = env.config.read_text().replace("clock_skew = 60\n", filtered)
    env.config.write_text(
        text + '[[auth_filter]]\nid = "office"\n[[auth_filter.condition]]\n'
        'kind = "remote_address"\nmatch = "equals"\nvalue = "10.1.2.3"\n'
    )
    assert asyncio.run(app.service.reload("test")).ok
    assert app.forward_auth._routing(app.service.state)[2] == b""
    status, answer, _ = asyncio.run(_answer(app, headers))
    assert status == 401 and (b"x-realmgate-message", b"RG2004E") in answer


def test_metrics_count_lazily_counted_hits(env: Env) -> None:
    app = RealmgateApp(Service(env.config), watch=False)
    good = [(b"authorization", f"Bearer {env.token()}".encode())]
    expired = [(b"authorization", f"Bearer {env.expired()}".encode())]

    async def scenario() -> str:
        for headers in (good, good, good, good, expired):
            await _answer(app, headers)
        sent: list[dict[str, Any]] = []

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await app(scope([], path="/metrics"), _receive, send)
        return bytes(sent[1]["body"]).decode()

    text = asyncio.run(scenario())
    accepted = 'realmgate_decisions_total{endpoint="auth",result="accepted",message_id="",'
    assert accepted + 'status="200"} 4' in text
    assert 'message_id="RG4001E",status="401"} 1' in text
    # How soon a token is admitted to the cache is the verifier's business: count both.
    hits = int(re.findall(r"realmgate_verified_cache_hits_total (\d+)", text)[0])
    misses = int(re.findall(r"realmgate_verified_cache_misses_total (\d+)", text)[0])
    assert hits >= 1 and hits + misses == 5
    assert "realmgate_decision_seconds_count 5" in text
    assert 'realmgate_decision_seconds_bucket{le="+Inf"} 5' in text
    assert 'realmgate_http_requests_total{endpoint="auth",status="200"} 4' in text
    assert ISSUER not in text


_PIECES = st.text(alphabet="aZ09-_.", min_size=0, max_size=6) | st.sampled_from(
    [" ", ",", "\t", "\x85", "\xa0", "\x1c", "\x7f", "é", "Bearer ", "bearer", "BEARER "]
)


@settings(max_examples=400, deadline=None)
@given(
    value=st.lists(_PIECES, max_size=6).map("".join),
    header=st.sampled_from([None, "X-Token", "Cookie"]),
)
def test_plain_token_is_what_the_extractor_finds(value: str, header: str | None) -> None:
    name = (header or "authorization").lower()
    found = plain_token(value.encode("latin-1"), name == "authorization")
    if found is not None:  # None: the extractor decides (tested through the answers above)
        assert found == extract_token(RequestInfo.build({name: value}), header)
