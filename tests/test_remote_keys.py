"""Remote JWK Sets: the fetch rules, the cache policy (TTL, refresh ahead, cool-down, single
flight, bounded stale-if-error) and the verifier on top, against a real loopback server
whose request log is the evidence."""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import logging
import math
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from realmgate import KeysUnavailable, Verifier
from realmgate.config import parse_config
from realmgate.configmodel import Config, RemoteKeySettings
from realmgate.keys import jwkscache
from realmgate.keys.http import FetchError, fetch, parse_max_age
from realmgate.keys.jwk import public_jwk
from realmgate.keys.jwkscache import RemoteDocument
from realmgate.keys.remote import parse_jwks
from tests.keyserver import Issuer, KeyServer, key_server

ISS = "https://issuer.test"


@pytest.fixture
def server() -> Iterator[KeyServer]:
    with key_server() as srv:
        yield srv


@pytest.fixture(scope="module")
def issuer() -> Issuer:
    keys = {k: rsa.generate_private_key(public_exponent=65537, key_size=2048) for k in "ABC"}
    return Issuer(ISS, keys)


def config(tmp_path: Path, jwks_url: str, **knobs: Any) -> Config:
    settings = "\n".join(f"{k} = {json.dumps(v)}" for k, v in knobs.items())
    text = f"""
[[client]]
id = "remote"
issuers = ["{ISS}"]
algorithms = ["RS256", "ES256"]
jwks_uri = "{jwks_url}"
allow_insecure_http = true
audiences = ["api"]
map_to_registry_user = true
{settings}
"""
    return parse_config(text, str(tmp_path / "realmgate.toml"))


def with_kid(token: str, kid: str) -> str:
    """The same token under another ``kid`` (signature left as is: the kid is refused first)."""
    header = base64.urlsafe_b64encode(
        json.dumps({"alg": "RS256", "typ": "JWT", "kid": kid}).encode()
    ).rstrip(b"=")
    return header.decode() + token[token.index(".") :]


def wait_for(condition: Callable[[], bool], timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_fetched_keys_verify_and_are_cached(tmp_path: Path, server: KeyServer, issuer: Issuer):
    server.set("/jwks", issuer.jwks("A", "B"))
    verifier = Verifier(config(tmp_path, server.url("/jwks")))
    for kid in ("A", "B", "A"):
        decision = verifier.verify(issuer.token(kid))
        assert decision.accepted, decision.reason
        assert decision.key_id == kid
    assert len(server.requests("/jwks")) == 1
    step = next(s for s in decision.trace if s.check == "signature")
    assert step.detail["stale"] is False and "JWKS http://127.0.0.1" in step.detail["source"]
    health = verifier.key_health()["remote"][0]
    assert health["status"] == "fresh" and health["fetches"] == 1


def test_max_age_is_clamped_and_etag_revalidates(server: KeyServer, issuer: Issuer):
    clock = FakeClock()
    settings = RemoteKeySettings(
        cache_min=60, cache_max=300, default_ttl=120, allow_insecure_http=True
    )
    server.set("/jwks", issuer.jwks("A"), Cache_Control="public, max-age=3600", ETag='"v1"')
    doc = RemoteDocument(server.url("/jwks"), "JWK Set", settings, parse_jwks, clock=clock)
    doc.get("t")
    assert doc.health().expires_in == 300  # 3600 clamped to cache_max
    clock.now += 301  # expired: the next lookup revalidates with If-None-Match
    held = doc.get("t")
    assert not held.stale and held.value.labels == ("A",)
    second = server.requests("/jwks")[1]
    assert second.headers["if-none-match"] == '"v1"'
    server.set("/jwks", issuer.jwks("A"), Cache_Control="max-age=5")
    clock.now += 301
    doc.get("t")
    assert doc.health().expires_in == 60  # 5 raised to cache_min
    server.set("/jwks", issuer.jwks("A"))
    clock.now += 61
    doc.get("t")
    assert doc.health().expires_in == 120  # nothing said: default_ttl (also clamped)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, None),
        ({"cache-control": "max-age=600"}, 600.0),
        ({"cache-control": 'public, max-age="120"', "age": "20"}, 100.0),
        ({"cache-control": "max-age=10", "age": "50"}, 0.0),
        ({"cache-control": "no-cache, max-age=600"}, 0.0),
        ({"cache-control": "no-store"}, 0.0),
        ({"cache-control": "max-age=-1"}, None),
        ({"cache-control": "max-age=ten"}, None),
    ],
)
def test_parse_max_age(headers: dict[str, str], expected: float | None):
    assert parse_max_age(headers) == expected


def test_refresh_ahead_runs_in_background(server: KeyServer, issuer: Issuer):
    clock = FakeClock()
    settings = RemoteKeySettings(cache_min=100, cache_max=100, allow_insecure_http=True)
    server.set("/jwks", issuer.jwks("A"), delay=0.3)
    doc = RemoteDocument(server.url("/jwks"), "JWK Set", settings, parse_jwks, clock=clock)
    doc.get("t")
    clock.now += 90  # past the refresh point (70-85 % of the TTL), still fresh
    server.set("/jwks", issuer.jwks("A", "B"), delay=0.3)
    started = time.monotonic()
    held = doc.get("t")
    assert time.monotonic() - started < 0.1, "a refresh ahead must not block the lookup"
    assert held.value.labels == ("A",)
    wait_for(lambda: doc.get("t").value.labels == ("A", "B"))
    assert len(server.requests("/jwks")) == 2


def test_issuer_down_keeps_last_good_keys_then_503(
    tmp_path: Path, server: KeyServer, issuer: Issuer
):
    server.set("/jwks", issuer.jwks("A"))
    knobs = {"jwks_cache_min": 0.2, "jwks_cache_max": 0.2, "jwks_max_stale": 0.6}
    verifier = Verifier(config(tmp_path, server.url("/jwks"), **knobs))
    assert verifier.verify(issuer.token("A")).accepted
    server.set("/jwks", b"upstream broken", status=503)
    time.sleep(0.25)  # the keys expire; the issuer now fails
    decision = verifier.verify(issuer.token("A"))
    assert decision.accepted, decision.reason
    step = next(s for s in decision.trace if s.check == "signature")
    assert step.detail["stale"] is True
    health = verifier.key_health()["remote"][0]
    assert health["status"] == "degraded"
    assert "RG7002E" in health["last_error"] and "HTTP 503" in health["last_error"]
    assert health["last_success"] is not None and health["failures"] >= 1
    server.close()  # now nothing listens at all: connection refused
    time.sleep(0.6)
    decision = verifier.verify(issuer.token("A"))
    assert not decision.accepted
    assert decision.message_id == "RG7010E" and decision.status == 503
    assert "over max_stale 0.6s" in decision.reason
    assert verifier.key_health()["remote"][0]["status"] == "failed"


def test_recovery_after_an_outage_happens_off_the_request_path(
    tmp_path: Path, server: KeyServer, issuer: Issuer, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(jwkscache, "MIN_RETRY_AFTER_FAILURE", 0.05)
    server.set("/jwks", issuer.jwks("A"))
    knobs = {"jwks_cache_min": 0.1, "jwks_cache_max": 0.1, "jwks_unknown_kid_cooldown": 0.1}
    verifier = Verifier(config(tmp_path, server.url("/jwks"), **knobs))
    assert verifier.verify(issuer.token("A")).accepted
    server.set("/jwks", b"", status=502)
    time.sleep(0.15)
    assert verifier.verify(issuer.token("A")).accepted  # stale copy; the fetch failed
    failed = len(server.requests("/jwks"))
    for _ in range(50):  # within the back-off: answered from the stale copy, no request
        assert verifier.verify(issuer.token("A")).accepted
    assert len(server.requests("/jwks")) == failed
    server.set("/jwks", issuer.jwks("A", "B"), delay=0.2)
    time.sleep(0.12)
    started = time.monotonic()
    assert verifier.verify(issuer.token("A")).accepted  # starts the retry, does not wait
    assert time.monotonic() - started < 0.15
    wait_for(lambda: verifier.key_health()["remote"][0]["status"] == "fresh")
    assert verifier.verify(issuer.token("B")).accepted


def test_cold_start_with_issuer_down_is_503_and_not_hammered(
    tmp_path: Path, server: KeyServer, issuer: Issuer
):
    server.set("/jwks", b"<html>oops</html>", status=500)
    verifier = Verifier(config(tmp_path, server.url("/jwks"), jwks_unknown_kid_cooldown=30))
    first = verifier.verify(issuer.token("A"))
    assert first.message_id == "RG7011E" and first.status == 503
    assert "HTTP 500" in (first.reason or "")
    for _ in range(20):
        again = verifier.verify(issuer.token("A"))
        assert again.message_id == "RG7011E" and "next attempt in" in (again.reason or "")
    assert len(server.requests("/jwks")) == 1
    with pytest.raises(KeysUnavailable) as caught:
        verifier.verify_or_raise(issuer.token("A"))
    assert caught.value.decision.status == 503


def test_unknown_kid_flood_refetches_at_most_once_per_cooldown(
    tmp_path: Path, server: KeyServer, issuer: Issuer
):
    cooldown = 0.3
    server.set("/jwks", issuer.jwks("A"))
    verifier = Verifier(config(tmp_path, server.url("/jwks"), jwks_unknown_kid_cooldown=cooldown))
    good = issuer.token("A")
    assert verifier.verify(good).accepted
    tokens = [with_kid(good, secrets.token_hex(8)) for _ in range(1000)]
    refusals: list[str | None] = []
    lock = threading.Lock()
    started = time.monotonic()

    def flood(part: list[str]) -> None:
        for token in part:
            decision = verifier.verify(token)
            with lock:
                refusals.append(decision.message_id)
            time.sleep(0.0025)  # spread the flood over a few cool-downs

    threads = [threading.Thread(target=flood, args=(tokens[i::4],)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    assert refusals == ["RG7012E"] * 1000
    fetched = [r.at for r in server.requests("/jwks")]
    refetches = len(fetched) - 1
    assert 1 <= refetches <= math.floor(elapsed / cooldown) + 1, (refetches, elapsed)
    gaps = [b - a for a, b in itertools.pairwise(fetched)]
    assert all(gap >= cooldown * 0.95 for gap in gaps), gaps
    assert verifier.verify(good).accepted  # the flood did not disturb real tokens
    health = verifier.key_health()["remote"][0]
    assert health["unknown_kid_refetches"] == refetches
    # the rest were refused without a request (a few joined a refetch already in flight)
    assert health["cooldown_refusals"] > 900


def test_new_kid_is_fetched_once_after_rotation(tmp_path: Path, server: KeyServer, issuer: Issuer):
    server.set("/jwks", issuer.jwks("A"))
    verifier = Verifier(config(tmp_path, server.url("/jwks"), jwks_unknown_kid_cooldown=0.2))
    old = issuer.token("A")
    assert verifier.verify(old).accepted
    time.sleep(0.25)  # past the cool-down of the first fetch
    server.set("/jwks", issuer.jwks("B", "A"))  # rotation: the new key first, the old kept
    for _ in range(5):
        decision = verifier.verify(issuer.token("B"))
        assert decision.accepted and decision.key_id == "B"
    assert verifier.verify(old).accepted
    assert len(server.requests("/jwks")) == 2


def test_concurrent_misses_share_one_fetch_across_threads(
    tmp_path: Path, server: KeyServer, issuer: Issuer
):
    server.set("/jwks", issuer.jwks("A"), delay=0.3)
    verifier = Verifier(config(tmp_path, server.url("/jwks")))
    token = issuer.token("A")
    results: list[bool] = []
    barrier = threading.Barrier(16)

    def run() -> None:
        barrier.wait()
        results.append(verifier.verify(token).accepted)

    threads = [threading.Thread(target=run) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [True] * 16
    assert len(server.requests("/jwks")) == 1


def test_concurrent_misses_share_one_fetch_across_asyncio_and_threads(
    tmp_path: Path, server: KeyServer, issuer: Issuer, monkeypatch: pytest.MonkeyPatch
):
    server.set("/jwks", issuer.jwks("A"), delay=0.3)
    verifier = Verifier(config(tmp_path, server.url("/jwks")))
    token = issuer.token("A")
    sync_results: list[bool] = []
    thread = threading.Thread(target=lambda: sync_results.append(verifier.verify(token).accepted))

    def no_threads(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the async path must not fall back to a thread")

    monkeypatch.setattr(asyncio, "to_thread", no_threads)

    async def main() -> list[bool]:
        thread.start()
        decisions = await asyncio.gather(*(verifier.verify_async(token) for _ in range(16)))
        return [d.accepted for d in decisions]

    assert asyncio.run(main()) == [True] * 16
    thread.join()
    assert sync_results == [True]
    assert len(server.requests("/jwks")) == 1
    # warm: a cache hit completes without any await on I/O
    assert asyncio.run(verifier.verify_async(token)).accepted
    assert len(server.requests("/jwks")) == 1


def test_async_unknown_kid_and_outage_answer_without_looping(
    tmp_path: Path, server: KeyServer, issuer: Issuer
):
    server.set("/jwks", issuer.jwks("A"))
    verifier = Verifier(config(tmp_path, server.url("/jwks"), jwks_unknown_kid_cooldown=0.01))
    bad = with_kid(issuer.token("A"), "nope")
    decision = asyncio.run(verifier.verify_async(bad))
    assert decision.message_id == "RG7012E"
    assert len(server.requests("/jwks")) == 1  # cold fetch, then the kid is known to be absent
    time.sleep(0.02)
    decision = asyncio.run(verifier.verify_async(bad))
    assert decision.message_id == "RG7012E" and "still absent" in (decision.reason or "")
    assert len(server.requests("/jwks")) == 2


@pytest.mark.parametrize(
    ("route", "knobs", "message_id", "text"),
    [
        ({"status": 302, "Location": "http://127.0.0.1:1/evil"}, {}, "RG7002E", "not followed"),
        ({"status": 404}, {}, "RG7002E", "HTTP 404"),
        ({"body": b"x" * 5000}, {"max_response_bytes": 4096}, "RG7003E", "4096 bytes"),
        ({"body": b"not json"}, {}, "RG7004E", "not a JSON object"),
        ({"body": {"keys": []}}, {}, "RG7004E", "no usable signature key"),
        ({"delay": 0.5}, {"http_timeout": 0.1}, "RG7001E", "no answer within 0.1s"),
    ],
)
def test_fetch_failures_have_their_message(
    tmp_path: Path,
    server: KeyServer,
    issuer: Issuer,
    route: dict[str, Any],
    knobs: dict[str, Any],
    message_id: str,
    text: str,
):
    body = route.pop("body", issuer.jwks("A"))
    server.set("/jwks", body, **route)
    decision = Verifier(config(tmp_path, server.url("/jwks"), **knobs)).verify(issuer.token("A"))
    assert decision.message_id == "RG7011E" and decision.status == 503
    assert message_id in (decision.reason or "") and text in (decision.reason or "")
    assert [r.path for r in server.requests()] == ["/jwks"]  # a redirect is never followed


def test_plain_http_needs_allow_insecure_http(server: KeyServer):
    with pytest.raises(FetchError) as caught:
        fetch(server.url("/jwks"), "JWK Set", RemoteKeySettings())
    assert caught.value.message_id == "RG7005E"
    assert server.requests() == []


def test_jwk_use_alg_and_type_are_honoured(tmp_path: Path, server: KeyServer, issuer: Issuer):
    ec_key = ec.generate_private_key(ec.SECP256R1())
    jwks = issuer.jwks("A")
    jwks["keys"] += [
        public_jwk(issuer.keys["B"], kid="B", use="enc"),  # encryption key: skipped
        public_jwk(issuer.keys["C"], kid="C", alg="PS256"),  # bound to PS256 only
        public_jwk(ec_key, kid="E", alg="ES256"),
        {"kty": "oct", "kid": "S", "k": base64.urlsafe_b64encode(b"s" * 32).decode().rstrip("=")},
    ]
    server.set("/jwks", jwks)
    verifier = Verifier(config(tmp_path, server.url("/jwks"), jwks_unknown_kid_cooldown=30))
    assert verifier.verify(issuer.token("A")).accepted
    assert verifier.verify(issuer.token("B")).message_id == "RG7012E"  # use=enc never loaded
    assert verifier.verify(issuer.token("C")).message_id == "RG3003E"  # PS256 key, RS256 token
    assert verifier.verify(with_kid(issuer.token("A"), "E")).message_id == "RG3003E"
    assert verifier.verify(with_kid(issuer.token("A"), "S")).message_id == "RG7012E"
    keyset = parse_jwks(json.dumps(jwks).encode(), "u")
    assert any("shared secret" in p for p in keyset.problems)
    secrets_only = {"keys": [jwks["keys"][-1]]}
    with pytest.raises(FetchError, match="shared secret in a published set"):
        parse_jwks(json.dumps(secrets_only).encode(), "u")


def test_jku_and_x5u_headers_are_never_followed(tmp_path: Path, server: KeyServer, issuer: Issuer):
    server.set("/jwks", issuer.jwks("A"))
    server.set("/evil", issuer.jwks("B"))
    verifier = Verifier(config(tmp_path, server.url("/jwks")))
    from realmgate.jws_sign import sign_compact
    from realmgate.keys.signing import signing_key_from_private

    key = signing_key_from_private(issuer.keys["B"], source="attacker", kid="B")
    claims = {"iss": ISS, "sub": "mallory", "aud": "api", "exp": int(time.time()) + 60}
    extra = {"jku": server.url("/evil"), "x5u": server.url("/evil")}
    token = sign_compact(claims, key, "RS256", kid="B", extra_header=extra)
    decision = verifier.verify(token)
    assert not decision.accepted
    assert "/evil" not in [r.path for r in server.requests()]


def test_reload_keeps_a_warm_cache_unless_settings_change(
    tmp_path: Path, server: KeyServer, issuer: Issuer
):
    server.set("/jwks", issuer.jwks("A"))
    verifier = Verifier(config(tmp_path, server.url("/jwks")))
    assert verifier.verify(issuer.token("A")).accepted
    before = verifier.snapshot.key_sources["remote"]
    verifier.reload(config(tmp_path, server.url("/jwks")))
    assert verifier.snapshot.key_sources["remote"] is before
    assert verifier.verify(issuer.token("A")).accepted
    assert len(server.requests("/jwks")) == 1
    verifier.reload(config(tmp_path, server.url("/jwks"), jwks_cache_min=30))
    assert verifier.verify(issuer.token("A")).accepted
    assert len(server.requests("/jwks")) == 2


def test_tokens_are_never_logged(
    tmp_path: Path, server: KeyServer, issuer: Issuer, caplog: pytest.LogCaptureFixture
):
    server.set("/jwks", b"{}", status=500)
    caplog.set_level(logging.DEBUG)
    verifier = Verifier(config(tmp_path, server.url("/jwks")))
    token = issuer.token("A")
    verifier.verify(token)
    server.set("/jwks", issuer.jwks("A"))
    verifier.verify(with_kid(token, "zzz"))
    assert caplog.records
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert token not in text and token.split(".")[1] not in text
