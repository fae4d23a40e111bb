"""Types of the C fast lane (``_speedups.c``; see :mod:`realmgate.lane`)."""

from typing import Any

def fast_verify(token: object, state: tuple[Any, ...]) -> Any: ...
def split_compact(token: object, max_bytes: int) -> tuple[bytes, bytes, bytes, bytes] | None: ...
def loads_strict(data: bytes) -> dict[str, Any] | None: ...
def check_claims(
    claims: dict[str, Any],
    now: float,
    skew: float,
    max_age: float | None,
    check_aud: bool,
    expected: frozenset[str] | None,
    required: tuple[str, ...],
) -> float | None: ...
def doorkeeper_admit(state: bytearray, token: str) -> bool: ...
