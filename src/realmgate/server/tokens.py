"""``POST /v1/token``: issue a token for a configured local issuer.

Off unless ``[server] token_endpoint = true``. The caller authenticates with a bearer token
that this realmgate verifies like any other (trusted-client definition, claims, mapping), and
the local user it maps to must be listed in ``[server] token_issuers_allowed_users``. This
was chosen over a static API key because it needs no new secret to store and rotate, it gives
every issued token an accountable caller (the log line names the caller's subject, realm and
local user), and revoking a caller is removing its mapping, live. A client certificate (mTLS)
belongs to the TLS terminator in front and is out of scope here.

Body: ``{"issuer"?: "<[[issuer]] id>", "subject": "…", "realm"?: "…",
"audience"?: "…" | ["…"], "ttl"?: seconds, "claims"?: {…}}``. ``issuer`` may be omitted
when exactly one is configured; ``ttl`` is at most the issuer's ``ttl``. The answer follows
RFC 6749 section 5.1: ``{"access_token", "token_type": "Bearer", "expires_in", …}``.
"""

from __future__ import annotations

import logging
from typing import Any

from realmgate.errors import UsageError
from realmgate.server.forwardauth import request_info
from realmgate.server.httpio import HttpError, HttpRequest
from realmgate.server.outcome import answer
from realmgate.server.service import Service
from realmgate.verifier import token_hash

log = logging.getLogger("realmgate.server.token")

_FIELDS = frozenset({"issuer", "subject", "realm", "audience", "ttl", "claims"})


async def _caller(request: HttpRequest, service: Service) -> str:
    """The local user the caller's bearer token maps to, if allowed to issue tokens."""
    settings = service.state.settings.server
    decision = await service.decide(request_info(request, service), endpoint="token")
    if not decision.accepted:
        refusal = answer(decision, settings.error_detail)
        extra = [h for h in refusal.headers if h[0] != "x-realmgate-message"]
        message_id = decision.message_id or "RG9001S"
        raise HttpError(refusal.status, message_id, extra, text=refusal.body.strip())
    user = decision.local_user or ""
    if user not in settings.token_issuers_allowed_users:
        raise HttpError(
            403,
            "RG8011E",
            local_user=user,
            subject=decision.subject,
            realm=decision.realm,
        )
    return user


def _audience(value: Any) -> str | list[str] | None:
    if value is None or (isinstance(value, str) and value):
        return value
    if isinstance(value, list) and value and all(isinstance(v, str) and v for v in value):
        return value
    raise HttpError(400, "RG0003E", detail="audience must be a string or a list of strings")


async def issue_token(request: HttpRequest, service: Service) -> dict[str, Any]:
    state = service.state
    if not state.settings.server.token_endpoint:
        raise HttpError(404, "RG8010E")
    caller = await _caller(request, service)
    limit = state.config.limits.max_body_bytes
    body = await request.json_object(limit, state.settings.server.request_timeout)
    unknown = sorted(set(body) - _FIELDS)
    if unknown:
        raise HttpError(400, "RG0003E", detail=f"unknown field(s) {', '.join(unknown)}")
    issuers = state.publisher.issuers
    issuer_id = body.get("issuer")
    if issuer_id is None and len(issuers) == 1:
        issuer_id = next(iter(issuers))
    item = issuers.get(issuer_id) if isinstance(issuer_id, str) else None
    if item is None:
        raise HttpError(400, "RG8012E", issuer=issuer_id, available=", ".join(issuers) or "none")
    subject = body.get("subject")
    realm = body.get("realm")
    if not isinstance(subject, str) or not subject:
        raise HttpError(400, "RG0003E", detail="the field 'subject' must be a non-empty string")
    if realm is not None and (not isinstance(realm, str) or not realm):
        raise HttpError(400, "RG0003E", detail="the field 'realm' must be a non-empty string")
    ttl = body.get("ttl", item.issuer.ttl)
    if isinstance(ttl, bool) or not isinstance(ttl, int) or not 0 < ttl <= item.issuer.ttl:
        raise HttpError(
            400, "RG0003E", detail=f"ttl must be a whole number from 1 to {item.issuer.ttl}"
        )
    claims = body.get("claims", {})
    if not isinstance(claims, dict):
        raise HttpError(400, "RG0003E", detail="the field 'claims' must be an object")
    audience = _audience(body.get("audience")) or (list(item.issuer.audiences) or None)
    try:
        token = item.builder.build(
            subject, realm=realm, audience=audience, ttl=ttl, jti=True, extra=claims
        )
    except UsageError as exc:
        raise HttpError(400, "RG0003E", detail=exc.text) from None
    log.info(
        "token %s issued by %r for subject %r realm %r via issuer %s (ttl %ss)",
        token_hash(token),
        caller,
        subject,
        realm,
        item.issuer.id,
        ttl,
    )
    return {
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": ttl,
        "issuer": item.issuer.issuer,
        "kid": item.kid,
    }
