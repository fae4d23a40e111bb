"""PostgreSQL registry specifics (the shared contract runs in test_registry.py on both
backends): schema migrations, change propagation by LISTEN/NOTIFY and by polling, schemas
sharing one database, reconnection after the line is cut and after a real server restart,
and that the password in the URL never reaches a message or a log."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from realmgate.errors import RegistryError
from realmgate.registry import MappingRule, Revocation
from tests import services

psycopg = pytest.importorskip("psycopg")

from realmgate.registry import pgschema  # noqa: E402 - needs psycopg
from realmgate.registry.postgres import PostgresRegistry  # noqa: E402

SRC = str(Path(__file__).resolve().parents[1] / "src")


@pytest.fixture
def url() -> Iterator[str]:
    with services.shared_services(), services.pg_schema() as schema_url:
        yield schema_url


@pytest.fixture
def opened() -> Iterator[list[PostgresRegistry]]:
    handles: list[PostgresRegistry] = []
    yield handles
    for handle in handles:
        handle.close()


def _open(opened: list[PostgresRegistry], url: str, **options: float) -> PostgresRegistry:
    registry = PostgresRegistry(url, **options)  # type: ignore[arg-type]
    opened.append(registry)
    return registry


def _wait(condition: Callable[[], bool], timeout: float) -> float | None:
    """Seconds until ``condition`` held, or None if it did not within ``timeout``."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout:
            return None
        time.sleep(0.001)
    return time.monotonic() - start


def _raw(url: str) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(url, autocommit=True)


def test_schema_is_created_and_migrated_from_version_1(url: str, opened: list) -> None:
    with _raw(url) as conn:  # a registry made by the first release: version 1 only
        for statement in pgschema.MIGRATIONS[1]:
            conn.execute(statement.encode())
        conn.execute("UPDATE realmgate_schema_version SET version = 1")
        conn.execute(
            "INSERT INTO realmgate_rules VALUES ('old', 'r', 'u', NULL, extract(epoch from now()))"
        )
    registry = _open(opened, url)
    assert registry.migrated == (1, 2)
    assert [r.user for r in registry.rules()] == ["old"]
    registry.revoke(Revocation("jti", "j1"))
    assert _open(opened, url).migrated == (2, 2)
    with _raw(url) as conn:
        assert conn.execute("SELECT version FROM realmgate_schema_version").fetchall() == [(2,)]


def test_concurrent_first_opens_migrate_once(url: str, opened: list) -> None:
    results: list[object] = []

    def open_one() -> None:
        try:
            results.append(PostgresRegistry(url, listen=False))
        except BaseException as exc:
            results.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    registries = [r for r in results if isinstance(r, PostgresRegistry)]
    opened.extend(registries)
    assert len(registries) == 6, results
    assert sorted(r.migrated for r in registries) == [(0, 2)] + [(2, 2)] * 5  # type: ignore


def test_newer_or_unmigrated_schema_is_refused(url: str, opened: list) -> None:
    with pytest.raises(RegistryError, match=r"RG5002E .*run 'realmgate registry migrate'"):
        PostgresRegistry(url, migrate=False)
    _open(opened, url)
    with _raw(url) as conn:
        conn.execute("UPDATE realmgate_schema_version SET version = 9")
    with pytest.raises(RegistryError, match=r"RG5002E .*schema version 9 is not supported"):
        PostgresRegistry(url)


def test_change_in_another_process_is_seen_within_a_second(url: str, opened: list) -> None:
    registry = _open(opened, url)
    before = registry.generation()
    code = (
        "import time, sys\n"
        "from realmgate.registry.postgres import PostgresRegistry\n"
        "from realmgate.registry import MappingRule\n"
        f"r = PostgresRegistry({url!r}, listen=False)\n"
        "started = time.time()\n"
        "r.add(MappingRule('p', 'r', 'u'))\n"
        "print(started, flush=True)\n"
        "r.close()\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        env={**os.environ, "PYTHONPATH": SRC},
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    started = float(proc.stdout.readline())  # before add(): latency includes the commit
    assert _wait(lambda: registry.generation() != before, 1.0) is not None
    latency = time.time() - started
    assert proc.wait(30) == 0
    print(f"mapping change seen by another process after {latency * 1000:.1f} ms")
    assert latency < 1.0
    assert [r.user for r in registry.rules()] == ["p"]


def test_change_made_with_sql_is_notified_and_other_schemas_are_ignored(
    url: str, opened: list
) -> None:
    registry = _open(opened, url)
    before = registry.generation()
    with services.pg_schema() as other_url:
        other = _open(opened, other_url)
        other.add(MappingRule("x", "r", "u"))  # same database, same channel, other schema
        time.sleep(0.3)
        assert registry.generation() == before
    with _raw(url) as conn:
        conn.execute("INSERT INTO realmgate_rules VALUES ('sql', 'r', 'u', NULL, 0)")
    assert _wait(lambda: registry.generation() != before, 1.0) is not None


def test_polling_finds_a_change_whose_notification_was_lost(url: str, opened: list) -> None:
    registry = _open(opened, url, poll_interval=0.2)
    before = registry.generation()
    with _raw(url) as conn:  # a change without its trigger, hence without a notification
        conn.execute("ALTER TABLE realmgate_rules DISABLE TRIGGER USER")
        conn.execute("INSERT INTO realmgate_rules VALUES ('quiet', 'r', 'u', NULL, 0)")
        conn.execute("UPDATE realmgate_meta SET value = value + 1")
        conn.execute("ALTER TABLE realmgate_rules ENABLE TRIGGER USER")
    assert _wait(lambda: registry.generation() != before, 1.0) is not None
    assert [r.user for r in registry.rules()] == ["quiet"]


def test_cut_line_keeps_the_snapshot_for_the_grace_then_fails_closed_and_recovers(
    url: str, opened: list, caplog: pytest.LogCaptureFixture
) -> None:
    proxy = services.TcpProxy(("127.0.0.1", 5432))
    try:
        # trust authentication ignores the password; it is there to be kept out of messages
        proxied = url.replace("postgres@127.0.0.1:5432", f"postgres:pw-Zq81@127.0.0.1:{proxy.port}")
        caplog.set_level(logging.INFO, "realmgate.registry")
        registry = _open(opened, proxied, grace=1.0, poll_interval=0.2)
        registry.add(MappingRule("kept", "r", "u"))
        generation = registry.generation()
        proxy.cut()
        assert _wait(lambda: registry.health()["status"] == "reconnecting", 2.0) is not None
        assert registry.generation() == generation  # within the grace: the snapshot serves
        with pytest.raises(RegistryError) as failed:
            registry.add(MappingRule("lost", "r", "u"))
        assert failed.value.message_id == "RG5002E"
        time.sleep(1.1)
        with pytest.raises(RegistryError, match=r"RG5002E .*unreachable for"):
            registry.generation()
        assert registry.health()["ok"] is False
        writer = _open(opened, url, poll_interval=0.2)
        writer.add(MappingRule("meanwhile", "r", "u"))
        proxy.resume()
        assert _wait(lambda: registry.health()["status"] == "listening", 5.0) is not None
        # The change made while the line was cut is found, and writes work again.
        assert _wait(lambda: registry.generation() != generation, 2.0) is not None
        assert [r.user for r in registry.rules()] == ["kept", "meanwhile"]
        registry.add(MappingRule("after", "r", "u"))
        messages = [record.getMessage() for record in caplog.records]
        assert any(m.startswith("RG5502W") for m in messages)
        assert any(m.startswith("RG5503I") for m in messages)
        assert not any("pw-Zq81" in m for m in messages)
        assert "pw-Zq81" not in failed.value.text and "pw-Zq81" not in repr(registry)
    finally:
        proxy.close()


@pytest.fixture
def restartable_url() -> Iterator[str]:
    """A schema, with every other test using the servers kept out (it restarts them)."""
    with services.exclusive_services(), services.pg_schema() as schema_url:
        yield schema_url


@pytest.mark.slow
def test_server_restart_loses_nothing_and_handles_reconnect(
    restartable_url: str, opened: list
) -> None:
    services.pg_cluster()
    registry = _open(opened, restartable_url)
    writer = _open(opened, restartable_url, grace=30.0)
    for i in range(20):
        writer.add(MappingRule(f"u{i}", "r", "x"))
    assert _wait(lambda: len(registry.rules()) == 20, 2.0) is not None
    # Reading the rules does not wait for the listener: the last notifications may still
    # be on their way, and a late one would move the generation after the restart.
    assert _wait(lambda: registry._known == writer._known, 2.0) is not None
    generation = registry.generation()
    try:
        services.restart_postgres()
    finally:
        services.wait_postgres()
    assert _wait(lambda: registry.health()["status"] == "listening", 10.0) is not None
    assert registry.generation() == generation
    assert len(registry.rules()) == 20  # the stale connection is replaced, the read retried
    writer.add(MappingRule("after-restart", "r", "x"))  # so is the writer's, before COMMIT
    seen = _wait(lambda: registry.generation() != generation, 1.0)
    assert seen is not None, "a change after the restart did not arrive within 1 s"
    assert len(registry.rules()) == 21


def test_postgresql_url_without_the_psycopg_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from realmgate.configmodel import RegistrySettings
    from realmgate.registry import open_registry

    monkeypatch.setitem(sys.modules, "realmgate.registry.postgres", None)
    with pytest.raises(RegistryError) as excinfo:
        open_registry(RegistrySettings(url="postgresql://u:pw-Zq81@h/db"), tmp_path)
    assert "pip install 'realmgate[postgres]'" in excinfo.value.text
    assert "pw-Zq81" not in excinfo.value.text
