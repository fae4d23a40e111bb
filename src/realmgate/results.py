"""Decisions out of the pipeline when a stage refused: the refusal :class:`Decision` from
what was known at that point, the decision log line, and the typed exception of
``Verifier.verify_or_raise``.

The log line carries the token's short hash, never the token (SECURITY.md).
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

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
from realmgate.replay_redis import ReplayUnavailable
from realmgate.trace import Trace
from realmgate.tracespec import FINE, FINEST

log = logging.getLogger("realmgate.decision")
log_cache: dict[int, bool] = log._cache  # type: ignore[attr-defined]
"""``Logger.isEnabledFor``'s own memo (cleared by logging on every level change): a False in
it answers "not enabled" without the Python-level method call (0.4 µs per token)."""


def token_hash(token: str) -> str:
    """Short stable identifier of a token for logs and decisions (never the token)."""
    return hashlib.sha256(token.encode(errors="replace")).hexdigest()[:12]


class Known:
    """What is known so far about the token being verified, for a refusal Decision.
    Class attributes are the defaults, so making one costs no attribute writes."""

    client_id: str | None = None
    issuer: str | None = None
    subject: str | None = None
    realm: str | None = None
    key_id: str | None = None
    alg: str | None = None
    claims: dict[str, Any] | None = None


def status_for(exc: RealmgateError) -> int:
    if isinstance(exc, IdentityNotMapped):
        return 403
    if isinstance(exc, (KeysUnavailable, RegistryError, ReplayUnavailable)):
        return 503
    return 401


def refusal(
    exc: RealmgateError,
    known: Known,
    trace: Trace,
    token: str | None,
    status: int | None = None,
) -> Decision:
    """The refusal Decision for ``exc``, with the values ``known`` holds and the trace."""
    trace.add("decision", "refused", "fail", message_id=exc.message_id)
    decision = Decision(
        accepted=False,
        client_id=known.client_id,
        issuer=known.issuer,
        subject=known.subject,
        realm=known.realm,
        claim_set=known.claims or {},
        key_id=known.key_id,
        algorithm=known.alg,
        message_id=exc.message_id,
        reason=exc.text,
        status=status or status_for(exc),
        token_ref=token_hash(token) if token else None,
        recorded=trace,
    )
    if log.isEnabledFor(FINE):
        log_decision(decision)
    return decision


def failed(exc: Exception, known: Known, trace: Trace, token: str) -> Decision:
    """The refusal Decision for what a stage raised; anything unexpected fails closed
    (RG9001S, status 500, logged with its traceback), never a traceback to the caller."""
    if isinstance(exc, (TokenRefused, RegistryError)):
        return refusal(exc, known, trace, token)
    log.error("internal error verifying token %s", token_hash(token), exc_info=exc)
    fault = TokenRefused("RG9001S", during="verifying a token", detail=type(exc).__name__)
    return refusal(fault, known, trace, token, status=500)


def log_decision(decision: Decision) -> None:
    """The FINE line of a decision (and at FINEST each of its trace steps)."""
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


def log_if_fine(decision: Decision) -> None:
    """:func:`log_decision` when FINE is enabled, checked without a call when it is not."""
    if log_cache.get(FINE) is not False and log.isEnabledFor(FINE):
        log_decision(decision)


def exception_for(decision: Decision) -> TokenRefused:
    """The typed exception for a refusal (``verify_or_raise``), its ``decision`` attached."""
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
