"""The reference pipeline: a token through every stage in Python, explained step by step.

Extract → jws → select → keys → claims, then ``realmgate.acceptance`` (revocation, replay,
mapping, the accepted Decision). Each stage records its steps in the trace and raises a
typed :class:`~realmgate.errors.TokenRefused` with a catalogue id where it fails; the
verifier turns that into a refusal. The fast lane (``realmgate.lane``) accepts what it is
certain of and leaves everything else, every refusal included, to this.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from realmgate.acceptance import accept, chosen_steps
from realmgate.claims import check_claims, passed_steps
from realmgate.compiled import check_signature, plan_for
from realmgate.configmodel import ClientDefinition
from realmgate.decision import Decision
from realmgate.errors import ClaimRefused, InvalidToken, TokenRefused
from realmgate.extract import extract_token
from realmgate.jws import parse_compact
from realmgate.request import RequestInfo
from realmgate.results import Known
from realmgate.snapshot import Snapshot
from realmgate.trace import Trace, TraceLevel

if TYPE_CHECKING:
    from realmgate.verifier import Verifier

__all__ = ["decide", "extract_first"]


def extract_first(
    request: RequestInfo, locations: tuple[tuple[str, str | None], ...], trace: Trace
) -> tuple[str, str]:
    """The token at the first of ``locations`` that holds one, and that location's name;
    the first refusal met, or RG1001E, when none does."""
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


def decide(
    verifier: Verifier,
    snapshot: Snapshot,
    token: str,
    request: RequestInfo | None,
    location: str | None,
    candidates: list[ClientDefinition] | None,
    default_issuer: str | None,
    trace: Trace,
    ctx: Known,
    cache: bool = False,
) -> Decision:
    """One token through every stage in Python, each recording its steps in ``trace``
    (lazily where they pass) and raising a typed refusal where it fails; ``ctx`` gathers
    what is known for the refusal's message."""
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
        records += (chosen_steps, 3, selector, definition, iss)
    ctx.client_id = definition.id
    plan = snapshot.plans.get(definition.id)
    if plan is None or plan.definition is not definition:
        plan = plan_for(snapshot, definition)

    key = check_signature(plan, snapshot, parsed, trace)
    ctx.key_id = parsed.kid or key.label()
    now = verifier.clock()
    exp = plan.claims(claims, now)
    if exp is None:  # not certainly valid: the reference decides, and explains
        exp = check_claims(definition, claims, now, trace)
    elif level:
        records += (passed_steps, 3, definition, claims, now)
    return accept(verifier, snapshot, plan, parsed, key, iss, exp, token, trace, ctx, cache)
