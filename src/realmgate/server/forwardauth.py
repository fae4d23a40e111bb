"""``/auth``: forward authentication for nginx ``auth_request``, Traefik ``forwardAuth`` and
Envoy ``ext_authz`` (HTTP service).

The proxy sends the client's headers (so the token, wherever the definition looks for it)
and describes the original request in forwarded headers, which are believed only from
``[server] trusted_proxies`` (see :mod:`realmgate.server.proxies`). The answer is the
:mod:`realmgate.server.outcome` one: 200 with the identity headers for the proxy to copy to
the backend, 401/403/503 with the message id and an RFC 6750 challenge.

Any method is accepted (Envoy forwards the original one); the body is never read.

Speed (issue 5): when no definition has an auth filter and all read the same header (the
selector's ``single_location``, the common configuration), nothing but that header can
change a decision: the original request (forwarded headers, peer, URL) is only ever read by
filters. :class:`ForwardAuth` then reads that one header straight from the ASGI scope
instead of building the whole request view. A value in the plain form (``Bearer <token>``)
goes to ``Verifier.verify`` as the token; anything else goes to ``verify_request`` with a
request holding just that header, so the extractor judges it and refuses it with its own
message. The one difference from the general path: a token verified afresh records no
``extract`` step in its trace (``/auth`` never shows traces; FINEST logs would). Every
other configuration takes the general path.
"""

from __future__ import annotations

from functools import partial
from time import perf_counter
from types import MappingProxyType

from realmgate.decision import Decision
from realmgate.extract import AUTHORIZATION
from realmgate.keys.jwkscache import run_inline
from realmgate.request import RequestInfo
from realmgate.server.httpio import (
    TEXT,
    Headers,
    HttpError,
    HttpRequest,
    Receive,
    Scope,
    Send,
    header_list,
    respond,
)
from realmgate.server.onewrite import KeptHead, send_kept
from realmgate.server.outcome import Answer, answer
from realmgate.server.proxies import original_request
from realmgate.server.service import ServerState, Service


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


Encoded = tuple[int, bytes, Headers, tuple[tuple[bytes, bytes], ...], KeptHead | None]
"""(status, body, the answer's own headers, the full headers of a GET answer: content type
and length first; a tuple, since the kept answers are shared and a server may not mutate
them — ASGI takes any iterable; the same answer checked for writing in one piece, or None
where a header cannot be, see :mod:`realmgate.server.onewrite`)."""

_accepted: dict[tuple[str | None, ...], Encoded] = {}
_ACCEPTED_MAX = 4096


def encode(decision: Decision, detail: str) -> Encoded:
    """The answer to ``decision`` as ASGI status, body and headers.

    An accepted answer depends only on (subject, realm, local user, client), so it is kept
    under that key (at most 4096, then started afresh): a session's cache hits and every new
    token of a known user skip building it. Building it (body, four percent-encoded
    headers, their encoding) measured 6.8 µs, the lookup 0.2 µs (timeit, best of 7 ×
    100 000; issue 5, 2-core benchmark machine, 2026-12-02)."""
    if decision.accepted:
        key = (decision.subject, decision.realm, decision.local_user, decision.client_id)
        kept = _accepted.get(key)
        if kept is not None:
            return kept
    result = answer(decision, detail)
    body = result.body.encode("utf-8")
    own = header_list(result.headers)
    full = ((b"content-type", TEXT), (b"content-length", str(len(body)).encode()), *own)
    try:
        head: KeptHead | None = KeptHead(result.status, full, body)
    except ValueError:
        head = None
    encoded = (result.status, body, own, full, head)
    if decision.accepted:
        if len(_accepted) >= _ACCEPTED_MAX:
            _accepted.clear()
        _accepted[key] = encoded
    return encoded


_EDGE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")
"""Bytes a token in its plain form starts and ends with (none is white space to str.strip)."""


def plain_token(raw: bytes, authorization: bool) -> str | None:
    """The token in the header value ``raw`` when it is in the plain form (``Bearer <token>``,
    or for a custom header also the bare token): exactly what ``extract_token`` returns for
    it. None for anything else (no token, another scheme, spaces, commas, repeated headers),
    which the extractor itself then judges."""
    if raw[:7].lower() == b"bearer ":
        raw = raw[7:]
    elif authorization:
        return None
    if raw and raw[0] in _EDGE and raw[-1] in _EDGE and b" " not in raw and b"," not in raw:
        return raw.decode("latin-1")
    return None


Route = tuple[ServerState | None, object, bytes, str, int]
"""(state, verifier snapshot, the token header's name as bytes — empty when the general path
must be taken —, the same as str, max_header_bytes)."""


class ForwardAuth:
    """The ``/auth`` endpoint as an ASGI handler that returns the status it answered."""

    __slots__ = ("_route", "service")

    def __init__(self, service: Service) -> None:
        self.service = service
        self._route: Route = (None, None, b"", "", 0)

    def _routing(self, state: ServerState) -> Route:
        """The route for ``state`` and the verifier's current snapshot (a reload replaces
        both, though the snapshot first)."""
        snapshot = state.verifier.snapshot
        single = snapshot.selector.single_location
        name = "" if single is None else single[0]
        limit = state.config.limits.max_header_bytes
        self._route = (state, snapshot, name.encode("latin-1"), name, limit)
        return self._route

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> int:
        """Answer one ``/auth`` request; the status for the caller's metrics.

        The direct path (module docstring) costs 3.6 µs of application time above
        ``/healthz`` for a cached token (6.2 against 2.65 µs), where the full request view
        and the general bookkeeping cost 6.9 µs: decoding every header, rebuilding the
        original request, the extractor's second look at the token and the metrics'
        dictionaries are what it leaves out (in-process, ASGI app called directly, best of
        15-25 batches; issue 5, 2-core benchmark machine shared with other jobs,
        2026-12-02)."""
        service = self.service
        state = service.state
        route = self._route
        if route[0] is not state or route[1] is not state.verifier.snapshot:
            route = self._routing(state)
        _, _, target, name, limit = route
        if not target:
            return await self._general(HttpRequest(scope, receive, limit), send)
        # The 431 check of HttpRequest, and the token header (repeated ones joined as
        # RequestInfo.build does, so the extractor refuses them the same way).
        size = len(scope["path"]) + len(scope.get("query_string", b""))
        raw: bytes | None = None
        length = len(target)
        for key, value in scope["headers"]:
            size += len(key) + len(value) + 4
            if key == target or (len(key) == length and key.lower() == target):
                raw = value if raw is None else raw + (b"; " if name == "cookie" else b", ") + value
        if size > limit:
            raise HttpError(431, "RG8001E", size=size, limit=limit)
        verifier = state.verifier
        token = None if raw is None else plain_token(raw, name == AUTHORIZATION)
        start = perf_counter()
        if token is not None:
            # A cache hit (a session's steady traffic) needs no inline pass. This and the
            # kept headers sent uncopied took a cached /auth from 58 100 to 48 900
            # instructions (callgrind, in-process, 2026-12-03).
            hit = verifier.cached(token)
            if hit is not None:
                decision = hit
            else:
                decision = await run_inline(partial(verifier.verify, token))
        else:  # absent, or in a form the extractor must judge (and refuse with its message)
            # The extractor is the only reader of the request when single_location is set.
            text = {} if raw is None else {name: raw.decode("latin-1")}
            info = RequestInfo(MappingProxyType(text))
            decision = await run_inline(partial(verifier.verify_request, info))
        seconds = perf_counter() - start
        status, body, own, full, kept = encode(decision, state.settings.server.error_detail)
        service.metrics.auth_decision(decision, seconds)
        if scope["method"] == "HEAD":
            await respond(send, status, b"", own)
        elif kept is None or not send_kept(send, kept, scope["method"]):
            await send({"type": "http.response.start", "status": status, "headers": full})
            await send({"type": "http.response.body", "body": body})
        return status

    async def _general(self, request: HttpRequest, send: Send) -> int:
        service = self.service
        info = request_info(request, service)
        decision = await service.decide(info, endpoint="auth")
        status, body, own, full, kept = encode(decision, service.state.settings.server.error_detail)
        if request.method == "HEAD":
            await respond(send, status, b"", own)
        elif kept is None or not send_kept(send, kept, request.method):
            await send({"type": "http.response.start", "status": status, "headers": full})
            await send({"type": "http.response.body", "body": body})
        return status
