"""Shared state of one import, and the helper that turns one Liberty element into one TOML
table while recording what became of each of its attributes."""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from realmgate.errors import RealmgateError
from realmgate.liberty.report import Entry, EnvNeed, TomlTable, TomlValue, toml_value
from realmgate.liberty.serverxml import Attr, Element, ServerXml
from realmgate.liberty.values import SECRET_ATTRIBUTES, BadValue


class ImportContext:
    """Everything the element converters share: the merged XML, the report being built,
    the problems, the environment variables the output needs, and in-memory secrets (for
    ``liberty check`` only; they are never written)."""

    def __init__(
        self,
        xml: ServerXml,
        out_dir: Path | None,
        keystore_files: Mapping[str, Path] | None = None,
    ) -> None:
        self.xml = xml
        self.out_dir = out_dir
        self.keystore_files = dict(keystore_files or {})
        self.entries: list[Entry] = []
        self.tables: list[TomlTable] = []
        self.env: list[EnvNeed] = []
        self.secrets: dict[str, str] = {}
        self.used: set[tuple[str, str]] = set()
        self.stores: dict[tuple[str, str, str | None], Any] = {}
        """Converted keystores by (id, purpose, alias); see liberty.keystores."""
        self.reported_stores: set[str] = set()

    def problem(self, message_id: str, **values: object) -> None:
        self.xml.problems.append(RealmgateError(message_id, **values))

    def need_env(self, name: str, purpose: str, where: str, secret: str | None) -> None:
        """Record that the output reads ``name``; ``secret`` (if known from the XML) lets
        ``liberty check`` run without the user setting it."""
        if secret is not None:
            self.secrets[name] = secret
        if not any(need.name == name for need in self.env):
            self.env.append(EnvNeed(name, purpose, where, name in os.environ))

    def path_text(self, path: Path) -> str:
        """``path`` as written into the TOML: relative to the output's directory when it
        lies below it (so the pair can be moved together), else (or when the output's place
        is unknown) absolute."""
        absolute = (path if path.is_absolute() else (Path.cwd() / path)).resolve()
        if self.out_dir is None:
            return str(absolute)
        try:
            return absolute.relative_to(self.out_dir.resolve()).as_posix()
        except ValueError:
            return str(absolute)

    def element_entry(self, element: Element, status: str, note: str) -> None:
        self.entries.append(
            Entry(
                element.tag,
                element.id or "",
                _name(element.file),
                element.line,
                None,
                None,
                status,
                None,
                note,
                None,
                element.where,
            )
        )


def _name(file: str) -> str:
    return Path(file).name


class Definition:
    """Builds one TOML table from one element. Every attribute of the element ends in
    exactly one report entry: call :meth:`mapped`, :meth:`defaulted` or
    :meth:`no_equivalent` for it, and :meth:`finish` reports the rest."""

    def __init__(
        self,
        ctx: ImportContext,
        element: Element,
        kind: str,
        table_id: str,
        *,
        keep_id: bool | str = True,
    ) -> None:
        """``keep_id``: True writes ``id`` into the table; False reports it as not kept
        (nested conditions); a string reports it as used for references, with that note."""
        self.ctx = ctx
        self.element = element
        self.table_id = table_id
        header = f"<{element.tag}> {table_id!r} from {element.where}"
        if len(element.sources) > 1:
            header += f" (merged from {', '.join(element.sources)})"
        self.table = TomlTable(kind, header)
        self.handled: set[str] = set()
        self.failed = False
        if isinstance(keep_id, str):
            if "id" in element.attrs:
                self.mapped("id", None, None, keep_id)
        elif not keep_id:
            if "id" in element.attrs:
                self.no_equivalent("id", "ids of nested elements are not kept")
        elif "id" in element.attrs:
            self.mapped("id", "id", table_id)
        else:
            self.set("id", table_id, "generated: the element has no id")
            self._entry(
                "id",
                "defaulted",
                f"id = {toml_value(table_id)}",
                "no id in the XML; Liberty generates one",
                "(generated)",
            )

    # --- reading ----------------------------------------------------------------------

    def attr(self, name: str) -> Attr | None:
        return self.element.attrs.get(name)

    def value(self, name: str) -> str | None:
        """The attribute's value after variable substitution, or None when absent."""
        attr = self.element.attrs.get(name)
        return None if attr is None else self.ctx.xml.resolve(attr).text

    def has(self, name: str) -> bool:
        return name in self.element.attrs

    # --- recording --------------------------------------------------------------------

    def _entry(
        self, name: str | None, status: str, target: str | None, note: str, value: str | None = None
    ) -> None:
        attr = self.element.attrs.get(name) if name else None
        raw: str | None = None
        if attr is not None:
            resolved = self.ctx.xml.resolve(attr)
            value = resolved.text
            raw = attr.raw if resolved.substituted else None
            if name in SECRET_ATTRIBUTES:
                value, raw = "(hidden)", None
        self.handled.add(name or "")
        file, line = (attr.file, attr.line) if attr else (self.element.file, self.element.line)
        self.ctx.entries.append(
            Entry(
                self.element.tag,
                self.table_id,
                _name(file),
                line,
                name,
                value,
                status,
                target,
                note,
                raw,
                self.element.where,
            )
        )

    def set(self, key: str, value: TomlValue, source: str) -> None:
        self.table.set(key, value, source)

    def mapped(self, name: str, key: str | None, value: TomlValue | None, note: str = "") -> None:
        target = None
        if key is not None and value is not None:
            where = self.element.attrs[name].where if name in self.element.attrs else ""
            self.set(key, value, f"{name} ({where})" if where else name)
            target = f"{key} = {toml_value(value)}"
        self._entry(name, "mapped", target, note)

    def defaulted(
        self, name: str, liberty_default: str, key: str, value: TomlValue, note: str = ""
    ) -> None:
        self.set(key, value, f"{name} not set: Liberty's default {liberty_default}")
        self._entry(name, "defaulted", f"{key} = {toml_value(value)}", note, liberty_default)

    def no_equivalent(self, name: str, note: str) -> None:
        self._entry(name, "no_equivalent", None, note)

    def bad(self, name: str, error: BadValue | str) -> None:
        """A value realmgate cannot read: an RG6111E problem, and the definition fails."""
        attr = self.element.attrs.get(name)
        self.ctx.problem(
            "RG6111E",
            file=attr.file if attr else self.element.file,
            line=attr.line if attr else self.element.line,
            element=self.element.tag,
            id=self.table_id,
            attribute=name,
            value=self.value(name) if name not in SECRET_ATTRIBUTES else "(hidden)",
            detail=str(error),
        )
        self.failed = True
        self._entry(name, "no_equivalent", None, f"not imported: {error}")

    def warn(self, name: str, detail: str) -> None:
        """An RG6110W warning about one attribute (the behaviour differs from Liberty)."""
        attr = self.element.attrs.get(name)
        self.ctx.problem(
            "RG6110W",
            file=attr.file if attr else self.element.file,
            line=attr.line if attr else self.element.line,
            element=self.element.tag,
            id=self.table_id,
            attribute=name,
            detail=detail,
        )

    def finish(self, notes: Mapping[str, str], known: Iterable[str] = ()) -> None:
        """Report every attribute nobody handled: from ``notes`` (attribute → why it has no
        equivalent) or as unknown, with a did-you-mean over ``known`` and the notes."""
        choices = [*notes, *known, *self.handled]
        for name in self.element.attrs:
            if name in self.handled or name == "id":
                continue
            if name in notes:
                self.no_equivalent(name, notes[name])
                continue
            close = difflib.get_close_matches(name, choices, n=1, cutoff=0.8)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            self.no_equivalent(
                name, f"not an attribute realmgate knows for <{self.element.tag}>{hint}"
            )
            self.warn(name, f"unknown attribute, ignored{hint}")
        for note in self.element.notes:
            self.ctx.element_entry(self.element, "mapped", note)
