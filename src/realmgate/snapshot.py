"""The verifier's immutable working state, built once per configuration.

A snapshot holds the configuration, the compiled filters and selector, and one key source
per definition. Reload builds a new snapshot and swaps the reference: a verification in
flight finishes on the snapshot it started with.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from realmgate.configmodel import ClientDefinition, Config
from realmgate.filters import CompiledFilter, compile_filter
from realmgate.keys.jwk import secret_key
from realmgate.keys.material import HMAC_ALGS
from realmgate.keys.source import KeySource, StaticKeySource
from realmgate.select import Selector

if TYPE_CHECKING:
    from realmgate.compiled import DefinitionPlan

_generations = itertools.count(1)


@dataclass(frozen=True, slots=True, eq=False)
class Snapshot:
    config: Config
    selector: Selector
    key_sources: Mapping[str, KeySource]
    unusable: Mapping[str, str] = field(default_factory=dict)
    """Definition id → why it has no key source (reported as RG3007E when used)."""
    generation: int = 0
    """Changes with every snapshot; caches keyed on it die with it."""
    plans: dict[str, DefinitionPlan] = field(default_factory=dict, init=False, repr=False)
    """Definition id → its compiled plan (``realmgate.compiled``), made on first use. Not
    copied by ``dataclasses.replace``: a derived view compiles its own."""


def static_source(definition: ClientDefinition) -> KeySource | None:
    keys = list(definition.static_keys)
    parts: list[str] = []
    if definition.trust_store:
        alias = f" alias {definition.trust_alias!r}" if definition.trust_alias else ""
        parts.append(f"trust store {definition.trust_store}{alias}")
    if definition.shared_secret is not None:
        hs = frozenset(a for a in definition.algorithms if a in HMAC_ALGS)
        keys.append(
            secret_key(
                definition.shared_secret.reveal(),
                f"shared secret from ${definition.shared_secret_env}",
                algorithms=hs,
            )
        )
        parts.append(f"shared secret ${definition.shared_secret_env}")
    if not keys:
        return None
    return StaticKeySource(keys, " + ".join(parts), pinned=definition.trust_alias is not None)


def remote_source(definition: ClientDefinition, previous: Snapshot | None) -> KeySource:
    """JWKS / discovery sources live in ``realmgate.keys.remote`` (loaded on demand so the
    core has no HTTP dependency at import time)."""
    from realmgate.keys.remote import build_remote_source

    reuse = previous.key_sources.get(definition.id) if previous else None
    return build_remote_source(definition, reuse)


def build_snapshot(config: Config, previous: Snapshot | None = None) -> Snapshot:
    filters: dict[str, CompiledFilter] = {
        fid: compile_filter(spec) for fid, spec in config.filters.items()
    }
    sources: dict[str, KeySource] = {}
    unusable: dict[str, str] = {}
    for definition in config.clients:
        if definition.jwks_uri or definition.discovery:
            try:
                sources[definition.id] = remote_source(definition, previous)
            except ImportError:
                unusable[definition.id] = "remote key sources (JWKS, discovery) are not installed"
            continue
        source = static_source(definition)
        if source is None:
            unusable[definition.id] = "no trust store keys and no shared secret"
        else:
            sources[definition.id] = source
    return Snapshot(
        config, Selector(config.clients, filters), sources, unusable, next(_generations)
    )
