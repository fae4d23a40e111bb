"""OpenID Connect Discovery: the provider document, and which issuers may be discovered.

The document (``<issuer>/.well-known/openid-configuration``) is fetched and cached exactly
like a JWK Set (:mod:`realmgate.keys.jwkscache`); from it realmgate takes ``issuer`` (which
must equal the expected issuer exactly), ``jwks_uri`` and
``id_token_signing_alg_values_supported``.

**The allow-list.** WebSphere's ``verifyJwt`` derives the discovery URL from the token's
unverified ``iss`` claim, so whoever writes a token chooses where the server connects to.
realmgate derives a URL from a token only for issuers listed in ``[discovery] allow``:

* an entry with ``://`` is an exact issuer (``https://idp.example.com/realms/a``); an
  exact ``http://`` entry is the only way a dynamically discovered issuer may use plain
  http (meant for loopback tests);
* otherwise it is a host pattern, https only: ``idp.example.com`` (that host) or
  ``*.example.com`` (any name below ``example.com``, not ``example.com`` itself), with an
  optional ``:port`` (without one, only the default port matches).

The check is pure string work done before any network I/O: an issuer outside the list
costs no request at all.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from realmgate.errors import InvalidToken
from realmgate.jsonparse import loads_object
from realmgate.keys.http import FetchError

log = logging.getLogger("realmgate.keys")

WELL_KNOWN = "/.well-known/openid-configuration"
_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
_HOST_PATTERN = re.compile(rf"^(\*\.)?({_LABEL}(?:\.{_LABEL})*)(?::([0-9]{{1,5}}))?$")
_HOSTNAME = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*$")
_LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")


@dataclass(frozen=True, slots=True)
class DiscoveryDoc:
    issuer: str
    jwks_uri: str
    algorithms: tuple[str, ...] | None
    """``id_token_signing_alg_values_supported``; None when the document has none (an
    RFC 8414 authorization-server document need not)."""


def discovery_url_for(issuer: str) -> str:
    """OpenID Connect Discovery 1.0 section 4: the issuer without a trailing ``/``, then the
    well-known path."""
    return issuer.rstrip("/") + WELL_KNOWN


def parse_discovery(body: bytes, url: str) -> DiscoveryDoc:
    """A fetched discovery document → :class:`DiscoveryDoc`; FetchError RG7004E if unusable."""
    what = "discovery document"
    try:
        data = loads_object(body, what)
    except InvalidToken as exc:
        detail = str(exc.values.get("detail") or exc.text)
        raise FetchError(
            "RG7004E", what=what, url=url, detail=f"not a JSON object ({detail})"
        ) from None
    issuer = data.get("issuer")
    jwks_uri = data.get("jwks_uri")
    if not isinstance(issuer, str) or not issuer:
        raise FetchError("RG7004E", what=what, url=url, detail="no 'issuer' string")
    if not isinstance(jwks_uri, str) or not jwks_uri:
        raise FetchError("RG7004E", what=what, url=url, detail="no 'jwks_uri' string")
    raw = data.get("id_token_signing_alg_values_supported")
    algorithms: tuple[str, ...] | None = None
    if raw is not None:
        if not isinstance(raw, list) or not all(isinstance(a, str) for a in raw):
            raise FetchError(
                "RG7004E",
                what=what,
                url=url,
                detail="'id_token_signing_alg_values_supported' is not an array of strings",
            )
        algorithms = tuple(raw)
    return DiscoveryDoc(issuer, jwks_uri, algorithms)


def is_loopback_url(url: str) -> bool:
    try:
        return (urlsplit(url).hostname or "") in _LOOPBACK_HOSTS
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class _HostRule:
    wildcard: bool
    host: str
    port: int | None

    def matches(self, host: str, port: int | None) -> bool:
        if (port or 443) != (self.port or 443):
            return False
        if self.wildcard:
            return host.endswith("." + self.host)
        return host == self.host


def allow_entry_problem(entry: str) -> str | None:
    """Why ``entry`` cannot be a ``[discovery] allow`` entry, or None (for config checks)."""
    if "://" in entry:
        try:
            parts = urlsplit(entry)
            parts.port  # noqa: B018 - raises ValueError on a bad port
        except ValueError as exc:
            return f"{entry!r} is not a valid URL ({exc})"
        if parts.scheme not in ("https", "http") or not parts.hostname:
            return f"{entry!r} is not an http(s) issuer URL"
        if parts.query or parts.fragment or parts.username is not None:
            return f"{entry!r}: an issuer has no query, fragment or credentials"
        return None
    if not _HOST_PATTERN.match(entry):
        return (
            f"{entry!r} is neither an issuer URL nor a host pattern "
            "('idp.example.com', '*.example.com', optionally with ':port')"
        )
    return None


class DiscoveryAllow:
    """The compiled ``[discovery] allow`` list."""

    def __init__(self, entries: Iterable[str]) -> None:
        self.entries = tuple(entries)
        self.exact: frozenset[str] = frozenset(e for e in self.entries if "://" in e)
        self.rules: list[_HostRule] = []
        for entry in self.entries:
            if "://" in entry:
                continue
            problem = allow_entry_problem(entry)
            if problem is not None:
                log.warning("[discovery] allow: ignoring %s", problem)
                continue
            match = _HOST_PATTERN.match(entry)
            assert match is not None
            port = int(match.group(3)) if match.group(3) else None
            self.rules.append(_HostRule(bool(match.group(1)), match.group(2), port))

    def describe(self) -> str:
        return ", ".join(repr(e) for e in self.entries) if self.entries else "empty"

    def allows(self, issuer: str) -> bool:
        """Whether discovery may be derived from ``issuer`` (string checks only)."""
        if issuer in self.exact:
            return True
        if not self.rules:
            return False
        try:
            parts = urlsplit(issuer)
            host, port = parts.hostname, parts.port
        except ValueError:
            return False
        if parts.scheme != "https" or not host or parts.username is not None:
            return False
        if parts.query or parts.fragment or not host.isascii() or host.endswith("."):
            return False
        # Only plain DNS names or IPv4 literals: no '*', '%', '\\' or anything another URL
        # parser (the HTTP client's) might read as a different host than this one did.
        if not _HOSTNAME.match(host):
            return False
        return any(rule.matches(host, port) for rule in self.rules)

    def insecure_ok(self, issuer: str) -> bool:
        """Plain http only for an issuer listed exactly (never through a host pattern)."""
        return issuer in self.exact and issuer.startswith("http://")
