"""The stages after a good signature and good claims: the revocation list, replay of
``jti``, the realm, the identity mapping, and the accepted :class:`Decision` (kept in the
verified-token cache when it may be).

Both the reference pipeline (``realmgate.reference.decide``) and the fast lane's hand-over
(``realmgate.lane.after_front``) finish here, so a token gets the same answer whichever
way it came. The C lane (``_speedups.c: accept_token``) does the same for the usual
definitions and declines everything else to this module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from realmgate.compiled import DefinitionPlan, mapped_steps
from realmgate.configmodel import ClientDefinition
from realmgate.decision import Decision
from realmgate.errors import ClaimRefused, TokenRefused
from realmgate.jws import ParsedJWS
from realmgate.keys.material import VerificationKey
from realmgate.mapping import IdentityMapper
from realmgate.replay_redis import ReplayStoreUnavailable, unavailable_outcome
from realmgate.results import Known
from realmgate.revocation import check_revocation
from realmgate.snapshot import Snapshot
from realmgate.tokencache import make_entry
from realmgate.trace import Trace, TraceLevel, TraceStep

if TYPE_CHECKING:
    from realmgate.verifier import Verifier

_new = tuple.__new__


def accept(
    verifier: Verifier,
    snapshot: Snapshot,
    plan: DefinitionPlan,
    parsed: ParsedJWS,
    key: VerificationKey,
    iss: str,
    exp: float,
    token: str,
    trace: Trace,
    known: Known,
    cache: bool,
) -> Decision:
    """The accepted Decision for a token whose signature and claims hold, or the refusal
    of a later stage raised (revoked, replayed, no user claim, not mapped)."""
    definition = plan.definition
    claims = parsed.claims
    level = trace.level
    key_id = parsed.kid or key.label()
    store = cache and plan.cacheable and verifier.token_cache.admit(token)
    revocation: int | None = None
    if plan.revocation:  # issue 8: the registry's revocation list
        checker = verifier.revocations()
        if store:  # read before the check: a revocation racing it leaves the entry stale
            revocation = checker.generation()
        jti, subject = claims.get("jti"), claims.get(definition.user_claim)
        if checker.find(iss, jti=jti, subject=subject, kid=key_id) is not None:
            registry = verifier.mapper.registry
            check_revocation(registry, iss, claims, definition.user_claim, key_id, trace, checker)
        if level:
            trace.records.append(("revocation", "list", "pass", {}))
    if not definition.token_reuse:
        check_replay(verifier, definition, iss, claims, exp, trace)

    user = claims.get(definition.user_claim)
    if type(user) is not str or not user:
        trace.add("mapping", "user_claim", "fail", claim=definition.user_claim)
        raise ClaimRefused("RG4014E", claim=definition.user_claim, client=definition.id)
    known.subject = user
    realm, realm_source = realm_of(definition, claims, iss)
    known.realm = realm
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
        mapper = verifier.mapper
        rule, rules = mapper.match(user, realm)
        if rule is None:
            raise unmapped(mapper, rules, user, realm, realm_source, trace)
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
        verifier.token_cache.put(token, entry)
    return decision


def realm_of(definition: ClientDefinition, claims: dict[str, Any], iss: str) -> tuple[str, str]:
    """(realm, where it came from): the definition's, else the realm claim, else ``iss``."""
    if definition.realm is not None:
        return definition.realm, "definition"
    value = claims.get(definition.realm_claim)
    if isinstance(value, str) and value:
        return value, f"claim:{definition.realm_claim}"
    return iss, "iss"


def unmapped(
    mapper: IdentityMapper,
    rules: Any,
    user: str,
    realm: str,
    realm_source: str,
    trace: Trace,
) -> TokenRefused:
    """The refusal for an identity no rule maps, with every filter tried in a full trace."""
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


def check_replay(
    verifier: Verifier,
    definition: ClientDefinition,
    iss: str,
    claims: dict[str, Any],
    exp: float,
    trace: Trace,
) -> None:
    """``token_reuse = false``: the (iss, jti) pair must be new to the replay store (issue 8:
    a shared one across nodes)."""
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti:
        trace.add("claims", "jti", "fail", present=False)
        raise ClaimRefused("RG4013E", client=definition.id)
    try:
        first = verifier.replay_store.first_use(f"{iss}\x00{jti}", exp + definition.clock_skew)
    except ReplayStoreUnavailable as exc:  # a shared store (Redis) cannot be reached
        # replay_unavailable decides: "allow" → True with a trace warning; else RG8501E.
        first = unavailable_outcome(definition, iss, jti, exc, trace)
        if first:
            return
    if not first:
        trace.add("claims", "jti", "fail", jti=jti, replay=True)
        raise ClaimRefused("RG4012E", jti=jti, iss=iss, client=definition.id)
    trace.add("claims", "jti", "pass", jti=jti)


def chosen_steps(selector: Any, definition: ClientDefinition, iss: str) -> tuple[TraceStep]:
    """The trace step of the definition chosen for ``iss`` (a lazy record's expansion)."""
    return (selector.chosen_step(definition, iss),)
