"""The async verifier's inline pass: the synchronous pipeline run on the event loop.

Verification is CPU-bound and short, so :func:`run_inline` runs it on the loop rather than
in a thread. The one thing in it that could block is a remote key fetch: during the pass
(marked by :data:`INLINE`) a :class:`~realmgate.keys.jwkscache.RemoteDocument` that needs
the network raises :class:`NetworkNeeded` instead of fetching; ``run_inline`` awaits that
fetch through the async HTTP client (sharing the document's single flight with threads)
and runs the pass again, with the fetched document remembered so it is never asked for
twice in one verification.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from realmgate.keys.jwkscache import RemoteDocument

__all__ = ["INLINE", "NetworkNeeded", "run_inline"]

T = TypeVar("T")


class _Inline:
    """Marks an async verifier's inline pass: no blocking fetch allowed; ``fetched`` holds
    the documents already fetched for this verification (never ask for one twice)."""

    __slots__ = ("fetched",)

    def __init__(self) -> None:
        self.fetched: set[int] = set()


INLINE: ContextVar[_Inline | None] = ContextVar("realmgate_inline", default=None)


class NetworkNeeded(BaseException):
    """Raised instead of a blocking fetch during an inline pass; the async verifier awaits
    :meth:`fetch` (async HTTP, shared single flight) and runs the pass again.

    A ``BaseException``, like ``asyncio.CancelledError`` and for the same reason: it is
    control flow, and the pipeline's fail-closed ``except Exception`` must let it through.
    """

    def __init__(self, document: RemoteDocument[Any], gated: bool) -> None:
        super().__init__(f"network needed for {document.url}")
        self.document = document
        self.gated = gated

    async def fetch(self) -> None:
        inline = INLINE.get()
        if inline is not None:
            inline.fetched.add(id(self.document))
        await self.document.fetch_async(gated=self.gated)


async def run_inline(call: Callable[[], T]) -> T:
    """Run a verification on the event loop: a cache hit never leaves the loop; a fetch it
    needs is awaited through the async client (single flight shared with threads) and the
    verification run again. A pass that still wants the network after a few rounds (it
    should not: a document is fetched at most once per verification) finishes in a thread.
    """
    token = INLINE.set(_Inline())
    try:
        for _ in range(4):
            try:
                return call()
            except NetworkNeeded as need:
                await need.fetch()
    finally:
        INLINE.reset(token)
    return await asyncio.to_thread(call)
