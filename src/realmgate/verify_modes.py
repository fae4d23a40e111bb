"""The verify API modes of :class:`~realmgate.verifier.Verifier` (WebSphere's verifyJwt
family, issue 3): a definition chosen by issuer, by discovery, or from the configuration
only. What they decide is :mod:`realmgate.modes`; this is the verifier's side of it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from realmgate.decision import Decision
from realmgate.results import Known
from realmgate.snapshot import Snapshot
from realmgate.trace import Trace, TraceLevel

if TYPE_CHECKING:
    from realmgate.modes import ApiModes, Plan

__all__ = ["VerifyModes"]


class VerifyModes:
    """The verify API modes, mixed into :class:`~realmgate.verifier.Verifier`."""

    _modes: ApiModes | None
    _snapshot: Snapshot
    _mapper_lock: threading.Lock
    trace_level: TraceLevel

    _run: Callable[..., Decision]
    """Verifier._run: the pipeline, given a plan that chooses the definition and keys."""

    def verify_jwt(
        self, token: str, default_issuer: str | None = None, *, explain: bool = False
    ) -> Decision:
        """A definition chosen by issuer (``iss``, else ``default_issuer``); if none,
        discovery, but only for issuers allowed by ``[discovery] allow``."""
        return self._api("auto", token, default_issuer, None, explain)

    def verify_jwt_using_discovery(
        self, token: str, discovery_url: str | None = None, *, explain: bool = False
    ) -> Decision:
        """Discovery only: the URL derived from ``iss`` (allowed issuers only), or the given
        ``discovery_url``, whose document must name the token's issuer."""
        return self._api("discovery", token, None, discovery_url, explain)

    def verify_jwt_using_config(
        self, token: str, default_issuer: str | None = None, *, explain: bool = False
    ) -> Decision:
        """Configured definitions only, chosen by issuer (``use_issuer`` rules)."""
        return self._api("config", token, default_issuer, None, explain)

    def key_health(self) -> dict[str, list[dict[str, Any]]]:
        """Health of every remote key document (JWKS, discovery): status fresh, stale,
        degraded or failed, last success, last error, age; per definition id."""
        return self._api_modes().health(self._snapshot)

    def _api_modes(self) -> ApiModes:
        if self._modes is None:
            from realmgate.modes import ApiModes

            with self._mapper_lock:
                if self._modes is None:
                    self._modes = ApiModes()
        return self._modes

    def _api(
        self,
        mode: str,
        token: str,
        default_issuer: str | None,
        discovery_url: str | None,
        explain: bool,
    ) -> Decision:
        modes = self._api_modes()
        trace = Trace(TraceLevel.FULL if explain else self.trace_level)

        def plan(snapshot: Snapshot, ctx: Known) -> Plan:
            return modes.plan(mode, token, default_issuer, discovery_url, snapshot, trace, ctx)

        return self._run(token, None, None, None, default_issuer, trace, plan)
