"""The message catalogue's machinery: definitions, the table and rendering.

The messages themselves are in ``messages_token`` (RG0xxx-RG5xxx: usage, the token's
pipeline), ``messages_config`` (RG6xxx: configuration, trace specifications, Liberty import)
and ``messages_service`` (RG7xxx-RG9xxx: remote keys, the service, shared state, faults);
:mod:`realmgate.messages` loads them all and is what the rest of realmgate imports.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

SEVERITIES = {"E": "error", "W": "warning", "I": "info", "S": "severe"}


@dataclass(frozen=True, slots=True)
class MessageDef:
    id: str
    text: str
    explanation: str
    action: str

    @property
    def severity(self) -> str:
        return SEVERITIES[self.id[-1]]


CATALOGUE: dict[str, MessageDef] = {}


def define(msg_id: str, text: str, explanation: str, action: str) -> None:
    if msg_id in CATALOGUE:
        raise RuntimeError(f"duplicate message id {msg_id}")
    CATALOGUE[msg_id] = MessageDef(msg_id, text, explanation, action)


class _Lenient(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "<?>"


_FORMATTER = string.Formatter()


def render(msg_id: str, values: Mapping[str, Any] | None = None) -> str:
    """Return ``"RGnnnnE text"`` with the values filled in; never raises."""
    definition = CATALOGUE.get(msg_id)
    if definition is None:
        return f"{msg_id} (message text not in catalogue) {dict(values or {})}"
    try:
        body = _FORMATTER.vformat(definition.text, (), _Lenient(values or {}))
    except (ValueError, IndexError, AttributeError, KeyError):
        body = definition.text
    return f"{msg_id} {body}"
