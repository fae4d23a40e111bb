"""Replay protection: remember each (iss, jti) until the token could no longer be valid."""

from __future__ import annotations

import heapq
import threading
import time
from collections.abc import Callable
from typing import Protocol


class ReplayStore(Protocol):
    def first_use(self, key: str, expires_at: float) -> bool:
        """Record ``key``; True if it was not seen before (and is now remembered until
        ``expires_at``), False if it is a replay."""
        ...


class MemoryReplayStore:
    """Process-local store, bounded. Entries leave when the token they record has expired
    (exp + skew), so the bound only bites under a flood of long-lived unique tokens; then
    the entry closest to expiry is dropped first, which keeps the most valuable memories."""

    def __init__(
        self, max_entries: int = 1_000_000, clock: Callable[[], float] = time.time
    ) -> None:
        self._seen: dict[str, float] = {}
        self._expiry_heap: list[tuple[float, str]] = []
        self._max = max_entries
        self._lock = threading.Lock()
        self._clock = clock

    def first_use(self, key: str, expires_at: float) -> bool:
        now = self._clock()
        with self._lock:
            self._purge(now)
            previous = self._seen.get(key)
            if previous is not None and previous > now:
                return False
            self._seen[key] = expires_at
            heapq.heappush(self._expiry_heap, (expires_at, key))
            while len(self._seen) > self._max and self._expiry_heap:
                _, old = heapq.heappop(self._expiry_heap)
                self._seen.pop(old, None)
            return True

    def _purge(self, now: float) -> None:
        heap = self._expiry_heap
        while heap and heap[0][0] <= now:
            expiry, key = heapq.heappop(heap)
            if self._seen.get(key) == expiry:
                del self._seen[key]

    def __len__(self) -> int:
        return len(self._seen)
