"""The record of why a decision came out as it did: every definition considered, every check.

Collection is cheap by design: a step is one tuple appended to a list, and the detail values
are the raw objects (numbers, strings) — formatting happens only when someone reads the
trace (``explain``, ``--json``, the trace log at ``finest``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import Any


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


class Trace:
    __slots__ = ("_steps", "level")

    def __init__(self, level: TraceLevel = TraceLevel.STEPS) -> None:
        self.level = level
        self._steps: list[tuple[str, str, str, dict[str, Any]]] = []

    def add(self, stage: str, check: str, outcome: str, **detail: Any) -> None:
        if self.level:
            self._steps.append((stage, check, outcome, detail))

    @property
    def full(self) -> bool:
        return self.level >= TraceLevel.FULL

    def steps(self) -> tuple[TraceStep, ...]:
        return tuple(TraceStep(s, c, o, d) for s, c, o, d in self._steps)

    def __iter__(self) -> Iterator[TraceStep]:
        return iter(self.steps())

    def __len__(self) -> int:
        return len(self._steps)
