"""``realmgate registry migrate``: bring the registry's schema to this release's version.

Every realmgate applies pending migrations when it opens the registry; running them
explicitly first (before rolling out nodes of a new release, or with a database account that
may alter the schema while the nodes' account may not) keeps that out of node start-up.
Also the shared helper that opens the registry named on the command line or in the
configuration, used by ``realmgate revoke`` too.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from realmgate.cli.common import add_config_argument, config_from_args
from realmgate.configmodel import RegistrySettings
from realmgate.errors import UsageError
from realmgate.registry import IdentityRegistry, open_registry

_URL_SCHEMES = ("postgresql://", "postgres://", "sqlite:///")


def add_registry_arguments(parser: argparse.ArgumentParser, *, suppress: bool = False) -> None:
    """``--registry`` and ``--config``. ``suppress``: for a sub-subcommand, so its unset
    options do not overwrite those given before the subcommand name."""
    default = argparse.SUPPRESS if suppress else None
    parser.add_argument(
        "--registry",
        metavar="PATH|URL",
        default=default,
        help="SQLite file, or a postgresql:// URL (without a password: use PGPASSWORD or "
        "~/.pgpass; a command line is visible to other users). Default: the configuration's "
        "[registry]",
    )
    if not suppress:
        add_config_argument(parser)
        return
    parser.add_argument(
        "--config",
        "-c",
        default=argparse.SUPPRESS,
        metavar="FILE",
        help="configuration file (default: $REALMGATE_CONFIG or ./realmgate.toml)",
    )


def open_from_args(args: argparse.Namespace, *, create: bool) -> IdentityRegistry:
    """The registry named by ``--registry``, else the configuration's ``[registry]``. One-shot
    commands follow no changes, so a PostgreSQL registry is opened without its listener."""
    registry = getattr(args, "registry", None)
    if registry:
        if getattr(args, "config", None):
            raise UsageError("RG0001E", detail="give --registry or --config, not both")
        if registry.lower().startswith(_URL_SCHEMES):
            return open_registry(RegistrySettings(url=registry), Path.cwd(), listen=False)
        from realmgate.registry import SQLiteRegistry

        return SQLiteRegistry(registry, create=create)
    config = config_from_args(args)
    return open_registry(config.registry, Path(config.path).parent, listen=False, create=create)


def describe(registry: IdentityRegistry) -> str:
    target = getattr(registry, "target", None) or getattr(registry, "path", None)
    return str(target) if target is not None else repr(registry)


def register(sub: Any) -> None:
    group = sub.add_parser(
        "registry",
        help="maintain the identity registry (schema migrations)",
        description="Maintain the identity registry (SQLite file or PostgreSQL database).",
    )
    commands = group.add_subparsers(dest="registry_command", metavar="SUBCOMMAND")
    migrate = commands.add_parser(
        "migrate",
        help="apply pending schema migrations (nodes also do this when they start)",
        description="Bring the registry's schema to the version this realmgate uses. Safe "
        "to run while nodes are serving and on several machines at once: concurrent runs "
        "serialise and each step is applied once.",
    )
    add_registry_arguments(migrate)
    migrate.set_defaults(func=_migrate)
    group.set_defaults(func=lambda args: _usage(group))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _migrate(args: argparse.Namespace) -> int:
    registry = open_from_args(args, create=True)  # opening applies the migrations
    try:
        migrated = getattr(registry, "migrated", None)
        where = describe(registry)
    finally:
        registry.close()
    if not migrated:
        print(f"Registry {where}: schema is current.")
    elif migrated[0] == migrated[1]:
        print(f"Registry {where}: schema version {migrated[1]}, already current.")
    elif migrated[0] == 0:
        print(f"Registry {where}: schema created at version {migrated[1]}.")
    else:
        print(f"Registry {where}: schema migrated from version {migrated[0]} to {migrated[1]}.")
    return 0
