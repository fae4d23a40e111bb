"""Remote key sources: a definition's ``jwks_uri`` or ``discovery``, as a ``KeySource``.

The documents themselves (JWK Sets, discovery documents) live in a process-wide pool keyed
by (kind, URL, settings) and held weakly: every source that names the same URL with the same
settings shares one cache — a definition and the verify API's discovery mode, two
definitions for one issuer, the old and the new snapshot across a reload — and a document
nobody uses any more is dropped with its last source.

A lookup never follows ``jku``/``x5u`` (or any other header): keys come only from the URLs
the configuration names or an allowed issuer's discovery document.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from realmgate.configmodel import ClientDefinition, RemoteKeySettings
from realmgate.errors import InvalidToken, KeysUnavailable, TokenRefused
from realmgate.jsonparse import loads_object
from realmgate.keys.discovery import DiscoveryDoc, discovery_url_for, parse_discovery
from realmgate.keys.http import FetchError, check_url
from realmgate.keys.jwk import load_jwks
from realmgate.keys.jwkscache import Health, Held, RemoteDocument, span
from realmgate.keys.material import VerificationKey
from realmgate.keys.source import KeyLookup, KeySource

log = logging.getLogger("realmgate.keys")

__all__ = [
    "KeySet",
    "RemoteKeySource",
    "build_remote_source",
    "discovery_document",
    "jwks_document",
    "parse_jwks",
]


# -- JWK Sets ------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class KeySet:
    """The usable signature keys of one fetched JWK Set, indexed by kid."""

    keys: tuple[VerificationKey, ...]
    problems: tuple[str, ...]
    """One line per JWK skipped (encryption keys, unsupported types, shared secrets…)."""
    by_kid: dict[str, tuple[VerificationKey, ...]]
    labels: tuple[str, ...]

    def match(self, kid: str | None, x5t: str | None) -> tuple[VerificationKey, ...]:
        """Keys the token's ``kid`` (and ``x5t``, when both sides have one) names; every key
        when the token names none (the verifier then tries those bound to its ``alg``)."""
        if kid is not None:
            found = self.by_kid.get(kid, ())
            if x5t is not None:
                found = tuple(k for k in found if k.x5t is None or k.x5t == x5t)
            return found
        if x5t is not None:
            return tuple(k for k in self.keys if k.x5t == x5t)
        return self.keys


def parse_jwks(body: bytes, url: str) -> KeySet:
    """A fetched JWK Set → :class:`KeySet`; FetchError RG7004E when nothing is usable."""
    what = "JWK Set"
    try:
        data = loads_object(body, what)
    except InvalidToken as exc:
        detail = str(exc.values.get("detail") or exc.text)
        raise FetchError(
            "RG7004E", what=what, url=url, detail=f"not a JSON object ({detail})"
        ) from None
    keys, problems = load_jwks(data, f"JWKS {url}")
    secrets = [k for k in keys if k.kty == "oct"]
    if secrets:
        # A published document is readable by anyone: a shared secret in it is no secret.
        problems.extend(f"{k.source}: skipped, a shared secret in a published set" for k in secrets)
        keys = [k for k in keys if k.kty != "oct"]
    if not keys:
        shown = "; ".join(problems[:3]) or "the 'keys' array is empty"
        raise FetchError("RG7004E", what=what, url=url, detail=f"no usable signature key ({shown})")
    by_kid: dict[str, list[VerificationKey]] = {}
    for key in keys:
        if key.kid is not None:
            by_kid.setdefault(key.kid, []).append(key)
    for line in problems:
        log.info("%s", line)
    return KeySet(
        tuple(keys),
        tuple(problems),
        {k: tuple(v) for k, v in by_kid.items()},
        tuple(k.label() for k in keys),
    )


_pool_lock = threading.Lock()
_pool: weakref.WeakValueDictionary[tuple[str, str, RemoteKeySettings], RemoteDocument[Any]] = (
    weakref.WeakValueDictionary()
)


def jwks_document(url: str, settings: RemoteKeySettings) -> RemoteDocument[KeySet]:
    """The shared cache of the JWK Set at ``url``."""
    with _pool_lock:
        doc = _pool.get(("jwks", url, settings))
        if doc is None:
            doc = RemoteDocument(url, "JWK Set", settings, parse_jwks)
            _pool[("jwks", url, settings)] = doc
        return doc


def discovery_document(url: str, settings: RemoteKeySettings) -> RemoteDocument[DiscoveryDoc]:
    """The shared cache of the discovery document at ``url``."""
    with _pool_lock:
        doc = _pool.get(("discovery", url, settings))
        if doc is None:
            doc = RemoteDocument(url, "discovery document", settings, parse_discovery)
            _pool[("discovery", url, settings)] = doc
        return doc


class _JwksProvider:
    """Keys straight from a configured ``jwks_uri``."""

    def __init__(self, url: str, settings: RemoteKeySettings) -> None:
        self.jwks = jwks_document(url, settings)

    def keyset_document(self, owner: str) -> RemoteDocument[KeySet]:
        return self.jwks

    def documents(self) -> list[RemoteDocument[Any]]:
        return [self.jwks]


class _DiscoveryProvider:
    """Keys from the ``jwks_uri`` a discovery document names.

    ``expected``: the issuers the document may name (RG7020E otherwise); None when the
    caller compares the document's issuer with the token's itself (explicit URL mode).
    """

    def __init__(
        self, url: str, settings: RemoteKeySettings, expected: tuple[str, ...] | None
    ) -> None:
        self.settings = settings
        self.expected = expected
        self.discovery = discovery_document(url, settings)
        self._jwks: RemoteDocument[KeySet] | None = None  # strong ref: the pool is weak

    def document(self, owner: str) -> Held[DiscoveryDoc]:
        held = self.discovery.get(owner)
        seen = held.value.issuer
        if self.expected is not None and seen not in self.expected:
            shown = self.expected[0] if len(self.expected) == 1 else list(self.expected)
            raise KeysUnavailable("RG7020E", url=self.discovery.url, seen=seen, expected=shown)
        return held

    def keyset_document(self, owner: str) -> RemoteDocument[KeySet]:
        uri = self.document(owner).value.jwks_uri
        current = self._jwks
        if current is None or current.url != uri:
            try:
                check_url(uri, "JWK Set", self.settings.allow_insecure_http)
            except FetchError as exc:
                raise KeysUnavailable(exc.message_id, **exc.values) from None
            current = self._jwks = jwks_document(uri, self.settings)
        return current

    def documents(self) -> list[RemoteDocument[Any]]:
        return [self.discovery] + ([self._jwks] if self._jwks is not None else [])


_Provider = _JwksProvider | _DiscoveryProvider


@dataclass(frozen=True, slots=True)
class RemoteSpec:
    """What a remote source was built from; equal specs may share one source on reload."""

    jwks_uri: str | None
    discovery: tuple[tuple[str, tuple[str, ...]], ...]
    """(document URL, issuers it may name) per discovery document."""
    settings: RemoteKeySettings


class RemoteKeySource:
    """A :class:`~realmgate.keys.source.KeySource` over one or more remote documents."""

    def __init__(self, owner: str, spec: RemoteSpec, *, explicit: bool = False) -> None:
        self.owner = owner
        self.spec = spec
        self.providers: list[_Provider] = []
        if spec.jwks_uri is not None:
            self.providers.append(_JwksProvider(spec.jwks_uri, spec.settings))
        for url, issuers in spec.discovery:
            expected = None if explicit else issuers
            self.providers.append(_DiscoveryProvider(url, spec.settings, expected))
        urls = [spec.jwks_uri] if spec.jwks_uri else [url for url, _ in spec.discovery]
        kind = "JWKS" if spec.jwks_uri else "discovery"
        self.description = f"{kind} {', '.join(u for u in urls if u)}"

    def discovery(self, owner: str | None = None) -> DiscoveryDoc:
        """The (first) discovery document, fetched or cached (for the verify API modes)."""
        for provider in self.providers:
            if isinstance(provider, _DiscoveryProvider):
                return provider.document(owner or self.owner).value
        raise TypeError("not a discovery source")

    def lookup(self, kid: str | None, alg: str, x5t: str | None = None) -> KeyLookup:
        if len(self.providers) == 1:
            return self._lookup(self.providers[0], kid, x5t)
        # discovery = true with several issuers: one document each; the first that knows
        # the kid answers, and a failure is reported only when none does.
        failures: list[TokenRefused] = []
        for provider in self.providers:
            try:
                return self._lookup(provider, kid, x5t)
            except TokenRefused as exc:
                failures.append(exc)
        raise failures[0]

    def _lookup(self, provider: _Provider, kid: str | None, x5t: str | None) -> KeyLookup:
        document = provider.keyset_document(self.owner)
        held = document.get(self.owner)
        found = held.value.match(kid, x5t)
        if found or (kid is None and x5t is None):
            return self._answer(document, held, found, "by kid/x5t" if kid or x5t else "no kid")
        refreshed = document.refetch(self.owner, held)
        if refreshed is not None:
            found = refreshed.value.match(kid, x5t)
            if found:
                return self._answer(document, refreshed, found, "fetched again for a new kid")
            held, note = refreshed, "; fetched again for this kid, still absent"
        else:
            note = (
                f"; unknown kids cause at most one refetch per "
                f"{span(document.settings.unknown_kid_cooldown)}, next allowed in "
                f"{span(document.cooldown_left())}"
            )
        raise InvalidToken(
            "RG7012E",
            kid=kid if kid is not None else f"x5t {x5t}",
            client=self.owner,
            url=document.url,
            age=span(held.age),
            refetch=note,
            available=", ".join(held.value.labels),
        )

    def _answer(
        self,
        document: RemoteDocument[KeySet],
        held: Held[KeySet],
        keys: Sequence[Any],
        note: str,
    ) -> KeyLookup:
        # No age in the text: this runs on every verification and must stay cheap (the
        # trace records ``stale``; health() has the ages).
        where = f"JWKS {document.url} (stale copy)" if held.stale else f"JWKS {document.url}"
        return KeyLookup(tuple(keys), held.value.labels, where, stale=held.stale, note=note)

    def health(self) -> list[Health]:
        """One entry per document behind this source (discovery document, JWK Set)."""
        return [doc.health() for p in self.providers for doc in p.documents()]


def build_remote_source(definition: ClientDefinition, reuse: KeySource | None) -> KeySource:
    """The key source of a definition with ``jwks_uri`` or ``discovery`` (called by the
    snapshot builder). ``reuse`` is the previous snapshot's source for this definition: kept
    as is when built from the same settings, so a reload keeps its warm cache."""
    discovery: list[tuple[str, tuple[str, ...]]] = []
    if definition.discovery is True:
        discovery = [(discovery_url_for(i), (i,)) for i in definition.issuers]
    elif isinstance(definition.discovery, str):
        discovery = [(definition.discovery, definition.issuers)]
    spec = RemoteSpec(definition.jwks_uri, tuple(discovery), definition.remote)
    if isinstance(reuse, RemoteKeySource) and reuse.spec == spec and reuse.owner == definition.id:
        return reuse
    return RemoteKeySource(definition.id, spec)
