"""The engine: a token (and optionally its request) in, a :class:`Decision` out.

Pipeline: extract → select → keys → jws → claims → mapping, in ``realmgate.reference``.
Every stage raises a typed :class:`~realmgate.errors.TokenRefused` with a catalogue id,
which ``realmgate.results`` turns into a refusal Decision carrying what was known so far
(definition, issuer, key id…) and the trace. The stages after the claims (revocation,
replay, mapping, the accepted Decision) are ``realmgate.acceptance``; the verify API modes
are ``realmgate.verify_modes``.

Speed (issue 5, figures in ``benchmarks/results-2026-12-04b.md``): a token already accepted
is answered from the verified-token cache (``realmgate.tokencache``) after the checks that
keep that correct; a new one goes through the fast lane (``realmgate.lane``: its accept
path in C, reached from ``verify(token)`` without an interpreter frame), which hands
anything it is not certain of to the reference stages, run on the definition's compiled
plan (``realmgate.compiled``) with passing stages recorded as lazy trace records, expanded
only when ``Decision.trace`` is read.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from realmgate.configmodel import ClientDefinition, Config
from realmgate.decision import Decision
from realmgate.errors import TokenRefused
from realmgate.extract import extract_token
from realmgate.lane import (
    UNHANDLED,
    FastMethod,
    LaneState,
    after_front,
    fast_verify,
    lane_entry,
    state_for,
)
from realmgate.mapping import IdentityMapper
from realmgate.reference import decide, extract_first
from realmgate.registry import IdentityRegistry, open_registry
from realmgate.replay import MemoryReplayStore, ReplayStore
from realmgate.request import RequestInfo
from realmgate.results import (
    Known,
    exception_for,
    failed,
    log,
    log_cache,
    log_decision,
    refusal,
    token_hash,
)
from realmgate.revocation import RevocationChecker, checker_for
from realmgate.snapshot import Snapshot, build_snapshot
from realmgate.tokencache import CacheEntry, VerifiedTokenCache, serve
from realmgate.trace import Trace, TraceLevel
from realmgate.tracespec import FINE
from realmgate.verify_modes import VerifyModes

if TYPE_CHECKING:
    from realmgate.modes import ApiModes, Plan

__all__ = ["Verifier", "token_hash"]


class Verifier(VerifyModes):
    """Verify tokens against a configuration.

    ``config`` is a :class:`~realmgate.configmodel.Config` or a path to a TOML file.
    The registry (for identity mapping) is opened from the configuration on first use
    unless one is given. Thread-safe: a verification works on one immutable snapshot.
    """

    def __init__(
        self,
        config: Config | str | Path,
        *,
        registry: IdentityRegistry | None = None,
        replay_store: ReplayStore | None = None,
        clock: Callable[[], float] = time.time,
        trace_level: TraceLevel = TraceLevel.STEPS,
    ) -> None:
        if not isinstance(config, Config):
            from realmgate.config import load_config

            config = load_config(config)
        self._clock = clock
        self.trace_level = trace_level
        self._registry = registry
        self._mapper: IdentityMapper | None = None
        self._mapper_lock = threading.Lock()
        self.replay_store: ReplayStore = replay_store or MemoryReplayStore()
        self._snapshot: Snapshot = build_snapshot(config)
        self._modes: ApiModes | None = None  # verify API modes (issue 3), made on first use
        limits = config.limits
        self.token_cache = VerifiedTokenCache(
            limits.verified_cache_entries, limits.verified_cache_bytes
        )
        self._revocations: RevocationChecker | None = None
        self._lane: _Lane = _NO_LANE
        """(snapshot, cache, mapper, the fast lane's state for them), remade when one of
        them changes (the mapper: once the registry is opened). Whatever changes the
        snapshot or the mapper resets it to ``_NO_LANE``; the cache, a public attribute,
        lane_entry compares itself."""

    # -- configuration -------------------------------------------------------------------
    @property
    def config(self) -> Config:
        return self._snapshot.config

    @property
    def snapshot(self) -> Snapshot:
        return self._snapshot

    def reload(self, config: Config | str | Path) -> Config:
        """Swap in a new configuration. On any problem the old one stays (ConfigError)."""
        if not isinstance(config, Config):
            from realmgate.config import load_config

            config = load_config(config)
        self._snapshot = build_snapshot(config, previous=self._snapshot)
        # Entries of the old snapshot could no longer be served (their stamp differs):
        # drop them now rather than let them age out.
        limits = config.limits
        if (self.token_cache.max_entries, self.token_cache.max_bytes) != (
            limits.verified_cache_entries,
            limits.verified_cache_bytes,
        ):
            self.token_cache = VerifiedTokenCache(
                limits.verified_cache_entries, limits.verified_cache_bytes
            )
        else:
            self.token_cache.clear()
        self._lane = _NO_LANE  # lane_entry trusts a lane it finds: made again on next use
        return config

    @property
    def mapper(self) -> IdentityMapper:
        if self._mapper is None:
            with self._mapper_lock:
                if self._mapper is None:
                    if self._registry is None:
                        cfg = self._snapshot.config
                        self._registry = open_registry(cfg.registry, Path(cfg.path).parent)
                    self._mapper = IdentityMapper(self._registry)
                    self._lane = _NO_LANE
        return self._mapper

    # -- public verification API ---------------------------------------------------------
    def verify(
        self,
        token: str,
        request: RequestInfo | None = None,
        *,
        explain: bool = False,
        default_issuer: str | None = None,
    ) -> Decision:
        """Verify ``token``; ``request`` (if given) is what the auth filters look at."""
        if not explain:
            # A token never seen, on a current lane: one C call (realmgate.lane).
            front = lane_entry(self, token)
            if type(front) is Decision:
                return front
            if front is not UNHANDLED:
                return self._entered(token, request, default_issuer, front)
        return self._verify_usual(token, request, explain, default_issuer)

    def _verify_usual(
        self,
        token: str,
        request: RequestInfo | None,
        explain: bool,
        default_issuer: str | None,
    ) -> Decision:
        """:meth:`verify` for what :func:`~realmgate.lane.lane_entry` left to it (a token
        the cache may hold, a lane to remake, an explanation asked for, not a str)."""
        if not explain and type(token) is str:
            cache = self.token_cache
            # A token the doorkeeper never marked cannot be cached: no 850-character hash.
            entry = None if cache.unseen(token) else cache.get(token)
            if entry is not None:
                hit = self._from_cache(token, entry, request, None, None)
                if hit is not None:
                    return hit
            # The fast lane, inline: a method call is a tenth of what it adds to a token.
            lane = self._lane
            if (
                lane[0] is not self._snapshot
                or lane[1] is not self.token_cache
                or lane[2] is not self._mapper
            ):
                lane = self._new_lane()
            state = lane[3]
            if state is not None:
                assert fast_verify is not None  # a state is made only with the lane built
                front = fast_verify(token, state)
                if type(front) is Decision:  # accepted, every stage done in C
                    if log_cache.get(FINE) is not False and log.isEnabledFor(FINE):
                        log_decision(front)
                    return front
                if front is not None:
                    return after_front(self, lane[0], token, front)
        trace = Trace(TraceLevel.FULL if explain else self.trace_level)
        return self._run(token, request, None, None, default_issuer, trace, cache=not explain)

    def _entered(
        self,
        token: str,
        request: RequestInfo | None,
        default_issuer: str | None,
        front: tuple[Any, ...] | None,
    ) -> Decision:
        """What :func:`~realmgate.lane.lane_entry` answered other than a Decision: None (the
        reference decides), (decision,) to log, or (snapshot, front) for after_front."""
        if front is None:
            trace = Trace(self.trace_level)
            return self._run(token, request, None, None, default_issuer, trace, cache=True)
        if len(front) == 1:
            decision: Decision = front[0]
            if log.isEnabledFor(FINE):
                log_decision(decision)
            return decision
        return after_front(self, front[0], token, front[1])

    def verify_request(self, request: RequestInfo, *, explain: bool = False) -> Decision:
        """Find the token in ``request`` (as the definitions say) and verify it."""
        snapshot = self._snapshot
        selector = snapshot.selector
        if not explain and selector.single_location is not None:
            # One place to look and no filter: a cache hit needs no trace (0.6 µs of the
            # 3 µs of a hit through this method); anything else goes the normal way.
            try:
                token = extract_token(request, selector.single_location[1])
            except TokenRefused:
                token = None
            entry = None if token is None else self.token_cache.get(token)
            if token is not None and entry is not None:
                location = selector.single_location[0]
                hit = self._from_cache(token, entry, request, location, None)
                if hit is not None:
                    return hit
            if token is not None and fast_verify is not None:
                fast = self._fast(token, request)
                if fast is not None:
                    return fast
        trace = Trace(TraceLevel.FULL if explain else self.trace_level)
        ctx = Known()
        try:
            accepted, reasons = selector.accepting(request)
            if not accepted:
                trace.add("select", "filters", "fail", reasons=reasons)
                raise TokenRefused("RG2004E", reasons="; ".join(reasons))
            locations = selector.locations if not reasons else selector.locations_of(accepted)
            token, location = extract_first(request, locations, trace)
        except TokenRefused as exc:
            return refusal(exc, ctx, trace, None)
        # Every definition accepted the request: selection is unrestricted (None), which
        # lets it skip comparing the candidates one by one.
        candidates = accepted if reasons else None
        if not explain:
            entry = self.token_cache.get(token)
            if entry is not None:
                hit = self._from_cache(token, entry, request, location, candidates)
                if hit is not None:
                    return hit
        return self._run(token, request, location, candidates, None, trace, cache=not explain)

    def verify_or_raise(
        self, token: str, request: RequestInfo | None = None, *, default_issuer: str | None = None
    ) -> Decision:
        """Like :meth:`verify` but raise the typed refusal (its ``decision`` attribute set)."""
        decision = self.verify(token, request, default_issuer=default_issuer)
        if not decision.accepted:
            raise exception_for(decision)
        return decision

    async def verify_async(
        self, token: str, request: RequestInfo | None = None, *, explain: bool = False
    ) -> Decision:
        """Async form. Verification is CPU-bound and short, so it runs inline on the event
        loop; only a key fetch it needs is awaited, through the async HTTP client (see
        ``realmgate.keys.jwkscache.run_inline``)."""
        from realmgate.keys.jwkscache import run_inline

        return await run_inline(functools.partial(self.verify, token, request, explain=explain))

    # -- the pipeline ----------------------------------------------------------------------

    def _run(
        self,
        token: str,
        request: RequestInfo | None,
        location: str | None,
        candidates: list[ClientDefinition] | None,
        default_issuer: str | None,
        trace: Trace,
        plan: Callable[[Snapshot, Known], Plan] | None = None,
        *,
        cache: bool = False,
    ) -> Decision:
        ctx = Known()
        snapshot = self._snapshot
        try:
            if plan is not None:  # verify API modes: choose definition and keys first
                snapshot, candidates = plan(snapshot, ctx)
                cache = False  # a derived snapshot and another selection: never cached
            decision = decide(
                self,
                snapshot,
                token,
                request,
                location,
                candidates,
                default_issuer,
                trace,
                ctx,
                cache,
            )
        except Exception as exc:
            return failed(exc, ctx, trace, token)
        if log_cache.get(FINE) is not False and log.isEnabledFor(FINE):
            log_decision(decision)
        return decision

    def _new_lane(self) -> _Lane:
        snapshot, cache, mapper = self._snapshot, self.token_cache, self._mapper
        state = None if fast_verify is None else state_for(self, snapshot, mapper)
        lane = self._lane = (snapshot, cache, mapper, state)
        if self._snapshot is not snapshot or self._mapper is not mapper:
            # reload() or the registry's opening ran meanwhile and reset the lane before this
            # wrote it: lane_entry, which checks only the cache, must not find this one.
            self._lane = _NO_LANE
        return lane

    def _fast(self, token: str, request: RequestInfo | None) -> Decision | None:
        """The fast lane (realmgate.lane): the Decision when C accepted the token, or the
        Python stages' after C settled its signature and claims; None when the reference
        must decide (the caller runs it)."""
        lane = self._lane
        if (
            lane[0] is not self._snapshot
            or lane[1] is not self.token_cache
            or lane[2] is not self._mapper
        ):
            lane = self._new_lane()
        state = lane[3]
        if state is None:
            return None
        assert fast_verify is not None  # a state is made only with the lane built
        front = fast_verify(token, state)
        if front is None:
            return None
        if type(front) is Decision:  # accepted, every stage done in C (admitted there too)
            if log_cache.get(FINE) is not False and log.isEnabledFor(FINE):
                log_decision(front)
            return front
        return after_front(self, lane[0], token, front)

    # -- the verified-token cache (issue 5; the rules are in realmgate.tokencache) -------------
    def cached(self, token: str) -> Decision | None:
        """The verified-token cache's answer for ``token`` (every check a hit makes), or None
        when :meth:`verify` must run. A hit never does I/O, so an async caller can take it
        without the inline-pass set-up a fetch would need."""
        cache = self.token_cache
        entry = None if cache.unseen(token) else cache.get(token)
        if entry is None:
            return None
        return self._from_cache(token, entry, None, None, None)

    def _from_cache(
        self,
        token: str,
        entry: CacheEntry,
        request: RequestInfo | None,
        location: str | None,
        candidates: list[ClientDefinition] | None,
    ) -> Decision | None:
        hit = serve(self, token, entry, request, location, candidates)
        if hit is not None and log_cache.get(FINE) is not False and log.isEnabledFor(FINE):
            log_decision(hit)
        return hit

    @property
    def clock(self) -> Callable[[], float]:
        return self._clock

    def revocations(self) -> RevocationChecker:
        """The registry's revocation checker, looked up once (``checker_for`` goes through
        a WeakKeyDictionary in Python: 0.18 µs per token)."""
        checker = self._revocations
        if checker is None:
            checker = self._revocations = checker_for(self.mapper.registry)
        return checker


_Lane = tuple[Snapshot | None, VerifiedTokenCache | None, IdentityMapper | None, LaneState | None]
_NO_LANE: _Lane = (None, None, None, None)

if FastMethod is not None:
    # verify(token) without an interpreter frame (_speedups_entry.c); every other call, and
    # help() and inspect.signature, still reach the method above.
    Verifier.verify = FastMethod(  # type: ignore[method-assign]
        Verifier.verify, Verifier._verify_usual, Verifier._entered, Decision
    )
