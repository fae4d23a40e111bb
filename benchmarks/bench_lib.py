"""The library path: ``Verifier.verify`` on unique tokens against the floor and the other
libraries, in interleaved rounds, plus the verified-token cache hit.

Every round gives each case a fresh batch of tokens never verified before (so realmgate's
verified-token cache never answers: this is the unique-token path, cache insertion
included), made in the round just before it is timed, as a server makes them from a
request's bytes (:func:`received`; the floor's split arguments likewise). The batch is
timed in slices of ``SLICE`` tokens, and the cases take turns slice by slice in a shuffled
order, so that every case of a round runs under the same conditions:
this machine's speed drifts by tens of percent within a second (other jobs share it), which
batches timed one after the other (300 tokens, 9 ms for RS256) did not cancel. A case's
figure is the median over rounds of its µs per token; its ratio is the median of the
per-round ratios to the floor measured in the same round. Spread is (max - min) / median
over the rounds. Times are the thread's CPU time (see ``CLOCK``).
"""

from __future__ import annotations

import gc
import random
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bench_fixtures import ALGORITHMS, AlgKeys, floor_verifier, make_tokens
from bench_libs import LIBRARIES

CLOCK = time.thread_time_ns
"""CPU time of the measuring thread: on a shared machine (the project's runs tests and
fuzzers beside the benchmark) wall time also counts the time the thread waited for a core,
which says nothing about the verifier. On an idle machine the two agree (run.py --wall)."""

SLICE = 20
"""Tokens per turn of a case within a round (see the module docstring)."""

FLOOR = "floor"
REALMGATE = "realmgate"


@dataclass
class CaseResult:
    name: str
    per_round: list[float] = field(default_factory=list)
    """µs per token, one value per round."""
    ratios: list[float] = field(default_factory=list)
    error: str | None = None

    @property
    def median(self) -> float:
        return statistics.median(self.per_round)

    @property
    def best(self) -> float:
        """The fastest round: interference from other processes only ever adds time."""
        return min(self.per_round)

    @property
    def spread(self) -> float:
        return (max(self.per_round) - min(self.per_round)) / self.median

    @property
    def ratio(self) -> float:
        return statistics.median(self.ratios)


def _time_batch(call: Callable[[Any], Any], items: Sequence[Any]) -> float:
    gc.collect()
    start = CLOCK()
    for item in items:
        call(item)
    return (CLOCK() - start) / len(items) / 1000


def _time_interleaved(
    cases: dict[str, Callable[[Any], Any]],
    items: dict[str, Sequence[Any]],
    rng: random.Random,
) -> dict[str, float]:
    """µs per item of each case, the cases taking turns slice by slice in shuffled order."""
    gc.collect()
    spent = dict.fromkeys(cases, 0)
    count = len(next(iter(items.values())))
    order = list(cases)
    for start in range(0, count, SLICE):
        rng.shuffle(order)
        for name in order:
            call, chunk = cases[name], items[name][start : start + SLICE]
            begin = CLOCK()
            for item in chunk:
                call(item)
            spent[name] += CLOCK() - begin
    return {name: total / count / 1000 for name, total in spent.items()}


def library_path(
    keys: dict[str, AlgKeys],
    verify: Callable[[str], Any],
    *,
    rounds: int,
    batch: int,
    algorithms: Sequence[str] = ALGORITHMS,
    libraries: bool = True,
    progress: Callable[[str], None] = lambda _: None,
) -> dict[str, dict[str, CaseResult]]:
    """alg → case name → result. ``verify`` is realmgate's (must accept every token)."""
    results: dict[str, dict[str, CaseResult]] = {}
    plans: dict[str, tuple[list[str], dict[str, Callable[[str], Any]]]] = {}
    for alg in algorithms:
        progress(f"signing {rounds * batch + batch} {alg} tokens")
        tokens = make_tokens(keys[alg], rounds * batch + batch, seed=hash(alg) & 0xFFFF)
        split, floor = floor_verifier(keys[alg])
        cases: dict[str, Callable[[Any], Any]] = {
            FLOOR: lambda args, f=floor: f(*args),
            REALMGATE: verify,
        }
        results[alg] = {FLOOR: CaseResult(FLOOR), REALMGATE: CaseResult(REALMGATE)}
        if libraries:
            for name, make in LIBRARIES.items():
                try:
                    library = make(keys[alg])
                except Exception as exc:  # a library that cannot do this algorithm
                    results[alg][name] = CaseResult(name, error=f"{type(exc).__name__}")
                    continue
                if library is None:
                    results[alg][name] = CaseResult(name, error="not installed")
                    continue
                cases[name] = library
                results[alg][name] = CaseResult(name)
        _check(alg, tokens[-1], verify, cases)
        plans[alg] = (tokens, cases)
        # Warm-up on the spare batch: imports, caches of parsed headers, branch predictors.
        for name, call in cases.items():
            items = [split(t) for t in tokens[-batch:]] if name == FLOOR else tokens[-batch:]
            _time_batch(call, items)
    rng = random.Random(7)
    for round_no in range(rounds):
        progress(f"round {round_no + 1}/{rounds}")
        for alg in algorithms:
            tokens, cases = plans[alg]
            # Every case's input is made here, just before it is timed, as a server makes it
            # from the request's bytes: the floor's split arguments and the others' str.
            chunk = [received(t) for t in tokens[round_no * batch : (round_no + 1) * batch]]
            split, _ = floor_verifier(keys[alg])
            floor_items = [split(t) for t in chunk]
            items = {name: floor_items if name == FLOOR else chunk for name in cases}
            timings = _time_interleaved(cases, items, rng)
            for name, value in timings.items():
                result = results[alg][name]
                result.per_round.append(value)
                result.ratios.append(value / timings[FLOOR])
    return results


def received(token: str) -> str:
    """A new str equal to ``token``, as a server decodes it from a request's bytes."""
    return token.encode("ascii").decode("ascii")


def _check(alg: str, token: str, verify: Callable[[str], Any], cases: dict[str, Any]) -> None:
    """Every case must accept a valid token, or its figure would be meaningless."""
    for name, call in cases.items():
        if name == FLOOR:
            continue
        outcome = call(token)
        if name == REALMGATE and not getattr(outcome, "accepted", False):
            raise SystemExit(f"realmgate refused a valid {alg} token: {outcome.reason}")


def cache_hits(
    verify: Callable[[str], Any], tokens: Sequence[str], *, rounds: int, repeat: int
) -> CaseResult:
    """µs per call when every token is already in the verified-token cache (a token is
    stored on its second acceptance)."""
    for token in [*tokens, *tokens]:
        decision = verify(token)
        if not decision.accepted:
            raise SystemExit(f"cache benchmark: token refused: {decision.reason}")
    if not verify(tokens[0]).from_cache:
        raise SystemExit("cache benchmark: a repeated token was not served from the cache")
    result = CaseResult("cache hit")
    items = list(tokens) * repeat
    for _ in range(rounds):
        result.per_round.append(_time_batch(verify, items))
    return result


def dict_lookup_anchor(tokens: Sequence[str], *, rounds: int, repeat: int) -> CaseResult:
    """The anchors' "Python dict lookup of a pre-verified token (sha256 + get + exp
    check)", measured here for comparison."""
    import hashlib

    table = {hashlib.sha256(t.encode()).digest(): time.time() + 3600 for t in tokens}

    def lookup(token: str) -> bool:
        exp = table.get(hashlib.sha256(token.encode()).digest())
        return exp is not None and time.time() < exp

    result = CaseResult("dict lookup")
    items = list(tokens) * repeat
    for _ in range(rounds):
        result.per_round.append(_time_batch(lookup, items))
    return result
