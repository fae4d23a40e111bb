"""Faults and load, with numbers: realmgate keeps answering, within its timeouts, when what it
depends on misbehaves, and refuses with a clear message when it cannot answer.

* remote keys (JWKS and discovery): slow (10 s), down, garbage, huge or endless bodies, a
  body dripped byte by byte, key rotation while the endpoint is slow — in-process and
  through ``realmgate serve`` (whose other requests must not wait);
* the registry: locked, deleted while in use, disk full (a tiny tmpfs when this runs as
  root, else ``RLIMIT_FSIZE`` in a subprocess), several writer processes ``kill -9``-ed
  in a burst of writes (extends ``test_registry.py::test_sqlite_committed_rules_survive_kill_9``
  with concurrent writers, repeated rounds and an integrity check);
* configuration reloaded to garbage under load (extends ``test_reload.py``, which covers a
  TOML syntax error, with an empty file, binary junk, a truncated file, a missing trust
  store, a deleted file, a file that lost its ``[[client]]``);
* HTTP: slowloris (idle connections and headers dripped), oversized headers, and as many
  concurrent connections as the file-descriptor limit allows (10,000 asked) — bounded
  memory, no 500s.

Every measured figure is printed at the end of the run (``faults:`` lines) and the bounds
asserted are generous (several times what this machine shows) so that a slow CI machine
passes and only a real regression fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import resource
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from realmgate.config import parse_config
from realmgate.keys.discovery import WELL_KNOWN
from realmgate.registry import MappingRule, SQLiteRegistry
from realmgate.verifier import Verifier
from tests.keyserver import Issuer, KeyServer, key_server
from tests.serverkit import REALMGATE, Env, make_env, serve

ISS = "https://remote.test"
SRC = str(Path(__file__).resolve().parents[1] / "src")
FIGURES: list[str] = []


def figure(text: str) -> None:
    FIGURES.append(text)


@pytest.fixture(scope="module", autouse=True)
def _report(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None or not FIGURES:
        return
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
        reporter.write_line("")
        for line in FIGURES:
            reporter.write_line(f"faults: {line}")


def timed(call: Callable[[], Any]) -> tuple[Any, float]:
    started = time.monotonic()
    result = call()
    return result, time.monotonic() - started


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


# --- remote keys -------------------------------------------------------------------------


@pytest.fixture
def server() -> Iterator[KeyServer]:
    with key_server() as srv:
        yield srv


@pytest.fixture(scope="module")
def issuer() -> Issuer:
    keys = {k: rsa.generate_private_key(public_exponent=65537, key_size=2048) for k in "AB"}
    return Issuer(ISS, keys)


def remote_verifier(tmp_path: Path, source: str, **knobs: Any) -> Verifier:
    settings = "\n".join(f"{k} = {json.dumps(v)}" for k, v in knobs.items())
    text = f"""
[[client]]
id = "remote"
issuers = ["{ISS}"]
algorithms = ["RS256"]
{source}
allow_insecure_http = true
audiences = ["api"]
map_to_registry_user = true
{settings}
"""
    return Verifier(parse_config(text, str(tmp_path / "realmgate.toml")))


class RawServer:
    """A loopback server that answers every connection with ``handler(conn)`` (for bodies
    the KeyServer cannot send: no length, endless, dripped)."""

    def __init__(self, handler: Callable[[socket.socket], None]) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.handler = handler
        self.connections = 0
        self._stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _serve(self) -> None:
        self.sock.settimeout(0.1)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError), conn:
            conn.recv(65536)
            self.handler(conn)

    def close(self) -> None:
        self._stop.set()
        self.sock.close()


def endless(conn: socket.socket) -> None:
    """200 with no Content-Length: a body that never ends, as fast as it is read."""
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n")
    chunk = b'{"keys": [' + b" " * 65526
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        conn.sendall(chunk)


def dripping(conn: socket.socket) -> None:
    """200 and then one byte of body every 50 ms: each read succeeds, the whole never ends."""
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        conn.sendall(b" ")
        time.sleep(0.05)


TIMEOUT = 1.0
MARGIN = 1.5  # seconds allowed beyond http_timeout (machine noise, thread start, parsing)


def fresh_tokens(issuer: Issuer, count: int, kid: str = "A") -> list[str]:
    """Distinct tokens, so each takes the whole pipeline (no verified-token cache hit)."""
    return [issuer.token(kid, nonce=i) for i in range(count)]


def test_jwks_slow_10s_cold_start_answers_within_the_timeout(
    tmp_path: Path, server: KeyServer, issuer: Issuer
) -> None:
    server.set("/jwks", issuer.jwks("A"), delay=10)
    verifier = remote_verifier(
        tmp_path, f'jwks_uri = "{server.url("/jwks")}"', http_timeout=TIMEOUT
    )
    tokens = fresh_tokens(issuer, 51)
    decision, took = timed(lambda: verifier.verify(tokens[0]))
    assert decision.message_id == "RG7011E" and decision.status == 503
    assert f"no answer within {TIMEOUT:g}s" in (decision.reason or "")
    assert took < TIMEOUT + MARGIN
    answers = [timed(lambda t=t: verifier.verify(t)) for t in tokens[1:]]
    worst = max(t for _, t in answers)
    assert all(d.message_id == "RG7011E" for d, _ in answers)
    assert worst < 0.25, "within the retry back-off a failing issuer costs no wait"
    assert len(server.requests("/jwks")) == 1
    figure(
        f"JWKS 10 s slow, cold start, http_timeout {TIMEOUT:g}s: first answer {took:.2f}s "
        f"(RG7011E 503); next 50 answers max {worst * 1000:.1f} ms, no new request"
    )


FAULTS: dict[str, Callable[[KeyServer, str], None]] = {
    "slow 10 s": lambda srv, path: srv.set(path, b"{}", delay=10),
    "down (nothing listening)": lambda srv, path: srv.close(),
    "garbage 200": lambda srv, path: srv.set(path, b"\x00\xffnot json at all"),
    "HTML 500": lambda srv, path: srv.set(path, b"<html>oops</html>", status=500),
    "huge body (8 MB)": lambda srv, path: srv.set(path, b"[" * (8 << 20)),
    "empty key set": lambda srv, path: srv.set(path, {"keys": []}),
}


@pytest.mark.parametrize("kind", ["jwks", "discovery"])
@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_remote_key_faults_keep_answering_with_cached_keys(
    tmp_path: Path, server: KeyServer, issuer: Issuer, fault: str, kind: str
) -> None:
    """Keys were fetched; the endpoint then fails as named and the keys expire: the cached
    keys serve (stale-if-error, within max_stale), the first answer after expiry waits at
    most the timeout and the following ones do not wait at all."""
    if kind == "jwks":
        server.set("/jwks", issuer.jwks("A"))
        source, broken = f'jwks_uri = "{server.url("/jwks")}"', "/jwks"
    else:
        document = {"issuer": ISS, "jwks_uri": server.url("/jwks")}
        server.set(WELL_KNOWN, document)
        server.set("/jwks", issuer.jwks("A"))
        source, broken = f'discovery = "{server.url(WELL_KNOWN)}"', WELL_KNOWN
    knobs = {"jwks_cache_min": 0.3, "jwks_cache_max": 0.3, "jwks_max_stale": 60}
    verifier = remote_verifier(tmp_path, source, http_timeout=TIMEOUT, **knobs)
    tokens = fresh_tokens(issuer, 52)
    assert verifier.verify(tokens[0]).accepted
    FAULTS[fault](server, broken)
    if kind == "discovery" and fault != "down (nothing listening)":
        FAULTS[fault](server, "/jwks")  # the discovery document and the key set fail together
    time.sleep(0.35)  # the cached copies expire
    first, took = timed(lambda: verifier.verify(tokens[1]))
    assert first.accepted, first.reason
    # Discovery fetches two documents (the discovery document, then the key set), each
    # bounded by http_timeout: when both hang, the first answer waits for both.
    fetches = 2 if kind == "discovery" else 1
    assert took < fetches * TIMEOUT + MARGIN
    steps = [s for s in first.trace if s.check == "signature"]
    assert steps and steps[0].detail.get("stale") is True
    answers = [timed(lambda t=t: verifier.verify(t)) for t in tokens[2:]]
    assert all(d.accepted for d, _ in answers)
    worst = max(t for _, t in answers)
    assert worst < 0.25
    health = verifier.key_health()["remote"]
    assert any(h["status"] == "degraded" and h["last_error"] for h in health), health
    figure(
        f"{kind} {fault}, keys cached then expired: first answer {took:.3f}s (stale keys, "
        f"accepted), next 50 max {worst * 1000:.1f} ms"
    )


@pytest.mark.parametrize(
    ("handler", "message_id", "bound"),
    [(endless, "RG7003E", 0.3), (dripping, "RG7001E", TIMEOUT + MARGIN)],
    ids=["endless-body", "dripped-body"],
)
def test_bodies_without_end_are_cut(
    tmp_path: Path, issuer: Issuer, handler: Any, message_id: str, bound: float
) -> None:
    """No Content-Length and a body that never ends (fast, or one byte per 50 ms): the size
    limit and the overall deadline cut the fetch; memory stays bounded."""
    raw = RawServer(handler)
    try:
        verifier = remote_verifier(
            tmp_path, f'jwks_uri = "{raw.url("/jwks")}"', http_timeout=TIMEOUT
        )
        before = rss_kib(os.getpid())
        decision, took = timed(lambda: verifier.verify(issuer.token("A")))
        grew = rss_kib(os.getpid()) - before
    finally:
        raw.close()
    assert decision.message_id == "RG7011E" and message_id in (decision.reason or "")
    assert took < bound + 0.5
    assert grew < 32 * 1024, f"RSS grew by {grew} KiB"
    figure(f"JWKS {handler.__name__} body: refused {message_id} after {took:.2f}s, RSS +{grew} KiB")


def test_key_rotation_while_the_endpoint_is_slow(
    tmp_path: Path, server: KeyServer, issuer: Issuer
) -> None:
    """The issuer rotates to key B while its JWKS endpoint hangs: a B token waits at most the
    timeout and is refused RG7012E; A tokens keep passing from the cache meanwhile without
    waiting; once the endpoint answers, B passes."""
    server.set("/jwks", issuer.jwks("A"))
    verifier = remote_verifier(
        tmp_path,
        f'jwks_uri = "{server.url("/jwks")}"',
        http_timeout=TIMEOUT,
        jwks_unknown_kid_cooldown=0,
    )
    pool, token_b = fresh_tokens(issuer, 300), issuer.token("B")
    assert verifier.verify(pool[0]).accepted
    server.set("/jwks", issuer.jwks("A", "B"), delay=10)
    latencies: list[float] = []
    done = threading.Event()

    def a_traffic() -> None:
        for token in pool[1:]:  # each a new token: the full pipeline, no cache hit
            if done.is_set():
                return
            decision, took = timed(lambda t=token: verifier.verify(t))
            assert decision.accepted
            latencies.append(took)
            time.sleep(0.002)

    thread = threading.Thread(target=a_traffic)
    thread.start()
    try:
        decision, took = timed(lambda: verifier.verify(token_b))
    finally:
        done.set()
        thread.join(10)
    assert decision.message_id == "RG7012E", decision.reason
    assert took < TIMEOUT + MARGIN
    assert latencies and max(latencies) < 0.25
    server.set("/jwks", issuer.jwks("A", "B"))
    time.sleep(1.1)  # MIN_RETRY_AFTER_FAILURE
    assert verifier.verify(token_b).accepted
    figure(
        f"rotation while the JWKS hangs: new-kid token refused RG7012E in {took:.2f}s; "
        f"{len(latencies)} old-kid verifications meanwhile, max {max(latencies) * 1000:.1f} ms"
    )


def test_slow_jwks_does_not_hold_up_other_requests_of_the_server(
    tmp_path: Path, rsa_key: rsa.RSAPrivateKey, server: KeyServer, issuer: Issuer
) -> None:
    """Through ``realmgate serve`` (async fetch on the event loop): while one request waits
    for a hanging JWKS endpoint, requests for a definition with local keys are answered at
    once, and the waiting one gets 503 within the timeout."""
    server.set("/jwks", issuer.jwks("A"), delay=10)
    env = make_env(
        tmp_path,
        rsa_key,
        extra=f"""
[[client]]
id = "remote"
issuers = ["{ISS}"]
algorithms = ["RS256"]
jwks_uri = "{server.url("/jwks")}"
allow_insecure_http = true
http_timeout = 2
audiences = "any"
map_to_registry_user = true
""",
    )
    local, remote = env.token(), issuer.token("A")

    async def run(url: str) -> tuple[tuple[int, float], list[tuple[int, float]]]:
        async with httpx.AsyncClient(base_url=url, timeout=10) as client:

            async def one(token: str, delay: float = 0.0) -> tuple[int, float]:
                await asyncio.sleep(delay)
                started = time.monotonic()
                response = await client.get("/auth", headers={"Authorization": f"Bearer {token}"})
                return response.status_code, time.monotonic() - started

            waiting = asyncio.create_task(one(remote))
            others = await asyncio.gather(*(one(local, 0.02 * i) for i in range(60)))
            return await waiting, list(others)

    with serve(env.config) as srv:
        (status, took), others = asyncio.run(run(srv.url))
    assert status == 503 and took < 2 + MARGIN
    assert {s for s, _ in others} == {200}
    worst = max(t for _, t in others)
    assert worst < 0.5
    figure(
        f"serve: JWKS hanging 10 s, http_timeout 2s: that request 503 in {took:.2f}s; 60 "
        f"local-key requests meanwhile all 200, max {worst * 1000:.0f} ms"
    )


# --- the registry ---------------------------------------------------------------------------


@pytest.fixture
def env(tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> Env:
    return make_env(tmp_path, rsa_key)


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([REALMGATE, *args], capture_output=True, text=True, timeout=60)


@pytest.mark.slow
def test_registry_locked(env: Env) -> None:
    """A writer holding the lock: verification (a reader, WAL) goes on; a change waits the
    registry timeout and fails RG5002E naming the file and the lock. A registry locked
    exclusively before the service reads it: RG5002E 503, after the same timeout."""
    builder = env.builder()
    tokens = [builder.build("alice", extra={"n": i}) for i in range(21)]
    token = tokens[0]
    verifier = Verifier(env.config)
    assert verifier.verify(token).accepted
    db = env.dir / "registry.db"
    holder = sqlite3.connect(db, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        holder.execute("INSERT INTO rules VALUES ('bob', 'DEMO', 'BOB', NULL, 0)")
        time.sleep(0.3)
        reads = [timed(lambda t=t: verifier.verify(t)) for t in tokens[1:]]
        assert all(d.accepted for d, _ in reads)
        worst_read = max(t for _, t in reads)
        args = ["--user", "carol", "--realm", "DEMO", "--local-user", "CAROL"]
        add, add_took = timed(lambda: cli("map", "add", "--config", str(env.config), *args))
        assert add.returncode == 2
        assert add.stderr.startswith("RG5002E") and str(db) in add.stderr
        assert "database is locked (while adding a rule)" in add.stderr
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    verifier.mapper.registry.close()  # the exclusive lock below needs every other one gone
    exclusive = sqlite3.connect(db, isolation_level=None)
    try:
        exclusive.execute("PRAGMA locking_mode = EXCLUSIVE")
        exclusive.execute("BEGIN EXCLUSIVE")
        exclusive.execute("COMMIT")
        cold, cold_took = timed(lambda: Verifier(env.config).verify(token))
    finally:
        exclusive.close()
    assert cold.message_id == "RG5002E" and cold.status == 503
    assert "database is locked (while opening)" in (cold.reason or "")
    assert cold_took < 5 + 3  # the registry's lock timeout, 5 s
    with SQLiteRegistry(db) as registry:
        assert [r.user for r in registry.rules()] == ["alice"]
    figure(
        f"registry write-locked: 20 verifications max {worst_read * 1000:.1f} ms (readers go "
        f"on); 'map add' RG5002E after {add_took:.1f}s; exclusively locked at start: "
        f"RG5002E 503 after {cold_took:.1f}s"
    )


def test_registry_deleted_while_in_use(env: Env) -> None:
    """Before the fix the open connection kept reading the deleted file for ever, while
    ``realmgate map`` wrote a new one the service never read (a removed mapping kept
    working). Now: RG5002E 503 naming the cause, until a restart opens the current file."""
    token = env.token()
    verifier = Verifier(env.config)
    assert verifier.verify(token).accepted
    db = env.dir / "registry.db"
    db.unlink()
    time.sleep(0.3)  # the mapper's refresh interval
    decision = verifier.verify(token)
    assert decision.message_id == "RG5002E" and decision.status == 503
    assert "deleted while in use" in (decision.reason or "")
    listing = cli("map", "list", "--config", str(env.config))
    assert listing.returncode == 2 and "RG5002E" in listing.stderr
    # The operator re-creates the registry (here with another user): the running verifier
    # says the file was replaced; a restarted one uses it.
    env.map("bob", "DEMO", "BOB01")
    time.sleep(0.3)
    replaced = verifier.verify(token)
    assert replaced.message_id == "RG5002E" and "replaced" in (replaced.reason or "")
    fresh = Verifier(env.config)
    assert fresh.verify(token).message_id == "RG5001E"
    assert fresh.verify(env.token("bob")).local_user == "BOB01"


@contextlib.contextmanager
def tiny_filesystem(path: Path, size_kib: int) -> Iterator[str]:
    """A tmpfs of ``size_kib`` at ``path`` when this process may mount one; else yields
    "rlimit" and the caller uses RLIMIT_FSIZE in a subprocess."""
    path.mkdir()
    mounted = False
    if os.geteuid() == 0 and not os.environ.get("RG_FAULTS_NO_TMPFS"):
        result = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size_kib}k", "tmpfs", str(path)],
            capture_output=True,
            check=False,
        )
        mounted = result.returncode == 0
    try:
        yield "tmpfs" if mounted else "rlimit"
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(path)], check=False)


FILL = """
import resource, signal, sys
from realmgate.registry import MappingRule, SQLiteRegistry
from realmgate.errors import RegistryError
path, limit = sys.argv[1], int(sys.argv[2])
registry = SQLiteRegistry(path)
if limit:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
for i in range(100000):
    try:
        registry.add(MappingRule(f"user{i:05d}", "R", "L" * 40, "x" * 200))
    except RegistryError as exc:
        print("ERROR", exc.text, flush=True)
        break
    print(i, flush=True)
"""


def test_registry_disk_full(tmp_path: Path) -> None:
    """Writes until the file system is full: RG5002E with SQLite's reason; nothing committed
    is lost, the file passes an integrity check, and once space is freed writes resume."""
    with tiny_filesystem(tmp_path / "small", 2048) as how:
        db = tmp_path / "small" / "registry.db"
        SQLiteRegistry(db).close()
        limit = 0 if how == "tmpfs" else db.stat().st_size + 512 * 1024
        filler = tmp_path / "small" / "filler"
        if how == "tmpfs":  # leave ~512 KiB free
            free = os.statvfs(db.parent).f_bavail * os.statvfs(db.parent).f_frsize
            filler.write_bytes(b"\0" * max(0, free - 512 * 1024))
        run = subprocess.run(
            [sys.executable, "-c", FILL, str(db), str(limit)],
            env={**os.environ, "PYTHONPATH": SRC},
            capture_output=True,
            text=True,
            timeout=120,
        )
        lines = run.stdout.splitlines()
        assert lines and lines[-1].startswith("ERROR RG5002E"), (run.stdout[-500:], run.stderr)
        reason = lines[-1]
        acknowledged = int(lines[-2]) if len(lines) > 1 else -1
        assert acknowledged > 10
        assert str(db) in reason
        assert "full" in reason or "disk I/O error" in reason, reason
        with SQLiteRegistry(db) as registry:
            stored = {r.user for r in registry.rules()}
        assert {f"user{i:05d}" for i in range(acknowledged + 1)} <= stored
        check = sqlite3.connect(db)
        assert check.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        check.close()
        if how == "tmpfs":
            filler.unlink()
            with SQLiteRegistry(db) as registry:
                registry.add(MappingRule("after", "R", "L"))
                assert "after" in {r.user for r in registry.rules()}
    figure(
        f"registry disk full ({how}): {acknowledged + 1} mappings committed, then "
        f"RG5002E '{reason.split('registry.db: ', 1)[-1]}'; integrity_check ok, every "
        "committed mapping present"
    )


WRITER = """
import sys
from realmgate.registry import MappingRule, SQLiteRegistry
registry = SQLiteRegistry(sys.argv[1], timeout=30)
name = sys.argv[2]
for i in range(1000000):
    registry.add(MappingRule(f"{name}-{i}", "R", "L"))
    print(i, flush=True)
"""


@pytest.mark.slow
def test_registry_survives_kill_9_of_concurrent_writers(tmp_path: Path) -> None:
    """Three processes add mappings as fast as they can and are killed with SIGKILL at a
    random moment, three rounds in a row: the registry opens, passes integrity_check and
    holds every mapping whose add returned."""
    db = tmp_path / "registry.db"
    SQLiteRegistry(db).close()
    acknowledged: dict[str, int] = {}
    rng = random.Random(6)
    for round_number in range(3):
        procs: dict[str, subprocess.Popen[str]] = {}
        for index in range(3):
            name = f"r{round_number}w{index}"
            procs[name] = subprocess.Popen(
                [sys.executable, "-c", WRITER, str(db), name],
                env={**os.environ, "PYTHONPATH": SRC},
                stdout=subprocess.PIPE,
                text=True,
            )
        acks = dict.fromkeys(procs, -1)

        def reader(name: str, proc: subprocess.Popen[str]) -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                acks[name] = int(line)

        threads = [threading.Thread(target=reader, args=item) for item in procs.items()]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 10
        while min(acks.values()) < 20 and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, 0.3))
        for proc in procs.values():
            os.kill(proc.pid, signal.SIGKILL)
        for proc in procs.values():
            proc.wait(10)
        for thread in threads:
            thread.join(10)
        acknowledged.update(acks)
        check = sqlite3.connect(db)
        assert check.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        check.close()
        with SQLiteRegistry(db) as registry:
            stored = {r.user for r in registry.rules()}
        for name, last in acknowledged.items():
            missing = {f"{name}-{i}" for i in range(last + 1)} - stored
            assert not missing, (name, sorted(missing)[:5])
    total = sum(v + 1 for v in acknowledged.values())
    figure(
        f"kill -9 of 3 concurrent writers x 3 rounds: {total} acknowledged mappings, all "
        "present; integrity_check ok after every round"
    )


# --- configuration reloaded to garbage under load ------------------------------------------


class Load:
    """/auth requests with a good token from two threads; every failure recorded."""

    def __init__(self, url: str, token: str) -> None:
        self.url, self.token = url, token
        self.ok = 0
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(2)]

    def _run(self) -> None:
        with httpx.Client(timeout=5) as client:
            while not self._stop.is_set():
                try:
                    response = client.get(
                        self.url + "/auth", headers={"Authorization": f"Bearer {self.token}"}
                    )
                except httpx.HTTPError as exc:
                    self.failures.append(repr(exc))
                    continue
                if response.status_code == 200:
                    self.ok += 1
                else:
                    self.failures.append(f"{response.status_code} {response.text[:120]}")

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(10)


@pytest.mark.slow
def test_config_reloaded_to_garbage_under_load(env: Env) -> None:
    env.write("[server]\nwatch_interval = 0.2\n")
    good = env.config.read_bytes()
    text = good.decode()
    garbage: dict[str, Callable[[], None]] = {
        "empty file": lambda: env.config.write_bytes(b""),
        "binary junk": lambda: env.config.write_bytes(os.urandom(4096)),
        "cut inside a string": lambda: env.config.write_text(text[: text.index("TEST-ISSUER")]),
        "cut before [[client]]": lambda: env.config.write_text(text[: text.index("[[client]]")]),
        "comments only": lambda: env.config.write_text("# nothing here\n" * 20),
        "missing trust store": lambda: env.config.write_text(
            text.replace('trust_store = "truststore"', 'trust_store = "gone"')
        ),
        "unknown key": lambda: env.config.write_text(text + "\nclockskew = 5\n"),
        "file deleted": lambda: env.config.unlink(),
    }
    with serve(env.config) as srv, Load(srv.url, env.token()) as load:
        time.sleep(0.3)
        for write in garbage.values():
            write()
            time.sleep(0.8)  # > watch_interval + settle: the reload was attempted
            env.config.write_bytes(good)
            time.sleep(0.5)
        metrics = httpx.get(srv.url + "/metrics", timeout=5).text
        log = srv.output()
    assert load.failures == [], load.failures[:5]
    assert load.ok > 100
    refused = [line for line in metrics.splitlines() if 'result="refused"' in line]
    count = int(float(refused[0].split()[-1])) if refused else 0
    assert count >= len(garbage) - 1, (refused, log[-2000:])
    assert "no [[client]]" in log
    figure(
        f"config reloaded to {len(garbage)} kinds of garbage under load: {load.ok} requests, "
        f"0 failed; {count} reloads refused"
    )


# --- HTTP: slowloris, oversized headers, many connections ---------------------------------


def open_raw(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def read_all(sock: socket.socket, deadline: float) -> bytes:
    """Everything the server sends until it closes, or what came by ``deadline``
    (``time.monotonic()`` value)."""
    chunks = []
    with contextlib.suppress(OSError):
        while True:
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            data = sock.recv(65536)
            if not data:
                break
            chunks.append(data)
    return b"".join(chunks)


@pytest.mark.slow
def test_slowloris_connections_are_cut_and_others_served(env: Env) -> None:
    """200 connections that send nothing and 200 that drip their headers (a byte every
    0.3 s): each is closed within request_timeout (2 s here, 408 RG8002E for a started
    head), and ordinary requests meanwhile are served at once."""
    env.write("[server]\nrequest_timeout = 2\n")
    token = env.token()
    with serve(env.config) as srv:
        port = int(srv.url.rsplit(":", 1)[1])
        idle = [open_raw(port) for _ in range(200)]
        dripping_socks = [open_raw(port) for _ in range(200)]
        started = time.monotonic()
        stop = threading.Event()

        def drip() -> None:
            request = b"GET /auth HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 200
            for index in range(len(request)):
                if stop.is_set():
                    return
                for sock in dripping_socks:
                    with contextlib.suppress(OSError):
                        sock.send(request[index : index + 1])
                time.sleep(0.3)

        dripper = threading.Thread(target=drip, daemon=True)
        dripper.start()
        latencies = []
        with httpx.Client(base_url=srv.url, timeout=5) as client:
            while time.monotonic() - started < 2.5:
                t0 = time.monotonic()
                response = client.get("/auth", headers={"Authorization": f"Bearer {token}"})
                assert response.status_code == 200
                latencies.append(time.monotonic() - t0)
                time.sleep(0.05)
        deadline = started + 2 + 4
        answers = [read_all(s, deadline) for s in dripping_socks]
        idle_answers = [read_all(s, deadline) for s in idle]
        closed_after = time.monotonic() - started
        stop.set()
        for sock in idle + dripping_socks:
            sock.close()
    assert all(a.startswith(b"HTTP/1.1 408 ") and b"RG8002E" in a for a in answers), answers[0]
    assert all(a == b"" for a in idle_answers)  # closed without a word: nothing was asked
    assert closed_after < 2 + 4
    assert max(latencies) < 0.5
    figure(
        f"slowloris: 200 idle + 200 dripping connections closed within {closed_after:.1f}s "
        f"(request_timeout 2s; dripping ones got 408 RG8002E); {len(latencies)} ordinary "
        f"requests meanwhile, max {max(latencies) * 1000:.0f} ms"
    )


@pytest.mark.slow
def test_oversized_headers_are_refused_with_bounded_memory(env: Env) -> None:
    """Before the head guard, uvicorn+httptools buffered a header of any size (200 MB sent
    on one connection grew the server by 270 MB). Now: 431 RG8001E once the head passes
    the limit, for 50 connections sending 4 MB each at once; the server's RSS barely moves."""
    token = env.token()
    with serve(env.config) as srv:
        port = int(srv.url.rsplit(":", 1)[1])
        pid = srv.proc.pid
        before = rss_kib(pid)

        def attack(_: int) -> bytes:
            sock = open_raw(port)
            try:
                sock.sendall(b"GET /auth HTTP/1.1\r\nHost: x\r\nX-Big: ")
                with contextlib.suppress(OSError):
                    for _ in range(64):
                        sock.sendall(b"a" * 65536)
                return read_all(sock, time.monotonic() + 5.0)
            finally:
                sock.close()

        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(50) as pool:
            answers = list(pool.map(attack, range(50)))
        peak = rss_kib(pid)
        just_over = httpx.get(
            srv.url + "/auth", headers={"X-Pad": "p" * 17000, "Authorization": f"Bearer {token}"}
        )
        under = httpx.get(
            srv.url + "/auth", headers={"X-Pad": "p" * 12000, "Authorization": f"Bearer {token}"}
        )
    assert all(a.startswith(b"HTTP/1.1 431 ") and b"RG8001E" in a for a in answers), answers[:1]
    assert just_over.status_code == 431 and just_over.headers["x-realmgate-message"] == "RG8001E"
    assert under.status_code == 200
    grew = peak - before
    assert grew < 64 * 1024, f"server RSS grew {grew} KiB"
    figure(
        f"oversized headers: 50 connections x 4 MB header at once -> 50 x 431 RG8001E; "
        f"server RSS {before // 1024} -> {peak // 1024} MiB"
    )


def raise_fd_limit(wanted: int) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else wanted * 2 + 1000
    if soft < target:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


@pytest.mark.slow
def test_many_concurrent_connections(env: Env) -> None:
    """As many connections as the descriptor limit allows, up to the 10,000 the issue asks
    for: all open at once (counted in the server's /proc/<pid>/fd), then each sends /auth
    with a valid token: every answer is 200, none 5xx; RSS before/at peak/after."""
    wanted = 10_000
    limit = raise_fd_limit(wanted)  # the server process inherits the raised limit
    count = min(wanted, limit - 500)
    if count < 100:
        pytest.skip(f"the file-descriptor limit ({limit}) leaves too few connections")
    token = env.token()
    request = f"GET /auth HTTP/1.1\r\nHost: gate\r\nAuthorization: Bearer {token}\r\n\r\n".encode()

    async def run(port: int, pid: int) -> tuple[Counter[int], int, int, float]:
        streams: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        gate = asyncio.Semaphore(256)

        async def connect() -> None:
            async with gate:
                streams.append(await asyncio.open_connection("127.0.0.1", port))

        await asyncio.gather(*(connect() for _ in range(count)))
        await asyncio.sleep(0.5)
        held = sum(1 for fd in os.listdir(f"/proc/{pid}/fd") if _is_socket(pid, fd))
        peak_rss = rss_kib(pid)
        started = time.monotonic()

        async def ask(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> int:
            writer.write(request)
            await writer.drain()
            line = await asyncio.wait_for(reader.readline(), 60)
            return int(line.split()[1]) if line else 0

        statuses = Counter(await asyncio.gather(*(ask(r, w) for r, w in streams)))
        took = time.monotonic() - started
        peak_rss = max(peak_rss, rss_kib(pid))
        for _, writer in streams:
            writer.close()
        return statuses, held, peak_rss, took

    with serve(env.config) as srv:
        port, pid = int(srv.url.rsplit(":", 1)[1]), srv.proc.pid
        httpx.get(srv.url + "/auth", headers={"Authorization": f"Bearer {token}"})
        before = rss_kib(pid)
        statuses, held, peak, took = asyncio.run(run(port, pid))
        time.sleep(1.0)
        after = rss_kib(pid)
        assert httpx.get(srv.url + "/healthz").status_code == 200
    assert statuses == Counter({200: count}), statuses
    assert held >= count, f"only {held} connections were open at once"
    assert peak - before < 512 * 1024, f"RSS grew {peak - before} KiB"
    figure(
        f"{count} concurrent connections (fd limit {limit}; {held} sockets open in the server "
        f"at once): {count} x 200 in {took:.1f}s, no 5xx; server RSS {before // 1024} MiB "
        f"before, {peak // 1024} MiB at peak, {after // 1024} MiB after"
    )


def _is_socket(pid: int, fd: str) -> bool:
    with contextlib.suppress(OSError):
        return os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:")
    return False
