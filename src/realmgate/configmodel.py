"""The configuration as immutable objects. ``realmgate.config`` builds them from TOML.

Everything here is frozen: a running verifier holds one :class:`Config` snapshot and a reload
builds a whole new one and swaps it in, so no request ever sees half a change.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from realmgate.keys.material import VerificationKey

DEFAULT_CLOCK_SKEW = 300
DEFAULT_MAX_TOKEN_BYTES = 16 * 1024


def _empty_map() -> Mapping[str, Any]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Location:
    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True, slots=True)
class FilterCondition:
    kind: str
    """remote_address, request_url, host, user_agent, request_header, cookie."""
    match: str
    """equals, contains, not_contains, greater_than, less_than."""
    value: str | None
    """The pattern; ``|`` separates alternatives for contains/not_contains. None for
    request_header with presence-only test."""
    name: str | None = None
    """Header or cookie name, for request_header and cookie."""
    location: Location | None = None


@dataclass(frozen=True, slots=True)
class AuthFilterSpec:
    id: str
    conditions: tuple[FilterCondition, ...]
    location: Location | None = None


@dataclass(frozen=True, slots=True)
class RemoteKeySettings:
    """Caching and safety limits for jwks_uri / discovery sources (issue 3)."""

    cache_min: float = 60.0
    cache_max: float = 24 * 3600.0
    default_ttl: float = 600.0
    unknown_kid_cooldown: float = 30.0
    max_stale: float = 24 * 3600.0
    timeout: float = 5.0
    max_response_bytes: int = 512 * 1024
    allow_insecure_http: bool = False


class Secret:
    """A secret value whose ``repr``/``str`` never reveal it (config objects get logged)."""

    __slots__ = ("_value",)

    def __init__(self, value: bytes) -> None:
        self._value = value

    def reveal(self) -> bytes:
        return self._value

    def __len__(self) -> int:
        return len(self._value)

    def __repr__(self) -> str:
        return f"Secret(<{len(self._value)} bytes>)"

    __str__ = __repr__


@dataclass(frozen=True, slots=True)
class ClientDefinition:
    """One trusted-client definition (``[[client]]``), Liberty's openidConnectClient."""

    id: str
    issuers: tuple[str, ...]
    algorithms: tuple[str, ...]
    location: Location
    audiences: tuple[str, ...] | None = None
    """None: not configured (no check, ``check`` warns). Empty never happens."""
    audiences_any: bool = False
    """True when the configuration says ``audiences = "any"``: the check is skipped on purpose."""
    clock_skew: int = DEFAULT_CLOCK_SKEW
    max_age: int | None = None
    required_claims: tuple[str, ...] = ()
    user_claim: str = "sub"
    realm: str | None = None
    realm_claim: str = "realm"
    map_to_registry_user: bool = False
    header: str | None = None
    """Custom header carrying the token; None means ``Authorization: Bearer``."""
    token_reuse: bool = True
    auth_filter: str | None = None
    use_issuer: bool | None = None
    allow_issuer_selection: bool = False
    # key sources (exactly one of trust_store / jwks_uri / discovery; shared secret may join)
    trust_store: str | None = None
    trust_store_password_env: str | None = None
    trust_alias: str | None = None
    jwks_uri: str | None = None
    discovery: str | bool | None = None
    shared_secret_env: str | None = None
    remote: RemoteKeySettings = field(default_factory=RemoteKeySettings)
    static_keys: tuple[VerificationKey, ...] = ()
    """Keys loaded at configuration time from the trust store and the shared secret."""
    shared_secret: Secret | None = None
    replay_unavailable: str = "refuse"
    lines: Mapping[str, int] = field(default_factory=_empty_map)
    """Line of each setting in the file, for messages."""

    def line_of(self, key: str) -> int:
        return self.lines.get(key, self.location.line)


@dataclass(frozen=True, slots=True)
class LocalIssuer:
    """A token issuer this instance signs for (``[[issuer]]``): used by the server's
    ``/v1/token``, ``/jwks.json`` and discovery publishing, and by the demo."""

    id: str
    issuer: str
    key: str
    """Path of the private key (PEM or PKCS#12)."""
    algorithm: str
    location: Location
    kid: str | None = None
    key_password_env: str | None = None
    key_alias: str | None = None
    ttl: int = 600
    audiences: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RegistrySettings:
    path: str | None = None
    """SQLite file (the embedded default)."""
    url: str | None = None
    """e.g. ``postgresql://…`` (issue 8)."""


@dataclass(frozen=True, slots=True)
class Limits:
    max_token_bytes: int = DEFAULT_MAX_TOKEN_BYTES
    max_header_bytes: int = 16 * 1024
    max_body_bytes: int = 64 * 1024
    verified_cache_entries: int = 10_000
    verified_cache_bytes: int = 32 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Config:
    path: str
    clients: tuple[ClientDefinition, ...]
    filters: Mapping[str, AuthFilterSpec] = field(default_factory=_empty_map)
    issuers: tuple[LocalIssuer, ...] = ()
    registry: RegistrySettings = field(default_factory=RegistrySettings)
    limits: Limits = field(default_factory=Limits)
    discovery_allow: tuple[str, ...] = ()
    """Issuers (exact) or host patterns (``*.example.com``) for which discovery may be
    used by verify_jwt / verify_jwt_using_discovery (issue 3)."""
    trace_spec: str = "*=info"
    sections: Mapping[str, Mapping[str, Any]] = field(default_factory=_empty_map)
    """Raw tables for surfaces that parse their own section (``server``, ``replay``…)."""
    files: tuple[str, ...] = ()
    """Every file this configuration was read from (config, includes, trust stores), for
    live reload to watch."""

    def client(self, client_id: str) -> ClientDefinition | None:
        for definition in self.clients:
            if definition.id == client_id:
                return definition
        return None
