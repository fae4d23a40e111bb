"""A Liberty configuration as Liberty sees it: server.xml, its includes and variables, with
repeated elements merged.

Includes (``<include location=… optional=… onConflict=…>``):

* ``location`` may use variables; a relative path is relative to the including file; a
  directory includes every ``*.xml`` in it in name order; remote (``http:``) locations are
  not fetched. A missing include is an error unless ``optional="true"`` (then a warning).
  An include cycle is an error.
* The included elements take the place of the ``<include>`` in document order.

Merging (Liberty's rules): factory elements (``openidConnectClient``, ``keyStore``…) with
the same ``id`` merge, and for an attribute given twice the later one wins; elements without
an ``id`` stay separate, except singletons (``sslDefault``…), which all merge. An element
from an include with ``onConflict="REPLACE"`` replaces the conflicting elements read before
it; with ``onConflict="IGNORE"`` it is dropped when an element with the same identity comes
from elsewhere. A nested include without ``onConflict`` inherits its parent's.

An attribute may also be written as a child element holding only text
(``<audiences>a</audiences><audiences>b</audiences>``), which Liberty reads as a list; here
the pieces are joined with commas.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from realmgate.errors import RealmgateError
from realmgate.liberty.variables import Resolved, Variables, read_bootstrap
from realmgate.liberty.xmlread import XmlElement, read_xml_file

SINGLETONS = frozenset({"sslDefault", "logging", "webAppSecurity", "featureManager"})
BEHAVIORS = ("MERGE", "REPLACE", "IGNORE")


@dataclass
class Attr:
    name: str
    raw: str
    file: str
    line: int

    @property
    def where(self) -> str:
        return f"{Path(self.file).name}:{self.line}"


@dataclass
class Element:
    """An element after merging: the attributes that won, the children, and where each
    contributing element was written."""

    tag: str
    id: str | None
    file: str
    line: int
    attrs: dict[str, Attr] = field(default_factory=dict)
    children: list[Element] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def where(self) -> str:
        return f"{Path(self.file).name}:{self.line}"

    def merge(self, other: Element) -> None:
        self.attrs.update(other.attrs)
        for child in other.children:
            same = next(
                (c for c in self.children if child.id and (c.tag, c.id) == (child.tag, child.id)),
                None,
            )
            if same is None:
                self.children.append(child)
            else:
                same.merge(child)
        self.sources.extend(other.sources)


@dataclass
class _Entry:
    node: XmlElement
    behavior: str
    origin: int
    seq: int

    @property
    def key(self) -> tuple[str, str | None]:
        ident = self.node.attrs.get("id")
        if ident is not None:
            return self.node.tag, ident
        return self.node.tag, None if self.node.tag in SINGLETONS else f"#{self.seq}"


class ServerXml:
    """The merged configuration. ``problems`` collects RG61xx errors and warnings."""

    def __init__(
        self,
        path: Path,
        environ: Mapping[str, str] | None = None,
        command_line: Mapping[str, str] | None = None,
    ) -> None:
        self.path = path
        self.base = path.parent
        base = str(self.base.resolve())
        self.variables = Variables(
            os.environ if environ is None else environ,
            command_line=command_line,
            bootstrap=read_bootstrap(self.base / "bootstrap.properties"),
            built_in={"server.config.dir": base, "server.output.dir": base},
        )
        self.problems: list[RealmgateError] = []
        self.files: list[str] = []
        self.elements: list[Element] = []
        self._entries: list[_Entry] = []
        self._includes = 0
        self._resolved: dict[int, Resolved] = {}

    # --- reading -------------------------------------------------------------------

    def load(self) -> ServerXml:
        self._read(self.path, [self.path.resolve()], "MERGE", 0, None)
        self.elements = _merge(self._entries)
        return self

    def _problem(self, message_id: str, **values: object) -> None:
        self.problems.append(RealmgateError(message_id, **values))

    def _read(
        self, path: Path, chain: list[Path], behavior: str, origin: int, at: XmlElement | None
    ) -> None:
        try:
            root = read_xml_file(path)
        except RealmgateError as exc:
            if at is not None and exc.message_id == "RG6101E":
                self._problem(
                    "RG6104E",
                    file=at.file,
                    line=at.line,
                    location=str(path),
                    detail=str(exc.values.get("detail")),
                )
            else:
                self.problems.append(exc)
            return
        self.files.append(str(path.resolve()))
        if root.tag != "server":
            self._problem(
                "RG6102E",
                file=str(path),
                line=root.line,
                detail=f"the root element is <{root.tag}>, not <server>",
            )
            return
        for child in root.children:
            if child.tag == "include":
                self._include(child, path, chain, behavior, origin)
            elif child.tag == "variable":
                self._variable(child)
            else:
                self._entries.append(_Entry(child, behavior, origin, len(self._entries)))

    def _variable(self, node: XmlElement) -> None:
        name = node.attrs.get("name")
        value = node.attrs.get("value")
        default = node.attrs.get("defaultValue")
        if not name or (value is None and default is None):
            missing = "name" if not name else "value or defaultValue"
            self._problem(
                "RG6111E",
                file=node.file,
                line=node.line,
                element="variable",
                id=name or "",
                attribute=missing,
                value="",
                detail=f"a <variable> needs {missing}; it is ignored",
            )
            return
        self.variables.define(name, value, default, f"{Path(node.file).name}:{node.line}")

    def _include(
        self, node: XmlElement, path: Path, chain: list[Path], behavior: str, origin: int
    ) -> None:
        where = {"file": node.file, "line": node.line}
        optional = node.attrs.get("optional", "false").strip().lower() == "true"
        conflict = node.attrs.get("onConflict")
        if conflict is not None:
            if conflict.strip().upper() in BEHAVIORS:
                behavior = conflict.strip().upper()
            else:
                self._problem(
                    "RG6110W",
                    **where,
                    element="include",
                    id="",
                    attribute="onConflict",
                    detail=f"{conflict!r} is not MERGE, REPLACE or IGNORE; "
                    "MERGE is used, as Liberty does",
                )
                behavior = "MERGE"
        raw = node.attrs.get("location", "").strip()
        if not raw:
            self._problem("RG6104E", **where, location="", detail="location is missing")
            return
        resolved = self.variables.resolve(raw)
        for name in resolved.unresolved:
            self._problem("RG6108W", **where, name=name)
        location = resolved.text
        if "://" in location and not location.lower().startswith("file:"):
            message = "RG6105W" if optional else "RG6104E"
            self._problem(
                message,
                **where,
                location=location,
                detail="remote includes are not fetched; copy the file and include it by path",
            )
            return
        if location.lower().startswith("file:"):
            location = urlsplit(location).path or location[5:]
        target = Path(location).expanduser()
        if not target.is_absolute():
            target = path.parent / target
        files = sorted(target.glob("*.xml")) if target.is_dir() else [target]
        for file in files:
            try:
                real = file.resolve()
            except (OSError, RuntimeError) as exc:  # a symbolic link loop
                self._problem("RG6104E", **where, location=str(file), detail=str(exc))
                continue
            if real in chain:
                cycle = " → ".join(p.name for p in [*chain[chain.index(real) :], real])
                self._problem("RG6106E", **where, cycle=cycle)
                continue
            if not file.is_file():
                message = "RG6105W" if optional else "RG6104E"
                self._problem(message, **where, location=str(file), detail="no such file")
                continue
            self._includes += 1
            self._read(file, [*chain, real], behavior, self._includes, node)

    # --- values ----------------------------------------------------------------------

    def resolve(self, attr: Attr) -> Resolved:
        """The attribute's value with variables substituted; unresolved references and
        cycles are reported once per attribute."""
        key = id(attr)
        cached = self._resolved.get(key)
        if cached is not None:
            return cached
        result = self.variables.resolve(attr.raw)
        for name in result.unresolved:
            self._problem("RG6108W", file=attr.file, line=attr.line, name=name)
        for cycle in result.cycles:
            self._problem("RG6108W", file=attr.file, line=attr.line, name=f"{cycle} (a cycle)")
        self._resolved[key] = result
        return result

    def of(self, tag: str) -> list[Element]:
        return [e for e in self.elements if e.tag == tag]

    def find(self, tag: str, ident: str) -> Element | None:
        return next((e for e in self.elements if e.tag == tag and e.id == ident), None)


def load_server_xml(
    path: str | Path,
    *,
    environ: Mapping[str, str] | None = None,
    command_line: Mapping[str, str] | None = None,
) -> ServerXml:
    return ServerXml(Path(path), environ, command_line).load()


def to_element(node: XmlElement) -> Element:
    """An :class:`Element` from one XML element (text-only children become attributes)."""
    element = Element(node.tag, node.attrs.get("id"), node.file, node.line)
    element.sources.append(f"{Path(node.file).name}:{node.line}")
    for name, value in node.attrs.items():
        element.attrs[name] = Attr(name, value, node.file, node.line_of(name))
    lists: dict[str, list[str]] = {}
    for child in node.children:
        if not child.attrs and not child.children:
            lists.setdefault(child.tag, []).append(child.text.strip())
            if child.tag not in element.attrs:
                element.attrs[child.tag] = Attr(child.tag, "", child.file, child.line)
        else:
            element.children.append(to_element(child))
    for name, values in lists.items():
        element.attrs[name].raw = ", ".join(v for v in values if v)
    return element


def _merge(entries: list[_Entry]) -> list[Element]:
    groups: dict[tuple[str, str | None], list[_Entry]] = {}
    for entry in entries:
        groups.setdefault(entry.key, []).append(entry)
    merged: list[tuple[int, Element]] = []
    for group in groups.values():
        kept, notes = _apply_conflicts(group)
        element = to_element(kept[0].node)
        for entry in kept[1:]:
            element.merge(to_element(entry.node))
        element.notes.extend(notes)
        merged.append((kept[0].seq, element))
    return [element for _, element in sorted(merged, key=lambda pair: pair[0])]


def _apply_conflicts(group: list[_Entry]) -> tuple[list[_Entry], list[str]]:
    """Drop what onConflict=REPLACE/IGNORE say to drop; notes say what happened."""
    kept = list(group)
    notes: list[str] = []
    for entry in group:
        if entry not in kept:
            continue
        here = f"{Path(entry.node.file).name}:{entry.node.line}"
        if entry.behavior == "IGNORE":
            others = [e for e in kept if e.origin != entry.origin and e.behavior != "IGNORE"]
            if others:
                kept.remove(entry)
                notes.append(f"the definition at {here} is ignored (include onConflict=IGNORE)")
        elif entry.behavior == "REPLACE":
            earlier = [e for e in kept if e.seq < entry.seq and e.origin != entry.origin]
            for old in earlier:
                kept.remove(old)
                notes.append(
                    f"the definition at {Path(old.node.file).name}:{old.node.line} is "
                    f"replaced by the one at {here} (include onConflict=REPLACE)"
                )
    return kept, notes
