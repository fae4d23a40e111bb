"""What the original request looked like, as told by a trusted reverse proxy.

A forward-auth call (nginx ``auth_request``, Traefik ``forwardAuth``, Envoy ``ext_authz``)
is a sub-request: its own method, path and peer are the proxy's, and the proxy describes the
client's request in headers. Those headers are believed **only** when the peer is inside
``[server] trusted_proxies``; from anyone else they are ignored, so a client cannot pretend
to come from an address an auth filter trusts.

Headers read (first present wins, per field):

* client address: ``X-Forwarded-For`` (walked from the right, skipping trusted proxies:
  the left-most entries are whatever the client wrote), then ``X-Real-IP``;
* method: ``X-Forwarded-Method``, ``X-Original-Method``;
* URI: ``X-Forwarded-Uri``, ``X-Original-URI``, then ``X-Original-URL`` (a full URL);
* scheme: ``X-Forwarded-Proto``; host: ``X-Forwarded-Host``.

Envoy's HTTP ``ext_authz`` sends the original method and ``path_prefix + original path``
instead of headers: ``/auth/<path>`` is read that way (the method then is the original one).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from realmgate.server.settings import Network

AUTH_PREFIX = "/auth"


@dataclass(frozen=True, slots=True)
class OriginalRequest:
    remote_addr: str | None
    method: str
    url: str
    host: str | None
    trusted: bool
    """True when the peer is a trusted proxy (its forwarded headers were used)."""


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    candidate = text.strip().strip('"')
    if candidate.startswith("[") and "]" in candidate:  # [v6]:port
        candidate = candidate[1 : candidate.index("]")]
    elif candidate.count(":") == 1:  # v4:port
        candidate = candidate.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(candidate)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def is_trusted(peer: str | None, networks: Sequence[Network]) -> bool:
    if not peer or not networks:
        return False
    address = _address(peer)
    return address is not None and any(address in network for network in networks)


def _client_address(headers: Mapping[str, str], peer: str, networks: Sequence[Network]) -> str:
    forwarded = headers.get("x-forwarded-for")
    if forwarded:
        hops = [h for h in (part.strip() for part in forwarded.split(",")) if h]
        # Right to left: the right-most entry was added by the proxy nearest to us; stop at
        # the first address that is not one of our proxies (RFC 7239 section 8.3 reasoning).
        for hop in reversed(hops):
            address = _address(hop)
            if address is None:
                return peer  # garbage in the chain: do not guess, use the proxy's address
            if not any(address in network for network in networks):
                return str(address)
        if hops:
            first = _address(hops[0])
            return str(first) if first is not None else peer
    real = headers.get("x-real-ip")
    if real:
        address = _address(real)
        if address is not None:
            return str(address)
    return peer


def original_request(
    headers: Mapping[str, str],
    *,
    peer: str | None,
    method: str,
    path: str,
    query: str,
    scheme: str,
    networks: Sequence[Network],
) -> OriginalRequest:
    """The client's request as the filters should see it. ``headers`` are lower-cased."""
    suffix = path[len(AUTH_PREFIX) :] if path.startswith(AUTH_PREFIX + "/") else None
    own_host = headers.get("host")
    # Envoy ext_authz: the path after the prefix is the original one; otherwise, until a
    # trusted proxy says better, the request is what it is.
    uri = (suffix if suffix is not None else path) + (f"?{query}" if query else "")
    if not is_trusted(peer, networks):
        url = f"{scheme}://{own_host or 'localhost'}{uri}"
        return OriginalRequest(peer, method, url, own_host, False)
    assert peer is not None
    fwd_method = headers.get("x-forwarded-method") or headers.get("x-original-method")
    fwd_uri = headers.get("x-forwarded-uri") or headers.get("x-original-uri")
    fwd_url = headers.get("x-original-url")
    proto = (headers.get("x-forwarded-proto") or scheme).split(",")[0].strip().lower()
    host = (headers.get("x-forwarded-host") or own_host or "").split(",")[0].strip() or None
    if fwd_uri is None and fwd_url:
        parts = urlsplit(fwd_url)
        fwd_uri = parts.path + (f"?{parts.query}" if parts.query else "")
        host = parts.netloc or host
        proto = parts.scheme or proto
    if fwd_uri is not None:
        uri = fwd_uri if fwd_uri.startswith("/") else "/" + fwd_uri
    if proto not in ("http", "https"):
        proto = scheme
    url = f"{proto}://{host or 'localhost'}{uri}"
    return OriginalRequest(
        _client_address(headers, peer, networks),
        (fwd_method or method).strip().upper()[:16] or method,
        url,
        host,
        True,
    )
