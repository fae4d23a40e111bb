"""What a node shares with the others (issue 8), as the HTTP service needs it: the replay
store built from ``[replay]``, and readiness checks for the shared stores.

Readiness: ``replay`` asks Redis (``PING``) and is not ready when a definition with
``token_reuse = false`` and ``replay_unavailable = "refuse"`` would refuse its tokens, and
``degraded`` (still ready) when every such definition allows; ``registry_changes`` reports
whether a PostgreSQL registry's change listener is connected (within its grace period the
node keeps serving its snapshot, so it stays ready, with status ``reconnecting``).
"""

from __future__ import annotations

import asyncio
from typing import Any

from realmgate.configmodel import Config
from realmgate.errors import RealmgateError
from realmgate.replay import MemoryReplayStore, ReplayStore
from realmgate.replay_redis import open_replay_store, replay_check
from realmgate.verifier import Verifier

CHECK_TIMEOUT = 2.0


def build_replay_store(config: Config) -> ReplayStore:
    """The store ``[replay]`` names (Redis, shared by the nodes), else a process-local one."""
    return open_replay_store(config) or MemoryReplayStore()


async def shared_state_checks(verifier: Verifier, config: Config) -> dict[str, Any]:
    checks: dict[str, Any] = {}
    if any(not d.token_reuse for d in config.clients):
        try:
            async with asyncio.timeout(CHECK_TIMEOUT):
                replay = await asyncio.to_thread(replay_check, verifier.replay_store, config)
        except TimeoutError:
            replay = {"ok": False, "status": "unavailable", "detail": "no answer in time"}
        if replay is not None:
            checks["replay"] = replay
    if not config.registry.url:
        return checks  # only a PostgreSQL registry follows changes with a listener
    try:
        async with asyncio.timeout(CHECK_TIMEOUT):  # the first use opens the registry
            registry = await asyncio.to_thread(lambda: verifier.mapper.registry)
    except (TimeoutError, RealmgateError):
        return checks  # the "registry" check reports why
    health = getattr(registry, "health", None)
    if callable(health):
        checks["registry_changes"] = health()
    return checks
