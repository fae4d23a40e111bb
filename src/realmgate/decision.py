"""The outcome of verifying one token: who it is, or exactly why not."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from realmgate.messages import CATALOGUE
from realmgate.trace import TraceStep

_EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Decision:
    accepted: bool
    client_id: str | None = None
    issuer: str | None = None
    subject: str | None = None
    realm: str | None = None
    local_user: str | None = None
    claims: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    key_id: str | None = None
    algorithm: str | None = None
    message_id: str | None = None
    reason: str | None = None
    """The one-line message text (``RGnnnnE …``) for a refusal; None when accepted."""
    status: int = 200
    """HTTP status a surface should use: 200, 401 (bad token), 403 (valid but not mapped
    or not allowed), 503 (keys or registry unavailable)."""
    realm_source: str | None = None
    """Where the realm came from: ``definition``, ``claim:<name>``, ``iss``, or ``registry``
    (map_to_registry_user)."""
    mapping_rule: str | None = None
    """The registry filter that matched, e.g. ``user='ADCDC' realm='*'``."""
    token_hash: str | None = None
    """Short hash of the token for logs; the token itself is never kept."""
    expires_at: float | None = None
    trace: tuple[TraceStep, ...] = ()
    from_cache: bool = False

    def to_dict(self, *, include_trace: bool = True, include_claims: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "accepted": self.accepted,
            "client_id": self.client_id,
            "issuer": self.issuer,
            "subject": self.subject,
            "realm": self.realm,
            "realm_source": self.realm_source,
            "local_user": self.local_user,
            "key_id": self.key_id,
            "algorithm": self.algorithm,
            "message_id": self.message_id,
            "reason": self.reason,
            "status": self.status,
            "mapping_rule": self.mapping_rule,
            "token_hash": self.token_hash,
            "expires_at": self.expires_at,
        }
        if self.message_id and self.message_id in CATALOGUE:
            out["explanation"] = CATALOGUE[self.message_id].explanation
            out["action"] = CATALOGUE[self.message_id].action
        if include_claims:
            out["claims"] = dict(self.claims)
        if include_trace:
            out["trace"] = [step.to_dict() for step in self.trace]
        return out
