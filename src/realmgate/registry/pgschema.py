"""The PostgreSQL registry's schema and its migrations (issue 8).

Tables are prefixed ``realmgate_`` so the registry can live in a database shared with other
applications. Text columns use the ``"C"`` collation: comparisons and ``ORDER BY`` are then
by code point, exactly as in the SQLite registry, whatever the database's locale.

The tables live in the first schema of the connection's ``search_path`` (``public`` unless
the URL says otherwise, e.g. ``?options=-csearch_path%3Drealmgate``), so one database can hold
several registries. Every change to the rules or the revocation list runs a trigger, inside
the changing transaction, that increments ``realmgate_meta.change_counter`` and sends
``NOTIFY realmgate_registry, '<schema> <new counter>'``. PostgreSQL delivers the notification only
if the transaction commits, and a change made with ``psql`` is seen by every node as well.

Migrations run in one transaction while the session holds an advisory lock, so nodes
starting together serialise and each step runs exactly once; a failed step leaves the
schema as it was.
"""

from __future__ import annotations

from typing import Any

import psycopg

from realmgate.errors import RegistryError

SCHEMA_VERSION = 2
CHANNEL = "realmgate_registry"
LOCK_KEY = 0x7265_616C_6D67  # "realmg": any constant other applications are unlikely to use

# SET search_path FROM CURRENT pins the function to the schema it was created in, so it finds
# its tables whatever the writer's search_path, and current_schema() in the payload tells
# listeners of registries in other schemas of the same database (one channel per database)
# that the notification is not theirs.
_COUNT_FUNCTION = """
CREATE OR REPLACE FUNCTION realmgate_count_change() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    counter BIGINT;
BEGIN
    UPDATE realmgate_meta SET value = value + 1 WHERE key = 'change_counter'
        RETURNING value INTO counter;
    PERFORM pg_notify('realmgate_registry', current_schema() || ' ' || counter::text);
    RETURN NULL;
END
$$"""

_V1 = (
    "CREATE TABLE IF NOT EXISTS realmgate_schema_version (version INTEGER NOT NULL)",
    "INSERT INTO realmgate_schema_version (version) SELECT 0"
    " WHERE NOT EXISTS (SELECT 1 FROM realmgate_schema_version)",
    """CREATE TABLE realmgate_rules (
        user_filter  TEXT COLLATE "C" NOT NULL,
        realm_filter TEXT COLLATE "C" NOT NULL,
        local_user   TEXT NOT NULL,
        label        TEXT,
        created_at   DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (user_filter, realm_filter))""",
    "CREATE TABLE realmgate_meta (key TEXT PRIMARY KEY, value BIGINT NOT NULL)",
    "INSERT INTO realmgate_meta (key, value) VALUES ('change_counter', 0)",
    _COUNT_FUNCTION,
    "CREATE TRIGGER realmgate_rules_changed AFTER INSERT OR UPDATE OR DELETE"
    " ON realmgate_rules FOR EACH ROW EXECUTE FUNCTION realmgate_count_change()",
    "CREATE TRIGGER realmgate_rules_truncated AFTER TRUNCATE"
    " ON realmgate_rules FOR EACH STATEMENT EXECUTE FUNCTION realmgate_count_change()",
)

_V2 = (
    """CREATE TABLE realmgate_revocations (
        kind       TEXT COLLATE "C" NOT NULL,
        value      TEXT COLLATE "C" NOT NULL,
        issuer     TEXT COLLATE "C" NOT NULL,
        reason     TEXT,
        revoked_at DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (kind, value, issuer))""",
    "CREATE TRIGGER realmgate_revocations_changed AFTER INSERT OR UPDATE OR DELETE"
    " ON realmgate_revocations FOR EACH ROW EXECUTE FUNCTION realmgate_count_change()",
    "CREATE TRIGGER realmgate_revocations_truncated AFTER TRUNCATE"
    " ON realmgate_revocations FOR EACH STATEMENT EXECUTE FUNCTION realmgate_count_change()",
)

MIGRATIONS: dict[int, tuple[str, ...]] = {1: _V1, 2: _V2}
"""Target version → the statements that take the schema there from the version before."""

Connection = psycopg.Connection[tuple[Any, ...]]


def schema_version(conn: Connection) -> int | None:
    """The stored version, or None if the registry tables do not exist yet."""
    row = conn.execute("SELECT to_regclass('realmgate_schema_version')").fetchone()
    if row is None or row[0] is None:
        return None
    row = conn.execute("SELECT MAX(version) FROM realmgate_schema_version").fetchone()
    return None if row is None or row[0] is None else int(row[0])


def _too_new(version: int) -> RegistryError:
    return RegistryError(
        "RG5002E",
        detail=f"schema version {version} is not supported by this realmgate (it supports "
        f"version {SCHEMA_VERSION}); use a matching realmgate release",
    )


def check(conn: Connection) -> int | None:
    """The stored version if this realmgate can use it as is; RG5002E if it is newer."""
    version = schema_version(conn)
    if version is not None and version > SCHEMA_VERSION:
        raise _too_new(version)
    return version


def migrate(conn: Connection) -> tuple[int, int]:
    """Bring the schema to :data:`SCHEMA_VERSION`; return (version before, version after).

    ``conn`` must be in autocommit mode; the work is one transaction of its own."""
    current = check(conn)
    if current == SCHEMA_VERSION:
        return current, current  # the common case: no lock, no transaction
    # The lock is taken before the transaction starts, not inside it: starting a transaction
    # makes the session process catalog invalidations, so the version re-read below sees the
    # tables another node committed while this one waited (waiting on an advisory lock inside
    # a transaction would leave its cached "no such table" in place).
    conn.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
    try:
        with conn.transaction():
            before = check(conn) or 0  # re-read: another node may have migrated meanwhile
            for target in range(before + 1, SCHEMA_VERSION + 1):
                for statement in MIGRATIONS[target]:
                    conn.execute(statement.encode())
                conn.execute("UPDATE realmgate_schema_version SET version = %s", (target,))
    finally:
        if not conn.broken:
            conn.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))
    return before, SCHEMA_VERSION


def parse_payload(payload: str, schema: str) -> int | None:
    """The counter a notification carries if it is about ``schema``'s registry, else None."""
    where, _, counter = payload.rpartition(" ")
    return int(counter) if where == schema and counter.isdigit() else None


def current_schema(conn: Connection) -> str:
    row = conn.execute("SELECT current_schema()").fetchone()
    return str(row[0]) if row and row[0] is not None else ""


def read_counter(conn: Connection) -> int:
    row = conn.execute("SELECT value FROM realmgate_meta WHERE key = 'change_counter'").fetchone()
    return int(row[0]) if row else 0
