"""The import report: what became of every attribute, and the generated TOML model.

Statuses:

``mapped``
    written to the TOML (``target`` says as what);
``defaulted``
    not in the XML; Liberty's default (``value``) is written explicitly, because realmgate
    has a different default or none;
``no_equivalent``
    realmgate has no such setting; ``note`` says what that means;
``unused``
    an element no imported definition refers to;
``skipped``
    an element that is not imported (``note`` says why).

Secret values (passwords, shared keys) never appear: ``value`` is ``(hidden)``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

TomlValue = str | int | bool | list[str]

STATUSES = ("mapped", "defaulted", "no_equivalent", "unused", "skipped")
_LABELS = {
    "mapped": "mapped",
    "defaulted": "defaulted",
    "no_equivalent": "no equivalent",
    "unused": "unused",
    "skipped": "skipped",
}


@dataclass(frozen=True, slots=True)
class Entry:
    element: str
    element_id: str
    file: str
    line: int
    attribute: str | None
    value: str | None
    status: str
    target: str | None = None
    note: str = ""
    raw: str | None = None
    """The value as written when variables were substituted (``${port}``)."""
    source: str = ""
    """Where the element starts (``server.xml:12``); ``file``/``line`` locate the attribute."""

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v not in (None, "")}


@dataclass
class TomlItem:
    key: str
    value: TomlValue
    comment: str = ""


@dataclass
class TomlTable:
    """One ``[[client]]``, ``[[auth_filter]]``, ``[[auth_filter.condition]]`` or
    ``[[issuer]]`` table, with the comment naming its source."""

    kind: str
    header: str
    items: list[TomlItem] = field(default_factory=list)
    conditions: list[TomlTable] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def set(self, key: str, value: TomlValue, comment: str = "") -> None:
        for item in self.items:
            if item.key == key:
                item.value, item.comment = value, comment
                return
        self.items.append(TomlItem(key, value, comment))

    def get(self, key: str) -> TomlValue | None:
        return next((item.value for item in self.items if item.key == key), None)

    def remove(self, key: str) -> None:
        self.items = [item for item in self.items if item.key != key]


@dataclass(frozen=True, slots=True)
class EnvNeed:
    """An environment variable the generated configuration reads."""

    name: str
    purpose: str
    where: str
    set_now: bool


def toml_value(value: TomlValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_string(v) for v in value) + "]"
    return toml_string(value)


def toml_string(text: str) -> str:
    """A TOML basic string: JSON escapes are valid TOML, except that TOML also forbids a
    raw DEL (U+007F), which JSON leaves alone."""
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def render_entries_text(entries: list[Entry]) -> list[str]:
    """The report, one block per element (in order of first mention), one line per
    attribute."""
    groups: dict[tuple[str, str, str], list[Entry]] = {}
    for entry in entries:
        groups.setdefault((entry.element, entry.element_id, entry.source), []).append(entry)
    lines: list[str] = []
    for (element, element_id, source), members in groups.items():
        name = f" {element_id!r}" if element_id else ""
        lines.append(f"<{element}>{name} ({source})")
        for entry in members:
            if entry.attribute is None:
                lines.append(f"  {_LABELS[entry.status]:<14}{entry.note}")
            else:
                lines.append("  " + _attribute_line(entry))
        lines.append("")
    return lines


def _attribute_line(entry: Entry) -> str:
    if entry.status == "defaulted":
        shown = f" (not set; Liberty's default {entry.value})"
    elif entry.value is None:
        shown = ""
    elif entry.raw is not None and entry.value != "(hidden)":
        shown = f"={_short(entry.raw)} (={_short(entry.value)})"
    else:
        shown = f"={_short(entry.value)}"
    text = f"{_LABELS[entry.status]:<14}{entry.attribute}{shown}"
    if entry.target:
        text += f" → {entry.target}"
    if entry.note:
        text += f"  [{entry.note}]"
    return text


def _short(text: str, limit: int = 70) -> str:
    quoted = json.dumps(text, ensure_ascii=False)
    return quoted if len(quoted) <= limit else quoted[: limit - 2] + '…"'


def summary_counts(entries: list[Entry]) -> dict[str, int]:
    """Attributes by status (mapped, defaulted, no_equivalent), then whole elements that
    were skipped or unused."""
    counts = dict.fromkeys(STATUSES, 0)
    for entry in entries:
        if entry.attribute is not None or entry.status in ("unused", "skipped"):
            counts[entry.status] += 1
    return counts
