"""Typed exceptions. Each carries a catalogue message id and the values that fill it.

Library users who prefer raising call :meth:`realmgate.Verifier.verify_or_raise`; the
pipeline stages raise these internally and the verifier turns them into a
:class:`~realmgate.decision.Decision`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from realmgate.messages import CATALOGUE, render


class RealmgateError(Exception):
    """Base class: ``message_id`` (e.g. ``RG4001E``), ``values`` and the rendered ``text``."""

    def __init__(self, message_id: str, **values: Any) -> None:
        self.message_id = message_id
        self.values: Mapping[str, Any] = values
        self.text = render(message_id, values)
        super().__init__(self.text)

    @property
    def explanation(self) -> str:
        entry = CATALOGUE.get(self.message_id)
        return entry.explanation if entry else ""

    @property
    def action(self) -> str:
        entry = CATALOGUE.get(self.message_id)
        return entry.action if entry else ""


class TokenRefused(RealmgateError):
    """The token (or the request carrying it) is refused. ``decision`` is set by the verifier."""

    decision: Any = None


class InvalidToken(TokenRefused):
    """The token is malformed, unsigned, or its signature does not verify (RG1xxx, RG3xxx)."""


class NoDefinition(TokenRefused):
    """No trusted-client definition handles the token (RG2xxx)."""


class ClaimRefused(TokenRefused):
    """A claim check failed: time, issuer, audience, required claim, replay (RG4xxx)."""


class IdentityNotMapped(TokenRefused):
    """The token is valid but its (user, realm) maps to no local user (RG5001E)."""


class KeysUnavailable(TokenRefused):
    """Keys could not be obtained (remote key source down beyond its stale limit) (RG7xxx)."""


class UsageError(RealmgateError):
    """Bad command-line argument or request body (RG0xxx)."""


class RegistryError(RealmgateError):
    """The identity registry refused an operation or is unavailable (RG5xxx)."""


class ConfigError(RealmgateError):
    """The configuration cannot be loaded. ``problems`` holds every problem found."""

    def __init__(self, file: str, problems: Sequence[RealmgateError]) -> None:
        self.problems: tuple[RealmgateError, ...] = tuple(problems)
        super().__init__("RG6020E", file=file, count=len(self.problems))

    def report(self) -> str:
        """All problems, one per line, then the summary line."""
        return "\n".join([p.text for p in self.problems] + [self.text])
