"""The outcome of verifying one token: who it is, or exactly why not.

A :class:`Decision` is an immutable named tuple rather than a frozen dataclass: the
verifier builds one per token, and a frozen dataclass's ``__init__`` (one
``object.__setattr__`` per field) measured 2.24 µs against 0.21 µs for the tuple built in C
(2-core benchmark machine, 2026-11-23) — a tenth of the whole budget above the RS256 floor.
Its trace is kept as the verifier recorded it and turned into :class:`TraceStep` objects on
first read of :attr:`Decision.trace`. The verified-token cache hands the same Decision to
every hit, so nothing in it may change: :attr:`Decision.claims` is a read-only view of the
claims (``claim_set`` holds them; read it only if you will not change it).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, NamedTuple, cast

from realmgate.messages import CATALOGUE
from realmgate.registry.base import MappingRule
from realmgate.trace import Recorded, TraceStep

_EMPTY: Mapping[str, Any] = MappingProxyType({})
_HASH_CHARS = 12
_sha256 = hashlib.sha256


class _DecisionFields(NamedTuple):
    accepted: bool
    client_id: str | None = None
    issuer: str | None = None
    subject: str | None = None
    realm: str | None = None
    local_user: str | None = None
    claim_set: Mapping[str, Any] = _EMPTY
    """The claims as parsed (shared with cache hits: use :attr:`claims`)."""
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
    rule: MappingRule | None = None
    """The registry rule that mapped the token (see :attr:`mapping_rule`)."""
    token_ref: str | bytes | tuple[str] | None = None
    """The token's short hash, or (an accepted Decision) the token as bytes or as the
    1-tuple of its text (the fast lane: no copy), hashed when :attr:`token_hash` is read:
    hashing costs 0.7 µs that most callers never need. Never shown: :meth:`__repr__` and
    :meth:`_asdict` give the hash instead."""
    expires_at: float | None = None
    recorded: Recorded | tuple[TraceStep, ...] = ()
    """The trace as recorded (read :attr:`trace` for the steps)."""
    from_cache: bool = False
    """True when the verified-token cache answered (see ``realmgate.tokencache``)."""


class Decision(_DecisionFields):
    """The verifier's answer (fields above). Immutable and shared by cache hits."""

    __slots__ = ()

    @property
    def token_hash(self) -> str | None:
        """Short hash of the token for logs (12 hex digits of its SHA-256)."""
        ref = self.token_ref
        if isinstance(ref, bytes):
            return _sha256(ref).hexdigest()[:_HASH_CHARS]
        if isinstance(ref, tuple):
            return _sha256(ref[0].encode("ascii")).hexdigest()[:_HASH_CHARS]
        return ref

    def _asdict(self) -> dict[str, Any]:
        fields = super()._asdict()
        del fields["token_ref"]
        fields["token_hash"] = self.token_hash
        return fields

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={value!r}" for name, value in self._asdict().items())
        return f"Decision({shown})"

    @property
    def mapping_rule(self) -> str | None:
        """The registry filter that matched, e.g. ``user='ADCDC' realm='*'``."""
        return None if self.rule is None else self.rule.filter_text()

    @property
    def claims(self) -> Mapping[str, Any]:
        """The token's claims, read-only."""
        return MappingProxyType(
            dict(self.claim_set) if type(self.claim_set) is not dict else self.claim_set
        )

    @property
    def trace(self) -> tuple[TraceStep, ...]:
        """Every step with its inputs (materialised on first read)."""
        recorded = self.recorded
        if type(recorded) is tuple:  # steps already (LaneRecord is a tuple too, not this)
            return recorded
        return cast(Recorded, recorded).steps()

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
            "from_cache": self.from_cache,
        }
        if self.message_id and self.message_id in CATALOGUE:
            out["explanation"] = CATALOGUE[self.message_id].explanation
            out["action"] = CATALOGUE[self.message_id].action
        if include_claims:
            out["claims"] = dict(self.claim_set)
        if include_trace:
            out["trace"] = [step.to_dict() for step in self.trace]
        return out
