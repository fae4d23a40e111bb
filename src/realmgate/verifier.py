"""The engine: a token (and optionally its request) in, a :class:`Decision` out.

Pipeline: extract → select → keys → jws → claims → mapping. Every stage raises a typed
:class:`~realmgate.errors.TokenRefused` with a catalogue id; this module turns that into a
refusal Decision carrying what was known so far (definition, issuer, key id…) and the trace.
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

from realmgate.claims import check_claims
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
from realmgate.extract import extract_token, location_name
from realmgate.jws import ParsedJWS, parse_compact, verify_signature
from realmgate.mapping import IdentityMapper
from realmgate.registry import IdentityRegistry, open_registry
from realmgate.replay import MemoryReplayStore, ReplayStore
from realmgate.replay_redis import ReplayStoreUnavailable, ReplayUnavailable, unavailable_outcome
from realmgate.request import RequestInfo
from realmgate.revocation import check_revocation, uses_registry
from realmgate.snapshot import Snapshot, build_snapshot
from realmgate.trace import Trace, TraceLevel
from realmgate.tracespec import FINE, FINEST

if TYPE_CHECKING:
    from realmgate.modes import ApiModes, Plan

log = logging.getLogger("realmgate.decision")

IGNORED_HEADERS = ("jku", "x5u", "jwk", "x5c")
MAX_KEYS_TRIED = 8


def token_hash(token: str) -> str:
    """Short stable identifier of a token for logs and decisions (never the token)."""
    return hashlib.sha256(token.encode(errors="replace")).hexdigest()[:12]


class _Context:
    """What is known so far about the token being verified, for a refusal Decision."""

    __slots__ = ("alg", "claims", "client_id", "issuer", "key_id", "realm", "subject")

    def __init__(self) -> None:
        self.client_id: str | None = None
        self.issuer: str | None = None
        self.subject: str | None = None
        self.realm: str | None = None
        self.key_id: str | None = None
        self.alg: str | None = None
        self.claims: dict[str, Any] | None = None


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
        trace = Trace(TraceLevel.FULL if explain else self.trace_level)
        return self._run(token, request, None, None, default_issuer, trace)

    def verify_request(self, request: RequestInfo, *, explain: bool = False) -> Decision:
        """Find the token in ``request`` (as the definitions say) and verify it."""
        trace = Trace(TraceLevel.FULL if explain else self.trace_level)
        snapshot = self._snapshot
        ctx = _Context()
        try:
            accepted, reasons = snapshot.selector.accepting(request)
            if not accepted:
                trace.add("select", "filters", "fail", reasons=reasons)
                raise TokenRefused("RG2004E", reasons="; ".join(reasons))
            token, location = self._extract(request, accepted, trace)
        except TokenRefused as exc:
            return self._refusal(exc, ctx, trace, None)
        return self._run(token, request, location, accepted, None, trace)

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
        self, request: RequestInfo, accepted: list[ClientDefinition], trace: Trace
    ) -> tuple[str, str]:
        locations: dict[str, str | None] = {}
        for definition in accepted:
            locations.setdefault(location_name(definition.header), definition.header)
        first_error: TokenRefused | None = None
        for name, header in locations.items():
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
        raise InvalidToken("RG1001E", detail="looked in header(s) " + ", ".join(locations))

    def _run(
        self,
        token: str,
        request: RequestInfo | None,
        location: str | None,
        candidates: list[ClientDefinition] | None,
        default_issuer: str | None,
        trace: Trace,
        plan: Callable[[Snapshot, _Context], Plan] | None = None,
    ) -> Decision:
        ctx = _Context()
        snapshot = self._snapshot
        try:
            if plan is not None:  # verify API modes: choose definition and keys first
                snapshot, candidates = plan(snapshot, ctx)
            decision = self._decide(
                snapshot, token, request, location, candidates, default_issuer, trace, ctx
            )
        except TokenRefused as exc:
            return self._refusal(exc, ctx, trace, token)
        except RegistryError as exc:
            return self._refusal(exc, ctx, trace, token)
        except Exception as exc:  # fail closed, never a traceback to the caller
            log.exception("internal error verifying token %s", token_hash(token))
            fault = TokenRefused("RG9001S", during="verifying a token", detail=type(exc).__name__)
            return self._refusal(fault, ctx, trace, token, status=500)
        if log.isEnabledFor(FINE):
            self._log(decision)
        return decision

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
    ) -> Decision:
        parsed = parse_compact(token, snapshot.config.limits.max_token_bytes)
        claims = parsed.claims
        ctx.alg, ctx.key_id, ctx.claims = parsed.alg, parsed.kid, claims
        if trace.full:
            trace.add("jws", "header", "info", header=dict(parsed.header))
            trace.add("jws", "claims", "info", claims=dict(claims))
        ignored = [h for h in IGNORED_HEADERS if h in parsed.header]
        if ignored:
            trace.add(
                "jws",
                "header",
                "info",
                ignored=ignored,
                reason="key-locating headers are never trusted",
            )

        iss = claims.get("iss")
        if iss is None:
            if default_issuer is None:
                raise TokenRefused("RG2002E")
            iss = default_issuer
            trace.add("select", "issuer", "info", default_issuer=iss)
        elif not isinstance(iss, str):
            raise ClaimRefused("RG4007E", claim="iss", detail=f"{type(iss).__name__}, not a string")
        ctx.issuer = iss
        if candidates is not None:
            candidates = [d for d in snapshot.selector.by_issuer.get(iss, []) if d in candidates]
        definition = snapshot.selector.select(iss, request, location, trace, candidates)
        ctx.client_id = definition.id

        self._verify_signature(snapshot, definition, parsed, trace, ctx)
        exp = check_claims(definition, claims, self._clock(), trace)
        self._check_revoked(snapshot, definition, iss, claims, trace, ctx)  # issue 8
        if not definition.token_reuse:
            self._check_replay(definition, iss, claims, exp, trace)

        user = claims.get(definition.user_claim)
        if not isinstance(user, str) or not user:
            trace.add("mapping", "user_claim", "fail", claim=definition.user_claim)
            raise ClaimRefused("RG4014E", claim=definition.user_claim, client=definition.id)
        ctx.subject = user
        realm, realm_source = _realm_of(definition, claims, iss)
        ctx.realm = realm
        trace.add("mapping", "realm", "info", realm=realm, source=realm_source)
        if definition.map_to_registry_user:
            local_user, rule = user, None
            trace.add(
                "mapping",
                "identity",
                "pass",
                local_user=user,
                reason="map_to_registry_user: the user claim is the local user",
            )
        else:
            result = self.mapper.resolve(user, realm)
            for attempt in result.tried:
                if trace.full or attempt.matched:
                    trace.add(
                        "mapping",
                        "filter",
                        "pass" if attempt.matched else "skip",
                        user_filter=attempt.user_filter,
                        realm_filter=attempt.realm_filter,
                        why=attempt.why,
                    )
            if result.local_user is None:
                tried = [f"({a.user_filter!r}, {a.realm_filter!r})" for a in result.tried]
                raise IdentityNotMapped(
                    "RG5001E",
                    user=user,
                    realm=realm,
                    tried=", ".join(tried),
                    realm_source=realm_source,
                )
            local_user = result.local_user
            rule = result.rule
        trace.add("decision", "accepted", "pass", client=definition.id, local_user=local_user)
        return Decision(
            accepted=True,
            client_id=definition.id,
            issuer=iss,
            subject=user,
            realm=realm,
            local_user=local_user,
            claims=claims,
            key_id=ctx.key_id,
            algorithm=parsed.alg,
            status=200,
            realm_source=realm_source,
            mapping_rule=(f"user={rule.user!r} realm={rule.realm!r}" if rule else None),
            token_hash=token_hash(token),
            expires_at=exp,
            trace=trace.steps(),
        )

    def _verify_signature(
        self,
        snapshot: Snapshot,
        definition: ClientDefinition,
        parsed: ParsedJWS,
        trace: Trace,
        ctx: _Context,
    ) -> None:
        alg = parsed.alg
        if alg not in definition.algorithms:
            trace.add("keys", "algorithm", "fail", alg=alg, allowed=list(definition.algorithms))
            raise InvalidToken(
                "RG3001E", client=definition.id, alg=alg, allowed=list(definition.algorithms)
            )
        trace.add("keys", "algorithm", "pass", alg=alg)
        source = snapshot.key_sources.get(definition.id)
        if source is None:
            raise InvalidToken(
                "RG3007E",
                client=definition.id,
                alg=alg,
                detail=snapshot.unusable.get(definition.id, "no key source"),
            )
        lookup = source.lookup(parsed.kid, alg, parsed.x5t)
        usable = [k for k in lookup.keys if alg in k.algorithms]
        if not usable:
            trace.add(
                "keys",
                "lookup",
                "fail",
                kid=parsed.kid,
                source=lookup.source,
                available=list(lookup.available),
            )
            if lookup.keys:
                key = lookup.keys[0]
                raise InvalidToken(
                    "RG3003E", kid=key.label(), client=definition.id, kty=key.kty, alg=alg
                )
            raise InvalidToken(
                "RG3002E",
                client=definition.id,
                kid=parsed.kid,
                alg=alg,
                source=lookup.source,
                available=list(lookup.available),
            )
        tried: list[str] = []
        for key in usable[:MAX_KEYS_TRIED]:
            tried.append(key.label())
            if verify_signature(parsed, key):
                ctx.key_id = parsed.kid or key.label()
                trace.add(
                    "jws",
                    "signature",
                    "pass",
                    alg=alg,
                    key=key.label(),
                    fingerprint=key.fingerprint,
                    source=key.source,
                    stale=lookup.stale,
                )
                return
            trace.add("jws", "signature", "fail", alg=alg, key=key.label(), source=key.source)
        shown = usable[0]
        raise InvalidToken(
            "RG3004E",
            client=definition.id,
            alg=alg,
            kid=parsed.kid or shown.label(),
            source=lookup.source,
            tried="" if len(tried) == 1 else f" (keys tried: {', '.join(tried)})",
        )

    # --- issue 8: shared state across nodes (revocation list, shared replay store) ----------
    def _check_revoked(
        self,
        snapshot: Snapshot,
        definition: ClientDefinition,
        iss: str,
        claims: dict[str, Any],
        trace: Trace,
        ctx: _Context,
    ) -> None:
        """RG8510E if the registry's revocation list names the token's jti, subject or key
        id (see realmgate.revocation); RG5002E if the list cannot be read (fail closed)."""
        if uses_registry(snapshot.config, definition):
            registry = self.mapper.registry
            check_revocation(registry, iss, claims, definition.user_claim, ctx.key_id, trace)

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
            claims=ctx.claims or {},
            key_id=ctx.key_id,
            algorithm=ctx.alg,
            message_id=exc.message_id,
            reason=exc.text,
            status=status or _status_for(exc),
            token_hash=token_hash(token) if token else None,
            trace=trace.steps(),
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
