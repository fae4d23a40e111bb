"""The embedded identity registry: one SQLite file, safe for several processes.

Durability: WAL journal with ``synchronous=FULL``, so a mapping whose ``add`` returned
survives a crash of the process or of the machine. Every change bumps a counter in ``meta``
from a trigger, inside the changing transaction, so even a change made with the ``sqlite3``
shell is seen by :meth:`SQLiteRegistry.generation`.

Threads: one connection guarded by a lock. The hot path (lookups) is served from the
mapper's in-memory snapshot, so this connection is touched at most once per refresh
interval plus administrative writes; a single connection keeps ``close()`` deterministic,
leaks nothing in thread pools, and gives ``PRAGMA data_version`` (which is per connection)
one consistent view.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

from realmgate.errors import RegistryError
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

SCHEMA_VERSION = 2
DEFAULT_TIMEOUT = 5.0
"""Seconds to wait for another writer's lock before reporting the registry unavailable."""

_SCHEMA_V1 = (
    "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)",
    "INSERT INTO schema_version (version) SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM schema_version)",
    """CREATE TABLE IF NOT EXISTS rules (
        user_filter  TEXT NOT NULL,
        realm_filter TEXT NOT NULL,
        local_user   TEXT NOT NULL,
        label        TEXT,
        created_at   REAL NOT NULL,
        PRIMARY KEY (user_filter, realm_filter))""",
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)",
    "INSERT OR IGNORE INTO meta (key, value) VALUES ('change_counter', 0)",
    "CREATE TRIGGER IF NOT EXISTS rules_count_insert AFTER INSERT ON rules BEGIN"
    " UPDATE meta SET value = value + 1 WHERE key = 'change_counter'; END",
    "CREATE TRIGGER IF NOT EXISTS rules_count_update AFTER UPDATE ON rules BEGIN"
    " UPDATE meta SET value = value + 1 WHERE key = 'change_counter'; END",
    "CREATE TRIGGER IF NOT EXISTS rules_count_delete AFTER DELETE ON rules BEGIN"
    " UPDATE meta SET value = value + 1 WHERE key = 'change_counter'; END",
)
# Version 2 (issue 8): the revocation list. It moves the same change counter, so every
# process notices a revocation exactly as it notices a mapping change.
_SCHEMA_V2 = (
    """CREATE TABLE IF NOT EXISTS revocations (
        kind       TEXT NOT NULL,
        value      TEXT NOT NULL,
        issuer     TEXT NOT NULL,
        reason     TEXT,
        revoked_at REAL NOT NULL,
        PRIMARY KEY (kind, value, issuer))""",
    "CREATE TRIGGER IF NOT EXISTS revocations_count_insert AFTER INSERT ON revocations BEGIN"
    " UPDATE meta SET value = value + 1 WHERE key = 'change_counter'; END",
    "CREATE TRIGGER IF NOT EXISTS revocations_count_update AFTER UPDATE ON revocations BEGIN"
    " UPDATE meta SET value = value + 1 WHERE key = 'change_counter'; END",
    "CREATE TRIGGER IF NOT EXISTS revocations_count_delete AFTER DELETE ON revocations BEGIN"
    " UPDATE meta SET value = value + 1 WHERE key = 'change_counter'; END",
    "UPDATE schema_version SET version = 2",
)
_MIGRATIONS = {1: _SCHEMA_V1, 2: _SCHEMA_V2}
"""Target version → statements taking the schema there from the version before."""
_SELECT_REVOCATION = (
    "SELECT kind, value, issuer, reason, revoked_at FROM revocations"
    " WHERE kind = ? AND value = ? AND issuer = ?"
)


def _rule_from_row(row: tuple[str, str, str, str | None, float]) -> MappingRule:
    return MappingRule(row[0], row[1], row[2], row[3], row[4])


def _revocation_from_row(row: tuple[str, str, str, str | None, float]) -> Revocation:
    return Revocation(row[0], row[1], row[2], row[3], row[4])


class SQLiteRegistry:
    """Mapping rules in a SQLite file, created (with its directory) when first opened.

    ``create=False`` refuses to create a missing file (RG5002E): read-only commands use it
    so a mistyped path is reported instead of silently giving an empty registry."""

    def __init__(
        self, path: str | Path, *, timeout: float = DEFAULT_TIMEOUT, create: bool = True
    ) -> None:
        self._path = Path(path).expanduser()
        self._lock = threading.RLock()
        self._data_version = -1
        self._counter = 0
        self.migrated: tuple[int, int] | None = None
        """(version before, version after) of the schema when this handle opened the file."""
        self._conn: sqlite3.Connection | None = None
        self._conn = self._open(timeout, create)
        self._file_id = self._identity()

    @property
    def path(self) -> Path:
        return self._path

    def __repr__(self) -> str:
        return f"SQLiteRegistry({str(self._path)!r})"

    def _unavailable(self, detail: str) -> RegistryError:
        return RegistryError("RG5002E", detail=f"SQLite registry {self._path}: {detail}")

    def _open(self, timeout: float, create: bool) -> sqlite3.Connection:
        if self._path.is_dir():
            raise self._unavailable("the path is a directory, not a file")
        if create:
            try:
                self._path.parent.mkdir(parents=True, exist_ok=True)
            except FileExistsError:
                raise self._unavailable(
                    f"{self._path.parent} exists and is not a directory"
                ) from None
            except OSError as exc:
                raise self._unavailable(
                    f"cannot create directory {exc.filename or self._path.parent}: "
                    f"{exc.strerror or exc}"
                ) from None
        elif not self._path.is_file():
            raise self._unavailable("the file does not exist")
        mode = "rwc" if create else "rw"
        uri = f"{self._path.absolute().as_uri()}?mode={mode}"
        try:
            conn = sqlite3.connect(
                uri, uri=True, timeout=timeout, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise self._unavailable(f"{exc} (while opening)") from None
        try:
            conn.execute("PRAGMA journal_mode = WAL").fetchone()
            conn.execute("PRAGMA synchronous = FULL")
            self._ensure_schema(conn)
            self._data_version = conn.execute("PRAGMA data_version").fetchone()[0]
            self._counter = self._read_counter(conn)
        except sqlite3.Error as exc:
            conn.close()
            raise self._unavailable(f"{exc} (while opening)") from None
        except RegistryError:
            conn.close()
            raise
        return conn

    def _ensure_schema(self, conn: sqlite3.Connection) -> None:
        version = self._schema_version(conn)
        before = version or 0
        if version is None or version < SCHEMA_VERSION:
            # IMMEDIATE: two processes creating or upgrading the same file serialise here,
            # and the second re-reads the version and finds the work done by the first.
            conn.execute("BEGIN IMMEDIATE")
            try:
                version = before = self._schema_version(conn) or 0
                for target in range(version + 1, SCHEMA_VERSION + 1):
                    for statement in _MIGRATIONS.get(target, ()):
                        conn.execute(statement)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            version = self._schema_version(conn)
        self.migrated = (before, version or 0)
        if version != SCHEMA_VERSION:
            raise self._unavailable(
                f"schema version {version} is not supported by this realmgate "
                f"(it supports version {SCHEMA_VERSION}); use a matching realmgate release"
            )

    @staticmethod
    def _schema_version(conn: sqlite3.Connection) -> int | None:
        exists = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
        ).fetchone()
        if exists is None:
            return None
        row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
        return None if row is None or row[0] is None else int(row[0])

    @staticmethod
    def _read_counter(conn: sqlite3.Connection) -> int:
        row = conn.execute("SELECT value FROM meta WHERE key = 'change_counter'").fetchone()
        return int(row[0]) if row else 0

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise self._unavailable("the registry is closed")
        return self._conn

    @contextmanager
    def _reading(self, during: str) -> Iterator[sqlite3.Connection]:
        with self._lock:
            conn = self._connection()
            try:
                yield conn
            except sqlite3.Error as exc:
                raise self._unavailable(f"{exc} (while {during})") from None

    @contextmanager
    def _writing(self, during: str) -> Iterator[sqlite3.Connection]:
        """One IMMEDIATE transaction: the write lock is taken up front, so a check followed
        by a change (duplicate test, then insert) cannot interleave with another writer."""
        with self._lock:
            conn = self._connection()
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield conn
                    counter = self._read_counter(conn)
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                raise self._unavailable(f"{exc} (while {during})") from None
            self._counter = counter

    def add(self, rule: MappingRule) -> None:
        rule = validate_rule(rule)
        with self._writing("adding a rule") as conn:
            row = conn.execute(
                "SELECT local_user FROM rules WHERE user_filter = ? AND realm_filter = ?",
                (rule.user, rule.realm),
            ).fetchone()
            if row is not None:
                raise RegistryError("RG5005E", user=rule.user, realm=rule.realm, local_user=row[0])
            conn.execute(
                "INSERT INTO rules (user_filter, realm_filter, local_user, label, created_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (rule.user, rule.realm, rule.local_user, rule.label, time.time()),
            )

    def remove(self, user: str, realm: str) -> MappingRule:
        user_filter = normalize_user_filter(user)
        with self._writing("removing a rule") as conn:
            row = conn.execute(
                "SELECT user_filter, realm_filter, local_user, label, created_at FROM rules"
                " WHERE user_filter = ? AND realm_filter = ?",
                (user_filter, realm),
            ).fetchone()
            if row is None:
                raise RegistryError("RG5004E", user=user_filter, realm=realm)
            conn.execute(
                "DELETE FROM rules WHERE user_filter = ? AND realm_filter = ?",
                (user_filter, realm),
            )
        return _rule_from_row(row)

    def rules(self) -> list[MappingRule]:
        with self._reading("listing rules") as conn:
            rows = conn.execute(
                "SELECT user_filter, realm_filter, local_user, label, created_at FROM rules"
                " ORDER BY realm_filter, user_filter"
            ).fetchall()
        return [_rule_from_row(row) for row in rows]

    # -- the revocation list (issue 8) ---------------------------------------------------
    def revoke(self, entry: Revocation) -> Revocation:
        entry = validate_revocation(entry)
        stored = Revocation(entry.kind, entry.value, entry.issuer, entry.reason, time.time())
        with self._writing("revoking") as conn:
            row = conn.execute(
                _SELECT_REVOCATION,
                (entry.kind, entry.value, entry.issuer),
            ).fetchone()
            if row is not None:
                raise already_revoked(_revocation_from_row(row))
            conn.execute(
                "INSERT INTO revocations (kind, value, issuer, reason, revoked_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (stored.kind, stored.value, stored.issuer, stored.reason, stored.revoked_at),
            )
        return stored

    def unrevoke(self, kind: str, value: str, issuer: str = ANY) -> Revocation:
        value = revocation_value(kind, value)
        with self._writing("removing a revocation") as conn:
            row = conn.execute(
                _SELECT_REVOCATION,
                (kind, value, issuer),
            ).fetchone()
            if row is None:
                raise no_revocation(kind, value, issuer)
            conn.execute(
                "DELETE FROM revocations WHERE kind = ? AND value = ? AND issuer = ?",
                (kind, value, issuer),
            )
        return _revocation_from_row(row)

    def revocations(self) -> list[Revocation]:
        with self._reading("listing revocations") as conn:
            rows = conn.execute(
                "SELECT kind, value, issuer, reason, revoked_at FROM revocations"
                " ORDER BY kind, value, issuer"
            ).fetchall()
        return [_revocation_from_row(row) for row in rows]

    def _identity(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self._path)
        except OSError:
            return None
        return st.st_dev, st.st_ino

    def _check_file(self) -> None:
        """RG5002E if the file was deleted or replaced since it was opened. The connection
        would go on reading the old (unlinked) file for ever while every change made with
        ``realmgate map`` lands in the new one, so a removed mapping would keep working."""
        now = self._identity()
        if now == self._file_id:
            return
        if now is None:
            detail = "the file was deleted while in use; restore it, then restart realmgate"
        else:
            detail = "the file was replaced after it was opened; restart realmgate to use it"
        raise self._unavailable(detail)

    def generation(self) -> int:
        # data_version changes only when another connection (or process) commits; our own
        # commits update _counter directly. So the common case is one PRAGMA, no table read.
        self._check_file()
        with self._reading("reading the change counter") as conn:
            version = conn.execute("PRAGMA data_version").fetchone()[0]
            if version != self._data_version:
                self._counter = self._read_counter(conn)
                self._data_version = version
            return self._counter

    def close(self) -> None:
        with self._lock:
            conn, self._conn = self._conn, None
            if conn is not None:
                conn.close()

    def __enter__(self) -> SQLiteRegistry:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
