"""The revocation list as the verifier sees it (issue 8).

Revocations (by ``jti``, by subject, by key id; optionally limited to one issuer) are stored
in the identity registry next to the mapping rules, so every node sharing a registry shares
the list, and a change is followed exactly like a mapping change: the checker keeps an
in-memory snapshot and reloads it when ``registry.generation()`` moves, asking at most every
``refresh_interval`` seconds. With a PostgreSQL registry that question is answered from
memory and kept current by LISTEN/NOTIFY, so a revocation made on one node is in force on
every node well within a second.

Fail closed, as mapping does: if the registry cannot be read when the snapshot is checked,
tokens are refused with RG5002E (503) until a later check succeeds — a revocation must not
stop working because the store became unreadable.

A definition with ``map_to_registry_user = true`` never needs the registry for mapping, and
a configuration made only of such definitions may have none; its tokens are checked against
the revocation list only when ``[registry]`` is configured (:func:`uses_registry`).
"""

from __future__ import annotations

import math
import threading
import time
import weakref
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from realmgate.configmodel import ClientDefinition, Config
from realmgate.errors import RegistryError, TokenRefused
from realmgate.registry.base import (
    ANY,
    IdentityRegistry,
    Revocation,
    RevocationList,
    revocation_value,
    utc_text,
)
from realmgate.trace import Trace

DEFAULT_REFRESH_INTERVAL = 0.25
_MAX_CACHED_CHARS = 1024

_Index = dict[tuple[str, str], dict[str, Revocation]]

# A subject recurs on every request it makes, and DN parsing dominates the subject lookup.
_cached_subject = lru_cache(maxsize=4096)(lambda value: revocation_value("subject", value))


def _subject_key(value: str) -> str:
    if len(value) > _MAX_CACHED_CHARS:
        return revocation_value("subject", value)
    return str(_cached_subject(value))


class RevocationChecker:
    """Answers "is this token revoked?" from a snapshot of the registry's list. Thread-safe."""

    def __init__(
        self,
        registry: IdentityRegistry,
        *,
        refresh_interval: float = DEFAULT_REFRESH_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._registry = registry
        self._interval = refresh_interval
        self._clock = clock
        self._lock = threading.Lock()
        self._failure: RegistryError | None = None
        self._generation: int | None = None
        self._index: _Index = {}
        self._subjects = False
        self._next_check = 0.0
        self._supported = isinstance(registry, RevocationList)
        self.fresh: tuple[float, bool] | None = None if self._supported else (math.inf, True)
        """(until, empty): while the clock reads less than ``until``, :meth:`find` answers
        from the current list, which is empty if ``empty``; None before the first check and
        while the registry is failing (a registry without revocations: always empty). The
        C fast lane (realmgate.lane) reads it to skip calling :meth:`find` for an empty
        list."""

    @property
    def clock(self) -> Callable[[], float]:
        """The clock :attr:`fresh` is read against."""
        return self._clock

    def refresh(self, *, force: bool = False) -> None:
        """Check the registry now; reload the list if it changed. RG5002E if unreadable."""
        if not self._supported:
            return
        with self._lock:
            self._check(self._clock(), force)

    def _check(self, now: float, force: bool) -> None:
        self.fresh = None
        self._reload(now, force)
        self.fresh = (self._next_check, not self._index)

    def _reload(self, now: float, force: bool) -> None:
        self._next_check = now + self._interval
        try:
            generation = self._registry.generation()
            if not force and generation == self._generation:
                self._failure = None
                return
            assert isinstance(self._registry, RevocationList)
            entries = self._registry.revocations()
        except RegistryError as exc:
            self._failure = exc
            raise
        index: _Index = {}
        for entry in entries:
            index.setdefault((entry.kind, entry.value), {})[entry.issuer] = entry
        self._index = index
        self._subjects = any(kind == "subject" for kind, _ in index)
        self._generation = generation
        self._failure = None

    def _current(self) -> _Index:
        now = self._clock()
        if now >= self._next_check and self._lock.acquire(blocking=False):
            # One thread checks; the others use the snapshot they have meanwhile.
            try:
                self._check(now, False)
            except RegistryError:
                pass  # kept in _failure, raised below for every caller
            finally:
                self._lock.release()
        if self._failure is not None:
            raise self._failure
        return self._index

    def generation(self) -> int | None:
        """The generation of the list as :meth:`find` sees it now (refreshed the same way;
        RG5002E if unreadable). The verified-token cache (issue 5) keeps it with each entry
        and stops serving the entry once it moves, so a revocation also stops cache hits."""
        if not self._supported:
            return 0
        self._current()
        return self._generation

    def find(
        self, issuer: str, *, jti: Any = None, subject: Any = None, kid: Any = None
    ) -> Revocation | None:
        """The entry that revokes a token with these values, or None. Values that are not
        non-empty strings (a missing or malformed claim) match nothing."""
        if not self._supported:
            return None
        index = self._current()
        if not index:
            return None
        for kind, value in (("jti", jti), ("kid", kid), ("subject", subject)):
            if not isinstance(value, str) or not value:
                continue
            if kind == "subject":
                if not self._subjects:
                    continue
                value = _subject_key(value)
            entries = index.get((kind, value))
            if entries:
                entry = entries.get(issuer) or entries.get(ANY)
                if entry is not None:
                    return entry
        return None

    def __len__(self) -> int:
        return sum(len(entries) for entries in self._current().values())


_checkers: weakref.WeakKeyDictionary[IdentityRegistry, RevocationChecker] = (
    weakref.WeakKeyDictionary()
)
_checkers_lock = threading.Lock()


def checker_for(registry: IdentityRegistry) -> RevocationChecker:
    """The one checker of ``registry`` (made on first use, dropped with the registry)."""
    checker = _checkers.get(registry)
    if checker is None:
        with _checkers_lock:
            checker = _checkers.get(registry)
            if checker is None:
                checker = _checkers[registry] = RevocationChecker(registry)
    return checker


def uses_registry(config: Config, definition: ClientDefinition) -> bool:
    """Whether tokens of ``definition`` are checked against the revocation list."""
    return not definition.map_to_registry_user or bool(config.registry.path or config.registry.url)


def revoked(entry: Revocation) -> TokenRefused:
    """RG8510E naming what was revoked, when, and why."""
    return TokenRefused(
        "RG8510E",
        kind=entry.kind,
        value=entry.value,
        when=utc_text(entry.revoked_at),
        scope=entry.scope_text(),
        reason=f" (reason: {entry.reason})" if entry.reason else "",
    )


def check_revocation(
    registry: IdentityRegistry,
    issuer: str,
    claims: dict[str, Any],
    user_claim: str,
    kid: str | None,
    trace: Trace,
    checker: RevocationChecker | None = None,
) -> None:
    """Raise RG8510E if the token is revoked (RG5002E if the list cannot be read).
    ``checker``: the registry's (``checker_for(registry)``), when the caller keeps it."""
    entry = (checker if checker is not None else checker_for(registry)).find(
        issuer, jti=claims.get("jti"), subject=claims.get(user_claim), kid=kid
    )
    if entry is None:
        trace.add("revocation", "list", "pass")
        return
    trace.add(
        "revocation",
        entry.kind,
        "fail",
        value=entry.value,
        issuer=entry.issuer,
        revoked_at=utc_text(entry.revoked_at),
    )
    raise revoked(entry)
