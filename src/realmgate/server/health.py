"""``/healthz`` (the process answers) and ``/readyz`` (it can make correct decisions).

Ready means: a configuration is loaded; every key source is fresh or within its stale limit
(static trust stores always are; remote JWKS/discovery documents report their state through
``Verifier.key_health()``); and the identity registry can be read. A failing check makes
``/readyz`` answer 503 with RG8030E and a JSON body listing every check, so an orchestrator
stops routing here while the cause is visible.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from realmgate.errors import RealmgateError
from realmgate.server.service import ServerState
from realmgate.shared_state import shared_state_checks  # issue 8

log = logging.getLogger("realmgate.server")

REGISTRY_TIMEOUT = 2.0


READY_STATUSES = {
    "fresh": True,
    "stale": True,  # expired but not failing: the next lookup refreshes it
    "degraded": True,  # serving the last good copy within max_stale while fetches fail
    "unloaded": True,  # fetched on first use; a fetch failure then shows as failed
    "failed": False,  # no usable copy: tokens of this definition get 503
}


def _document_check(doc: Mapping[str, Any]) -> dict[str, Any]:
    status = str(doc.get("status"))
    detail = f"{doc.get('what')} {doc.get('url')}: {status}"
    if doc.get("last_error"):
        detail += f"; last error: {doc['last_error']}"
    return {"ok": READY_STATUSES.get(status, False), "detail": detail}


def key_checks(state: ServerState) -> dict[str, Any]:
    checks: dict[str, Any] = {}
    snapshot = state.verifier.snapshot
    for client, reason in snapshot.unusable.items():
        checks[f"keys:{client}"] = {"ok": False, "detail": reason}
    remote = state.verifier.key_health()
    for client in snapshot.key_sources:
        docs = [_document_check(doc) for doc in remote.get(client, [])]
        if not docs:
            checks[f"keys:{client}"] = {"ok": True, "detail": "static keys"}
        else:
            checks[f"keys:{client}"] = {
                "ok": all(d["ok"] for d in docs),
                "detail": "; ".join(d["detail"] for d in docs),
            }
    return checks


STAT_FIELDS = ("fetches", "failures", "unknown_kid_refetches", "cooldown_refusals", "age")


def source_stats(state: ServerState) -> dict[str, dict[str, float]]:
    """Per definition: the remote documents' fetch counters and copy age (for /metrics)."""
    out: dict[str, dict[str, float]] = {}
    try:
        remote = state.verifier.key_health()
    except Exception:  # a statistics failure must not break the scrape
        log.exception("key health failed")
        return out
    for client, docs in remote.items():
        totals: dict[str, float] = {}
        for doc in docs:
            for name in STAT_FIELDS:
                value = doc.get(name)
                if isinstance(value, int | float) and not isinstance(value, bool):
                    key = "age_seconds" if name == "age" else name
                    totals[key] = (
                        max(totals.get(key, 0), value)
                        if name == "age"
                        else (totals.get(key, 0) + value)
                    )
        out[client] = totals
    return out


async def readiness(state: ServerState) -> tuple[bool, dict[str, Any]]:
    checks: dict[str, Any] = {
        "config": {"ok": True, "file": state.config.path, "generation": state.generation}
    }
    try:
        checks.update(key_checks(state))
    except Exception as exc:  # a broken probe means "not known to be ready"
        log.exception("key health failed")
        checks["keys"] = {"ok": False, "detail": f"health check failed: {type(exc).__name__}"}
    needs_registry = any(not d.map_to_registry_user for d in state.config.clients)
    if needs_registry:
        try:
            async with asyncio.timeout(REGISTRY_TIMEOUT):
                await asyncio.to_thread(state.verifier.mapper.refresh)
            checks["registry"] = {"ok": True, "rules": len(state.verifier.mapper.snapshot_rules())}
        except TimeoutError:
            checks["registry"] = {"ok": False, "detail": f"no answer in {REGISTRY_TIMEOUT}s"}
        except RealmgateError as exc:
            checks["registry"] = {"ok": False, "detail": exc.text}
    # issue 8: the shared replay store (Redis) and a PostgreSQL registry's change listener.
    checks.update(await shared_state_checks(state.verifier, state.config))
    ready = all(check["ok"] for check in checks.values())
    return ready, checks
