"""The identity registry: where (user, realm) → local user mappings are stored.

:func:`open_registry` turns the ``[registry]`` settings into a store. SQLite (a file next to
the configuration) is the default; PostgreSQL (``url = "postgresql://…"``, psycopg 3, the
``postgres`` extra) lets several nodes share one registry (issue 8).
"""

from __future__ import annotations

from pathlib import Path

from realmgate.configmodel import RegistrySettings
from realmgate.errors import RegistryError
from realmgate.registry.base import (
    ANY,
    REVOCATION_KINDS,
    IdentityRegistry,
    MappingRule,
    Revocation,
    RevocationList,
    validate_rule,
)
from realmgate.registry.dn import is_dn, normalize_user_filter, split_dn
from realmgate.registry.sqlite import SQLiteRegistry

DEFAULT_REGISTRY_FILE = "realmgate-registry.db"
_SQLITE_URL = "sqlite:///"

__all__ = [
    "ANY",
    "DEFAULT_REGISTRY_FILE",
    "REVOCATION_KINDS",
    "IdentityRegistry",
    "MappingRule",
    "Revocation",
    "RevocationList",
    "SQLiteRegistry",
    "is_dn",
    "normalize_user_filter",
    "open_registry",
    "split_dn",
    "validate_rule",
]


def _sqlite_path(url: str) -> str:
    # SQLAlchemy's convention: sqlite:///relative.db and sqlite:////absolute.db.
    path = url[len(_SQLITE_URL) :].split("?", 1)[0]
    if not path:
        raise RegistryError("RG5002E", detail=f"registry url {url!r} names no file")
    return path


def _open_postgres(url: str, *, listen: bool) -> IdentityRegistry:
    try:
        from realmgate.registry.postgres import PostgresRegistry
    except ImportError:
        # Never echo the URL: it may carry a password.
        raise RegistryError(
            "RG5002E",
            detail="the PostgreSQL registry needs the psycopg package: "
            "pip install 'realmgate[postgres]'",
        ) from None
    return PostgresRegistry(url, listen=listen)


def open_registry(
    settings: RegistrySettings, base_dir: Path, *, listen: bool = True, create: bool = True
) -> IdentityRegistry:
    """Open the registry the settings describe. Relative paths are relative to ``base_dir``
    (the configuration file's directory), so a configuration works from any working
    directory. ``listen``: a PostgreSQL registry follows other nodes' changes with a
    listener thread; one-shot commands pass False and ask the database instead.
    ``create=False`` (read-only commands): a missing SQLite file is RG5002E, not a new empty
    registry."""
    if settings.path and settings.url:
        raise RegistryError(
            "RG5002E", detail="the registry settings give both path and url; keep one"
        )
    if settings.url:
        url = settings.url
        scheme = url.split(":", 1)[0].lower() if ":" in url else ""
        if url[: len(_SQLITE_URL)].lower() == _SQLITE_URL:
            location = _sqlite_path(url)
        elif scheme in ("postgresql", "postgres"):
            return _open_postgres(url, listen=listen)
        else:
            raise RegistryError(
                "RG5002E",
                detail=f"registry url scheme {scheme!r} is not supported "
                "(use sqlite:///PATH or a path)",
            )
    else:
        location = settings.path or DEFAULT_REGISTRY_FILE
    path = Path(location).expanduser()
    if not path.is_absolute():
        path = base_dir / path
    return SQLiteRegistry(path, create=create)
