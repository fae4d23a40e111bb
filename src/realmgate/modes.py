"""The verify API modes (WebSphere APAR's verifyJwt family), done safely.

``Verifier.verify_jwt`` / ``verify_jwt_using_config`` / ``verify_jwt_using_discovery`` run
the ordinary pipeline; this module decides, before it starts, *which* definition and key
source the token is judged by (a "plan"):

* **config** — a configured definition chosen by issuer alone (the API has no request to
  run auth filters on). When one definition trusts the issuer it serves, unless it says
  ``use_issuer = false``; when several do, the one with ``use_issuer = true`` (or
  ``allow_issuer_selection = true``) serves, and with none marked the token is refused
  (RG7024E) instead of guessing.
* **discovery** — a definition made on the fly for the token's issuer, with keys from its
  discovery document. The URL is derived from ``iss`` only for issuers in
  ``[discovery] allow`` (RG7022E otherwise, with no request made); an explicit
  ``discovery_url`` from the application skips the list, and the document's issuer must
  then equal the token's (RG7021E). Such a definition accepts only the asymmetric
  algorithms the document lists, takes the issuer as realm (a token cannot pick its realm),
  and maps the subject through the identity registry like any other token.
* **auto** — config first, then discovery.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol

from realmgate.configmodel import ClientDefinition, Config, Location, RemoteKeySettings
from realmgate.errors import ClaimRefused, InvalidToken, KeysUnavailable, NoDefinition
from realmgate.jws import parse_compact
from realmgate.keys.discovery import (
    DiscoveryAllow,
    DiscoveryDoc,
    discovery_url_for,
    is_loopback_url,
)
from realmgate.keys.jwkscache import span
from realmgate.keys.remote import RemoteKeySource, RemoteSpec
from realmgate.select import Selector
from realmgate.snapshot import Snapshot
from realmgate.trace import Trace

MODES = ("config", "discovery", "auto")
DISCOVERY_ALGORITHMS = (
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA",
)  # fmt: skip
"""Never HS*: a published document cannot hand over a shared secret."""
MAX_DISCOVERED = 64
"""Discovered issuers kept (least recently used dropped first)."""
NEW_ISSUER_LIMIT = 10
NEW_ISSUER_WINDOW = 30.0
"""At most NEW_ISSUER_LIMIT issuers discovered for the first time per window (seconds)."""

Plan = tuple[Snapshot, list[ClientDefinition] | None]


class _Context(Protocol):
    issuer: str | None
    client_id: str | None


@dataclass(slots=True)
class _Discovered:
    source: RemoteKeySource
    doc: DiscoveryDoc | None = None
    definition: ClientDefinition | None = None
    derived: tuple[Snapshot, Snapshot] | None = None
    """(the verifier's snapshot, the view made from it for this issuer)."""


def api_definitions(clients: list[ClientDefinition]) -> tuple[list[ClientDefinition], str]:
    """Of the definitions that trust one issuer, those that may serve issuer-based selection
    for the API (file order) and, when there are none, why."""
    eligible = [
        d
        for d in clients
        if d.allow_issuer_selection
        or d.use_issuer is True
        or (d.use_issuer is None and len(clients) == 1)
    ]
    if eligible or not clients:
        return eligible, ""
    if len(clients) == 1:
        return [], "it says use_issuer = false"
    return [], "several share the issuer and none says use_issuer = true"


class ApiModes:
    """Per-verifier state of the API modes: the sources of discovered issuers."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._discovered: OrderedDict[tuple[str, bool], _Discovered] = OrderedDict()
        self._new: deque[float] = deque()
        self._allow: tuple[tuple[str, ...], DiscoveryAllow] | None = None

    # -- the plan ----------------------------------------------------------------------
    def plan(
        self,
        mode: str,
        token: str,
        default_issuer: str | None,
        discovery_url: str | None,
        snapshot: Snapshot,
        trace: Trace,
        ctx: _Context,
    ) -> Plan:
        parsed = parse_compact(token, snapshot.config.limits.max_token_bytes)
        iss: Any = parsed.claims.get("iss")
        if iss is None:
            if mode == "discovery":
                raise NoDefinition("RG7025E", mode="verify_jwt_using_discovery")
            if default_issuer is None:
                raise NoDefinition("RG2002E")
            iss = default_issuer
        elif not isinstance(iss, str):
            raise ClaimRefused("RG4007E", claim="iss", detail=f"{type(iss).__name__}, not a string")
        ctx.issuer = iss
        trace.add("select", "mode", "info", mode=mode, iss=iss)
        if mode != "discovery":
            trusting = list(snapshot.selector.by_issuer.get(iss, []))
            eligible, why = api_definitions(trusting)
            if eligible:
                chosen = eligible[0]
                trace.add("select", "api", "pass", client=chosen.id, candidates=len(trusting))
                return snapshot, [chosen]
            if mode == "config" or (trusting and not self.allow(snapshot.config).allows(iss)):
                if not trusting:
                    return snapshot, []  # the pipeline's selector reports RG2001E
                trace.add("select", "api", "fail", clients=[d.id for d in trusting], why=why)
                raise NoDefinition("RG7024E", clients=[d.id for d in trusting], iss=iss, detail=why)
            detail = "has no definition" if not trusting else f"has definitions ({why})"
        else:
            detail = "is not looked up in the configuration in discovery mode"
        return self._discovery_plan(snapshot, iss, discovery_url, parsed.alg, detail, trace)

    def _discovery_plan(
        self,
        snapshot: Snapshot,
        iss: str,
        discovery_url: str | None,
        alg: str,
        detail: str,
        trace: Trace,
    ) -> Plan:
        if discovery_url is None:
            allow = self.allow(snapshot.config)
            if not allow.allows(iss):
                trace.add("select", "discovery", "fail", iss=iss, allowed=list(allow.entries))
                raise NoDefinition("RG7022E", iss=iss, detail=detail, allowed=allow.describe())
            url, insecure, explicit = discovery_url_for(iss), allow.insecure_ok(iss), False
        else:
            url, insecure, explicit = discovery_url, is_loopback_url(discovery_url), True
        if alg not in DISCOVERY_ALGORITHMS:  # decided before any request
            raise InvalidToken(
                "RG7023E",
                iss=iss,
                alg=alg,
                allowed=list(DISCOVERY_ALGORITHMS),
                detail=" (through discovery, whatever the document says; nothing was fetched)",
            )
        entry = self._entry(snapshot, url, iss, insecure, explicit)
        owner = entry.source.owner
        doc = entry.source.discovery(owner)
        if explicit and doc.issuer != iss:
            raise InvalidToken("RG7021E", iss=iss, seen=doc.issuer, url=url)
        trace.add("select", "discovery", "pass", iss=iss, url=url, jwks_uri=doc.jwks_uri)
        if entry.doc is not doc or entry.definition is None:
            allowed = tuple(
                a for a in DISCOVERY_ALGORITHMS if doc.algorithms is None or a in doc.algorithms
            )
            entry.definition = ClientDefinition(
                id=owner,
                issuers=(doc.issuer,),
                algorithms=allowed,
                location=Location(url, 0),
                realm=doc.issuer,
                discovery=url,
                remote=entry.source.spec.settings,
            )
            entry.doc, entry.derived = doc, None
        definition = entry.definition
        if alg not in definition.algorithms:
            listed = list(doc.algorithms) if doc.algorithms is not None else "none"
            raise InvalidToken(
                "RG7023E",
                iss=iss,
                alg=alg,
                allowed=list(definition.algorithms),
                detail=f" (its discovery document {url} lists {listed})",
            )
        derived = entry.derived
        if derived is None or derived[0] is not snapshot:
            # The pipeline sees a snapshot whose selector and key sources hold just this
            # definition; made once per (snapshot, document), not per token.
            view = replace(
                snapshot,
                selector=Selector((definition,), {}),
                key_sources={definition.id: entry.source},
            )
            derived = entry.derived = (snapshot, view)
        return derived[1], None

    # -- discovered sources ------------------------------------------------------------
    def allow(self, config: Config) -> DiscoveryAllow:
        cached = self._allow
        if cached is None or cached[0] != config.discovery_allow:
            cached = (config.discovery_allow, DiscoveryAllow(config.discovery_allow))
            self._allow = cached
        return cached[1]

    def _entry(
        self, snapshot: Snapshot, url: str, iss: str, insecure: bool, explicit: bool
    ) -> _Discovered:
        key = (url, explicit)
        with self._lock:
            entry = self._discovered.get(key)
            if entry is not None:
                self._discovered.move_to_end(key)
                return entry
            now = self._clock()
            while self._new and now - self._new[0] > NEW_ISSUER_WINDOW:
                self._new.popleft()
            if len(self._new) >= NEW_ISSUER_LIMIT:
                raise KeysUnavailable(
                    "RG7026E",
                    iss=iss,
                    count=len(self._new),
                    window=span(NEW_ISSUER_WINDOW),
                    limit=NEW_ISSUER_LIMIT,
                )
            self._new.append(now)
            settings = _configured_settings(snapshot, url) or RemoteKeySettings(
                allow_insecure_http=insecure
            )
            spec = RemoteSpec(None, ((url, (iss,)),), settings)
            owner = f"discovery at {url}" if explicit else f"discovery for {iss}"
            entry = _Discovered(RemoteKeySource(owner, spec, explicit=explicit))
            self._discovered[key] = entry
            while len(self._discovered) > MAX_DISCOVERED:
                self._discovered.popitem(last=False)
            return entry

    def health(self, snapshot: Snapshot) -> dict[str, list[dict[str, Any]]]:
        """Health of every remote document in use: per definition, then per discovered
        issuer (``discovery for <iss>``)."""
        out: dict[str, list[dict[str, Any]]] = {}
        for client_id, source in snapshot.key_sources.items():
            if isinstance(source, RemoteKeySource):
                out[client_id] = [h.to_dict() for h in source.health()]
        with self._lock:
            entries = list(self._discovered.values())
        for entry in entries:
            out.setdefault(entry.source.owner, [h.to_dict() for h in entry.source.health()])
        return out


def _configured_settings(snapshot: Snapshot, url: str) -> RemoteKeySettings | None:
    """The settings of a configured source for the same discovery URL, so both share one
    cache (documents are pooled by URL and settings)."""
    for source in snapshot.key_sources.values():
        if isinstance(source, RemoteKeySource) and any(u == url for u, _ in source.spec.discovery):
            return source.spec.settings
    return None
