"""The PostgreSQL registry's connections: the URL without its password, the main connection
the registry reads and writes through, and the listener thread that follows changes made by
other nodes (issue 8).

The main connection is replaced on its next use after it died (the server restarted): a read
is retried once on a fresh connection, a write only when it certainly did not reach COMMIT.

The listener holds its own connection with ``LISTEN realmgate_registry``; each notification
carries the change counter the trigger left (see :mod:`realmgate.registry.pgschema`). It
also reads the counter every ``poll_interval`` as a fallback, and after every (re)connection,
so a change made while it was away is found. A lost connection is re-established with
backoff (0.1 s doubling up to 2 s); ``stop()`` wakes it at once through a socket pair.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

import psycopg
from psycopg.conninfo import conninfo_to_dict

from realmgate.errors import RegistryError
from realmgate.registry import pgschema

Connection = pgschema.Connection
T = TypeVar("T")

DEFAULT_TIMEOUT = 5.0
MAX_BACKOFF = 2.0


class PgUrl:
    """The connection URL, and how to name it without its password."""

    def __init__(self, url: str) -> None:
        try:
            params = conninfo_to_dict(url)
        except psycopg.Error:
            # Never echo the URL: the part that does not parse may be the password.
            raise RegistryError(
                "RG5002E", detail="the registry url is not a valid PostgreSQL URL"
            ) from None
        self.url = url
        self.password = str(params.get("password") or "")
        host = params.get("host") or params.get("hostaddr") or "localhost"
        user = f"{params['user']}@" if params.get("user") else ""
        port = f":{params['port']}" if params.get("port") else ""
        self.target = f"postgresql://{user}{host}{port}/{params.get('dbname') or ''}"
        # Defaults that keep a dead server from hanging a node; the URL's own values win.
        self.defaults: dict[str, Any] = {
            key: value
            for key, value in (
                ("connect_timeout", int(DEFAULT_TIMEOUT)),
                ("application_name", "realmgate"),
                ("keepalives", 1),
                ("keepalives_idle", 10),
                ("keepalives_interval", 3),
                ("keepalives_count", 3),
            )
            if key not in params
        }

    def scrub(self, text: str) -> str:
        return text.replace(self.password, "***") if self.password else text


class MainConnection:
    """The registry's own autocommit connection, guarded by a lock (lookups are served from
    the callers' snapshots, so it is never contended on the hot path)."""

    def __init__(self, url: PgUrl, timeout: float) -> None:
        self.url = url
        self._timeout = timeout
        self._lock = threading.RLock()
        self._conn: Connection | None = None
        self.closed = False
        """Set when the registry closes: every later use is refused with RG5002E."""

    def unavailable(self, detail: str) -> RegistryError:
        return RegistryError(
            "RG5002E", detail=f"PostgreSQL registry {self.url.target}: {self.url.scrub(detail)}"
        )

    def error_text(self, exc: BaseException) -> str:
        text = str(exc).strip().splitlines()
        return self.url.scrub(text[0] if text else type(exc).__name__)

    def connect(self) -> Connection:
        """A new autocommit connection with a statement timeout (RG5002E if it fails)."""
        try:
            conn: Connection = psycopg.connect(self.url.url, autocommit=True, **self.url.defaults)
        except psycopg.Error as exc:
            raise self.unavailable(f"{self.error_text(exc)} (while connecting)") from None
        try:
            conn.execute("SELECT set_config('statement_timeout', %s, false)",
                         (f"{int(self._timeout * 1000)}ms",))  # fmt: skip
        except psycopg.Error as exc:
            conn.close()
            raise self.unavailable(f"{self.error_text(exc)} (while connecting)") from None
        return conn

    def _connection(self) -> Connection:
        if self.closed:
            raise self.unavailable("the registry is closed")
        conn = self._conn
        if conn is None or conn.closed or conn.broken:
            if conn is not None:
                conn.close()
            conn = self._conn = None
            conn = self._conn = self.connect()
        return conn

    def drop(self) -> None:
        """Close the current connection; the next use opens a new one."""
        with self._lock:
            conn, self._conn = self._conn, None
            if conn is not None:
                conn.close()

    def read(self, during: str, work: Callable[[Connection], T]) -> T:
        """Run ``work``; a connection found dead (the server restarted) is replaced and the
        work retried once, which is safe because it changes nothing."""
        for attempt in (1, 2):
            with self._lock:
                conn = self._connection()
                try:
                    return work(conn)
                except psycopg.Error as exc:
                    if not (conn.broken or conn.closed) or attempt == 2:
                        raise self.unavailable(f"{self.error_text(exc)} (while {during})") from None
                    self.drop()
        raise AssertionError("unreachable")

    def write(self, during: str, work: Callable[[Connection], T]) -> tuple[T, int]:
        """Run ``work`` in one transaction; return its result and the change counter it left.
        Retried once on a fresh connection only if the old one died before COMMIT was sent."""
        for attempt in (1, 2):
            with self._lock:
                conn = self._connection()
                committing = False
                try:
                    with conn.transaction():
                        result = work(conn)
                        counter = pgschema.read_counter(conn)
                        committing = True
                except psycopg.Error as exc:
                    dead = conn.broken or conn.closed
                    if dead:
                        self.drop()
                    if dead and not committing and attempt == 1:
                        continue
                    unknown = "; the change may or may not be stored" if committing else ""
                    raise self.unavailable(
                        f"{self.error_text(exc)} (while {during}{unknown})"
                    ) from None
            return result, counter
        raise AssertionError("unreachable")


class Followed(Protocol):
    """What the listener reports to (the registry)."""

    @property
    def target(self) -> str: ...

    @property
    def poll_interval(self) -> float: ...

    def connect(self) -> Connection: ...

    def observe(self, counter: int, *, polled: bool = False) -> None: ...

    def listener_up(self) -> None: ...

    def listener_down(self, detail: str) -> None: ...

    def error_text(self, exc: BaseException) -> str: ...


class Listener(threading.Thread):
    """Follows changes made elsewhere: LISTEN, notifications, polling, reconnection."""

    def __init__(self, registry: Followed) -> None:
        super().__init__(name=f"realmgate-registry-listener {registry.target}", daemon=True)
        self._registry = registry
        self._stopping = threading.Event()
        self._wake_r, self._wake_w = socket.socketpair()

    def stop(self) -> None:
        self._stopping.set()
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")
        if self.is_alive() and threading.current_thread() is not self:
            self.join(timeout=5)
        self._wake_r.close()
        self._wake_w.close()

    def run(self) -> None:
        registry = self._registry
        backoff = 0.1
        while not self._stopping.is_set():
            conn: Connection | None = None
            try:
                conn = registry.connect()
                conn.execute(f"LISTEN {pgschema.CHANNEL}")
                registry.listener_up()
                backoff = 0.1
                # Changes made while nobody listened are found from the counter.
                registry.observe(pgschema.read_counter(conn), polled=True)
                self._follow(conn)
            except RegistryError as exc:
                registry.listener_down(str(exc.values.get("detail", exc.text)))
            except psycopg.Error as exc:
                registry.listener_down(registry.error_text(exc))
            finally:
                if conn is not None:
                    conn.close()
            if self._stopping.wait(backoff):
                break
            backoff = min(backoff * 2, MAX_BACKOFF)

    def _follow(self, conn: Connection) -> None:
        registry = self._registry
        interval = registry.poll_interval
        schema = pgschema.current_schema(conn)
        next_poll = time.monotonic() + interval
        with selectors.DefaultSelector() as selector:
            selector.register(conn.fileno(), selectors.EVENT_READ, "db")
            selector.register(self._wake_r, selectors.EVENT_READ, "wake")
            while not self._stopping.is_set():
                # Drain first: notifications that arrived during the poll query wait in
                # psycopg's backlog, where select() cannot see them.
                for notify in conn.notifies(timeout=0):
                    counter = pgschema.parse_payload(notify.payload, schema)
                    if counter is not None:
                        registry.observe(counter)
                if time.monotonic() >= next_poll:
                    registry.observe(pgschema.read_counter(conn), polled=True)
                    next_poll = time.monotonic() + interval
                    continue
                events = selector.select(max(0.0, next_poll - time.monotonic()))
                if any(key.data == "wake" for key, _ in events):
                    return
