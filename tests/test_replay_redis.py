"""Replay protection in Redis: SET NX with expiry at exp + skew, shared by several verifiers,
what an unreachable Redis does (each definition's replay_unavailable; one connection attempt
per retry interval; one log line per outage), the [replay] table, and readiness."""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from realmgate.config import load_config
from realmgate.errors import ConfigError, RealmgateError
from realmgate.verifier import Verifier
from tests import services
from tests.conftest import Setup

redis = pytest.importorskip("redis")

from realmgate.replay_redis import (  # noqa: E402 - needs redis
    RedisReplayStore,
    ReplayStoreUnavailable,
    open_replay_store,
    replay_check,
    replay_settings,
)


@pytest.fixture
def prefix() -> Iterator[str]:
    with services.shared_services():
        services.redis_client()  # skip (or fail under CI) without Redis
        with services.redis_prefix() as value:
            yield value


@pytest.fixture
def stores() -> Iterator[list[RedisReplayStore]]:
    made: list[RedisReplayStore] = []
    yield made
    for store in made:
        store.close()


def _store(made: list[RedisReplayStore], url: str, prefix: str, **options: Any) -> RedisReplayStore:
    store = RedisReplayStore(url, key_prefix=prefix, **options)
    made.append(store)
    return store


@pytest.fixture
def dead_url() -> Iterator[str]:
    """A Redis URL (with a password) where connections are accepted and closed at once."""
    proxy = services.TcpProxy(("127.0.0.1", 1))
    yield f"redis://:pw-Kx9@127.0.0.1:{proxy.port}/0"
    proxy.close()


def test_first_use_then_replay_with_expiry_at_exp_plus_skew(prefix: str, stores: list) -> None:
    store = _store(stores, services.REDIS_URL, prefix)
    expires = time.time() + 120
    assert store.first_use("iss\x00jti-1", expires) is True
    assert store.first_use("iss\x00jti-1", expires) is False
    assert store.first_use("iss\x00jti-2", expires) is True
    key = store.key("iss\x00jti-1")
    assert key.startswith(prefix) and "jti-1" not in key and len(key) == len(prefix) + 64
    remaining = store.client.pttl(key) / 1000
    assert 118 < remaining <= 120
    # A token already past exp + skew leaves nothing behind (it is refused earlier anyway).
    assert store.first_use("iss\x00old", time.time() - 5) is True
    assert store.client.exists(store.key("iss\x00old")) == 0


def test_two_nodes_share_and_race(prefix: str, stores: list) -> None:
    node_a = _store(stores, services.REDIS_URL, prefix)
    node_b = _store(stores, services.REDIS_URL, prefix)
    expires = time.time() + 60
    assert node_a.first_use("i\x00shared", expires) is True
    assert node_b.first_use("i\x00shared", expires) is False
    results: list[bool] = []
    barrier = threading.Barrier(16)

    def race(store: RedisReplayStore) -> None:
        barrier.wait()
        results.append(store.first_use("i\x00raced", expires))

    threads = [threading.Thread(target=race, args=(s,)) for s in [node_a, node_b] * 8]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 15 + [True]


def test_unreachable_store_backs_off_and_logs_once(
    prefix: str, stores: list, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "realmgate.replay")
    proxy = services.TcpProxy(("127.0.0.1", 6379))
    try:
        proxy.cut()
        clock = [100.0]
        url = f"redis://:pw-Kx9@127.0.0.1:{proxy.port}/0"
        store = _store(stores, url, prefix, clock=lambda: clock[0])
        attempts = 0
        real_set = store.client.set

        def counting_set(*args: Any, **kwargs: Any) -> Any:
            nonlocal attempts
            attempts += 1
            return real_set(*args, **kwargs)

        store.client.set = counting_set  # type: ignore[method-assign]
        for _ in range(5):
            with pytest.raises(ReplayStoreUnavailable) as excinfo:
                store.first_use("i\x00j", time.time() + 60)
        assert attempts == 1  # the others were refused without touching the network
        assert excinfo.value.store == f"redis://127.0.0.1:{proxy.port}/0"
        assert store.ping()[0] is False
        proxy.resume()
        clock[0] += 1.5  # past retry_interval
        assert store.first_use("i\x00j", time.time() + 5) is True
        assert attempts == 2
        messages = [r.getMessage() for r in caplog.records]
        assert sum(m.startswith("RG8503W") for m in messages) == 1
        assert sum(m.startswith("RG8504I") for m in messages) == 1
        assert not any("pw-Kx9" in m for m in messages)
    finally:
        proxy.close()


# --- the verifier -----------------------------------------------------------------------------


def _verifier(setup: Setup, store: Any, replay_unavailable: str = "refuse") -> Verifier:
    config = services.write_config(
        setup.dir,
        '[registry]\npath = "registry.db"\n',
        token_reuse=False,
        replay_unavailable=replay_unavailable,
    )
    from realmgate.registry import MappingRule, SQLiteRegistry

    with SQLiteRegistry(setup.dir / "registry.db") as registry:
        if not registry.rules():
            registry.add(MappingRule("*", "R", "ANYONE"))
    return Verifier(config, replay_store=store)


def test_a_token_accepted_by_one_node_is_a_replay_at_another(
    setup: Setup, rsa_key: Any, prefix: str, stores: list
) -> None:
    node_a = _verifier(setup, _store(stores, services.REDIS_URL, prefix))
    node_b = _verifier(setup, _store(stores, services.REDIS_URL, prefix))
    tok = services.token(rsa_key)
    assert node_a.verify(tok).accepted
    replayed = node_b.verify(tok)
    assert replayed.message_id == "RG4012E" and replayed.status == 401


@pytest.mark.parametrize("policy", ["refuse", "allow"])
def test_unreachable_store_follows_replay_unavailable(
    setup: Setup, rsa_key: Any, stores: list, dead_url: str, policy: str
) -> None:
    store = _store(stores, dead_url, "x:")
    engine = _verifier(setup, store, policy)
    decision = engine.verify(services.token(rsa_key))
    if policy == "refuse":
        assert not decision.accepted and decision.status == 503
        assert decision.message_id == "RG8501E"
        assert "client 'main' has replay_unavailable = \"refuse\"" in (decision.reason or "")
        assert store.target in (decision.reason or "")
    else:
        assert decision.accepted and decision.local_user == "ANYONE"
        warnings = [s for s in decision.trace if s.detail.get("message_id") == "RG8502W"]
        assert len(warnings) == 1
        assert "accepted without a replay check" in str(warnings[0].detail["warning"])
    assert "pw-Kx9" not in repr(decision.to_dict())


# --- [replay] and readiness ----------------------------------------------------------------


def test_replay_table(setup: Setup, stores: list) -> None:
    path = services.write_config(setup.dir)
    assert open_replay_store(load_config(path)) is None
    path = services.write_config(
        setup.dir, '[replay]\nurl = "redis://:pw-Kx9@127.0.0.1:6379/3"\nkey_prefix = "p:"\n'
    )
    store = open_replay_store(load_config(path))
    assert isinstance(store, RedisReplayStore)
    stores.append(store)
    assert store.target == "redis://127.0.0.1:6379/3" and store.key_prefix == "p:"
    path = services.write_config(
        setup.dir,
        '\n[replay]\nurl = "http://u:pw-Kx9@h/"\ntimeout = -1\nkey_prefx = "p"\n',
    )
    with pytest.raises(ConfigError) as excinfo:
        replay_settings(load_config(path))
    report = excinfo.value.report()
    assert "pw-Kx9" not in report
    assert "realmgate.toml:" in report and "scheme 'http'" in report
    assert "RG6003E" in report and "key_prefix" in report  # did you mean
    assert "timeout" in report


def test_readiness_entry(setup: Setup, prefix: str, stores: list, dead_url: str) -> None:
    config = load_config(services.write_config(setup.dir, token_reuse=False))
    up = _store(stores, services.REDIS_URL, prefix)
    assert replay_check(up, config) == {
        "ok": True,
        "status": "ok",
        "store": "redis://127.0.0.1:6379/0",
        "detail": "answering",
    }
    down = _store(stores, dead_url, prefix)
    refusing = replay_check(down, config)
    assert refusing is not None and refusing["ok"] is False
    assert refusing["status"] == "unavailable" and refusing["refusing"] == ["main", "other"]
    allowing_config = load_config(
        services.write_config(setup.dir, token_reuse=False, replay_unavailable="allow")
    )
    allowing = replay_check(down, allowing_config)
    assert allowing is not None and allowing["ok"] is True and allowing["status"] == "degraded"
    assert replay_check(object(), config) is None


def test_replay_url_without_the_redis_package(
    setup: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = services.write_config(setup.dir, '[replay]\nurl = "redis://:pw-Kx9@127.0.0.1/0"\n')
    monkeypatch.setitem(sys.modules, "redis", None)  # as if the extra were not installed
    with pytest.raises(RealmgateError) as excinfo:
        open_replay_store(load_config(path))
    assert excinfo.value.message_id == "RG8514E"
    assert "pip install 'realmgate[redis]'" in excinfo.value.text
    assert "pw-Kx9" not in excinfo.value.text
