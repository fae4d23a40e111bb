"""Prometheus metrics, written by hand in the text exposition format (version 0.0.4).

Hand-written rather than ``prometheus_client`` because recording is on the hot path: one
decision costs a dict increment and a ``bisect`` here, against label lookups under a lock per
metric there (measured in docs/server.md), and the format is a few lines of text. All
recording happens on the event loop thread (verifications that run in worker threads return
to the loop before they are counted), so no lock is needed.

Metrics (``realmgate_`` prefix):

* ``decisions_total{endpoint,result,message_id,status}`` – every verification;
* ``decision_seconds`` – histogram of verification latency;
* ``verified_cache_hits_total`` / ``verified_cache_misses_total``;
* ``key_fetches_total{client}``, ``key_fetch_failures_total``,
  ``key_unknown_kid_refetches_total``, ``key_cooldown_refusals_total``, ``key_age_seconds`` –
  the remote key documents (JWKS, discovery) of each definition;
* ``reloads_total{result}``, ``config_generation``, ``config_loaded_timestamp_seconds``;
* ``http_requests_total{endpoint,status}`` for every endpoint.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Mapping
from typing import Any

from realmgate.decision import Decision

BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 2.5)
FIRST_BOUND = BUCKETS[0]
AUTH_HIT = ("auth", "accepted", "", 200)
CONTENT_TYPE = b"text/plain; version=0.0.4; charset=utf-8"
KEY_STATS = {
    "fetches": ("key_fetches_total", "counter", "Remote key document fetches (JWKS, discovery)."),
    "failures": ("key_fetch_failures_total", "counter", "Remote key document fetches that failed."),
    "unknown_kid_refetches": (
        "key_unknown_kid_refetches_total",
        "counter",
        "Refetches caused by a kid not in the cached JWK Set.",
    ),
    "cooldown_refusals": (
        "key_cooldown_refusals_total",
        "counter",
        "Unknown kids refused without a fetch (cool-down).",
    ),
    "age_seconds": ("key_age_seconds", "gauge", "Age of the oldest remote key copy in use."),
}


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(names: Iterable[str], values: Iterable[Any]) -> str:
    pairs = [f'{n}="{_escape(str(v))}"' for n, v in zip(names, values, strict=True)]
    return "{" + ",".join(pairs) + "}" if pairs else ""


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value)) if isinstance(value, float) else str(value)


class Metrics:
    def __init__(self) -> None:
        self.decisions: dict[tuple[str, str, str, int], int] = {}
        self.buckets = [0] * (len(BUCKETS) + 1)
        self.latency_sum = 0.0
        self.latency_count = 0
        self.cache_hits = 0
        self.cache_misses = 0
        self.reloads: dict[str, int] = {"ok": 0, "refused": 0}
        self.http: dict[tuple[str, int], int] = {}
        self.auth_hits = 0
        """Accepted /auth cache hits, counted by :meth:`auth_decision` alone and folded into the
        decision, cache and latency counts when they are read."""

    def decision(self, endpoint: str, decision: Decision, seconds: float) -> None:
        result = "accepted" if decision.accepted else "refused"
        key = (endpoint, result, decision.message_id or "", decision.status)
        self.decisions[key] = self.decisions.get(key, 0) + 1
        self.buckets[bisect.bisect_left(BUCKETS, seconds)] += 1
        self.latency_sum += seconds
        self.latency_count += 1
        if decision.from_cache:
            self.cache_hits += 1
        else:
            self.cache_misses += 1

    def auth_decision(self, decision: Decision, seconds: float) -> None:
        """:meth:`decision` for ``/auth``; an accepted cache hit (a session's steady traffic)
        costs one counter and the histogram: 0.22 µs against 0.62 µs for the general
        bookkeeping (timeit, best of 7 × 200 000; issue 5, 2-core benchmark machine,
        2026-12-02)."""
        d = decision
        if d.from_cache and d.accepted and d.status == 200 and not d.message_id:
            self.auth_hits += 1
            index = 0 if seconds <= FIRST_BOUND else bisect.bisect_left(BUCKETS, seconds)
            self.buckets[index] += 1
            self.latency_sum += seconds
            return
        self.decision("auth", decision, seconds)

    def decision_counts(self) -> dict[tuple[str, str, str, int], int]:
        """``decisions_total`` by labels, the lazily counted hits included."""
        counts = dict(self.decisions)
        if self.auth_hits:
            counts[AUTH_HIT] = counts.get(AUTH_HIT, 0) + self.auth_hits
        return counts

    def request(self, endpoint: str, status: int) -> None:
        key = (endpoint, status)
        self.http[key] = self.http.get(key, 0) + 1

    def reload(self, ok: bool) -> None:
        self.reloads["ok" if ok else "refused"] += 1

    def render(
        self,
        *,
        generation: int,
        loaded_at: float,
        source_stats: Mapping[str, Mapping[str, float]] | None = None,
    ) -> str:
        lines: list[str] = []

        def family(name: str, kind: str, help_text: str) -> None:
            lines.append(f"# HELP realmgate_{name} {help_text}")
            lines.append(f"# TYPE realmgate_{name} {kind}")

        family("decisions_total", "counter", "Token verifications by result and message id.")
        names = ("endpoint", "result", "message_id", "status")
        for key, count in sorted(self.decision_counts().items()):
            lines.append(f"realmgate_decisions_total{_labels(names, key)} {count}")
        family("decision_seconds", "histogram", "Time to verify a token and map its identity.")
        cumulative = 0
        for bound, count in zip((*BUCKETS, math.inf), self.buckets, strict=True):
            cumulative += count
            le = _labels(("le",), (_number(bound),))
            lines.append(f"realmgate_decision_seconds_bucket{le} {cumulative}")
        lines.append(f"realmgate_decision_seconds_sum {self.latency_sum!r}")
        lines.append(f"realmgate_decision_seconds_count {self.latency_count + self.auth_hits}")
        family("verified_cache_hits_total", "counter", "Decisions answered from the cache.")
        lines.append(f"realmgate_verified_cache_hits_total {self.cache_hits + self.auth_hits}")
        family("verified_cache_misses_total", "counter", "Decisions that ran the full pipeline.")
        lines.append(f"realmgate_verified_cache_misses_total {self.cache_misses}")
        family("reloads_total", "counter", "Configuration reloads by result.")
        for result, count in sorted(self.reloads.items()):
            lines.append(f"realmgate_reloads_total{_labels(('result',), (result,))} {count}")
        family("config_generation", "gauge", "Generation of the configuration in force.")
        lines.append(f"realmgate_config_generation {generation}")
        family("config_loaded_timestamp_seconds", "gauge", "When it was loaded (Unix time).")
        lines.append(f"realmgate_config_loaded_timestamp_seconds {loaded_at!r}")
        by_stat: dict[str, list[tuple[str, float]]] = {}
        for client, stats in sorted((source_stats or {}).items()):
            for stat, value in stats.items():
                if stat in KEY_STATS:
                    by_stat.setdefault(stat, []).append((client, value))
        for stat, rows in sorted(by_stat.items()):
            name, kind, help_text = KEY_STATS[stat]
            family(name, kind, help_text)
            for client, value in rows:
                lines.append(f"realmgate_{name}{_labels(('client',), (client,))} {value}")
        family("http_requests_total", "counter", "HTTP requests by endpoint and status.")
        for (endpoint, status), count in sorted(self.http.items()):
            labels = _labels(("endpoint", "status"), (endpoint, status))
            lines.append(f"realmgate_http_requests_total{labels} {count}")
        return "\n".join(lines) + "\n"
