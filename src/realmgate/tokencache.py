"""The verified-token cache: an accepted token seen again is answered without re-verifying,
for as long as the answer is certainly still the same.

Correct by construction (peer-verifiers.md (c)4; the bugs of mod_oauth2 #14, fast-jwt #29):

* **time is rechecked on every hit**: an entry is served only while
  ``valid_from <= now < valid_until``, where ``valid_until`` is ``exp + clock_skew`` (and, with
  ``max_age``, ``iat + max_age + clock_skew``) and ``valid_from`` the latest of
  ``nbf``/``iat`` minus the skew. Past that the token takes the full pipeline, which
  refuses it with the exact reason;
* **everything the decision depended on is stamped** and compared on a hit: the
  configuration snapshot (a reload, including a changed trust store), the identity mapping
  snapshot (``IdentityMapper.match`` gives the generation of the very rules that mapped
  the token), the revocation list generation (read *before* the check, so a revocation
  racing the check makes the entry stale rather than wrong), and for a remote key source
  the key itself: the source is asked again and the entry is used only if the key that
  verified the token is still what the token's kid names (a rotated-out kid stops
  answering at once);
* **the request is re-selected**: an entry is used only if, for this request, selection
  would pick the same definition (auth filters and the header the token came in matter);
* **only acceptances are cached**, never a refusal — a transient one (keys unavailable,
  registry down) must be retried, and a permanent one costs little to repeat;
* **never for a replay-protected definition** (``token_reuse = false``): its second use must
  be refused, which only the replay store can say;
* **bounded by entries and by bytes** (``[limits] verified_cache_entries`` and
  ``verified_cache_bytes``); the oldest entry leaves first. FIFO rather than LRU: a hit then
  changes nothing, so it needs no lock, and a token that falls out costs one verification.

Admission: a token enters on its *second* acceptance, not its first (a "doorkeeper", as in
TinyLFU): the first only records the token's ``hash()`` in a bounded set of ints. Most
traffic of unique tokens (per-request or short-lived service tokens) is then never stored,
which matters beyond the insertion itself: every stored entry keeps a few containers the
garbage collector walks on each full collection, and on the benchmark machine
(2026-11-23) storing every unique HS256 token cost 2.8-5.6 µs per token that way. The price is
one more full verification for a token that is reused.

Keyed by the token text. The strict base64url of ``realmgate.b64url`` gives every token
exactly one accepted encoding, so a re-encoded token cannot sit beside its original. ECDSA
signatures are malleable — (r, s) and (r, n − s) both verify, giving a second valid token
for the same claims (OWASP CheatSheet PR #2242) — which is harmless here: both tokens are
genuinely valid, each is cached on its own, and nothing is *denied* by this key (a denylist
keyed on token text would be fooled that way; revocation keys on ``iss`` + ``jti``).

Hit cost on the benchmark machine (2026-11-23, static key source): 1.18 µs median, against
1.09 µs for the anchors' bare "dict lookup of a pre-verified token" in the same run.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Any, NamedTuple

from realmgate.decision import Decision
from realmgate.doorkeeper import Doorkeeper
from realmgate.trace import Trace, TraceLevel

if TYPE_CHECKING:
    from realmgate.compiled import DefinitionPlan
    from realmgate.configmodel import ClientDefinition
    from realmgate.jws import ParsedJWS
    from realmgate.keys.material import VerificationKey
    from realmgate.request import RequestInfo
    from realmgate.snapshot import Snapshot
    from realmgate.verifier import Verifier

__all__ = ["CacheEntry", "VerifiedTokenCache", "entry_bytes", "make_entry", "serve"]

_new = tuple.__new__
_NO_TIME = float("-inf")
_CACHE_STEP = (
    "served from the verified-token cache; time, configuration, keys, mapping and "
    "revocations rechecked"
)

ENTRY_OVERHEAD = 2048
"""Bytes counted per entry beyond the token and payload: measured with tracemalloc at
1.3-1.7 KiB for the benchmark tokens (entry, Decision, trace records, claims dict
structure); rounded up so the byte bound errs on the safe side."""


class CacheEntry(NamedTuple):
    decision: Decision
    """The accepted decision as first returned (``from_cache`` False); once the first hit
    made :attr:`hit`, that one, so the first decision and its trace are not kept alive
    (three fewer objects per entry for every full garbage collection to walk)."""
    exp: float
    skew: int
    start: float
    """The later of ``nbf`` and ``iat`` (-inf without either): a hit needs
    ``start <= now + skew``, as ``claims.check_times`` does."""
    iat: float
    age_limit: int | None
    """``max_age + skew`` when the definition sets ``max_age``: a hit needs
    ``now - iat <= age_limit``."""
    snapshot: int
    """Generation of the configuration snapshot that verified the token."""
    plan: DefinitionPlan
    issuer: str
    mapping: int | None
    """Generation of the mapping rules that mapped it (None: map_to_registry_user)."""
    revocation: int | None
    """Generation of the revocation list it was checked against (None: not checked)."""
    key: VerificationKey | None
    """The key that verified it, rechecked on a hit for a remote source (None: static)."""
    kid: str | None
    alg: str
    x5t: str | None
    size: int
    hit: Decision | None = None
    """The ``from_cache`` decision handed to every hit (made on the first)."""


def entry_bytes(token: str, payload_bytes: int) -> int:
    """What one entry is counted as: the token, about three times its payload for the
    decoded claims, and :data:`ENTRY_OVERHEAD`."""
    return len(token) + 3 * payload_bytes + ENTRY_OVERHEAD


class VerifiedTokenCache:
    """Token text → :class:`CacheEntry`, bounded by ``max_entries`` and ``max_bytes``.

    ``get`` is a plain ``dict.get`` (atomic, no lock); ``put`` and eviction take a lock so
    the byte count stays exact under threads. Validating an entry is the verifier's job
    (it knows the snapshot, mapper and revocation list): see ``Verifier._from_cache``.
    """

    def __init__(self, max_entries: int, max_bytes: int) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        # OrderedDict, not dict: a dict's oldest key is found by scanning past the slots of
        # every key already evicted (next(iter(d)) became O(n); about 14 µs per insertion
        # near 10 000 entries on the benchmark machine), popitem(last=False) is O(1).
        self._entries: OrderedDict[str, CacheEntry] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.get = self._entries.get
        self.doorkeeper = Doorkeeper()
        """Whether to store a token just accepted (``admit``): from its second acceptance
        on (see realmgate.doorkeeper; the fast lane reads its state)."""
        self.admit = self.doorkeeper.admit
        self.unseen = self.doorkeeper.unseen
        """True for a token the doorkeeper has not marked since its bitmap last started over:
        only a token stored before that could then still be here, and passing it by costs
        one fresh verification, which also marks it again."""

    def put(self, token: str, entry: CacheEntry) -> None:
        if entry.size > self.max_bytes:
            return
        with self._lock:
            entries = self._entries
            old = entries.pop(token, None)
            if old is not None:
                self._bytes -= old.size
            entries[token] = entry
            self._bytes += entry.size
            while len(entries) > self.max_entries or self._bytes > self.max_bytes:
                self._bytes -= entries.popitem(last=False)[1].size

    def replace(self, token: str, old: CacheEntry, new: CacheEntry) -> None:
        """Swap ``old`` for ``new`` (same size) if ``token`` still maps to ``old``."""
        with self._lock:
            if self._entries.get(token) is old:
                self._entries[token] = new

    def discard(self, token: str) -> None:
        with self._lock:
            old = self._entries.pop(token, None)
            if old is not None:
                self._bytes -= old.size

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.doorkeeper.clear()
            self._bytes = 0

    @property
    def bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, token: Any) -> bool:
        return token in self._entries

    def stats(self) -> dict[str, int]:
        return {
            "entries": len(self._entries),
            "bytes": self._bytes,
            "max_entries": self.max_entries,
            "max_bytes": self.max_bytes,
        }


def make_entry(
    token: str,
    decision: Decision,
    snapshot: Snapshot,
    plan: DefinitionPlan,
    parsed: ParsedJWS,
    key: VerificationKey,
    mapping: int | None,
    revocation: int | None,
) -> CacheEntry:
    """The entry for an accepted ``decision`` (``mapping`` and ``revocation``: the
    generations its checks saw, read before the checks ran)."""
    definition = plan.definition
    claims = parsed.claims
    skew = definition.clock_skew
    # decision.expires_at is exp; the time checks that passed are re-run on each hit with
    # the arithmetic of claims.check_times, on the values recorded here.
    nbf, iat = claims.get("nbf"), claims.get("iat")
    start = max(_NO_TIME if nbf is None else nbf, _NO_TIME if iat is None else iat)
    age_limit = None if definition.max_age is None else definition.max_age + skew
    entry: CacheEntry = _new(
        CacheEntry,
        (
            decision,
            decision.expires_at,
            skew,
            float(start),
            _NO_TIME if iat is None else float(iat),
            age_limit,
            snapshot.generation,
            plan,
            decision.issuer,
            mapping,
            revocation,
            None if plan.keys is None or plan.keys.static else key,
            parsed.kid,
            parsed.alg,
            parsed.x5t,
            entry_bytes(token, len(parsed.payload)),
            None,
        ),
    )
    return entry


def serve(
    verifier: Verifier,
    token: str,
    entry: CacheEntry,
    request: RequestInfo | None,
    location: str | None,
    candidates: list[ClientDefinition] | None,
) -> Decision | None:
    """The cached decision if every rule of this module holds now, else None (the token
    then takes the full pipeline, which also explains any refusal)."""
    # One unpack instead of a named-tuple attribute read per field (the hit path).
    (_, exp, skew, start, iat, age_limit, stamp, plan, issuer, mapping, revocation, key,
     kid, alg, x5t, _, hit) = entry  # fmt: skip
    snapshot = verifier.snapshot
    if stamp != snapshot.generation:
        return None
    now = verifier.clock()
    if not now - skew < exp or start > now + skew:
        return None
    if age_limit is not None and now - iat > age_limit:
        return None
    definition = plan.definition
    try:
        selector = snapshot.selector
        if selector.quick(issuer, location, candidates) is not definition:
            if candidates is not None:
                candidates = selector.among(issuer, candidates)
            off = Trace(TraceLevel.OFF)
            if selector.select(issuer, request, location, off, candidates) is not definition:
                return None
        if mapping is not None and verifier.mapper.generation != mapping:
            return None
        if revocation is not None and verifier.revocations().generation() != revocation:
            return None
        if key is not None and plan.keys is not None:
            _, usable = plan.keys.get(kid, alg, x5t)
            if not any(k is key for k, _ in usable):
                return None
    except Exception:  # selection refused, registry or keys unavailable: decide afresh
        return None
    if hit is None:
        decision = entry.decision
        recorded = decision.recorded
        if isinstance(recorded, Trace):
            recorded = recorded.extended("cache", "verified_token", "pass", reason=_CACHE_STEP)
        hit = _new(Decision, (*decision[:-2], recorded, True))
        verifier.token_cache.replace(token, entry, entry._replace(decision=hit, hit=hit))
    return hit
