"""``POST /v1/verify``: a token in, the Decision out as JSON.

Body: ``{"token": "…", "mode"?: "auto" | "config" | "discovery", "default_issuer"?: "…",
"discovery_url"?: "…", "explain"?: false, "request"?: {"headers": {…}, "remote_addr": "…",
"url": "…", "method": "GET"}}``.

Without ``mode`` the token goes through the ordinary pipeline, as at ``/auth``: definitions
are chosen by issuer and by their auth filters, which look at ``request`` (the request the
token would arrive with) when given. With ``mode`` it is WebSphere's verifyJwt family
(:mod:`realmgate.modes`): ``config`` (definition by issuer alone), ``discovery`` (keys from
the issuer's discovery document: for issuers in ``[discovery] allow``, or at
``discovery_url``), ``auto`` (config, then discovery).

The answer is 200 with the Decision whether or not the token is accepted (like RFC 7662
introspection answers ``active: false``): the HTTP status says the API worked, ``accepted``
and ``status`` say what the verdict is. A malformed body is a 4xx with RG0003E.

The trace (``explain: true``) shows every check, including configuration details, so it is
returned only to callers inside ``[server] explain_from`` (loopback by default); others get
the decision and an RG8014W note saying why the trace was withheld.
"""

from __future__ import annotations

from typing import Any

from realmgate.messages import render
from realmgate.request import RequestInfo
from realmgate.server.httpio import HttpError, HttpRequest
from realmgate.server.proxies import is_trusted
from realmgate.server.service import Service

MODES = ("auto", "config", "discovery")
_FIELDS = frozenset({"token", "mode", "default_issuer", "discovery_url", "explain", "request"})


def _string(body: dict[str, Any], name: str, *, required: bool = False) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            raise HttpError(400, "RG0003E", detail=f"the field {name!r} is required")
        return None
    if not isinstance(value, str) or not value:
        raise HttpError(400, "RG0003E", detail=f"the field {name!r} must be a non-empty string")
    return value


def _request_info(value: Any) -> RequestInfo | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise HttpError(400, "RG0003E", detail="the field 'request' must be an object")
    headers = value.get("headers", {})
    if not isinstance(headers, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
    ):
        raise HttpError(400, "RG0003E", detail="request.headers must map names to strings")
    fields = {}
    for name in ("remote_addr", "url", "method"):
        item = value.get(name)
        if item is not None and not isinstance(item, str):
            raise HttpError(400, "RG0003E", detail=f"request.{name} must be a string")
        fields[name] = item
    return RequestInfo.build(
        headers,
        remote_addr=fields["remote_addr"],
        url=fields["url"],
        method=fields["method"] or "GET",
    )


async def verify_api(request: HttpRequest, service: Service) -> dict[str, Any]:
    state = service.state
    limits = state.config.limits
    body = await request.json_object(limits.max_body_bytes, state.settings.server.request_timeout)
    unknown = sorted(set(body) - _FIELDS)
    if unknown:
        raise HttpError(400, "RG0003E", detail=f"unknown field(s) {', '.join(unknown)}")
    token = _string(body, "token", required=True)
    assert token is not None
    mode = _string(body, "mode")
    if mode is not None and mode not in MODES:
        raise HttpError(400, "RG8031E", mode=mode, detail=f"use one of {', '.join(MODES)}")
    default_issuer = _string(body, "default_issuer")
    discovery_url = _string(body, "discovery_url")
    if discovery_url is not None and mode != "discovery":
        raise HttpError(400, "RG0003E", detail="discovery_url needs mode 'discovery'")
    if mode is not None and body.get("request") is not None:
        raise HttpError(
            400, "RG0003E", detail="'request' applies without mode only (the modes run no "
            "auth filters)"
        )  # fmt: skip
    explain = body.get("explain", False)
    if not isinstance(explain, bool):
        raise HttpError(400, "RG0003E", detail="the field 'explain' must be true or false")
    info = _request_info(body.get("request"))
    allowed = is_trusted(request.peer, state.settings.server.explain_from)
    decision = await service.verify_token(
        token,
        info,
        mode=mode,
        explain=explain and allowed,
        default_issuer=default_issuer,
        discovery_url=discovery_url,
        endpoint="verify",
    )
    out = decision.to_dict(include_trace=explain and allowed)
    if explain and not allowed:
        out["trace_withheld"] = render("RG8014W", {"peer": request.peer or "unknown"})
    return out
