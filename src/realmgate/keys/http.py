"""Fetching key documents (JWK Sets, discovery documents) over HTTP(S) with httpx.

One rule set for the sync and the async path, so both behave the same:

* https only; plain http only when the source's settings say ``allow_insecure_http``;
* redirects are never followed (a 3xx is an error naming the target): the configuration,
  not a web server, says where keys come from;
* ``timeout`` bounds each network operation and, beyond that, the whole exchange: the body
  read stops once ``timeout`` has passed since the start (async: a hard deadline), so a
  server dripping a byte at a time cannot hold a fetch, and everyone waiting on it;
* ``max_response_bytes`` is enforced while the body streams in, before it is all in memory;
* ``Cache-Control: max-age`` (minus ``Age``) and ``ETag`` are returned for the cache, which
  revalidates with ``If-None-Match`` and treats a 304 as "still the same keys".

A client is made per fetch: fetches are rare (at most one per TTL or cool-down per
source), and a per-fetch client has no event-loop or thread affinity, which a shared
``AsyncClient`` would have. The TLS context, the expensive part, is made once.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from realmgate.configmodel import RemoteKeySettings
from realmgate.errors import RealmgateError

log = logging.getLogger("realmgate.keys")

_USER_AGENT = "realmgate (key fetcher)"
_ACCEPT = "application/jwk-set+json, application/json;q=0.9, */*;q=0.1"
_DIRECTIVE = re.compile(r"\s*([A-Za-z-]+)\s*(?:=\s*(\"[^\"]*\"|[^,\s]*))?\s*(?:,|$)")


class FetchError(RealmgateError):
    """A fetch failed (RG7001E-RG7005E); the cache records it and keeps the last good copy."""


@dataclass(frozen=True, slots=True)
class Fetched:
    url: str
    status: int
    """200, or 304 when ``If-None-Match`` matched (``body`` is then empty)."""
    body: bytes
    max_age: float | None
    """Freshness lifetime from ``Cache-Control`` (``max-age`` minus ``Age``); 0 for
    ``no-cache``/``no-store``; None when the server said nothing."""
    etag: str | None
    elapsed: float


def check_url(url: str, what: str, allow_insecure_http: bool) -> None:
    """Refuse (RG7005E) anything but an absolute https URL (http when allowed)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError as exc:
        raise FetchError("RG7005E", what=what, url=url, detail=f"not a valid URL ({exc})") from None
    if parts.scheme == "http" and not allow_insecure_http:
        raise FetchError(
            "RG7005E",
            what=what,
            url=url,
            detail="plain http is refused (allow_insecure_http is not set)",
        )
    if parts.scheme not in ("https", "http") or not host:
        raise FetchError("RG7005E", what=what, url=url, detail="not an absolute https URL")
    if parts.username is not None or parts.password is not None:
        raise FetchError("RG7005E", what=what, url=url, detail="credentials in the URL")


def parse_max_age(headers: Mapping[str, str]) -> float | None:
    """Seconds of freshness the response grants, per RFC 9111 for a private cache."""
    value = headers.get("cache-control")
    if value is None:
        return None
    directives: dict[str, str | None] = {}
    for match in _DIRECTIVE.finditer(value):
        if match.group(1):
            raw = match.group(2)
            directives[match.group(1).lower()] = raw.strip('"') if raw is not None else None
    if "no-store" in directives or "no-cache" in directives:
        return 0.0
    raw_age = directives.get("max-age")
    if raw_age is None or not raw_age.isdigit():
        return None  # absent or malformed: RFC 9111 says treat as not given
    age_header = headers.get("age", "")
    already = int(age_header) if age_header.strip().isdigit() else 0
    return float(max(0, int(raw_age) - already))


@functools.cache
def _tls_context() -> ssl.SSLContext:
    return httpx.create_ssl_context()


def _request_headers(etag: str | None) -> dict[str, str]:
    headers = {"Accept": _ACCEPT, "User-Agent": _USER_AGENT}
    if etag:
        headers["If-None-Match"] = etag
    return headers


def _check_head(response: httpx.Response, url: str, what: str, limit: int) -> None:
    status = response.status_code
    if status in (200, 304):
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise FetchError(
                "RG7003E", what=what, url=url, limit=limit, size=f"declared {declared} bytes"
            )
        return
    detail = ""
    if 300 <= status < 400:
        target = response.headers.get("location", "?")
        detail = f" (redirect to {target[:200]!r} not followed)"
    raise FetchError("RG7002E", what=what, url=url, status=status, detail=detail)


def _result(response: httpx.Response, url: str, body: bytes, started: float) -> Fetched:
    return Fetched(
        url=url,
        status=response.status_code,
        body=body,
        max_age=parse_max_age(response.headers),
        etag=response.headers.get("etag"),
        elapsed=time.monotonic() - started,
    )


class _Body:
    """Accumulate a streamed body under the size limit and the overall deadline."""

    def __init__(self, url: str, what: str, settings: RemoteKeySettings, started: float):
        self.url, self.what, self.settings = url, what, settings
        self.deadline = started + settings.timeout
        self.parts: list[bytes] = []
        self.size = 0

    def add(self, chunk: bytes) -> None:
        self.size += len(chunk)
        limit = self.settings.max_response_bytes
        if self.size > limit:
            raise FetchError(
                "RG7003E",
                what=self.what,
                url=self.url,
                limit=limit,
                size=f"more than {limit} bytes received",
            )
        self.parts.append(chunk)
        if time.monotonic() > self.deadline:
            raise httpx.ReadTimeout("overall deadline passed while reading the body")

    def bytes(self) -> bytes:
        return b"".join(self.parts)


def _translate(exc: Exception, url: str, what: str, timeout: float) -> FetchError:
    if isinstance(exc, FetchError):
        return exc
    if isinstance(exc, (httpx.TimeoutException, TimeoutError)):
        return FetchError("RG7001E", what=what, url=url, detail=f"no answer within {timeout:g}s")
    text = str(exc) or type(exc).__name__
    return FetchError("RG7001E", what=what, url=url, detail=text[:300])


def fetch(url: str, what: str, settings: RemoteKeySettings, etag: str | None = None) -> Fetched:
    """GET ``url`` under the rules above; raises :class:`FetchError`."""
    check_url(url, what, settings.allow_insecure_http)
    started = time.monotonic()
    try:
        with (
            httpx.Client(
                timeout=settings.timeout, follow_redirects=False, verify=_tls_context()
            ) as client,
            client.stream("GET", url, headers=_request_headers(etag)) as response,
        ):
            _check_head(response, url, what, settings.max_response_bytes)
            body = _Body(url, what, settings, started)
            if response.status_code == 200:
                for chunk in response.iter_bytes():
                    body.add(chunk)
            result = _result(response, url, body.bytes(), started)
    except (httpx.HTTPError, FetchError, ValueError) as exc:
        raise _translate(exc, url, what, settings.timeout) from None
    log.info("fetched %s %s: HTTP %d in %.3fs", what, url, result.status, result.elapsed)
    return result


async def fetch_async(
    url: str, what: str, settings: RemoteKeySettings, etag: str | None = None
) -> Fetched:
    """The same as :func:`fetch`, on the running event loop."""
    check_url(url, what, settings.allow_insecure_http)
    started = time.monotonic()
    try:
        async with (
            asyncio.timeout(settings.timeout),
            httpx.AsyncClient(
                timeout=settings.timeout, follow_redirects=False, verify=_tls_context()
            ) as client,
            client.stream("GET", url, headers=_request_headers(etag)) as response,
        ):
            _check_head(response, url, what, settings.max_response_bytes)
            body = _Body(url, what, settings, started)
            if response.status_code == 200:
                async for chunk in response.aiter_bytes():
                    body.add(chunk)
            result = _result(response, url, body.bytes(), started)
    except (httpx.HTTPError, FetchError, ValueError, TimeoutError) as exc:
        raise _translate(exc, url, what, settings.timeout) from None
    log.info("fetched %s %s: HTTP %d in %.3fs (async)", what, url, result.status, result.elapsed)
    return result
