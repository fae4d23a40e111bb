"""Types of the C fast lane (``_speedups.c``; see :mod:`realmgate.lane`)."""

from collections.abc import Callable
from typing import Any

def fast_verify(
    token: object,
    max_bytes: int,
    header_cache: dict[bytes, Any],
    issuers: dict[str, tuple[Any, ...]],
    clock: Callable[[], float],
    parsed_type: type,
) -> tuple[Any, Any, Any, Any, Any, float, float] | None: ...
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
