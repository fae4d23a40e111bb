"""The identity registry on PostgreSQL, shared by several realmgate nodes (issue 8).

Same contract as :class:`~realmgate.registry.sqlite.SQLiteRegistry` (rules validated by
:func:`~realmgate.registry.base.validate_rule`, the same errors, the same ordering) plus the
revocation list. The schema and its migrations are in :mod:`realmgate.registry.pgschema`.

``generation()`` is on every node's hot path (the mapper and the revocation checker ask it
every refresh interval), so it never touches the network: it returns an in-memory counter
that moves when

* this handle commits a change (at once, from the counter read inside the transaction);
* another node commits one: a listener thread holds its own connection with
  ``LISTEN realmgate_registry`` and the trigger's notification carries the new counter;
* polling finds the stored counter moved (every ``poll_interval``, on the listener's
  connection): the fallback if a notification is lost, and how changes made while the
  listener was disconnected are found after it reconnects.

Losing the database: the listener reconnects by itself (backoff up to 2 s), and the main
connection is replaced on its next use (a read is retried once on a fresh connection; a write
only when it certainly did not reach COMMIT). For ``grace`` seconds the last snapshot stays in
force (RG5502W is logged), so a database restart does not refuse traffic; past that,
``generation()`` raises RG5002E and lookups fail closed. Nothing committed is lost: every
rule lives in PostgreSQL, and a node only ever serves what it read from there.

The URL's password never appears in a message: errors name the target as
``postgresql://user@host:port/db`` and any occurrence of the password is masked.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar

from realmgate.errors import RealmgateError, RegistryError
from realmgate.registry import pgschema
from realmgate.registry.base import (
    ANY,
    MappingRule,
    Revocation,
    already_revoked,
    no_revocation,
    revocation_value,
    validate_revocation,
    validate_rule,
)
from realmgate.registry.dn import normalize_user_filter
from realmgate.registry.pgconn import DEFAULT_TIMEOUT, Listener, MainConnection, PgUrl

log = logging.getLogger("realmgate.registry")

T = TypeVar("T")
Connection = pgschema.Connection

DEFAULT_GRACE = 5.0
DEFAULT_POLL_INTERVAL = 1.0


def _rule(row: tuple[Any, ...]) -> MappingRule:
    return MappingRule(row[0], row[1], row[2], row[3], float(row[4]))


def _revocation(row: tuple[Any, ...]) -> Revocation:
    return Revocation(row[0], row[1], row[2], row[3], float(row[4]))


class PostgresRegistry:
    """Mapping rules and revocations in PostgreSQL. Thread-safe; one main connection guarded
    by a lock (lookups are served from the callers' snapshots) plus the listener's."""

    def __init__(
        self,
        url: str,
        *,
        migrate: bool = True,
        listen: bool = True,
        grace: float = DEFAULT_GRACE,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self._db = MainConnection(PgUrl(url), timeout)
        self._grace = grace
        self._poll_interval = poll_interval
        self._state = threading.Lock()  # the counters below
        self._known = -1
        """The stored change counter as last seen (own commit, notification or poll)."""
        self._behind = 0
        self._generation = 0
        self._down_since: float | None = None
        self.migrated: tuple[int, int] | None = None
        """(version before, version after) when this handle opened the registry."""
        try:
            self.migrated = self._db.read("opening", self._open_schema(migrate))
        except BaseException:
            self._db.drop()
            raise
        if self.migrated is not None and self.migrated[0] != self.migrated[1]:
            old, new = self.migrated
            log.info("%s", RealmgateError("RG5501I", target=self.target, old=old, new=new))
        self._listener: Listener | None = Listener(self) if listen else None
        if self._listener is not None:
            self._listener.start()

    @property
    def poll_interval(self) -> float:
        return self._poll_interval

    @property
    def target(self) -> str:
        """``postgresql://user@host:port/db``: the URL without its password."""
        return self._db.url.target

    def __repr__(self) -> str:
        return f"PostgresRegistry({self.target!r})"

    # -- the main connection (realmgate.registry.pgconn.MainConnection) -------------------
    def connect(self) -> Connection:
        """A new connection for the listener, set up like the main one."""
        return self._db.connect()

    def error_text(self, exc: BaseException) -> str:
        return self._db.error_text(exc)

    def _write(self, during: str, work: Callable[[Connection], T]) -> T:
        """Run ``work`` in one transaction and note the change counter it left."""
        result, counter = self._db.write(during, work)
        self.observe(counter)
        return result

    def _open_schema(self, migrate: bool) -> Callable[[Connection], tuple[int, int] | None]:
        def work(conn: Connection) -> tuple[int, int] | None:
            if migrate:
                done: tuple[int, int] | None = pgschema.migrate(conn)
            else:
                version = pgschema.check(conn)
                if version != pgschema.SCHEMA_VERSION:
                    raise self._db.unavailable(
                        f"schema version {version or 0} needs migrating to "
                        f"{pgschema.SCHEMA_VERSION}: run 'realmgate registry migrate'"
                    )
                done = None
            self.observe(pgschema.read_counter(conn))
            return done

        return work

    # -- the change counter ----------------------------------------------------------------
    def observe(self, counter: int, *, polled: bool = False) -> None:
        """Record the stored counter as seen; move the generation if it changed. Only a
        higher value counts, so a notification or poll that arrives after this handle's own
        commit is not a second change. A counter persistently lower than known (a restored
        or recreated database) counts after two consecutive polls."""
        with self._state:
            if counter > self._known:
                self._known, self._behind = counter, 0
                self._generation += 1
            elif polled and counter < self._known:
                self._behind += 1
                if self._behind >= 2:
                    self._known, self._behind = counter, 0
                    self._generation += 1
            elif polled:
                self._behind = 0

    def listener_down(self, detail: str) -> None:
        with self._state:
            first = self._down_since is None
            if first:
                self._down_since = time.monotonic()
        if first and not self._db.closed:
            log.warning(
                "%s",
                RealmgateError("RG5502W", target=self.target, detail=detail, grace=self._grace),
            )

    def listener_up(self) -> None:
        with self._state:
            since, self._down_since = self._down_since, None
        if since is not None:
            seconds = f"{time.monotonic() - since:.1f}"
            log.info("%s", RealmgateError("RG5503I", target=self.target, seconds=seconds))

    def health(self) -> dict[str, Any]:
        """For readiness: whether changes are being followed, and since when not."""
        with self._state:
            down = self._down_since
        if self._listener is None:
            return {"ok": True, "status": "polling on demand", "target": self.target}
        if down is None:
            return {"ok": True, "status": "listening", "target": self.target}
        away = time.monotonic() - down
        return {
            "ok": away <= self._grace,
            "status": "reconnecting",
            "target": self.target,
            "detail": f"change listener disconnected for {away:.1f}s (grace {self._grace}s)",
        }

    # -- the IdentityRegistry contract -------------------------------------------------------
    def add(self, rule: MappingRule) -> None:
        rule = validate_rule(rule)

        def work(conn: Connection) -> None:
            row = conn.execute(
                "INSERT INTO realmgate_rules"
                " (user_filter, realm_filter, local_user, label, created_at)"
                " VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING user_filter",
                (rule.user, rule.realm, rule.local_user, rule.label, time.time()),
            ).fetchone()
            if row is None:  # the filter exists: one atomic statement, no check-then-insert
                existing = conn.execute(
                    "SELECT local_user FROM realmgate_rules"
                    " WHERE user_filter = %s AND realm_filter = %s",
                    (rule.user, rule.realm),
                ).fetchone()
                local = existing[0] if existing else "?"
                raise RegistryError("RG5005E", user=rule.user, realm=rule.realm, local_user=local)

        self._write("adding a rule", work)

    def remove(self, user: str, realm: str) -> MappingRule:
        user_filter = normalize_user_filter(user)
        if "\x00" in user_filter or "\x00" in realm:  # PostgreSQL text cannot hold NUL
            raise RegistryError("RG5004E", user=user_filter, realm=realm)

        def work(conn: Connection) -> MappingRule:
            row = conn.execute(
                "DELETE FROM realmgate_rules WHERE user_filter = %s AND realm_filter = %s"
                " RETURNING user_filter, realm_filter, local_user, label, created_at",
                (user_filter, realm),
            ).fetchone()
            if row is None:
                raise RegistryError("RG5004E", user=user_filter, realm=realm)
            return _rule(row)

        return self._write("removing a rule", work)

    def rules(self) -> list[MappingRule]:
        def work(conn: Connection) -> list[MappingRule]:
            rows = conn.execute(
                "SELECT user_filter, realm_filter, local_user, label, created_at"
                " FROM realmgate_rules ORDER BY realm_filter, user_filter"
            ).fetchall()
            return [_rule(row) for row in rows]

        return self._db.read("listing rules", work)

    def generation(self) -> int:
        if self._db.closed:
            raise self._db.unavailable("the registry is closed")
        if self._listener is None:  # no listener (one-shot commands): ask the database
            self.observe(self._db.read("reading the change counter", pgschema.read_counter))
        with self._state:
            down = self._down_since
            generation = self._generation
        if down is not None and time.monotonic() - down > self._grace:
            away = time.monotonic() - down
            raise self._db.unavailable(f"unreachable for {away:.1f}s; changes cannot be followed")
        return generation

    # -- the revocation list -----------------------------------------------------------------
    def revoke(self, entry: Revocation) -> Revocation:
        entry = validate_revocation(entry)
        stored = Revocation(entry.kind, entry.value, entry.issuer, entry.reason, time.time())

        def work(conn: Connection) -> None:
            row = conn.execute(
                "INSERT INTO realmgate_revocations (kind, value, issuer, reason, revoked_at)"
                " VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING kind",
                (stored.kind, stored.value, stored.issuer, stored.reason, stored.revoked_at),
            ).fetchone()
            if row is None:
                existing = conn.execute(
                    "SELECT kind, value, issuer, reason, revoked_at FROM realmgate_revocations"
                    " WHERE kind = %s AND value = %s AND issuer = %s",
                    (stored.kind, stored.value, stored.issuer),
                ).fetchone()
                raise already_revoked(_revocation(existing) if existing else stored)

        self._write("revoking", work)
        return stored

    def unrevoke(self, kind: str, value: str, issuer: str = ANY) -> Revocation:
        value = revocation_value(kind, value)
        if "\x00" in kind + value + issuer:
            raise no_revocation(kind, value, issuer)

        def work(conn: Connection) -> Revocation:
            row = conn.execute(
                "DELETE FROM realmgate_revocations WHERE kind = %s AND value = %s"
                " AND issuer = %s RETURNING kind, value, issuer, reason, revoked_at",
                (kind, value, issuer),
            ).fetchone()
            if row is None:
                raise no_revocation(kind, value, issuer)
            return _revocation(row)

        return self._write("removing a revocation", work)

    def revocations(self) -> list[Revocation]:
        def work(conn: Connection) -> list[Revocation]:
            rows = conn.execute(
                "SELECT kind, value, issuer, reason, revoked_at FROM realmgate_revocations"
                " ORDER BY kind, value, issuer"
            ).fetchall()
            return [_revocation(row) for row in rows]

        return self._db.read("listing revocations", work)

    # -- lifecycle ---------------------------------------------------------------------------
    def close(self) -> None:
        self._db.closed = True
        listener, self._listener = getattr(self, "_listener", None), None
        if listener is not None:
            listener.stop()
        self._db.drop()

    def __enter__(self) -> PostgresRegistry:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
