"""A Decision as an HTTP answer: status, identity headers, RFC 6750 challenge.

Shared by the forward-auth endpoint and the ASGI/WSGI middleware so every surface answers a
refusal the same way:

* 200: ``X-Realmgate-User`` (the local user), ``-Realm``, ``-Subject``, ``-Client``;
* 401: ``WWW-Authenticate: Bearer error="invalid_token", error_description="…"``; when the
  request carried no token at all, just ``Bearer`` (RFC 6750 section 3.1: no error code for a
  request that did not try to authenticate);
* 403: the token is valid but its identity is not mapped (or not allowed);
* 503: keys or the registry are unavailable (``Retry-After``), so a proxy does not tell a
  client its token is bad when the fault is ours;
* every refusal: ``X-Realmgate-Message: RGnnnnE`` and the message as a text body.

With ``error_detail = "id"`` only the message id leaves the service (the values, such as a
subject or a realm, stay in the logs) for deployments facing untrusted clients.
"""

from __future__ import annotations

from dataclasses import dataclass

from realmgate.decision import Decision
from realmgate.server.httpio import header_value

IDENTITY_HEADERS = (
    "x-realmgate-user",
    "x-realmgate-realm",
    "x-realmgate-subject",
    "x-realmgate-client",
)
NO_TOKEN = "RG1001E"
MAX_DESCRIPTION = 400
RETRY_AFTER = "5"


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: str


def quoted_safe(text: str, limit: int = MAX_DESCRIPTION) -> str:
    """``text`` as an RFC 6750 ``error_description`` value: one line of the characters the
    RFC allows (%x20-21 / %x23-5B / %x5D-7E). A double quote or backslash is not allowed even
    escaped, so ``"`` becomes ``'`` and ``\\`` becomes ``/``; anything else outside the set is
    ``?``. Long texts are cut with ``...``."""
    out = []
    for char in text:
        if char == '"':
            out.append("'")
        elif char == "\\":
            out.append("/")
        elif " " <= char <= "~":
            out.append(char)
        else:
            out.append(" " if char in "\r\n\t" else "?")
    line = "".join(out)
    return line if len(line) <= limit else line[: limit - 3] + "..."


def refusal_text(decision: Decision, detail: str) -> str:
    message_id = decision.message_id or "RG9001S"
    if detail == "id":
        return f"{message_id} (run 'realmgate messages {message_id}' for the explanation)"
    return decision.reason or message_id


def identity_headers(decision: Decision) -> list[tuple[str, str]]:
    values = (decision.local_user, decision.realm, decision.subject, decision.client_id)
    return [
        (name, header_value(value))
        for name, value in zip(IDENTITY_HEADERS, values, strict=True)
        if value is not None
    ]


def answer(decision: Decision, detail: str = "full") -> Answer:
    """The HTTP answer for ``decision``."""
    if decision.accepted:
        body = (
            f"accepted: subject {decision.subject!r} realm {decision.realm!r} -> local user "
            f"{decision.local_user!r} (client {decision.client_id})\n"
        )
        return Answer(200, identity_headers(decision), body)
    message_id = decision.message_id or "RG9001S"
    text = refusal_text(decision, detail)
    headers = [("x-realmgate-message", message_id)]
    status = decision.status if decision.status in (401, 403, 503, 500) else 401
    if status == 401:
        if message_id == NO_TOKEN:
            challenge = "Bearer"
        else:
            challenge = f'Bearer error="invalid_token", error_description="{quoted_safe(text)}"'
        headers.append(("www-authenticate", challenge))
    elif status == 503:
        headers.append(("retry-after", RETRY_AFTER))
    return Answer(status, headers, text + "\n")
