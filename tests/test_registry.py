"""The identity registry: the backend contract (parametrised by ``registry_factory``: the same
suite runs on SQLite and on PostgreSQL), then SQLite specifics, PostgreSQL specifics (change
propagation by LISTEN/NOTIFY, reconnection after a server restart) and ``open_registry``."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from realmgate.configmodel import RegistrySettings
from realmgate.errors import RegistryError
from realmgate.registry import (
    DEFAULT_REGISTRY_FILE,
    IdentityRegistry,
    MappingRule,
    SQLiteRegistry,
    open_registry,
)
from tests import services

SRC = str(Path(__file__).resolve().parents[1] / "src")

RegistryFactory = Callable[[], IdentityRegistry]


@pytest.fixture(params=services.BACKENDS)
def registry_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RegistryFactory]:
    """Returns a function that opens a *new handle* (connection) on one shared store, so
    tests can check what a second connection sees. A new backend adds a param here (and a
    branch in ``tests.services.registry_backend``). PostgreSQL: a fresh schema per test."""
    with services.registry_backend(request.param, tmp_path) as make:
        yield make


def _eventually(condition: Callable[[], bool], timeout: float = 1.0) -> bool:
    """True once ``condition`` holds, polled until ``timeout``: a change made through another
    connection reaches a PostgreSQL handle by notification, asynchronously (in about a
    millisecond; SQLite sees it at once)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.002)
    return True


@pytest.fixture
def registry(registry_factory: RegistryFactory) -> IdentityRegistry:
    return registry_factory()


def _error(excinfo: pytest.ExceptionInfo[RegistryError]) -> RegistryError:
    return excinfo.value


# --- the contract every backend meets ---------------------------------------------------


def test_add_and_list_normalises_dn_and_keeps_label(registry: IdentityRegistry) -> None:
    registry.add(MappingRule("cn=Ann Lee, ou=Eng ,o=Corp", "https://idp.example", "ann", "eng"))
    registry.add(MappingRule("bob", "*", "bob2"))
    rules = registry.rules()
    assert [(r.user, r.realm, r.local_user, r.label) for r in rules] == [
        ("bob", "*", "bob2", None),
        ("CN=Ann Lee,OU=Eng,O=Corp", "https://idp.example", "ann", "eng"),
    ]
    assert all(r.created_at is not None and r.created_at <= time.time() for r in rules)


def test_rules_are_ordered_by_realm_then_user(registry: IdentityRegistry) -> None:
    for user, realm in [("z", "b"), ("a", "b"), ("m", "a"), ("*", "*")]:
        registry.add(MappingRule(user, realm, "u"))
    assert [(r.realm, r.user) for r in registry.rules()] == [
        ("*", "*"),
        ("a", "m"),
        ("b", "a"),
        ("b", "z"),
    ]


def test_duplicate_filter_is_refused_even_when_spelt_differently(
    registry: IdentityRegistry,
) -> None:
    registry.add(MappingRule("CN=Ann,O=Corp", "r1", "ann"))
    before = registry.generation()
    with pytest.raises(RegistryError) as excinfo:
        registry.add(MappingRule("cn = Ann , o = Corp", "r1", "other"))
    error = _error(excinfo)
    assert error.message_id == "RG5005E"
    assert "'CN=Ann,O=Corp'" in error.text and "'r1'" in error.text and "'ann'" in error.text
    assert [r.local_user for r in registry.rules()] == ["ann"]
    assert registry.generation() == before


def test_same_user_in_another_realm_and_realm_case_are_distinct(
    registry: IdentityRegistry,
) -> None:
    registry.add(MappingRule("ann", "https://idp", "a1"))
    registry.add(MappingRule("ann", "https://IDP", "a2"))
    registry.add(MappingRule("ann", "*", "a3"))
    registry.add(MappingRule("Ann", "https://idp", "a4"))
    assert len(registry.rules()) == 4


@pytest.mark.parametrize(
    ("rule", "fragment"),
    [
        (MappingRule("", "r", "u"), "user filter is empty"),
        (MappingRule("u", "   ", "u"), "realm filter is empty"),
        (MappingRule("u", "r", ""), "local user is empty"),
        (MappingRule("u", "r", "*"), "cannot be '*'"),
        (MappingRule("u", "r", " root"), "leading or trailing spaces"),
        (MappingRule("a\x00b", "r", "u"), "U+0000 at position 1"),
        (MappingRule("u", "r\nx", "u"), "U+000A"),
        (MappingRule("u", "r", "u\x7f"), "U+007F"),
        (MappingRule("u\u202egnp", "r", "u"), "U+202E"),
        (MappingRule("u", "r", "u", "bad\tlabel"), "label"),
        (MappingRule("u", "r", "u", ""), "label is empty"),
        (MappingRule("CN=" + "é" * 122, "r", "u"), "247 bytes in UTF-8, over the limit of 246"),
        (MappingRule("u", "x" * 253, "u"), "over the limit of 252"),
        (MappingRule("u", "r", "l" * 256), "over the limit of 255"),
        (MappingRule("CN=a;O=b", "r", "u"), "unescaped ';'"),
        (MappingRule("CN=a,OU", "r", "u"), "no '='"),
        (MappingRule("CN=a\\q,O=b", "r", "u"), "bad escape"),
    ],
)
def test_invalid_rules_are_refused(
    registry: IdentityRegistry, rule: MappingRule, fragment: str
) -> None:
    with pytest.raises(RegistryError) as excinfo:
        registry.add(rule)
    assert _error(excinfo).message_id == "RG5003E"
    assert fragment in _error(excinfo).text
    assert registry.rules() == []


def test_limits_count_utf8_bytes_of_the_normalised_filter(registry: IdentityRegistry) -> None:
    dn = "CN=" + "é" * 121 + "x"  # 3 + 242 + 1 = 246 bytes
    registry.add(MappingRule(dn, "r" * 252, "u"))
    # Spaces the normalisation drops do not count against the limit.
    registry.add(MappingRule("cn =  " + "é" * 121 + "y", "r", "u"))
    assert len(registry.rules()) == 2


def test_remove_returns_the_rule_and_accepts_any_dn_spelling(registry: IdentityRegistry) -> None:
    registry.add(MappingRule("CN=Ann,O=Corp", "r", "ann", "lbl"))
    registry.add(MappingRule("bob", "r", "bob"))
    removed = registry.remove("cn=Ann, o=Corp", "r")
    assert (removed.user, removed.realm, removed.local_user, removed.label) == (
        "CN=Ann,O=Corp",
        "r",
        "ann",
        "lbl",
    )
    assert [r.user for r in registry.rules()] == ["bob"]


def test_remove_absent_rule_is_rg5004e(registry: IdentityRegistry) -> None:
    registry.add(MappingRule("bob", "r", "bob"))
    for user, realm in [("bob", "R"), ("Bob", "r"), ("nobody", "r")]:
        with pytest.raises(RegistryError) as excinfo:
            registry.remove(user, realm)
        assert _error(excinfo).message_id == "RG5004E"
        assert repr(user) in _error(excinfo).text and repr(realm) in _error(excinfo).text
    registry.remove("bob", "r")
    with pytest.raises(RegistryError, match="RG5004E"):
        registry.remove("bob", "r")


def test_rules_persist_across_reopen(registry_factory: RegistryFactory) -> None:
    first = registry_factory()
    first.add(MappingRule("CN=Ann,O=Corp", "r", "ann", "kept"))
    first.close()
    again = registry_factory()
    assert [(r.user, r.local_user, r.label) for r in again.rules()] == [
        ("CN=Ann,O=Corp", "ann", "kept")
    ]


def test_generation_changes_on_every_change_and_only_then(registry: IdentityRegistry) -> None:
    seen = [registry.generation()]
    registry.add(MappingRule("a", "r", "u"))
    seen.append(registry.generation())
    registry.rules()
    assert registry.generation() == seen[-1]
    with pytest.raises(RegistryError):
        registry.add(MappingRule("a", "r", "u"))
    with pytest.raises(RegistryError):
        registry.remove("zz", "r")
    assert registry.generation() == seen[-1]
    registry.remove("a", "r")
    seen.append(registry.generation())
    registry.add(MappingRule("a", "r", "u"))
    seen.append(registry.generation())
    assert len(set(seen)) == len(seen)


def test_generation_sees_changes_made_through_another_connection(
    registry_factory: RegistryFactory,
) -> None:
    reader, writer = registry_factory(), registry_factory()
    start = reader.generation()
    writer.add(MappingRule("a", "r", "u"))
    assert _eventually(lambda: reader.generation() != start)
    after_add = reader.generation()
    assert reader.generation() == after_add
    assert [r.user for r in reader.rules()] == ["a"]
    writer.remove("a", "r")
    assert _eventually(lambda: reader.generation() not in (start, after_add))
    assert reader.rules() == []


def test_concurrent_threads_share_one_handle(registry: IdentityRegistry) -> None:
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(20):
                registry.add(MappingRule(f"user{n}-{i}", "r", "u"))
                registry.generation()
                registry.rules()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(registry.rules()) == 80


# --- SQLite specifics -----------------------------------------------------------------


def test_sqlite_creates_directory_wal_schema_version_and_counter(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "reg.db"
    with SQLiteRegistry(path) as registry:
        registry.add(MappingRule("a", "r", "u"))
        registry.add(MappingRule("b", "r", "u"))
        registry.remove("a", "r")
    raw = sqlite3.connect(path)
    try:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert raw.execute("SELECT version FROM schema_version").fetchall() == [(2,)]
        counter = raw.execute("SELECT value FROM meta WHERE key = 'change_counter'").fetchone()
        assert counter == (3,)
    finally:
        raw.close()


def test_sqlite_change_by_another_tool_bumps_generation(tmp_path: Path) -> None:
    path = tmp_path / "reg.db"
    with SQLiteRegistry(path) as registry:
        registry.add(MappingRule("a", "r", "u"))
        before = registry.generation()
        raw = sqlite3.connect(path)
        with raw:
            raw.execute("UPDATE rules SET local_user = 'v'")
        raw.close()
        assert registry.generation() != before
        assert registry.rules()[0].local_user == "v"


def test_sqlite_generation_sees_another_process(tmp_path: Path) -> None:
    path = tmp_path / "reg.db"
    with SQLiteRegistry(path) as registry:
        before = registry.generation()
        code = (
            "from realmgate.registry import SQLiteRegistry, MappingRule; "
            f"SQLiteRegistry({str(path)!r}).add(MappingRule('p', 'r', 'u'))"
        )
        subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "PYTHONPATH": SRC},
            check=True,
            timeout=30,
        )
        assert registry.generation() != before
        assert [r.user for r in registry.rules()] == ["p"]


def test_sqlite_committed_rules_survive_kill_9(tmp_path: Path) -> None:
    path = tmp_path / "reg.db"
    code = (
        "import sys\n"
        "from realmgate.registry import SQLiteRegistry, MappingRule\n"
        f"r = SQLiteRegistry({str(path)!r})\n"
        "for i in range(100000):\n"
        "    r.add(MappingRule(f'u{i}', 'r', 'x'))\n"
        "    print(i, flush=True)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        env={**os.environ, "PYTHONPATH": SRC},
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    acknowledged = -1
    for line in proc.stdout:
        acknowledged = int(line)
        if acknowledged >= 30:
            break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    with SQLiteRegistry(path) as registry:
        stored = {r.user for r in registry.rules()}
    assert {f"u{i}" for i in range(acknowledged + 1)} <= stored


def test_sqlite_locked_database_is_rg5002e_with_path(tmp_path: Path) -> None:
    path = tmp_path / "reg.db"
    registry = SQLiteRegistry(path, timeout=0.1)
    raw = sqlite3.connect(path, isolation_level=None)
    try:
        raw.execute("BEGIN EXCLUSIVE")
        with pytest.raises(RegistryError) as excinfo:
            registry.add(MappingRule("a", "r", "u"))
        assert _error(excinfo).message_id == "RG5002E"
        assert str(path) in _error(excinfo).text
        assert "locked" in _error(excinfo).text and "adding a rule" in _error(excinfo).text
        # Readers are not blocked by a writer in WAL mode.
        assert registry.rules() == []
        raw.execute("ROLLBACK")
        registry.add(MappingRule("a", "r", "u"))
        assert len(registry.rules()) == 1
    finally:
        raw.close()
        registry.close()


def test_sqlite_open_while_exclusively_locked_is_rg5002e(tmp_path: Path) -> None:
    path = tmp_path / "reg.db"
    SQLiteRegistry(path).close()
    raw = sqlite3.connect(path, isolation_level=None)
    try:
        raw.execute("PRAGMA locking_mode = EXCLUSIVE")
        raw.execute("BEGIN EXCLUSIVE")
        raw.execute("COMMIT")
        with pytest.raises(RegistryError, match=r"RG5002E .*locked \(while opening\)"):
            SQLiteRegistry(path, timeout=0.1)
    finally:
        raw.close()


def test_sqlite_unusable_paths_are_rg5002e(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"not a database" * 300)
    a_file = tmp_path / "file"
    a_file.write_text("x")
    cases = {
        garbage: "file is not a database",
        tmp_path: "is a directory",
        a_file / "reg.db": "is not a directory",
    }
    for path, fragment in cases.items():
        with pytest.raises(RegistryError) as excinfo:
            SQLiteRegistry(path)
        assert _error(excinfo).message_id == "RG5002E"
        assert str(path) in _error(excinfo).text and fragment in _error(excinfo).text


def test_sqlite_create_false_does_not_create(tmp_path: Path) -> None:
    path = tmp_path / "missing" / "reg.db"
    with pytest.raises(RegistryError, match=r"RG5002E .*does not exist"):
        SQLiteRegistry(path, create=False)
    assert not path.parent.exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_sqlite_unreadable_file_is_rg5002e(tmp_path: Path) -> None:
    path = tmp_path / "reg.db"
    SQLiteRegistry(path).close()
    path.chmod(0)
    with pytest.raises(RegistryError, match="RG5002E"):
        SQLiteRegistry(path)


def test_sqlite_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "reg.db"
    SQLiteRegistry(path).close()
    raw = sqlite3.connect(path)
    with raw:
        raw.execute("UPDATE schema_version SET version = 7")
    raw.close()
    with pytest.raises(RegistryError, match=r"RG5002E .*schema version 7 is not supported"):
        SQLiteRegistry(path)


def test_sqlite_closed_registry_is_rg5002e(tmp_path: Path) -> None:
    registry = SQLiteRegistry(tmp_path / "reg.db")
    registry.close()
    registry.close()
    for call in (registry.rules, registry.generation):
        with pytest.raises(RegistryError, match=r"RG5002E .*closed"):
            call()


# --- open_registry ---------------------------------------------------------------------


def _opened_path(settings: RegistrySettings, base: Path) -> Path:
    registry = open_registry(settings, base)
    try:
        assert isinstance(registry, SQLiteRegistry)
        return registry.path
    finally:
        registry.close()


def test_open_registry_resolves_paths_against_the_config_directory(tmp_path: Path) -> None:
    base = tmp_path / "etc"
    assert _opened_path(RegistrySettings(), base) == base / DEFAULT_REGISTRY_FILE
    assert _opened_path(RegistrySettings(path="db/r.db"), base) == base / "db" / "r.db"
    absolute = tmp_path / "abs.db"
    assert _opened_path(RegistrySettings(path=str(absolute)), base) == absolute
    assert _opened_path(RegistrySettings(url="sqlite:///rel/u.db"), base) == base / "rel" / "u.db"
    assert _opened_path(RegistrySettings(url=f"sqlite:///{absolute}"), base) == absolute
    assert (base / "rel" / "u.db").is_file()


def test_open_registry_postgresql_failure_never_echoes_the_password(tmp_path: Path) -> None:
    pytest.importorskip("psycopg")
    # Nothing listens on port 1: the connection is refused at once.
    url = "postgresql://realmgate:s3cret-pw@127.0.0.1:1/realmgate"
    with pytest.raises(RegistryError) as excinfo:
        open_registry(RegistrySettings(url=url), tmp_path)
    assert _error(excinfo).message_id == "RG5002E"
    assert "postgresql://realmgate@127.0.0.1:1/realmgate" in _error(excinfo).text
    assert "refused" in _error(excinfo).text
    assert "s3cret" not in _error(excinfo).text and "s3cret" not in repr(excinfo.value)
    with pytest.raises(RegistryError) as excinfo:
        open_registry(RegistrySettings(url="postgresql://u:s3cret@[bad/x"), tmp_path)
    assert "not a valid PostgreSQL URL" in _error(excinfo).text
    assert "s3cret" not in _error(excinfo).text


@pytest.mark.parametrize(
    ("settings", "fragment"),
    [
        (RegistrySettings(url="mysql://u:pw@h/db"), "scheme 'mysql' is not supported"),
        (RegistrySettings(url="sqlite:///"), "names no file"),
        (RegistrySettings(path="a.db", url="sqlite:///b.db"), "both path and url"),
    ],
)
def test_open_registry_bad_settings(
    tmp_path: Path, settings: RegistrySettings, fragment: str
) -> None:
    with pytest.raises(RegistryError) as excinfo:
        open_registry(settings, tmp_path)
    assert _error(excinfo).message_id == "RG5002E"
    assert fragment in _error(excinfo).text
    assert "pw" not in _error(excinfo).text
