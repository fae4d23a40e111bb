"""The ``[server]``, ``[admin]`` and ``[demo]`` tables, validated like the rest of the config.

``realmgate.config`` passes these tables through as raw values (``Config.sections``); this
module reads them with the same :class:`~realmgate.configvalues.TableReader` the engine's
tables use, so a mistake here gets the same ``file:line`` message (RG6003E unknown key with a
did-you-mean, RG6004E wrong value…) and every problem is reported at once as a ConfigError.
The lines are recovered by re-scanning the configuration's TOML files in reading order: the
first file that sets a key is the one whose value is in force (an including file wins).
"""

from __future__ import annotations

import ipaddress
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from realmgate.configlines import LineMap
from realmgate.configmodel import Config
from realmgate.configvalues import Problems, Source, TableReader
from realmgate.errors import ConfigError

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

LOOPBACK = ("127.0.0.0/8", "::1/128")

SERVER_KEYS = (
    "host",
    "port",
    "trusted_proxies",
    "public_url",
    "publish_keys",
    "error_detail",
    "explain_from",
    "token_endpoint",
    "token_issuers_allowed_users",
    "request_timeout",
    "watch",
    "watch_interval",
    "access_log",
)
ADMIN_KEYS = ("enabled", "listen", "socket", "token_env")
DEMO_KEYS = ("host", "port")
ERROR_DETAILS = ("full", "id")


@dataclass(frozen=True, slots=True)
class ServerSettings:
    host: str = "127.0.0.1"
    port: int = 8080
    trusted_proxies: tuple[Network, ...] = ()
    """Peers whose X-Forwarded-* / X-Original-* headers are believed. Empty: nobody's."""
    public_url: str | None = None
    """Base URL this service is reached at, for the discovery document's ``jwks_uri``."""
    publish_keys: bool = True
    error_detail: str = "full"
    """``full``: the refusal text goes to the client; ``id``: only the message id."""
    explain_from: tuple[Network, ...] = ()
    token_endpoint: bool = False
    token_issuers_allowed_users: tuple[str, ...] = ()
    request_timeout: float = 10.0
    watch: bool = True
    watch_interval: float = 0.5
    access_log: bool = False


@dataclass(frozen=True, slots=True)
class AdminSettings:
    enabled: bool = False
    listen: tuple[str, int] | None = None
    socket: str | None = None
    token_env: str | None = None


@dataclass(frozen=True, slots=True)
class DemoSettings:
    host: str = "127.0.0.1"
    port: int = 8080


@dataclass(frozen=True, slots=True)
class SurfaceSettings:
    server: ServerSettings
    admin: AdminSettings
    demo: DemoSettings


class _Locator:
    """Finds the file and line of a key of a pass-through table."""

    def __init__(self, config: Config) -> None:
        self.sources: list[Source] = []
        names = list(config.files) or [config.path]
        for rank, name in enumerate(names):
            path = Path(name)
            if path.suffix != ".toml":
                continue  # trust stores and key files are listed too
            try:
                text = path.read_text(encoding="utf-8")
                tomllib.loads(text)
            except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
                continue
            shown = config.path if rank == 0 else name
            self.sources.append(Source(shown, path.parent, LineMap(text), rank))
        if not self.sources:
            self.sources.append(Source(config.path, Path(config.path).parent, LineMap(""), 0))

    def locate(self, table: str, key: str | None) -> tuple[Source, int]:
        header: tuple[Source, int] | None = None
        for source in self.sources:
            span = source.lines.table(table)
            present = any(s.path == (table,) for s in source.lines.spans)
            if key is not None and key in span.keys:
                return source, span.keys[key]
            if present and header is None:
                header = (source, span.line)
        return header or (self.sources[0], 1)


def _networks(reader: TableReader, key: str, default: tuple[str, ...]) -> tuple[Network, ...]:
    values = reader.strings(key)
    if values is None:
        values = () if reader.has(key) else default
    out: list[Network] = []
    for value in values:
        try:
            out.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError:
            reader.bad(key, f"{value!r} is not an IP address or CIDR network (e.g. 10.0.0.0/8)")
    return tuple(out)


def _port(reader: TableReader, key: str, default: int) -> int:
    value = reader.integer(key, default, minimum=0)
    if value is not None and value > 65535:
        reader.bad(key, f"must be at most 65535, found {value}")
        return default
    return default if value is None else value


def _server(reader: TableReader) -> ServerSettings:
    detail = reader.string("error_detail", "full") or "full"
    if detail not in ERROR_DETAILS:
        reader.bad("error_detail", f"expected one of {', '.join(ERROR_DETAILS)}, found {detail!r}")
        detail = "full"
    public_url = reader.string("public_url")
    if public_url is not None and not public_url.startswith(("http://", "https://")):
        reader.bad("public_url", f"expected an http:// or https:// URL, found {public_url!r}")
        public_url = None
    token_endpoint = reader.boolean("token_endpoint", False)
    allowed = reader.strings("token_issuers_allowed_users") or ()
    if token_endpoint and not reader.has("token_issuers_allowed_users"):
        reader.problem(
            "RG8005E",
            "token_endpoint",
            detail="token_endpoint = true needs token_issuers_allowed_users (the local users "
            "whose verified bearer tokens may call POST /v1/token)",
        )
    return ServerSettings(
        host=reader.string("host", "127.0.0.1") or "127.0.0.1",
        port=_port(reader, "port", 8080),
        trusted_proxies=_networks(reader, "trusted_proxies", ()),
        public_url=public_url.rstrip("/") if public_url else None,
        publish_keys=reader.boolean("publish_keys", True),
        error_detail=detail,
        explain_from=_networks(reader, "explain_from", LOOPBACK),
        token_endpoint=token_endpoint,
        token_issuers_allowed_users=allowed,
        request_timeout=reader.number("request_timeout", 10.0),
        watch=reader.boolean("watch", True),
        watch_interval=reader.number("watch_interval", 0.5),
        access_log=reader.boolean("access_log", False),
    )


def _admin(reader: TableReader) -> AdminSettings:
    enabled = reader.boolean("enabled", False)
    listen_text = reader.string("listen")
    socket = reader.string("socket")
    token_env = reader.string("token_env")
    listen: tuple[str, int] | None = None
    if listen_text is not None:
        host, sep, port = listen_text.rpartition(":")
        if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
            reader.bad("listen", f"expected HOST:PORT (e.g. 127.0.0.1:9090), found {listen_text!r}")
        else:
            listen = (host.strip("[]") or "127.0.0.1", int(port))
    if enabled and not reader.failed:
        if (listen is None) == (socket is None):
            reader.problem(
                "RG8005E", "enabled", detail="the admin listener needs exactly one of listen "
                "(HOST:PORT) and socket (a unix socket path)"
            )  # fmt: skip
        if token_env is None:
            reader.problem(
                "RG8005E", "enabled", detail="the admin listener needs token_env, the "
                "environment variable holding the admin bearer token"
            )  # fmt: skip
    return AdminSettings(enabled, listen, socket, token_env)


def _demo(reader: TableReader) -> DemoSettings:
    return DemoSettings(
        host=reader.string("host", "127.0.0.1") or "127.0.0.1", port=_port(reader, "port", 8080)
    )


def surface_settings(config: Config) -> SurfaceSettings:
    """Read and check ``[server]``, ``[admin]`` and ``[demo]``; raise ConfigError listing every
    problem (the previous configuration, if any, stays in force)."""
    locator = _Locator(config)
    problems = Problems()

    def reader(name: str, known: tuple[str, ...]) -> TableReader:
        data: Mapping[str, Any] = config.sections.get(name, {})
        return TableReader(
            data, f"[{name}]", problems, lambda key: locator.locate(name, key), known
        )

    server = _server(reader("server", SERVER_KEYS))
    admin = _admin(reader("admin", ADMIN_KEYS))
    demo = _demo(reader("demo", DEMO_KEYS))
    if len(problems):
        raise ConfigError(config.path, problems.sorted())
    return SurfaceSettings(server, admin, demo)
