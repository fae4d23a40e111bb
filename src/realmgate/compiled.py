"""A definition compiled for the verifier's hot path, and the lazy trace records it uses.

A :class:`DefinitionPlan` is made once per (snapshot, definition), on first use: the key
source behind :class:`~realmgate.keys.source.PreparedKeys`, the claim checks as one closure
(:func:`~realmgate.claims.compile_claims`), and the configuration facts the pipeline would
otherwise look up per token (does the revocation list apply, may the result be cached).

The ``*_steps`` functions expand the verifier's lazy trace records (``Trace.lazy``) into
the steps the pipeline's stages write; the verifier uses them on every path, accepted or
refused, so there is one definition of each step.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from realmgate.claims import ClaimsCheck, compile_claims
from realmgate.configmodel import ClientDefinition
from realmgate.errors import InvalidToken
from realmgate.jws import ParsedJWS
from realmgate.keys.material import VerificationKey
from realmgate.keys.source import KeyLookup, PreparedKeys
from realmgate.mapping import IdentityMapper, MappingSnapshot
from realmgate.revocation import uses_registry
from realmgate.snapshot import Snapshot
from realmgate.trace import Trace, TraceStep

__all__ = [
    "MAX_KEYS_TRIED",
    "DefinitionPlan",
    "bad_signature",
    "check_signature",
    "mapped_steps",
    "plan_for",
    "signature_steps",
]


MAX_KEYS_TRIED = 8


@dataclass(frozen=True, slots=True, eq=False)
class DefinitionPlan:
    definition: ClientDefinition
    keys: PreparedKeys | None
    """None when the definition has no usable key source (the reference explains)."""
    claims: ClaimsCheck
    revocation: bool
    """Whether tokens of this definition are checked against the revocation list."""
    cacheable: bool
    """Whether an accepted token may be served from the verified-token cache: never for
    a replay-protected definition (``token_reuse = false``), whose second use must fail."""


def plan_for(snapshot: Snapshot, definition: ClientDefinition) -> DefinitionPlan:
    plan = snapshot.plans.get(definition.id)
    if plan is None or plan.definition is not definition:
        source = snapshot.key_sources.get(definition.id)
        plan = DefinitionPlan(
            definition,
            PreparedKeys(source) if source is not None else None,
            compile_claims(definition),
            uses_registry(snapshot.config, definition),
            definition.token_reuse,
        )
        snapshot.plans[definition.id] = plan
    return plan


def check_signature(
    plan: DefinitionPlan, snapshot: Snapshot, parsed: ParsedJWS, trace: Trace
) -> VerificationKey:
    """The key that verifies the token's signature, or the refusal: RG3001E (algorithm not
    allowed), RG3007E (no key source), RG3002E/RG3003E (no usable key), RG3004E (no key
    verifies), or whatever the key source raises (remote keys unavailable, unknown kid)."""
    definition = plan.definition
    alg = parsed.alg
    if alg not in definition.algorithms:
        trace.add("keys", "algorithm", "fail", alg=alg, allowed=list(definition.algorithms))
        raise InvalidToken(
            "RG3001E", client=definition.id, alg=alg, allowed=list(definition.algorithms)
        )
    prepared = plan.keys
    if prepared is None:
        trace.add("keys", "algorithm", "pass", alg=alg)
        raise InvalidToken(
            "RG3007E",
            client=definition.id,
            alg=alg,
            detail=snapshot.unusable.get(definition.id, "no key source"),
        )
    try:
        lookup, usable = prepared.get(parsed.kid, alg, parsed.x5t)
    except Exception:
        trace.add("keys", "algorithm", "pass", alg=alg)
        raise
    if not usable:
        trace.add("keys", "algorithm", "pass", alg=alg)
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
    message, signature = parsed.signing_input, parsed.signature
    failed: tuple[VerificationKey, ...] = ()
    for key, verify in usable[:MAX_KEYS_TRIED]:
        try:
            verified = verify(message, signature)
        except InvalidToken:  # RG3006E, a key too weak to trust
            trace.lazy(signature_steps, alg, lookup, failed, None)
            raise
        if verified:
            trace.lazy(signature_steps, alg, lookup, failed, key)
            return key
        failed += (key,)
    raise bad_signature(definition, parsed, lookup, failed, trace)


def bad_signature(
    definition: ClientDefinition,
    parsed: ParsedJWS,
    lookup: KeyLookup,
    failed: tuple[VerificationKey, ...],
    trace: Trace,
) -> InvalidToken:
    """RG3004E after every usable key (``failed``, in order) was tried and none verified;
    also the fast lane's (realmgate.lane), which tried the same keys the same way."""
    trace.lazy(signature_steps, parsed.alg, lookup, failed, None)
    tried = [k.label() for k in failed]
    return InvalidToken(
        "RG3004E",
        client=definition.id,
        alg=parsed.alg,
        kid=parsed.kid or failed[0].label(),
        source=lookup.source,
        tried="" if len(tried) == 1 else f" (keys tried: {', '.join(tried)})",
    )


def signature_steps(
    alg: str,
    lookup: KeyLookup,
    failed: tuple[VerificationKey, ...],
    key: VerificationKey | None,
) -> Iterator[TraceStep]:
    """The keys/jws steps of a signature check: the algorithm allowed, each key that did
    not verify, and the one that did (``key``; None when none did)."""
    yield TraceStep("keys", "algorithm", "pass", {"alg": alg})
    for other in failed:
        detail = {"alg": alg, "key": other.label(), "source": other.source}
        yield TraceStep("jws", "signature", "fail", detail)
    if key is not None:
        passed: dict[str, object] = {
            "alg": alg,
            "key": key.label(),
            "fingerprint": key.fingerprint,
            "source": key.source,
            "stale": lookup.stale,
        }
        yield TraceStep("jws", "signature", "pass", passed)


def mapped_steps(
    mapper: IdentityMapper | None,
    snapshot: MappingSnapshot | None,
    user: str,
    realm: str,
    realm_source: str,
    client_id: str,
    full: bool,
) -> Iterator[TraceStep]:
    """The mapping steps of an accepted token and the final ``decision accepted`` step.
    ``mapper`` None: ``map_to_registry_user`` (the user claim is the local user)."""
    yield TraceStep("mapping", "realm", "info", {"realm": realm, "source": realm_source})
    if mapper is None or snapshot is None:
        local_user = user
        detail = {
            "local_user": user,
            "reason": "map_to_registry_user: the user claim is the local user",
        }
        yield TraceStep("mapping", "identity", "pass", detail)
    else:
        result = mapper.resolve_in(snapshot, user, realm)
        local_user = result.local_user or ""
        for attempt in result.tried:
            if full or attempt.matched:
                detail = {
                    "user_filter": attempt.user_filter,
                    "realm_filter": attempt.realm_filter,
                    "why": attempt.why,
                }
                outcome = "pass" if attempt.matched else "skip"
                yield TraceStep("mapping", "filter", outcome, detail)
    detail = {"client": client_id, "local_user": local_user}
    yield TraceStep("decision", "accepted", "pass", detail)
