"""``/auth``: forward authentication for nginx ``auth_request``, Traefik ``forwardAuth`` and
Envoy ``ext_authz`` (HTTP service).

The proxy sends the client's headers (so the token, wherever the definition looks for it)
and describes the original request in forwarded headers, which are believed only from
``[server] trusted_proxies`` (see :mod:`realmgate.server.proxies`). The answer is the
:mod:`realmgate.server.outcome` one: 200 with the identity headers for the proxy to copy to
the backend, 401/403/503 with the message id and an RFC 6750 challenge.

Any method is accepted (Envoy forwards the original one); the body is never read.
"""

from __future__ import annotations

from types import MappingProxyType

from realmgate.request import RequestInfo
from realmgate.server.httpio import HttpRequest
from realmgate.server.outcome import Answer, answer
from realmgate.server.proxies import original_request
from realmgate.server.service import Service


def request_info(request: HttpRequest, service: Service) -> RequestInfo:
    """The client's request as the auth filters and the token extractor should see it."""
    settings = service.state.settings.server
    original = original_request(
        request.headers,
        peer=request.peer,
        method=request.method,
        path=request.path,
        query=request.query,
        scheme=request.scheme,
        networks=settings.trusted_proxies,
    )
    headers = request.headers
    if original.trusted and original.host and original.host != headers.get("host"):
        headers = dict(headers)
        headers["host"] = original.host
    return RequestInfo(
        MappingProxyType(headers), original.remote_addr, original.url, original.method
    )


async def forward_auth(request: HttpRequest, service: Service) -> Answer:
    info = request_info(request, service)
    decision = await service.decide(info, endpoint="auth")
    return answer(decision, service.state.settings.server.error_detail)
