"""The running service's state: one verifier plus everything built from a configuration.

A :class:`ServerState` is immutable and belongs to one configuration generation; a reload
builds a complete new one off the event loop and swaps a single reference, so a request sees
either the old configuration or the new one, never a mixture, and a refused configuration
changes nothing at all.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from realmgate.configmodel import Config
from realmgate.decision import Decision
from realmgate.errors import ConfigError, RealmgateError
from realmgate.keys.jwkscache import run_inline
from realmgate.request import RequestInfo
from realmgate.server.metrics import Metrics
from realmgate.server.publish import Publisher
from realmgate.server.reload import describe_changes
from realmgate.server.settings import SurfaceSettings, surface_settings
from realmgate.shared_state import build_replay_store  # issue 8
from realmgate.verifier import Verifier

log = logging.getLogger("realmgate.server")


@dataclass(frozen=True, slots=True)
class ServerState:
    config: Config
    settings: SurfaceSettings
    verifier: Verifier
    publisher: Publisher
    loaded_at: float

    @property
    def generation(self) -> int:
        return self.verifier.snapshot.generation


@dataclass(frozen=True, slots=True)
class ReloadOutcome:
    ok: bool
    trigger: str
    generation: int
    changes: tuple[str, ...] = ()
    problems: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "trigger": self.trigger,
            "generation": self.generation,
            "changes": list(self.changes),
            "problems": list(self.problems),
        }


def _load(path: str) -> Config:
    from realmgate.config import load_config

    return load_config(path)


class Service:
    """Holds the current :class:`ServerState`, the metrics, and performs reloads."""

    def __init__(
        self,
        config: Config | str | Path,
        *,
        verifier: Verifier | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not isinstance(config, Config):
            config = _load(str(config))
        self.config_path = config.path
        self.metrics = Metrics()
        self._clock = clock
        self._reload_lock = asyncio.Lock()
        self.on_admin_reload: Callable[[], None] | None = None
        """Set by a pre-forked worker: after an admin reload, make the other workers reload
        too (the parent forwards a SIGHUP to every worker)."""
        settings = surface_settings(config)
        publisher = Publisher(config)
        # issue 8: the replay store [replay] names (Redis, shared by the nodes) or a local one.
        verifier = verifier or Verifier(config, replay_store=build_replay_store(config))
        self._state = ServerState(config, settings, verifier, publisher, clock())

    @property
    def state(self) -> ServerState:
        return self._state

    # -- verification ----------------------------------------------------------------------
    async def decide(self, info: RequestInfo, *, endpoint: str, explain: bool = False) -> Decision:
        """Verify the token in ``info``. Runs on the event loop (a verification is tens of
        microseconds of CPU; a thread hop would cost more); a key fetch it needs is awaited
        through the async HTTP client (``run_inline``), never blocking the loop."""
        verifier = self._state.verifier
        start = time.perf_counter()
        decision = await run_inline(partial(verifier.verify_request, info, explain=explain))
        self.metrics.decision(endpoint, decision, time.perf_counter() - start)
        return decision

    async def verify_token(
        self,
        token: str,
        info: RequestInfo | None,
        *,
        mode: str | None,
        explain: bool,
        default_issuer: str | None,
        discovery_url: str | None,
        endpoint: str,
    ) -> Decision:
        """``mode`` None: the ordinary pipeline (auth filters see ``info``); ``auto``,
        ``config``, ``discovery``: the verify API modes of :mod:`realmgate.modes`."""
        verifier = self._state.verifier
        call: Callable[[], Decision]
        if mode is None:
            call = partial(
                verifier.verify, token, info, explain=explain, default_issuer=default_issuer
            )
        elif mode == "discovery":
            call = partial(verifier.verify_jwt_using_discovery, token, discovery_url,
                           explain=explain)  # fmt: skip
        elif mode == "config":
            call = partial(verifier.verify_jwt_using_config, token, default_issuer,
                           explain=explain)  # fmt: skip
        else:
            call = partial(verifier.verify_jwt, token, default_issuer, explain=explain)
        start = time.perf_counter()
        decision = await run_inline(call)
        self.metrics.decision(endpoint, decision, time.perf_counter() - start)
        return decision

    # -- reload ----------------------------------------------------------------------------
    def _build(self, old: ServerState) -> tuple[ServerState, list[str]]:
        """Load and check everything; only the final verifier swap has an effect, and it
        happens after every other check passed."""
        config = _load(self.config_path)
        if old.config.clients and not config.clients:
            # An empty, comment-only or truncated file can load as a valid configuration that
            # refuses every token: never swap that in under traffic.
            raise RealmgateError(
                "RG6001E",
                file=self.config_path,
                detail="it now defines no [[client]] (an empty or truncated file?); a reload "
                "never removes every definition, restart realmgate to do that",
            )
        settings = surface_settings(config)
        publisher = Publisher(config)
        verifier = old.verifier
        if config.registry != old.config.registry:
            # A different registry needs a new mapper; keep the replay store (jti seen).
            verifier = Verifier(config, replay_store=old.verifier.replay_store)
        else:
            verifier.reload(config)
        changes = describe_changes(old.config, config, old.settings, settings)
        state = ServerState(config, settings, verifier, publisher, self._clock())
        return state, changes

    async def reload(self, trigger: str) -> ReloadOutcome:
        """Reload the configuration file; on any problem the old state stays and the
        problems are logged (RG8022E) and returned."""
        async with self._reload_lock:
            old = self._state
            try:
                state, changes = await asyncio.to_thread(self._build, old)
            except ConfigError as exc:
                problems = [p.text for p in exc.problems] + [exc.text]
                self.metrics.reload(False)
                for line in problems:
                    log.error("%s", line)
                log.error(
                    "%s",
                    RealmgateError(
                        "RG8022E",
                        file=self.config_path,
                        trigger=trigger,
                        count=len(exc.problems),
                        generation=old.generation,
                    ).text,
                )
                return ReloadOutcome(False, trigger, old.generation, problems=tuple(problems))
            except RealmgateError as exc:
                self.metrics.reload(False)
                log.error("%s", exc.text)
                return ReloadOutcome(False, trigger, old.generation, problems=(exc.text,))
            self._state = state
            self.metrics.reload(True)
            if state.config.trace_spec != old.config.trace_spec:
                from realmgate.tracespec import apply_trace_spec

                apply_trace_spec(state.config.trace_spec)
            summary = "; ".join(changes) if changes else "no effective change"
            log.info(
                "%s",
                RealmgateError(
                    "RG8021I",
                    file=self.config_path,
                    trigger=trigger,
                    generation=state.generation,
                    changes=summary,
                ).text,
            )
            return ReloadOutcome(True, trigger, state.generation, tuple(changes))
