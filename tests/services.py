"""PostgreSQL and Redis for the tests of issue 8: find them, isolate each test, restore them.

The machine's own servers are used (PostgreSQL on 127.0.0.1:5432 as ``postgres``, Redis on
127.0.0.1:6379; ``REALMGATE_TEST_PG`` / ``REALMGATE_TEST_REDIS`` override). Without them the
tests that need them skip, saying why; under ``CI=true`` they fail instead.

Isolation: each process makes one database ``realmgate_test_<pid>_<random>`` (dropped at
exit, and databases left by dead processes are dropped on the next run) and each test one
schema in it; Redis keys carry a per-test prefix and are deleted afterwards.

Tests that stop or restart a server hold an exclusive file lock; tests that merely use the
servers hold it shared. So a service-stopping test never runs while another test (in this or
in another pytest process on the machine) needs the server, and two of them never overlap.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import os
import secrets
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

PG_ADMIN_URL = os.environ.get("REALMGATE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("REALMGATE_TEST_REDIS", "redis://127.0.0.1:6379/0")
LOCK_FILE = Path("/tmp/realmgate-test-services.lock")
REDIS_START = [
    "redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "-::1", "--port", "6379",
    "--save", "", "--appendonly", "no", "--dir", "/var/lib/redis",
    "--logfile", "/var/log/redis/ci.log",
]  # fmt: skip


def unavailable(reason: str) -> None:
    """Skip, or fail under CI=true (where every service is expected to be present)."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; under CI=true this is a failure, not a skip")
    pytest.skip(reason)


@contextlib.contextmanager
def _lock(mode: int) -> Iterator[None]:
    with LOCK_FILE.open("a") as handle:
        fcntl.flock(handle, mode)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def shared_services() -> contextlib.AbstractContextManager[None]:
    """Held while a test uses PostgreSQL or Redis."""
    return _lock(fcntl.LOCK_SH)


def exclusive_services() -> contextlib.AbstractContextManager[None]:
    """Held while a test stops or restarts PostgreSQL or Redis."""
    return _lock(fcntl.LOCK_EX)


# -- PostgreSQL ----------------------------------------------------------------------------
def _admin_connect(url: str = PG_ADMIN_URL) -> Any:
    try:
        import psycopg
    except ImportError:
        unavailable("psycopg is not installed (pip install -e '.[dev]')")
        raise
    try:
        return psycopg.connect(url, autocommit=True, connect_timeout=3)
    except psycopg.Error as exc:
        unavailable(f"PostgreSQL is not reachable at {PG_ADMIN_URL}: {exc}")
        raise


_database: list[str] = []


def _drop_database(name: str) -> None:
    conn = _admin_connect()
    with contextlib.closing(conn):
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _drop_orphans(conn: Any) -> None:
    rows = conn.execute(
        "SELECT datname FROM pg_database WHERE datname LIKE 'realmgate_test_%'"
    ).fetchall()
    for (name,) in rows:
        pid = name.split("_")[2]
        if pid.isdigit() and int(pid) != os.getpid() and not Path(f"/proc/{pid}").exists():
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def database_url() -> str:
    """This process's test database (made on first use), as a URL."""
    if not _database:
        name = f"realmgate_test_{os.getpid()}_{secrets.token_hex(3)}"
        conn = _admin_connect()
        with contextlib.closing(conn):
            _drop_orphans(conn)
            conn.execute(f'CREATE DATABASE "{name}"')
        _database.append(name)
        atexit.register(_drop_database, name)
    base, _, _ = PG_ADMIN_URL.rpartition("/")
    return f"{base}/{_database[0]}"


def schema_url(database_url: str, schema: str) -> str:
    return f"{database_url}?options={quote(f'-csearch_path={schema}')}"


@contextlib.contextmanager
def pg_schema() -> Iterator[str]:
    """A URL whose registry lives in a new, empty schema; the schema is dropped after."""
    database = database_url()
    schema = f"t_{secrets.token_hex(6)}"
    conn = _admin_connect(database)
    with contextlib.closing(conn):
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield schema_url(database, schema)
    finally:
        conn = _admin_connect(database)
        with contextlib.closing(conn):
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def pg_cluster() -> str:
    """The cluster version directory (``15``) for pg_ctlcluster."""
    versions = sorted(p.name for p in Path("/etc/postgresql").glob("*") if p.is_dir())
    if not versions:
        unavailable("no PostgreSQL cluster under /etc/postgresql to restart")
    return versions[-1]


def restart_postgres() -> None:
    """Restart the cluster (fast shutdown: sessions are cut, as in a real restart)."""
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", pg_cluster(), "main", "restart"],
        check=True,
        timeout=120,
        capture_output=True,
    )
    wait_postgres()


def wait_postgres(timeout: float = 60.0) -> None:
    import psycopg

    deadline = time.monotonic() + timeout
    while True:
        try:
            psycopg.connect(PG_ADMIN_URL, connect_timeout=2).close()
            return
        except psycopg.Error:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


# -- Redis ---------------------------------------------------------------------------------
def redis_client() -> Any:
    try:
        import redis
    except ImportError:
        unavailable("the redis package is not installed (pip install -e '.[dev]')")
        raise
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=3, socket_connect_timeout=3)
    try:
        client.ping()
    except (redis.RedisError, OSError) as exc:
        unavailable(f"Redis is not reachable at {REDIS_URL}: {exc}")
    return client


@contextlib.contextmanager
def redis_prefix() -> Iterator[str]:
    """A key prefix of this test's own; its keys are deleted afterwards."""
    prefix = f"realmgate-test:{secrets.token_hex(6)}:"
    yield prefix
    client = redis_client()
    keys = list(client.scan_iter(match=prefix + "*", count=1000))
    if keys:
        client.delete(*keys)


def redis_running() -> bool:
    result = subprocess.run(
        ["redis-cli", "-h", "127.0.0.1", "-p", "6379", "ping"],
        capture_output=True,
        text=True,
        timeout=10,
    )
    return result.stdout.strip() == "PONG"


STOPPED_MARKER = Path("/tmp/realmgate-test-redis-stopped")
"""Present while a test has Redis stopped: a run interrupted then (a kill, a power cut)
leaves it, and the next run restarts Redis (``restore_redis``) — but never starts a Redis
that a test did not stop."""


def restore_redis() -> None:
    if STOPPED_MARKER.exists():
        start_redis()


def stop_redis() -> None:
    STOPPED_MARKER.touch()
    subprocess.run(
        ["redis-cli", "-h", "127.0.0.1", "-p", "6379", "shutdown", "nosave"],
        capture_output=True,
        timeout=10,
    )
    deadline = time.monotonic() + 10
    while redis_running():
        if time.monotonic() > deadline:
            raise AssertionError("Redis did not stop")
        time.sleep(0.05)


def start_redis() -> None:
    """Start Redis as the machine runs it (idempotent); wait until it answers."""
    if redis_running():
        STOPPED_MARKER.unlink(missing_ok=True)
        return
    Path("/var/log/redis").mkdir(parents=True, exist_ok=True)
    Path("/var/lib/redis").mkdir(parents=True, exist_ok=True)
    subprocess.run(REDIS_START, check=True, timeout=30, capture_output=True)
    deadline = time.monotonic() + 20
    while not redis_running():
        if time.monotonic() > deadline:
            raise AssertionError("Redis did not start")
        time.sleep(0.05)
    STOPPED_MARKER.unlink(missing_ok=True)


# -- a registry on either backend ----------------------------------------------------------
BACKENDS = ("sqlite", "postgresql")


@contextlib.contextmanager
def registry_backend(kind: str, directory: Path) -> Iterator[Callable[[], Any]]:
    """A function opening a new handle (connection) on one fresh store of ``kind``; every
    handle is closed and the store removed afterwards."""
    from realmgate.registry import SQLiteRegistry

    opened: list[Any] = []
    with contextlib.ExitStack() as stack:
        if kind == "sqlite":
            path = directory / "state" / "registry.db"

            def make() -> Any:
                opened.append(SQLiteRegistry(path))
                return opened[-1]

        elif kind == "postgresql":
            stack.enter_context(shared_services())
            url = stack.enter_context(pg_schema())
            from realmgate.registry.postgres import PostgresRegistry

            def make() -> Any:
                opened.append(PostgresRegistry(url))
                return opened[-1]

        else:
            raise AssertionError(kind)
        try:
            yield make
        finally:
            for registry in opened:
                registry.close()


# -- a TCP proxy that can cut the line -------------------------------------------------------
class TcpProxy:
    """Forwards 127.0.0.1:<port> to ``target``. ``cut()`` closes every connection and refuses
    new ones (as a dead server or network would); ``resume()`` accepts again."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._server.getsockname()[1])
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()
        self._accepting = True
        self._stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stopped:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            if not self._accepting:
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._open += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        self._accepting = False
        with self._lock:
            sockets, self._open = self._open, []
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def resume(self) -> None:
        self._accepting = True

    def close(self) -> None:
        self._stopped = True
        self.cut()
        self._server.close()


# -- a verifier set-up for the shared-state tests ---------------------------------------------
ISSUER = "https://idp.test"
OTHER_ISSUER = "https://other-idp.test"

CLIENT_CONFIG = """\
[[client]]
id = "{client}"
issuers = ["{issuer}"]
algorithms = ["RS256"]
trust_store = "truststore"
audiences = "any"
realm = "R"
token_reuse = {token_reuse}
replay_unavailable = "{replay_unavailable}"
"""


def write_config(
    directory: Path,
    extra: str = "",
    *,
    token_reuse: bool = True,
    replay_unavailable: str = "refuse",
) -> Path:
    """``realmgate.toml`` with clients ``main`` (ISSUER) and ``other`` (OTHER_ISSUER), both
    trusting ``truststore/`` (the ``setup`` fixture's key) and mapping realm ``R``."""
    text = "".join(
        CLIENT_CONFIG.format(
            client=client,
            issuer=issuer,
            token_reuse=str(token_reuse).lower(),
            replay_unavailable=replay_unavailable,
        )
        for client, issuer in (("main", ISSUER), ("other", OTHER_ISSUER))
    )
    path = directory / "realmgate.toml"
    path.write_text(text + extra)
    return path


def token(
    key: Any,
    subject: str = "alice",
    *,
    issuer: str = ISSUER,
    kid: str = "linux",
    audience: str | None = None,
) -> str:
    """A token signed by ``key`` with a fresh jti."""
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        NoEncryption,
        PrivateFormat,
    )

    from realmgate.builder import TokenBuilder
    from realmgate.keys.signing import load_signing_key

    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    builder = TokenBuilder(load_signing_key(pem, source="test"), "RS256", issuer, kid=kid)
    return builder.build(subject, jti=True, audience=audience)
