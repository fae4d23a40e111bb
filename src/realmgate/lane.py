"""The fast lane: a unique token's accept path in C (issue 5).

``realmgate._speedups.fast_verify`` parses, selects by issuer, checks the algorithm, the
signature and the claims of a token exactly as the pipeline's stages would for a token they
accept, then (for the usual definitions) the revocation list, the realm and the identity
mapping, and builds the accepted :class:`~realmgate.decision.Decision` itself. Anything
else it declines: None (the reference pipeline, ``realmgate.reference.decide``, then decides and
explains), or, once the signature is settled, the front half's values (the verifier's
Python stages take over from there, so a signature is never verified twice).

Why C: with the pipeline in Python, a unique token cost 13.9 µs against a 2.0 µs HMAC floor
(6.8x) and 34 µs against a 20 µs RSA floor (1.7x) on the benchmark machine (2-core EPYC,
CPython 3.11, 2026-11-23), and mypyc-compiling it reached only 5.5x for HS256. The targets
are 3x and 1.25x; ``benchmarks/results-*.md`` has the figures with this module.

What C needs is a :class:`LaneState` per (configuration snapshot, cache, registry), built
here once: the issuer table with each definition's checks as plain values, and the Python
callables it calls (key lookup, signature, revocation, mapping), which are the reference's
own. Without the compiled module (no C compiler at install time) :data:`fast_verify` is
None and every token goes the reference way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from realmgate.acceptance import accept, chosen_steps
from realmgate.claims import passed_steps
from realmgate.compiled import bad_signature, mapped_steps, plan_for, signature_steps
from realmgate.decision import Decision
from realmgate.errors import RealmgateError
from realmgate.jws import ParsedJWS, header_cache
from realmgate.mapping import lookup_order
from realmgate.registry.base import ANY
from realmgate.results import Known, failed, log_cache, log_if_fine
from realmgate.snapshot import Snapshot
from realmgate.trace import Trace, TraceLevel, TraceStep
from realmgate.tracespec import FINE

if TYPE_CHECKING:
    from realmgate.mapping import IdentityMapper
    from realmgate.revocation import RevocationChecker
    from realmgate.tokencache import VerifiedTokenCache
    from realmgate.verifier import Verifier

FastVerify = Callable[[str, tuple[Any, ...]], Any]

fast_verify: FastVerify | None
lane_entry: Callable[[Any, object], Any]
"""``lane_entry(verifier, token)``: Verifier.verify's unique-token path in one call
(``_speedups_entry.c``); :data:`UNHANDLED` when verify must take its usual way."""
UNHANDLED: object
FastMethod: Callable[[Callable[..., Any], Callable[..., Any], Callable[..., Any], type], Any] | None
"""Verifier.verify's C wrapper for calls of exactly (verifier, token): see
``_speedups_entry.c``; None without the compiled module."""
try:
    from realmgate._speedups import UNHANDLED, FastMethod, lane_entry
    from realmgate._speedups import fast_verify as _compiled
except ImportError:  # pragma: no cover - exercised where the extension is not built
    fast_verify = FastMethod = None
    UNHANDLED = object()

    def lane_entry(verifier: Any, token: object) -> Any:
        return UNHANDLED

else:
    fast_verify = _compiled

__all__ = [
    "UNHANDLED",
    "FastMethod",
    "LaneRecord",
    "after_front",
    "build_state",
    "fast_verify",
    "lane_entry",
    "state_for",
]

LaneState = tuple[Any, ...]
"""What ``_speedups.fast_verify`` reads (the order is the C code's ``S_*`` indices)."""

_REVOCATION_PASSED = TraceStep("revocation", "list", "pass", {})


class LaneRecord(tuple):  # type: ignore[type-arg]
    """The trace of a token the lane accepted, kept as the values its steps are made from
    (built in C: one tuple instead of a :class:`~realmgate.trace.Trace` and its records).
    :meth:`steps` gives exactly the steps the reference records for the same token at
    ``TraceLevel.STEPS``, made once (kept in the instance's ``__dict__``, which exists only
    once they are made: no ``__slots__`` on purpose)."""

    _steps: tuple[TraceStep, ...]

    def steps(self) -> tuple[TraceStep, ...]:
        made = self.__dict__.get("_steps")
        if made is None:
            made = self._steps = self._make()
        return made

    def _make(self) -> tuple[TraceStep, ...]:
        (selector, definition, iss, alg, lookup, failed, key, claims, now, revoked, mapper,
         rules, user, realm, realm_source) = self  # fmt: skip
        out = [selector.chosen_step(definition, iss)]
        out += signature_steps(alg, lookup, failed, key)
        out += passed_steps(definition, claims, now)
        if revoked:
            out.append(_REVOCATION_PASSED)
        out += mapped_steps(mapper, rules, user, realm, realm_source, definition.id, False)
        return tuple(out)


def build_state(
    snapshot: Snapshot,
    trace_level: TraceLevel,
    clock: Callable[[], float],
    cache: VerifiedTokenCache,
    mapper: IdentityMapper | None,
    revocations: Callable[[], RevocationChecker],
) -> LaneState:
    """The lane's view of one snapshot. Only issuers whose definition the selector picks
    without looking at the request, and that have a key source, are in its table; the
    others go the reference way. ``mapper`` is None until the reference opened the
    registry (opening it can wait on a lock for seconds, which the reference reports):
    until then the lane stops after the claims for definitions that need it, and
    ``revocations`` (the registry's checker) is called only with a mapper."""
    issuers: dict[str, tuple[Any, ...]] = {}
    selector = snapshot.selector
    for iss in selector.quick_issuers():
        definition = selector.quick(iss, None, None)
        if definition is None:
            continue
        plan = plan_for(snapshot, definition)
        if plan.keys is None:
            continue
        audiences = definition.audiences
        # Replay protection and a full trace stay in Python: the lane stops at the claims.
        finish: tuple[Any, ...] | None = None
        registry_ready = mapper is not None or not (
            plan.revocation or not definition.map_to_registry_user
        )
        if definition.token_reuse and trace_level < TraceLevel.FULL and registry_ready:
            the_mapper = None if definition.map_to_registry_user else mapper
            checker = revocations() if plan.revocation else None
            finish = (
                definition,
                definition.id,
                definition.user_claim,
                definition.realm,
                definition.realm_claim,
                f"claim:{definition.realm_claim}",
                the_mapper,
                None if the_mapper is None else the_mapper.match,
                None if the_mapper is None else the_mapper.clock,
                lookup_order,
                ANY,
                checker,
                None if checker is None else checker.find,
                None if checker is None else checker.clock,
            )
        issuers[iss] = (
            plan,
            frozenset(definition.algorithms),
            plan.keys.get,
            float(definition.clock_skew),
            None if definition.max_age is None else float(definition.max_age),
            not definition.audiences_any,
            None if audiences is None else frozenset(audiences),
            tuple(definition.required_claims),
            finish,
            plan.keys.memo if plan.keys.static else None,
            [None, None],  # the last (header, keys) answer, written by C
        )
    return (
        snapshot.config.limits.max_token_bytes,
        header_cache,
        issuers,
        clock,
        ParsedJWS,
        Decision,
        LaneRecord,
        selector,
        int(trace_level),
        cache.doorkeeper.state,
        [None, None, None, None],  # the last (header segment, header, iss, entry), by C
        log_cache,
        FINE,
    )


def state_for(
    verifier: Verifier, snapshot: Snapshot, mapper: IdentityMapper | None
) -> LaneState | None:
    """The lane's state for ``verifier`` on ``snapshot``; None (the lane off) without the
    compiled module, or if its revocation checker cannot be made: the reference then
    refuses with the reason. ``mapper`` is None until the reference opened the registry."""
    if fast_verify is None:
        return None
    try:
        return build_state(
            snapshot,
            verifier.trace_level,
            verifier.clock,
            verifier.token_cache,
            mapper,
            verifier.revocations,
        )
    except RealmgateError:
        return None


def after_front(
    verifier: Verifier, snapshot: Snapshot | None, token: str, front: tuple[Any, ...]
) -> Decision:
    """The Python stages after the lane's front half: a signature no key verified
    (RG3004E), a key lookup that raised, or a token C handed over after its claims.
    ``snapshot`` is the one the lane's state was made from."""
    assert snapshot is not None  # a lane with a state has its snapshot
    plan, parsed, lookup, tried, key, exp, now = front
    definition = plan.definition
    claims = parsed.claims
    iss = claims["iss"]
    trace = Trace(verifier.trace_level)
    if trace.level and key is None:
        trace.records += (chosen_steps, 3, snapshot.selector, definition, iss)
    elif trace.level:  # the records reference.decide writes for the same stages
        trace.records += (
            chosen_steps,
            3,
            snapshot.selector,
            definition,
            iss,
            signature_steps,
            4,
            parsed.alg,
            lookup,
            tried,
            key,
            passed_steps,
            3,
            definition,
            claims,
            now,
        )
    known = Known()
    try:
        if lookup is None:  # the key lookup raised: as check_signature lets it
            trace.add("keys", "algorithm", "pass", alg=parsed.alg)
            raise tried
        if key is None:  # every usable key tried, none verified: the reference's RG3004E
            raise bad_signature(definition, parsed, lookup, tried, trace)
        decision = accept(
            verifier, snapshot, plan, parsed, key, iss, exp, token, trace, known, True
        )
    except Exception as exc:  # as in Verifier._run: a later stage's refusal, or a fault
        known.alg, known.claims, known.issuer = parsed.alg, claims, iss
        known.client_id = definition.id
        known.key_id = parsed.kid if key is None else parsed.kid or key.label()
        return failed(exc, known, trace, token)
    log_if_fine(decision)
    return decision
