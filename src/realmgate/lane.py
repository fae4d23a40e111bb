"""The fast lane: a unique token's accept-only front half in C (issue 5).

``realmgate._speedups.fast_verify`` parses, selects by issuer, checks the algorithm, the
signature and the claims of a token, exactly as the pipeline's first stages would for a
token they accept, and answers None for anything else: the reference pipeline
(``Verifier._decide``) then decides and explains. What it needs per snapshot is a table,
issuer → the definition's plan and its checks as plain values, built here once per
snapshot. The stages after the claims (revocation, replay, mapping, the Decision, the
cache) are the verifier's own, shared by both paths.

Without the compiled module (no C compiler at install time) :data:`fast_verify` is None
and every token goes the reference way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from realmgate.compiled import plan_for
from realmgate.snapshot import Snapshot

FastVerify = Callable[
    [str, int, dict[bytes, Any], dict[str, tuple[Any, ...]], Callable[[], float], type],
    tuple[Any, Any, Any, Any, Any, float, float] | None,
]

fast_verify: FastVerify | None
try:
    from realmgate._speedups import fast_verify as _compiled
except ImportError:  # pragma: no cover - exercised where the extension is not built
    fast_verify = None
else:
    fast_verify = _compiled

__all__ = ["fast_verify", "lane_table"]


def lane_table(snapshot: Snapshot) -> dict[str, tuple[Any, ...]]:
    """Issuer → the lane entry ``_speedups.fast_verify`` reads: (plan, algorithms, the key
    lookup, clock skew, max age, check the audience, audiences, required claims). Only
    issuers whose definition the selector picks without looking at the request, and that
    have a key source; other tokens go the reference way."""
    table: dict[str, tuple[Any, ...]] = {}
    selector = snapshot.selector
    for iss in selector.quick_issuers():
        definition = selector.quick(iss, None, None)
        if definition is None:
            continue
        plan = plan_for(snapshot, definition)
        if plan.keys is None:
            continue
        audiences = definition.audiences
        table[iss] = (
            plan,
            frozenset(definition.algorithms),
            plan.keys.get,
            float(definition.clock_skew),
            None if definition.max_age is None else float(definition.max_age),
            not definition.audiences_any,
            None if audiences is None else frozenset(audiences),
            tuple(definition.required_claims),
        )
    return table
