"""The record of why a decision came out as it did: every definition considered, every check.

Collection is cheap by design: a step is one tuple appended to a list, and the detail values
are the raw objects (numbers, strings) — formatting happens only when someone reads the
trace (``explain``, ``--json``, the trace log at ``finest``).

The verifier's passing stages go further with :meth:`Trace.lazy`: one record of the inputs a
stage decided on (the definition, the claims, the time), expanded into the very steps the
stage's reference code writes only when the trace is read. Eleven ``add`` calls with keyword
details and their ``TraceStep`` objects cost 8.9 µs per accepted token on the benchmark
machine (2026-11-23); a new trace with four lazy records costs 0.7 µs. A refusal's steps
are the same either way, because expansion is exact.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Protocol


class TraceLevel(IntEnum):
    OFF = 0
    """Only the decision itself (fastest)."""
    STEPS = 1
    """Every stage and check with its inputs (the default)."""
    FULL = 2
    """Also the decoded header and claims and every key tried (for explain)."""


@dataclass(frozen=True, slots=True)
class TraceStep:
    stage: str
    """Pipeline stage: extract, select, keys, jws, claims, mapping, decision."""
    check: str
    """What was checked, e.g. ``exp``, ``issuer``, ``filter``, ``signature``."""
    outcome: str
    """``pass``, ``fail``, ``skip`` or ``info``."""
    detail: Mapping[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "check": self.check,
            "outcome": self.outcome,
            "detail": dict(self.detail),
        }

    def describe(self) -> str:
        values = ", ".join(f"{k}={v!r}" for k, v in self.detail.items())
        return f"[{self.stage}] {self.check}: {self.outcome}" + (f" ({values})" if values else "")


Expand = Callable[..., Iterable[TraceStep]]
"""Makes the steps of a lazy record from the arguments recorded with it."""


class Recorded(Protocol):
    """A trace as a Decision keeps it: :class:`Trace`, or the fast lane's record
    (``realmgate.lane.LaneRecord``); either makes its steps when first read."""

    def steps(self) -> tuple[TraceStep, ...]: ...


class Trace:
    """Steps in order. ``records`` is flat: a step added with :meth:`add` is one 4-tuple
    ``(stage, check, outcome, detail)``; a :meth:`lazy` record is ``expand, n, arg1 … argn``
    laid out in the list itself, so it keeps no container of its own alive (a cached
    decision's trace lives as long as its cache entry, and every container the garbage
    collector must visit costs each insertion). Not for sharing between verifications
    while they run; reading (``steps``) may happen from any thread afterwards."""

    __slots__ = ("_made", "level", "records")

    def __init__(self, level: TraceLevel = TraceLevel.STEPS) -> None:
        self.level = level
        self.records: list[Any] = []
        """The flat record list. The verifier appends lazy records to it directly
        (``records += (expand, n, *args)`` when ``level`` is set): a method call with
        ``*args`` costs three times as much, four times per token."""
        self._made: tuple[int, tuple[TraceStep, ...]] | None = None

    def add(self, stage: str, check: str, outcome: str, **detail: Any) -> None:
        if self.level:
            self.records.append((stage, check, outcome, detail))

    def lazy(self, expand: Expand, *args: Any) -> None:
        """Record the steps ``expand(*args)`` makes, expanded when the trace is read. The
        arguments must not change afterwards (the verifier passes immutable values and the
        claims, which a Decision exposes read-only)."""
        if self.level:
            self.records += (expand, len(args), *args)

    def extended(self, stage: str, check: str, outcome: str, **detail: Any) -> Trace:
        """A new trace: these steps followed by one more (this one is left unchanged)."""
        trace = Trace(self.level)
        trace.records = [*self.records, (stage, check, outcome, detail)]
        return trace

    @property
    def full(self) -> bool:
        return self.level >= TraceLevel.FULL

    def steps(self) -> tuple[TraceStep, ...]:
        made = self._made
        records = self.records
        if made is not None and made[0] == len(records):
            return made[1]
        out: list[TraceStep] = []
        at, end = 0, len(records)
        while at < end:
            record = records[at]
            if type(record) is tuple:
                out.append(TraceStep(*record))
                at += 1
            else:
                count = records[at + 1]
                out.extend(_expand(record, records[at + 2 : at + 2 + count]))
                at += 2 + count
        steps = tuple(out)
        self._made = (end, steps)
        return steps

    def __iter__(self) -> Iterator[TraceStep]:
        return iter(self.steps())

    def __len__(self) -> int:
        return len(self.steps())

    def __repr__(self) -> str:
        return f"Trace({len(self.steps())} steps, level={self.level.name})"


def _expand(expand: Expand, args: list[Any]) -> list[TraceStep]:
    try:
        return list(expand(*args))
    except Exception as exc:  # reading a trace must never break the caller
        name = getattr(expand, "__name__", "?")
        detail = {"error": f"{type(exc).__name__}: {exc}", "record": name}
        return [TraceStep("trace", "expand", "info", detail)]
