"""Import a Liberty configuration: server.xml → realmgate TOML text plus a report.

:func:`import_server_xml` reads the XML (with includes and variables, see
:mod:`realmgate.liberty.serverxml`), converts ``<authFilter>``, ``<openidConnectClient>``,
``<mpJwt>`` and ``<jwtBuilder>`` (with the ``<keyStore>`` elements they use), and reports
every other element as having no equivalent. Nothing is written here: the caller decides
(``realmgate liberty import`` writes the TOML only when there is no error).
"""

from __future__ import annotations

import textwrap
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from realmgate.errors import RealmgateError
from realmgate.liberty.authfilters import convert_filter
from realmgate.liberty.clients import convert_mpjwt, convert_oidc_client
from realmgate.liberty.context import Definition, ImportContext
from realmgate.liberty.issuers import convert_builder
from realmgate.liberty.report import (
    Entry,
    EnvNeed,
    TomlTable,
    render_entries_text,
    summary_counts,
    toml_value,
)
from realmgate.liberty.serverxml import Element, ServerXml, load_server_xml

IMPORTED = ("authFilter", "openidConnectClient", "mpJwt", "jwtBuilder")
_ELEMENT_NOTES = {
    "logging": "realmgate's [trace] spec uses the same grammar with realmgate logger names "
    "(see docs/liberty.md)",
    "featureManager": "Liberty features; not applicable",
    "safRegistry": "the identity registry is realmgate's own (realmgate map add)",
    "basicRegistry": "the identity registry is realmgate's own (realmgate map add)",
    "ldapRegistry": "the identity registry is realmgate's own (realmgate map add)",
    "jwtConsumer": "not imported; define the issuer as an <mpJwt> or [[client]]",
}


@dataclass
class LibertyImport:
    """The result of one import. ``secrets`` holds passwords known from the XML, for
    ``liberty check`` to use in memory; it is never written or shown."""

    source: Path
    out_dir: Path
    tables: list[TomlTable]
    entries: list[Entry]
    env: list[EnvNeed]
    problems: list[RealmgateError]
    secrets: dict[str, str] = field(default_factory=dict, repr=False)
    files: list[str] = field(default_factory=list)

    @property
    def errors(self) -> list[RealmgateError]:
        return [p for p in self.problems if p.message_id.endswith("E")]

    @property
    def warnings(self) -> list[RealmgateError]:
        return [p for p in self.problems if not p.message_id.endswith("E")]

    def clients(self) -> list[TomlTable]:
        return [t for t in self.tables if t.kind == "client"]

    def toml(self, *, include_issuers: bool = True) -> str:
        return render_toml(self, include_issuers=include_issuers)

    def report_text(self) -> str:
        counts = summary_counts(self.entries)
        lines = [f"Liberty import of {self.source}", *render_entries_text(self.entries), ""]
        lines.append(
            f"attributes: {counts['mapped']} mapped, {counts['defaulted']} defaulted, "
            f"{counts['no_equivalent']} with no equivalent; elements: {counts['skipped']} "
            f"skipped, {counts['unused']} unused"
        )
        if self.env:
            lines.append("environment variables the configuration reads:")
            for need in self.env:
                state = "set" if need.set_now else "NOT SET"
                lines.append(f"  {need.name} ({state}): {need.purpose}")
        for problem in self.problems:
            lines.append(problem.text)
        return "\n".join(lines)

    def report_dict(self) -> dict[str, Any]:
        return {
            "source": str(self.source),
            "files": self.files,
            "summary": summary_counts(self.entries),
            "entries": [entry.to_dict() for entry in self.entries],
            "environment": [
                {"name": n.name, "purpose": n.purpose, "where": n.where, "set": n.set_now}
                for n in self.env
            ],
            "problems": [
                {"id": p.message_id, "severity": _severity(p), "text": p.text}
                for p in self.problems
            ],
            "definitions": [
                {"kind": t.kind, "id": t.get("id"), "source": t.header} for t in self.tables
            ],
        }


def _severity(problem: RealmgateError) -> str:
    return {"E": "error", "W": "warning", "I": "info"}.get(problem.message_id[-1], "info")


def import_server_xml(
    path: str | Path,
    *,
    out_dir: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
    variables: Mapping[str, str] | None = None,
    keystore_files: Mapping[str, Path] | None = None,
) -> LibertyImport:
    """Convert ``path``. Paths below ``out_dir`` (the directory the TOML is meant for) are
    written relative to it; without ``out_dir`` every path is written absolute."""
    source = Path(path)
    xml = load_server_xml(source, environ=environ, command_line=variables)
    target = Path(out_dir) if out_dir is not None else None
    ctx = ImportContext(xml, target, keystore_files)
    _convert(ctx, xml)
    unique: dict[str, RealmgateError] = {}
    for problem in xml.problems:
        unique.setdefault(problem.text, problem)
    return LibertyImport(
        source,
        target or source.parent,
        ctx.tables,
        ctx.entries,
        ctx.env,
        list(unique.values()),
        ctx.secrets,
        xml.files,
    )


def _convert(ctx: ImportContext, xml: ServerXml) -> None:
    filters: set[str] = set()
    for element in xml.of("authFilter"):
        if convert_filter(ctx, element, element.id or f"authFilter-{element.line}"):
            filters.add(element.id or f"authFilter-{element.line}")
    for element in xml.elements:
        for child in element.children:
            if element.tag in ("openidConnectClient", "mpJwt") and child.tag == "authFilter":
                ident = child.id or f"{element.id or element.tag}-filter"
                ctx.used.add(("authFilter", ident))
                if convert_filter(ctx, child, ident):
                    filters.add(ident)
    for element in xml.elements:
        if element.tag == "openidConnectClient":
            convert_oidc_client(ctx, element, filters)
        elif element.tag == "mpJwt":
            convert_mpjwt(ctx, element, filters)
        elif element.tag == "jwtBuilder":
            convert_builder(ctx, element)
    others: dict[str, list[str]] = {}
    for element in xml.elements:
        if element.tag in IMPORTED:
            if element.tag == "authFilter" and ("authFilter", element.id) not in ctx.used:
                ctx.element_entry(element, "unused", "no imported definition refers to it")
        elif element.tag in ("ssl", "sslDefault"):
            _report_ssl(ctx, element)
        elif element.tag == "keyStore":
            if (element.tag, element.id) not in ctx.used:
                ctx.element_entry(element, "unused", "no imported definition uses it")
        else:
            note = _ELEMENT_NOTES.get(element.tag, "not about token verification")
            ctx.element_entry(element, "skipped", f"no equivalent: {note}")
            others.setdefault(element.tag, []).append(element.where)
    for tag, places in others.items():
        first = xml.of(tag)[0]
        ctx.problem(
            "RG6109W",
            file=first.file,
            line=first.line,
            element=tag,
            places=", ".join(places),
            detail=_ELEMENT_NOTES.get(tag, "not about token verification"),
        )


def _report_ssl(ctx: ImportContext, element: Element) -> None:
    """``<ssl>``/``<sslDefault>`` only lead to a key store; their TLS settings (for
    Liberty's own listeners and outbound calls) have no equivalent."""
    used = element.tag == "sslDefault" or ("ssl", element.id) in ctx.used
    if not used:
        ctx.element_entry(element, "unused", "no imported definition uses it")
        return
    d = Definition(ctx, element, "ssl", element.id or element.tag, keep_id="what sslRef names")
    for name in ("trustStoreRef", "keyStoreRef", "sslRef"):
        if d.has(name):
            d.mapped(name, None, None, "followed to find the key store of a definition")
    d.finish(dict.fromkeys(element.attrs, "a TLS setting of Liberty's; not applicable"))


# --- TOML ------------------------------------------------------------------------------


def render_toml(result: LibertyImport, *, include_issuers: bool = True) -> str:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    lines = [
        f"# Generated by 'realmgate liberty import' from {result.source} at {stamp}.",
        "# Each table names the Liberty element and file:line it came from, and each setting",
        "# the attribute it was taken from. The import report lists every attribute: mapped,",
        "# defaulted (Liberty's default written explicitly) or with no equivalent.",
    ]
    if result.env:
        lines.append("#")
        lines.append(
            "# Environment variables this configuration reads (values are never written here):"
        )
        lines.extend(f"#   {need.name}: {_one_line(need.purpose)}" for need in result.env)
    if result.errors:
        lines.append("#")
        lines.append(f"# INCOMPLETE: {len(result.errors)} problem(s) kept some definitions out:")
        lines.extend(f"#   {_one_line(p.text)}" for p in result.errors)
    order = ("client", "auth_filter", "issuer")
    for kind in order:
        if kind == "issuer" and not include_issuers:
            continue
        for table in (t for t in result.tables if t.kind == kind):
            lines.append("")
            lines.extend(_table(table, f"[[{kind}]]"))
            for condition in table.conditions:
                lines.extend(_table(condition, "[[auth_filter.condition]]"))
    return "\n".join(lines) + "\n"


def _table(table: TomlTable, header: str) -> list[str]:
    lines = [f"{header}  # {_one_line(table.header)}"]
    for note in table.notes:
        wrapped = textwrap.wrap(_one_line(note), 96, break_long_words=False, break_on_hyphens=False)
        lines.extend(f"# {part}" for part in wrapped)
    for item in table.items:
        text = f"{item.key} = {toml_value(item.value)}"
        if item.comment:
            text = f"{text:<40}  # {_one_line(item.comment)}"
        lines.append(text)
    return lines


def _one_line(text: str) -> str:
    return " ".join(text.split())
