"""Configuration lint: settings that load but are probably not what the operator meant.

Warnings only (RG605xW); a configuration that cannot be used at all is refused earlier, by
:mod:`realmgate.config`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from realmgate.configmodel import ClientDefinition, Config
from realmgate.errors import RealmgateError
from realmgate.filters import CompiledCondition, CompiledFilter, compile_filter
from realmgate.keys.jwk import secret_fingerprint

MAX_QUIET_SKEW = 300
MIN_RSA_BITS = 2048
_HMAC_BYTES = {"HS256": 32, "HS384": 48, "HS512": 64}
_SPACE = {4: (1 << 32) - 1, 6: (1 << 128) - 1}

Intervals = dict[int, list[tuple[int, int]]]
"""IP version → sorted, disjoint, inclusive integer ranges."""


def lint(config: Config) -> list[RealmgateError]:
    """Every warning for a loaded configuration, definition by definition, then the
    warnings that involve several definitions."""
    warnings: list[RealmgateError] = []
    for definition in config.clients:
        warnings.extend(_definition_warnings(definition))
    warnings.extend(_overlaps(config))
    warnings.extend(_shared_keys(config.clients))
    return warnings


def _definition_warnings(d: ClientDefinition) -> Iterator[RealmgateError]:
    if d.auth_filter is None and d.audiences_any:
        yield RealmgateError("RG6052W", client=d.id)
    if d.audiences is None and not d.audiences_any:
        yield RealmgateError("RG6056W", client=d.id)
    if d.clock_skew > MAX_QUIET_SKEW:
        yield RealmgateError("RG6055W", client=d.id, skew=d.clock_skew)
    if d.shared_secret is not None:
        # One warning, for the strongest HS algorithm the secret is too short for.
        short = [a for a in d.algorithms if len(d.shared_secret) < _HMAC_BYTES.get(a, 0)]
        if short:
            alg = max(short, key=lambda a: _HMAC_BYTES[a])
            need = _HMAC_BYTES[alg]
            yield RealmgateError("RG6053W", client=d.id, env=d.shared_secret_env,
                                 length=len(d.shared_secret), bits=need * 8, alg=alg,
                                 min_bytes=need)  # fmt: skip
    for key in d.static_keys:
        if key.kty == "RSA" and key.bits is not None and key.bits < MIN_RSA_BITS:
            yield RealmgateError("RG6054W", client=d.id, kid=key.label(), bits=key.bits)


def _shared_keys(clients: Iterable[ClientDefinition]) -> Iterator[RealmgateError]:
    """A key in several definitions whose issuers differ. One definition listing several
    issuers is a deliberate choice and not reported."""
    holders: dict[str, list[ClientDefinition]] = {}
    for d in clients:
        prints = [k.fingerprint for k in d.static_keys]
        if d.shared_secret is not None:
            prints.append(secret_fingerprint(d.shared_secret.reveal()))
        for fingerprint in dict.fromkeys(prints):
            holders.setdefault(fingerprint, []).append(d)
    for fingerprint, definitions in holders.items():
        issuers = list(dict.fromkeys(i for d in definitions for i in d.issuers))
        if len(definitions) > 1 and len(issuers) > 1:
            yield RealmgateError("RG6051W", fingerprint=fingerprint,
                                 issuers=", ".join(repr(i) for i in issuers))  # fmt: skip


# --- overlapping definitions ----------------------------------------------------------


def _overlaps(config: Config) -> Iterator[RealmgateError]:
    compiled = {fid: compile_filter(spec) for fid, spec in config.filters.items()}
    clients = config.clients
    for i, first in enumerate(clients):
        for second in clients[i + 1 :]:
            shared = [iss for iss in first.issuers if iss in second.issuers]
            if not shared:
                continue
            a = compiled.get(first.auth_filter) if first.auth_filter else None
            b = compiled.get(second.auth_filter) if second.auth_filter else None
            if not provably_disjoint(a, b):
                yield RealmgateError("RG6050W", clients=f"{first.id!r}, {second.id!r}",
                                     iss=shared[0], first=first.id)  # fmt: skip


def provably_disjoint(a: CompiledFilter | None, b: CompiledFilter | None) -> bool:
    """True only when no request can satisfy both filters (None accepts everything)."""
    if a is None or b is None or a is b:
        return False
    if _addresses_disjoint(a, b):
        return True
    return any(
        x.kind != "remote_address"
        and (x.kind, x.name) == (y.kind, y.name)
        and (_contradict(x, y) or _contradict(y, x))
        for x in a.conditions
        for y in b.conditions
    )


def _contradict(x: CompiledCondition, y: CompiledCondition) -> bool:
    """Can no value satisfy both ``x`` and ``y`` (same kind and name)?"""
    positive = ("equals", "contains")
    if x.value is None:  # presence test: not_contains None demands absence
        return x.match == "not_contains" and y.match in positive
    if y.value is None:
        return False
    if x.match == "equals":
        if y.match == "equals":
            return x.value != y.value
        hit = any(alt in x.value for alt in y.alternatives)
        return not hit if y.match == "contains" else hit
    if x.match == "contains" and y.match == "not_contains":
        return all(any(bad in alt for bad in y.alternatives) for alt in x.alternatives)
    return False


def _addresses_disjoint(a: CompiledFilter, b: CompiledFilter) -> bool:
    set_a, positive_a = _address_set(a)
    set_b, positive_b = _address_set(b)
    # Without a positive condition, a request with no known address passes both.
    if not (positive_a or positive_b):
        return False
    both = _intersect(set_a, set_b)
    return not any(both.values())


def _address_set(f: CompiledFilter) -> tuple[Intervals, bool]:
    current: Intervals = {v: [(0, top)] for v, top in _SPACE.items()}
    positive = False
    for c in f.conditions:
        if c.kind != "remote_address":
            continue
        matched: Intervals = {4: [], 6: []}
        if c.match in ("equals", "contains", "not_contains"):
            for r in c.ranges:
                matched[r.version].append((r.low, r.high))
        else:
            r = c.ranges[0]
            if c.match == "greater_than" and r.high < _SPACE[r.version]:
                matched[r.version].append((r.high + 1, _SPACE[r.version]))
            if c.match == "less_than" and r.low > 0:
                matched[r.version].append((0, r.low - 1))
        matched = {v: _merge(spans) for v, spans in matched.items()}
        if c.match == "not_contains":
            matched = {v: _complement(spans, _SPACE[v]) for v, spans in matched.items()}
        else:
            positive = True
        current = _intersect(current, matched)
    return current, positive


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for low, high in sorted(spans):
        if merged and low <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(high, merged[-1][1]))
        else:
            merged.append((low, high))
    return merged


def _complement(spans: list[tuple[int, int]], top: int) -> list[tuple[int, int]]:
    result: list[tuple[int, int]] = []
    start = 0
    for low, high in spans:
        if low > start:
            result.append((start, low - 1))
        start = high + 1
    if start <= top:
        result.append((start, top))
    return result


def _intersect(a: Intervals, b: Intervals) -> Intervals:
    result: Intervals = {}
    for version in _SPACE:
        out: list[tuple[int, int]] = []
        for low_a, high_a in a.get(version, []):
            for low_b, high_b in b.get(version, []):
                low, high = max(low_a, low_b), min(high_a, high_b)
                if low <= high:
                    out.append((low, high))
        result[version] = _merge(out)
    return result
