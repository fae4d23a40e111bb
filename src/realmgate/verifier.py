"""The engine: a token (and optionally its request) in, a :class:`Decision` out.

Pipeline: extract → select → keys → jws → claims → mapping. Every stage raises a typed
:class:`~realmgate.errors.TokenRefused` with a catalogue id; this module turns that into a
refusal Decision carrying what was known so far (definition, issuer, key id…) and the trace.

Speed (issue 5, figures in ``benchmarks/results-2026-11-23.md``): a token already accepted
is answered from the verified-token cache (``realmgate.tokencache``) after the checks that
keep that correct; a new one runs the stages on the definition's compiled plan
(``realmgate.compiled``: prepared keys, claim checks as one closure) and records passing
stages as lazy trace records, expanded only when ``Decision.trace`` is read.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from realmgate.claims import check_claims, passed_steps
from realmgate.compiled import (
    DefinitionPlan,
    bad_signature,
    check_signature,
    mapped_steps,
    plan_for,
    signature_steps,
)
from realmgate.configmodel import ClientDefinition, Config
from realmgate.decision import Decision
from realmgate.errors import (
    ClaimRefused,
    IdentityNotMapped,
    InvalidToken,
    KeysUnavailable,
    NoDefinition,
    RealmgateError,
    RegistryError,
    TokenRefused,
)
from realmgate.extract import extract_token
from realmgate.jws import ParsedJWS, parse_compact
from realmgate.keys.material import VerificationKey
from realmgate.lane import LaneState, build_state, fast_verify
from realmgate.mapping import IdentityMapper
from realmgate.registry import IdentityRegistry, open_registry
from realmgate.replay import MemoryReplayStore, ReplayStore
from realmgate.replay_redis import ReplayStoreUnavailable, ReplayUnavailable, unavailable_outcome
from realmgate.request import RequestInfo
from realmgate.revocation import RevocationChecker, check_revocation, checker_for
from realmgate.snapshot import Snapshot, build_snapshot
from realmgate.tokencache import CacheEntry, VerifiedTokenCache, make_entry, serve
from realmgate.trace import Trace, TraceLevel, TraceStep
from realmgate.tracespec import FINE, FINEST

if TYPE_CHECKING:
    from realmgate.modes import ApiModes, Plan

log = logging.getLogger("realmgate.decision")
log_cache: dict[int, bool] = log._cache  # type: ignore[attr-defined]
"""``Logger.isEnabledFor``'s own memo (cleared by logging on every level change): a False in
it answers "not enabled" without the Python-level method call (0.4 µs per token)."""

_new = tuple.__new__
_sha256 = hashlib.sha256


def token_hash(token: str) -> str:
    """Short stable identifier of a token for logs and decisions (never the token)."""
    return hashlib.sha256(token.encode(errors="replace")).hexdigest()[:12]


class _Context:
    """What is known so far about the token being verified, for a refusal Decision.
    Class attributes are the defaults, so making one costs no attribute writes."""

    client_id: str | None = None
    issuer: str | None = None
    subject: str | None = None
    realm: str | None = None
    key_id: str | None = None
    alg: str | None = None
    claims: dict[str, Any] | None = None


def _status_for(exc: RealmgateError) -> int:
    if isinstance(exc, IdentityNotMapped):
        return 403
    if isinstance(exc, (KeysUnavailable, RegistryError, ReplayUnavailable)):
        return 503
    return 401


class Verifier:
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
        self._lane: _Lane = (None, None, None, None)
        """(snapshot, cache, mapper, the fast lane's state for them), remade when one of
        them changes (the mapper: once the registry is opened)."""

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
        if not explain and type(token) is str:
            entry = self.token_cache.get(token)
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
                        self._log(front)
                    return front
                if front is not None:
                    return self._after_front(lane[0], token, front)
        trace = Trace(TraceLevel.FULL if explain else self.trace_level)
        return self._run(token, request, None, None, default_issuer, trace, cache=not explain)

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
        ctx = _Context()
        try:
            accepted, reasons = selector.accepting(request)
            if not accepted:
                trace.add("select", "filters", "fail", reasons=reasons)
                raise TokenRefused("RG2004E", reasons="; ".join(reasons))
            locations = selector.locations if not reasons else selector.locations_of(accepted)
            token, location = self._extract(request, locations, trace)
        except TokenRefused as exc:
            return self._refusal(exc, ctx, trace, None)
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
            raise _exception_for(decision)
        return decision

    async def verify_async(
        self, token: str, request: RequestInfo | None = None, *, explain: bool = False
    ) -> Decision:
        """Async form. Verification is CPU-bound and short, so it runs inline on the event
        loop; only a key fetch it needs is awaited, through the async HTTP client (see
        ``realmgate.keys.jwkscache.run_inline``)."""
        from realmgate.keys.jwkscache import run_inline

        return await run_inline(functools.partial(self.verify, token, request, explain=explain))

    # -- the verify API modes (WebSphere's verifyJwt family; see realmgate.modes) ---------
    def verify_jwt(
        self, token: str, default_issuer: str | None = None, *, explain: bool = False
    ) -> Decision:
        """A definition chosen by issuer (``iss``, else ``default_issuer``); if none,
        discovery, but only for issuers allowed by ``[discovery] allow``."""
        return self._api("auto", token, default_issuer, None, explain)

    def verify_jwt_using_discovery(
        self, token: str, discovery_url: str | None = None, *, explain: bool = False
    ) -> Decision:
        """Discovery only: the URL derived from ``iss`` (allowed issuers only), or the given
        ``discovery_url``, whose document must name the token's issuer."""
        return self._api("discovery", token, None, discovery_url, explain)

    def verify_jwt_using_config(
        self, token: str, default_issuer: str | None = None, *, explain: bool = False
    ) -> Decision:
        """Configured definitions only, chosen by issuer (``use_issuer`` rules)."""
        return self._api("config", token, default_issuer, None, explain)

    def key_health(self) -> dict[str, list[dict[str, Any]]]:
        """Health of every remote key document (JWKS, discovery): status fresh, stale,
        degraded or failed, last success, last error, age; per definition id."""
        return self._api_modes().health(self._snapshot)

    def _api_modes(self) -> ApiModes:
        if self._modes is None:
            from realmgate.modes import ApiModes

            with self._mapper_lock:
                if self._modes is None:
                    self._modes = ApiModes()
        return self._modes

    def _api(
        self,
        mode: str,
        token: str,
        default_issuer: str | None,
        discovery_url: str | None,
        explain: bool,
    ) -> Decision:
        modes = self._api_modes()
        trace = Trace(TraceLevel.FULL if explain else self.trace_level)

        def plan(snapshot: Snapshot, ctx: _Context) -> Plan:
            return modes.plan(mode, token, default_issuer, discovery_url, snapshot, trace, ctx)

        return self._run(token, None, None, None, default_issuer, trace, plan)

    # -- the pipeline ----------------------------------------------------------------------
    def _extract(
        self, request: RequestInfo, locations: tuple[tuple[str, str | None], ...], trace: Trace
    ) -> tuple[str, str]:
        first_error: TokenRefused | None = None
        for name, header in locations:
            try:
                token = extract_token(request, header)
            except TokenRefused as exc:
                trace.add("extract", name, "fail", reason=exc.text)
                first_error = first_error or exc
                continue
            if token is not None:
                trace.add("extract", name, "pass", length=len(token))
                return token, name
            trace.add("extract", name, "skip", reason="header absent")
        if first_error is not None:
            raise first_error
        names = ", ".join(name for name, _ in locations)
        raise InvalidToken("RG1001E", detail="looked in header(s) " + names)

    def _run(
        self,
        token: str,
        request: RequestInfo | None,
        location: str | None,
        candidates: list[ClientDefinition] | None,
        default_issuer: str | None,
        trace: Trace,
        plan: Callable[[Snapshot, _Context], Plan] | None = None,
        *,
        cache: bool = False,
    ) -> Decision:
        ctx = _Context()
        snapshot = self._snapshot
        try:
            if plan is not None:  # verify API modes: choose definition and keys first
                snapshot, candidates = plan(snapshot, ctx)
                cache = False  # a derived snapshot and another selection: never cached
            decision = self._decide(
                snapshot, token, request, location, candidates, default_issuer, trace, ctx, cache
            )
        except Exception as exc:
            return self._failed(exc, ctx, trace, token)
        if log_cache.get(FINE) is not False and log.isEnabledFor(FINE):
            self._log(decision)
        return decision

    def _failed(self, exc: Exception, ctx: _Context, trace: Trace, token: str) -> Decision:
        """The refusal Decision for what a stage raised; anything unexpected fails closed
        (RG9001S, status 500, logged with its traceback), never a traceback to the caller."""
        if isinstance(exc, (TokenRefused, RegistryError)):
            return self._refusal(exc, ctx, trace, token)
        log.error("internal error verifying token %s", token_hash(token), exc_info=exc)
        fault = TokenRefused("RG9001S", during="verifying a token", detail=type(exc).__name__)
        return self._refusal(fault, ctx, trace, token, status=500)

    def _decide(
        self,
        snapshot: Snapshot,
        token: str,
        request: RequestInfo | None,
        location: str | None,
        candidates: list[ClientDefinition] | None,
        default_issuer: str | None,
        trace: Trace,
        ctx: _Context,
        cache: bool = False,
    ) -> Decision:
        parsed = parse_compact(token, snapshot.config.limits.max_token_bytes)
        claims = parsed.claims
        ctx.alg, ctx.key_id, ctx.claims = parsed.alg, parsed.kid, claims
        level = trace.level
        records = trace.records
        full = level >= TraceLevel.FULL
        if full:
            trace.add("jws", "header", "info", header=dict(parsed.header))
            trace.add("jws", "claims", "info", claims=dict(claims))
        if parsed.ignored:
            trace.add(
                "jws",
                "header",
                "info",
                ignored=list(parsed.ignored),
                reason="key-locating headers are never trusted",
            )

        iss = claims.get("iss")
        if iss is None:
            if default_issuer is None:
                raise TokenRefused("RG2002E")
            iss = default_issuer
            cache = False  # the answer depends on the caller's default, not the token alone
            trace.add("select", "issuer", "info", default_issuer=iss)
        elif type(iss) is not str:
            raise ClaimRefused("RG4007E", claim="iss", detail=f"{type(iss).__name__}, not a string")
        ctx.issuer = iss
        selector = snapshot.selector
        definition = None if full else selector.quick(iss, location, candidates)
        if definition is None:
            if candidates is not None:
                candidates = selector.among(iss, candidates)
            definition = selector.select(iss, request, location, trace, candidates)
        elif level:
            records += (_chosen_steps, 3, selector, definition, iss)
        ctx.client_id = definition.id
        plan = snapshot.plans.get(definition.id)
        if plan is None or plan.definition is not definition:
            plan = plan_for(snapshot, definition)

        key = check_signature(plan, snapshot, parsed, trace)
        ctx.key_id = parsed.kid or key.label()
        now = self._clock()
        exp = plan.claims(claims, now)
        if exp is None:  # not certainly valid: the reference decides, and explains
            exp = check_claims(definition, claims, now, trace)
        elif level:
            records += (passed_steps, 3, definition, claims, now)
        return self._accept(snapshot, plan, parsed, key, iss, exp, token, trace, ctx, cache)

    def _new_lane(self) -> _Lane:
        snapshot, cache, mapper = self._snapshot, self.token_cache, self._mapper
        lane = self._lane = (snapshot, cache, mapper, self._lane_state(snapshot, mapper))
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
                self._log(front)
            return front
        return self._after_front(lane[0], token, front)

    def _after_front(
        self, snapshot: Snapshot | None, token: str, front: tuple[Any, ...]
    ) -> Decision:
        """The Python stages after the lane's front half: a signature no key verified
        (RG3004E), a key lookup that raised, or a token C handed over after its claims.
        ``snapshot`` is the one the lane's state was made from."""
        assert snapshot is not None  # a lane with a state has its snapshot
        plan, parsed, lookup, failed, key, exp, now = front
        definition = plan.definition
        claims = parsed.claims
        iss = claims["iss"]
        trace = Trace(self.trace_level)
        if trace.level and key is None:
            trace.records += (_chosen_steps, 3, snapshot.selector, definition, iss)
        elif trace.level:  # the records _decide writes for the same stages
            trace.records += (
                _chosen_steps,
                3,
                snapshot.selector,
                definition,
                iss,
                signature_steps,
                4,
                parsed.alg,
                lookup,
                failed,
                key,
                passed_steps,
                3,
                definition,
                claims,
                now,
            )
        ctx = _Context()
        try:
            if lookup is None:  # the key lookup raised: as check_signature lets it
                trace.add("keys", "algorithm", "pass", alg=parsed.alg)
                raise failed
            if key is None:  # every usable key tried, none verified: the reference's RG3004E
                raise bad_signature(definition, parsed, lookup, failed, trace)
            decision = self._accept(snapshot, plan, parsed, key, iss, exp, token, trace, ctx, True)
        except Exception as exc:  # as in _run: a refusal from the later stages, or a fault
            ctx.alg, ctx.claims, ctx.issuer, ctx.client_id = parsed.alg, claims, iss, definition.id
            ctx.key_id = parsed.kid if key is None else parsed.kid or key.label()
            return self._failed(exc, ctx, trace, token)
        if log_cache.get(FINE) is not False and log.isEnabledFor(FINE):
            self._log(decision)
        return decision

    def _lane_state(self, snapshot: Snapshot, mapper: IdentityMapper | None) -> LaneState | None:
        """The fast lane's view of ``snapshot``; None (the lane off) without the compiled
        module, or if its revocation checker cannot be made: the reference then refuses
        with the reason. ``mapper`` is None until the reference opened the registry."""
        if fast_verify is None:
            return None
        try:
            return build_state(
                snapshot,
                self.trace_level,
                self._clock,
                self.token_cache,
                mapper,
                self.revocations,
            )
        except RealmgateError:
            return None

    def _accept(
        self,
        snapshot: Snapshot,
        plan: DefinitionPlan,
        parsed: ParsedJWS,
        key: VerificationKey,
        iss: str,
        exp: float,
        token: str,
        trace: Trace,
        ctx: _Context,
        cache: bool,
    ) -> Decision:
        """The stages after a good signature and good claims, for both paths: revocation,
        replay, mapping, the Decision (kept in the verified-token cache when it may be)."""
        definition = plan.definition
        claims = parsed.claims
        level = trace.level
        key_id = parsed.kid or key.label()
        store = cache and plan.cacheable and self.token_cache.admit(token)
        revocation: int | None = None
        if plan.revocation:  # issue 8: the registry's revocation list
            checker = self._revocations  # not "or": an empty checker is falsy (__len__)
            if checker is None:
                checker = self.revocations()
            if store:  # read before the check: a revocation racing it leaves the entry stale
                revocation = checker.generation()
            jti, subject = claims.get("jti"), claims.get(definition.user_claim)
            if checker.find(iss, jti=jti, subject=subject, kid=key_id) is not None:
                registry = self.mapper.registry
                check_revocation(
                    registry, iss, claims, definition.user_claim, key_id, trace, checker
                )
            if level:
                trace.records.append(("revocation", "list", "pass", {}))
        if not definition.token_reuse:
            self._check_replay(definition, iss, claims, exp, trace)

        user = claims.get(definition.user_claim)
        if type(user) is not str or not user:
            trace.add("mapping", "user_claim", "fail", claim=definition.user_claim)
            raise ClaimRefused("RG4014E", claim=definition.user_claim, client=definition.id)
        ctx.subject = user
        realm = definition.realm
        if realm is not None:
            realm_source = "definition"
        else:
            realm, realm_source = _realm_of(definition, claims, iss)
        ctx.realm = realm
        mapping: int | None = None
        if definition.map_to_registry_user:
            local_user, rule = user, None
            if level:
                trace.records += (
                    mapped_steps,
                    7,
                    None,
                    None,
                    user,
                    realm,
                    realm_source,
                    definition.id,
                    False,
                )
        else:
            mapper = self._mapper
            if mapper is None:
                mapper = self.mapper
            rule, rules = mapper.match(user, realm)
            if rule is None:
                raise self._unmapped(mapper, rules, user, realm, realm_source, trace)
            local_user, mapping = rule.local_user, rules.generation
            if level:
                trace.records += (
                    mapped_steps,
                    7,
                    mapper,
                    rules,
                    user,
                    realm,
                    realm_source,
                    definition.id,
                    level >= TraceLevel.FULL,
                )
        decision: Decision = _new(
            Decision,
            (
                True,
                definition.id,
                iss,
                user,
                realm,
                local_user,
                claims,  # Decision.claims shows it read-only: cache hits share it
                key_id,
                parsed.alg,
                None,
                None,
                200,
                realm_source,
                rule,
                parsed.raw,  # hashed when Decision.token_hash is read
                exp,
                trace,
                False,
            ),
        )
        if store:
            entry = make_entry(token, decision, snapshot, plan, parsed, key, mapping, revocation)
            self.token_cache.put(token, entry)
        return decision

    @staticmethod
    def _unmapped(
        mapper: IdentityMapper,
        rules: Any,
        user: str,
        realm: str,
        realm_source: str,
        trace: Trace,
    ) -> TokenRefused:
        result = mapper.resolve_in(rules, user, realm)
        trace.add("mapping", "realm", "info", realm=realm, source=realm_source)
        if trace.full:
            for attempt in result.tried:
                trace.add(
                    "mapping",
                    "filter",
                    "skip",
                    user_filter=attempt.user_filter,
                    realm_filter=attempt.realm_filter,
                    why=attempt.why,
                )
        return result.refusal(user, realm, realm_source)

    # -- the verified-token cache (issue 5; the rules are in realmgate.tokencache) -------------
    def cached(self, token: str) -> Decision | None:
        """The verified-token cache's answer for ``token`` (every check a hit makes), or None
        when :meth:`verify` must run. A hit never does I/O, so an async caller can take it
        without the inline-pass set-up a fetch would need."""
        entry = self.token_cache.get(token)
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
            self._log(hit)
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

    # --- issue 8: shared state across nodes (revocation list, shared replay store) ----------
    def _check_replay(
        self,
        definition: ClientDefinition,
        iss: str,
        claims: dict[str, Any],
        exp: float,
        trace: Trace,
    ) -> None:
        jti = claims.get("jti")
        if not isinstance(jti, str) or not jti:
            trace.add("claims", "jti", "fail", present=False)
            raise ClaimRefused("RG4013E", client=definition.id)
        try:
            first = self.replay_store.first_use(f"{iss}\x00{jti}", exp + definition.clock_skew)
        except ReplayStoreUnavailable as exc:  # a shared store (Redis) cannot be reached
            # replay_unavailable decides: "allow" → True with a trace warning; else RG8501E.
            first = unavailable_outcome(definition, iss, jti, exc, trace)
            if first:
                return
        if not first:
            trace.add("claims", "jti", "fail", jti=jti, replay=True)
            raise ClaimRefused("RG4012E", jti=jti, iss=iss, client=definition.id)
        trace.add("claims", "jti", "pass", jti=jti)

    # --- end of issue 8 ------------------------------------------------------------------------

    # -- results -----------------------------------------------------------------------------
    def _refusal(
        self,
        exc: RealmgateError,
        ctx: _Context,
        trace: Trace,
        token: str | None,
        status: int | None = None,
    ) -> Decision:
        trace.add("decision", "refused", "fail", message_id=exc.message_id)
        decision = Decision(
            accepted=False,
            client_id=ctx.client_id,
            issuer=ctx.issuer,
            subject=ctx.subject,
            realm=ctx.realm,
            claim_set=ctx.claims or {},
            key_id=ctx.key_id,
            algorithm=ctx.alg,
            message_id=exc.message_id,
            reason=exc.text,
            status=status or _status_for(exc),
            token_ref=token_hash(token) if token else None,
            recorded=trace,
        )
        if log.isEnabledFor(FINE):
            self._log(decision)
        return decision

    def _log(self, decision: Decision) -> None:
        fields = {
            "accepted": decision.accepted,
            "message_id": decision.message_id,
            "client": decision.client_id,
            "issuer": decision.issuer,
            "subject": decision.subject,
            "realm": decision.realm,
            "local_user": decision.local_user,
            "token_hash": decision.token_hash,
        }
        text = decision.reason or f"accepted as {decision.local_user!r} via {decision.client_id}"
        log.log(FINE, "%s", text, extra={"rg": fields})
        if log.isEnabledFor(FINEST):
            for step in decision.trace:
                log.log(FINEST, "%s", step.describe(), extra={"rg": {"step": step.to_dict()}})


_Lane = tuple[Snapshot | None, VerifiedTokenCache | None, IdentityMapper | None, LaneState | None]


def _chosen_steps(selector: Any, definition: ClientDefinition, iss: str) -> tuple[TraceStep]:
    return (selector.chosen_step(definition, iss),)


def _realm_of(definition: ClientDefinition, claims: dict[str, Any], iss: str) -> tuple[str, str]:
    if definition.realm is not None:
        return definition.realm, "definition"
    value = claims.get(definition.realm_claim)
    if isinstance(value, str) and value:
        return value, f"claim:{definition.realm_claim}"
    return iss, "iss"


def _exception_for(decision: Decision) -> TokenRefused:
    message_id = decision.message_id or "RG9001S"
    kinds: dict[str, type[TokenRefused]] = {
        "1": InvalidToken,
        "2": NoDefinition,
        "3": InvalidToken,
        "4": ClaimRefused,
        "7": InvalidToken,
    }
    kind = IdentityNotMapped if decision.status == 403 else kinds.get(message_id[2], TokenRefused)
    if decision.status == 503 and message_id.startswith("RG7"):
        kind = KeysUnavailable
    exc = kind(message_id)
    exc.text = decision.reason or exc.text
    exc.args = (exc.text,)
    exc.decision = decision
    return exc
