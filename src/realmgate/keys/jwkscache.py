"""The cache behind every remote key document (JWK Set or discovery document).

One :class:`RemoteDocument` per (URL, settings) holds the last good parsed copy and applies
one freshness policy, the same for sync and async callers:

* **TTL** from ``Cache-Control: max-age`` (minus ``Age``) clamped to [cache_min, cache_max];
  ``default_ttl`` when the server says nothing. ``ETag`` is kept and revalidated.
* **Refresh ahead, on access.** A lookup past 70-85 % of the TTL (jittered, so a fleet does
  not refresh in step) starts a background refresh in a short-lived daemon thread and is
  answered from the cache at once. Chosen over a timer thread per source because it needs
  no lifecycle (nothing to stop on reload or garbage collection), costs nothing while a
  source is idle, and behaves the same under threads and asyncio. The price: a source idle
  past its TTL is refreshed by the next lookup, which waits for that one fetch.
* **Single flight.** At most one fetch per document is in progress; every caller that
  needs it, thread or coroutine, waits on the same ``concurrent.futures.Future``.
* **Cool-down.** Outside the TTL schedule the source fetches at most once per
  ``unknown_kid_cooldown``: an unknown ``kid`` is refetched only when no fetch happened
  within the cool-down, and after a failed fetch the next attempt waits as long (at least
  1 s, so a zero cool-down cannot turn an outage into a retry loop).
* **Bounded stale-if-error.** When a fetch fails the last good copy stays in use until
  ``max_stale`` after it expired (health "degraded"); past that, and when no copy was ever
  obtained, lookups raise :class:`~realmgate.errors.KeysUnavailable` (status 503).

The state is one immutable :class:`_State` swapped by the single fetch leader, so the hit
path reads one attribute and takes no lock. How an async verification gets a fetch without
blocking its event loop is :mod:`realmgate.keys.inline_pass`.
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, replace
from typing import Any, Generic, TypeVar

from realmgate.configmodel import RemoteKeySettings
from realmgate.errors import KeysUnavailable
from realmgate.keys.http import Fetched, FetchError, fetch, fetch_async
from realmgate.keys.inline_pass import INLINE, NetworkNeeded, run_inline

# run_inline is re-exported: the verifier and the HTTP service import it from here.
__all__ = ["MIN_RETRY_AFTER_FAILURE", "Health", "Held", "RemoteDocument", "run_inline", "span"]

log = logging.getLogger("realmgate.keys")

T = TypeVar("T")

MIN_RETRY_AFTER_FAILURE = 1.0
"""Seconds between attempts on a failing issuer, whatever the cool-down (Envoy: 1 s)."""


def span(seconds: float) -> str:
    """A duration for messages: 42s, 3.5 min, 2.0 h, 1.5 days."""
    seconds = max(0.0, seconds)
    if seconds < 120:
        return f"{seconds:.1f}s" if seconds < 10 else f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


@dataclass(frozen=True, slots=True)
class Health:
    """What a readiness check or ``realmgate`` status needs to know about one document."""

    what: str
    url: str
    status: str
    """``unloaded`` (never fetched), ``fresh``, ``stale`` (expired, no failure yet: the next
    lookup refreshes), ``degraded`` (serving the last good copy while fetches fail), or
    ``failed`` (no usable copy: lookups answer 503)."""
    last_success: float | None
    """Epoch seconds of the last successful fetch."""
    last_attempt: float | None
    last_error: str | None
    age: float | None
    """Seconds since the copy in use was fetched."""
    expires_in: float | None
    """Seconds of freshness left (negative: stale for that long)."""
    usable_for: float | None
    """Seconds until the copy passes max_stale and lookups fail."""
    fetches: int
    failures: int
    unknown_kid_refetches: int
    cooldown_refusals: int

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}


@dataclass(frozen=True, slots=True)
class Held(Generic[T]):
    value: T
    fetched_at: float
    stale: bool
    age: float


@dataclass(frozen=True, slots=True)
class _State(Generic[T]):
    value: T | None = None
    fetched_at: float = 0.0
    expires_at: float = 0.0
    refresh_at: float = 0.0
    etag: str | None = None
    success_wall: float | None = None
    last_attempt: float | None = None
    attempt_wall: float | None = None
    last_error: str | None = None
    """Text of the last attempt's failure; None when it succeeded."""


class RemoteDocument(Generic[T]):
    """One remote document under the policy in the module docstring."""

    def __init__(
        self,
        url: str,
        what: str,
        settings: RemoteKeySettings,
        parse: Callable[[bytes, str], T],
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.url = url
        self.what = what
        self.settings = settings
        self._parse = parse
        self._clock = clock
        self._wall = wall
        self._state: _State[T] = _State()
        self._lock = threading.Lock()
        self._flight: Future[None] | None = None
        self.fetches = 0
        self.failures = 0
        self.unknown_kid_refetches = 0
        self.cooldown_refusals = 0

    # -- reading -------------------------------------------------------------------------
    def get(self, owner: str) -> Held[T]:
        """The copy to use now; fetches (blocking, single flight) when there is none fresh
        and no fetch failed within the cool-down. ``owner`` names the user in messages."""
        now = self._clock()
        st = self._state
        if st.value is not None and now < st.expires_at:
            if now >= st.refresh_at and self._retry_allowed(st, now):
                self._refresh_in_background()
            return Held(st.value, st.fetched_at, False, now - st.fetched_at)
        if st.value is not None and st.last_error is not None:
            # The issuer is failing: answer from the stale copy, retry off the request path.
            if self._retry_allowed(st, now):
                self._refresh_in_background()
            return self._stale(st, now, owner)
        if st.value is None and not self._retry_allowed(st, now):
            raise self._unavailable(st, now, owner)
        self._fetch_now(gated=False)
        now = self._clock()
        st = self._state
        if st.value is None:
            raise self._unavailable(st, now, owner)
        if now < st.expires_at:
            return Held(st.value, st.fetched_at, False, now - st.fetched_at)
        return self._stale(st, now, owner)

    def refetch(self, owner: str, seen: Held[T]) -> Held[T] | None:
        """For an unknown kid in ``seen``: fetch again unless a fetch happened within the
        cool-down (then None, without any network). Concurrent callers share one fetch; a
        copy newer than ``seen`` (another caller's refetch landed meanwhile) is returned as
        is."""
        inline = INLINE.get()
        if self._state.fetched_at != seen.fetched_at or (
            inline is not None and id(self) in inline.fetched
        ):
            return self._held_now(owner)
        if self._flight is None and self._cooling(self._state, self._clock()):
            with self._lock:
                self.cooldown_refusals += 1
            return None
        if not self._fetch_now(gated=True):
            with self._lock:
                self.cooldown_refusals += 1
            return None
        return self._held_now(owner)

    def cooldown_left(self) -> float:
        st = self._state
        if st.last_attempt is None:
            return 0.0
        return max(0.0, st.last_attempt + self.settings.unknown_kid_cooldown - self._clock())

    def _held_now(self, owner: str) -> Held[T]:
        now = self._clock()
        st = self._state
        if st.value is None:
            raise self._unavailable(st, now, owner)
        if now < st.expires_at:
            return Held(st.value, st.fetched_at, False, now - st.fetched_at)
        return self._stale(st, now, owner)

    def _cooling(self, st: _State[T], now: float) -> bool:
        return st.last_attempt is not None and now - st.last_attempt < (
            self.settings.unknown_kid_cooldown
        )

    def _retry_wait(self) -> float:
        # Even with a zero cool-down, a failing issuer is retried at most once a second.
        return max(self.settings.unknown_kid_cooldown, MIN_RETRY_AFTER_FAILURE)

    def _retry_allowed(self, st: _State[T], now: float) -> bool:
        if st.last_error is None or st.last_attempt is None:
            return True
        return now - st.last_attempt >= self._retry_wait()

    def _stale(self, st: _State[T], now: float, owner: str) -> Held[T]:
        assert st.value is not None
        if now < st.expires_at + self.settings.max_stale:
            return Held(st.value, st.fetched_at, True, now - st.fetched_at)
        raise KeysUnavailable(
            "RG7010E",
            client=owner,
            url=self.url,
            age=span(now - st.fetched_at),
            stale_for=span(now - st.expires_at),
            max_stale=span(self.settings.max_stale),
            error=st.last_error or "none recorded",
        )

    def _unavailable(self, st: _State[T], now: float, owner: str) -> KeysUnavailable:
        left = 0.0
        if st.last_error and st.last_attempt is not None:
            left = max(0.0, st.last_attempt + self._retry_wait() - now)
        return KeysUnavailable(
            "RG7011E",
            client=owner,
            url=self.url,
            retry=f" (next attempt in {span(left)})" if left > 0 else "",
            error=st.last_error or "no attempt was made",
        )

    # -- fetching ------------------------------------------------------------------------
    def _claim(self, gated: bool) -> tuple[Future[None], bool] | None:
        """Join the fetch in flight, or become its leader; None when ``gated`` and cooling."""
        with self._lock:
            if self._flight is not None:
                return self._flight, False
            if gated and self._cooling(self._state, self._clock()):
                return None
            self._flight = Future()
            self.fetches += 1
            if gated:
                self.unknown_kid_refetches += 1
            return self._flight, True

    def _fetch_now(self, gated: bool) -> bool:
        """Fetch (or wait for the fetch in flight) on this thread; False when gated out."""
        inline = INLINE.get()
        if inline is not None:
            if id(self) in inline.fetched:
                return True  # this verification already fetched it: use what came back
            if not (gated and self._flight is None and self._cooling(self._state, self._clock())):
                raise NetworkNeeded(self, gated)
            return False
        claim = self._claim(gated)
        if claim is None:
            return False
        future, leader = claim
        if leader:
            self._lead_sync(future)
            return True
        try:
            future.result(timeout=self.settings.timeout * 3 + 1)
        except FutureTimeout:
            log.warning("waited too long for the fetch of %s in flight", self.url)
        return True

    def _refresh_in_background(self) -> None:
        claim = self._claim(gated=False)
        if claim is None or not claim[1]:
            return
        thread = threading.Thread(
            target=self._lead_sync, args=(claim[0],), name=f"realmgate-refresh {self.url}"
        )
        thread.daemon = True  # a refresh must never keep the process alive
        thread.start()

    async def fetch_async(self, gated: bool = False) -> None:
        """Fetch on the running loop with the async client, or await the flight in progress
        (whoever leads it: a thread or another coroutine)."""
        claim = self._claim(gated)
        if claim is None:
            return
        future, leader = claim
        if not leader:
            await asyncio.wrap_future(future)
            return
        try:
            etag = self._state.etag if self._state.value is not None else None
            try:
                self._accept(await fetch_async(self.url, self.what, self.settings, etag))
            except FetchError as exc:
                self._fail(exc.text)
        finally:
            self._land(future)

    def _lead_sync(self, future: Future[None]) -> None:
        try:
            etag = self._state.etag if self._state.value is not None else None
            try:
                self._accept(fetch(self.url, self.what, self.settings, etag))
            except FetchError as exc:
                self._fail(exc.text)
            except Exception as exc:  # never leave waiters hanging on a bug
                log.exception("fetching %s failed unexpectedly", self.url)
                self._fail(f"internal error: {type(exc).__name__}")
        finally:
            self._land(future)

    def _land(self, future: Future[None]) -> None:
        with self._lock:
            self._flight = None
        if not future.done():
            future.set_result(None)

    def _accept(self, fetched: Fetched) -> None:
        previous = self._state
        if fetched.status == 304:
            if previous.value is None:
                raise FetchError(
                    "RG7004E", what=self.what, url=self.url, detail="304 without a cached copy"
                )
            value: T = previous.value
        else:
            value = self._parse(fetched.body, self.url)
        s = self.settings
        ttl = s.default_ttl if fetched.max_age is None else fetched.max_age
        ttl = min(max(ttl, s.cache_min), s.cache_max)
        now = self._clock()
        ahead = random.uniform(0.70, 0.85)  # noqa: S311 - jitter, not a secret
        self._state = _State(
            value=value,
            fetched_at=now,
            expires_at=now + ttl,
            refresh_at=now + ttl * ahead,
            etag=fetched.etag or (previous.etag if fetched.status == 304 else None),
            success_wall=self._wall(),
            last_attempt=now,
            attempt_wall=self._wall(),
            last_error=None,
        )

    def _fail(self, text: str) -> None:
        with self._lock:
            self.failures += 1
        log.warning("%s", text)
        self._state = replace(
            self._state, last_attempt=self._clock(), attempt_wall=self._wall(), last_error=text
        )

    # -- reporting -----------------------------------------------------------------------
    def health(self) -> Health:
        now = self._clock()
        st = self._state
        if st.value is None:
            status = "failed" if st.last_error else "unloaded"
        elif now < st.expires_at:
            status = "degraded" if st.last_error else "fresh"
        elif now < st.expires_at + self.settings.max_stale:
            status = "degraded" if st.last_error else "stale"
        else:
            status = "failed"
        held = st.value is not None
        return Health(
            what=self.what,
            url=self.url,
            status=status,
            last_success=st.success_wall,
            last_attempt=st.attempt_wall,
            last_error=st.last_error,
            age=now - st.fetched_at if held else None,
            expires_in=st.expires_at - now if held else None,
            usable_for=(st.expires_at + self.settings.max_stale - now) if held else None,
            fetches=self.fetches,
            failures=self.failures,
            unknown_kid_refetches=self.unknown_kid_refetches,
            cooldown_refusals=self.cooldown_refusals,
        )
