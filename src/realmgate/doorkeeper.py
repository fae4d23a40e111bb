"""The verified-token cache's doorkeeper: a token is stored from its second acceptance on.

One bit per token (a one-hash Bloom filter: a collision only admits a token one sighting
early); the bitmap starts over after :data:`RESET` sightings, so old ones age out and false
admissions stay under 8 %. Most tokens a verifier sees are never seen again; not storing
those keeps the cache for the ones that are.

With the C module the bit comes from the token's last sixteen characters (its signature's;
see ``_speedups_doorkeeper.c``), and :attr:`Doorkeeper.unseen` tells a token that was never
marked, which the cache therefore cannot hold, without the ~850-character hash its dict
would compute: the verifier then skips the lookup (issue 5). Without it the bit comes from
``hash(token)`` and ``unseen`` always answers False (the cache is always asked).

The state is one ``bytearray`` laid out for the C fast lane (``realmgate._speedups``),
which admits the tokens it accepts itself: bytes 0-3 the sightings counted so far, 4-7 the
reset count (both little-endian), then the bitmap. A bitmap, not a set of ints: a set is a
container the garbage collector walks on every full collection (2 000 instructions per
token, measured with callgrind).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

__all__ = ["BYTES", "RESET", "Doorkeeper"]

BYTES = 1 << 16
RESET = 40_000
"""Sightings per bitmap generation: 40 000 of 524 288 bits set at most, so at most 7.3 %
of new tokens are wrongly taken for seen ones."""
_HEADER = 8
_MASK = (BYTES << 3) - 1

_compiled: Callable[[bytearray, str], bool] | None
_unseen: Callable[[bytearray, str], bool] | None
try:
    from realmgate._speedups import doorkeeper_admit, doorkeeper_unseen
except ImportError:  # pragma: no cover - exercised where the extension is not built
    _compiled = _unseen = None
else:
    _compiled, _unseen = doorkeeper_admit, doorkeeper_unseen


def _never(token: str) -> bool:  # pragma: no cover - exercised where the extension is not built
    return False


class Doorkeeper:
    """``admit(token)``: whether ``token`` (just accepted) was seen before, marking it seen.
    Thread-safe enough for its purpose: a lost update under a race admits or delays one
    token by a sighting, never more."""

    __slots__ = ("state", "unseen")

    def __init__(self) -> None:
        self.state = bytearray(_HEADER + BYTES)
        """Changed in place only (the fast lane keeps a reference)."""
        self.state[4:8] = RESET.to_bytes(4, "little")
        self.unseen: Callable[[str], bool] = (
            _never if _unseen is None else partial(_unseen, self.state)
        )
        """``unseen(token)``: True only if ``token`` is certainly not marked (module
        docstring); marks nothing."""

    def admit(self, token: str) -> bool:
        if _compiled is not None:
            return _compiled(self.state, token)
        state = self.state
        bit = hash(token) & _MASK  # cached on the str: the cache lookup computed it
        index, mask = _HEADER + (bit >> 3), 1 << (bit & 7)
        if state[index] & mask:
            return True
        count = int.from_bytes(state[0:4], "little") + 1
        if count > RESET:
            state[_HEADER:] = bytes(BYTES)
            count = 1
        state[0:4] = count.to_bytes(4, "little")
        state[index] |= mask
        return False

    def clear(self) -> None:
        self.state[0:4] = bytes(4)
        self.state[_HEADER:] = bytes(BYTES)
