"""Line numbers for a TOML document, which ``tomllib`` does not report.

A small lexer walks the text once and records every table header (``[registry]``,
``[[client]]``, ``[[auth_filter.condition]]``…) and the first line of every ``key =`` inside
each header's occurrence. The n-th ``[[client]]`` header belongs to the n-th client that
``tomllib`` returns, which is what lets a problem point at the right line.

It only has to be right for documents ``tomllib`` accepted, so it tracks just what can hide
a header or a key: strings (single- and multi-line), comments, and values that span lines.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_TOML_ERROR_LINE = re.compile(r"at line (\d+)")


@dataclass(slots=True)
class TableSpan:
    """One occurrence of a table: its dotted path, whether it is ``[[…]]``, its header line
    and the line of each key written directly in it."""

    path: tuple[str, ...]
    array: bool
    line: int
    keys: dict[str, int] = field(default_factory=dict)

    def line_of(self, key: str) -> int:
        return self.keys.get(key, self.line)


class LineMap:
    """Where each table occurrence and each key of a TOML text is."""

    def __init__(self, text: str) -> None:
        self.spans: list[TableSpan] = [TableSpan((), False, 1)]
        self.last_line = max(1, text.count("\n") + 1)
        self._scan(text)

    @property
    def root(self) -> TableSpan:
        return self.spans[0]

    def table(self, *path: str) -> TableSpan:
        """The header of a ``[table]``, or the root key line when it was written inline
        (``registry = {…}``) or as dotted keys."""
        for span in self.spans:
            if span.path == path:
                return span
        return TableSpan(path, False, self.root.line_of(path[0]) if path else 1)

    def items(self, *path: str) -> list[TableSpan]:
        """Every ``[[path]]`` occurrence, in order."""
        return [s for s in self.spans if s.path == path and s.array]

    def children(self, parent: TableSpan, name: str) -> list[TableSpan]:
        """The ``[[parent.name]]`` occurrences that belong to this ``parent`` occurrence."""
        if not any(span is parent for span in self.spans):
            return []  # a stand-in span (the scanner lost its place): callers fall back
        start = next(i for i, span in enumerate(self.spans) if span is parent)
        found: list[TableSpan] = []
        for span in self.spans[start + 1 :]:
            if span.path == parent.path:
                break
            if span.path == (*parent.path, name):
                found.append(span)
        return found

    def _scan(self, text: str) -> None:
        current = self.spans[0]
        depth = 0
        string_end: str | None = None
        # TOML ends lines with LF (or CRLF) only; str.splitlines() would also split at
        # U+0085, U+2028, VT, FF… inside a string value and lose count of lines and tables.
        for number, line in enumerate(text.split("\n"), start=1):
            pos = 0
            if string_end is not None:
                close = line.find(string_end)
                if close < 0:
                    continue
                pos, string_end = close + 3, None
            elif depth == 0:
                stripped = line.strip()
                if not stripped or stripped.startswith("#"):
                    continue
                if stripped.startswith("["):
                    current = _header(stripped, number)
                    self.spans.append(current)
                    continue
                key, pos = _key(line)
                if key:
                    current.keys.setdefault(key, number)
            depth, string_end = _scan_value(line, pos, depth)


def _split_dotted(text: str) -> tuple[str, ...]:
    parts: list[str] = []
    buf: list[str] = []
    quote: str | None = None
    for char in text:
        if quote:
            if char == quote:
                quote = None
            else:
                buf.append(char)
        elif char in "\"'":
            quote = char
        elif char == ".":
            parts.append("".join(buf).strip())
            buf = []
        else:
            buf.append(char)
    parts.append("".join(buf).strip())
    return tuple(parts)


def _header(stripped: str, number: int) -> TableSpan:
    array = stripped.startswith("[[")
    body = stripped[2:] if array else stripped[1:]
    end = len(body)
    # A quoted key may contain ']': the header ends at the first bracket outside quotes.
    quote: str | None = None
    for index, char in enumerate(body):
        if quote:
            if char == quote:
                quote = None
        elif char in "\"'":
            quote = char
        elif char == "]":
            end = index
            break
    return TableSpan(_split_dotted(body[:end]), array, number)


def _key(line: str) -> tuple[str, int]:
    """The first segment of the key on a ``key = value`` line and the value's offset."""
    quote: str | None = None
    for index, char in enumerate(line):
        if quote:
            if char == quote:
                quote = None
        elif char in "\"'":
            quote = char
        elif char == "=":
            return _split_dotted(line[:index])[0], index + 1
    return "", len(line)


def _scan_value(line: str, pos: int, depth: int) -> tuple[int, str | None]:
    """Follow brackets and strings from ``pos`` to the end of the line; returns the bracket
    depth and, if a multi-line string is still open, its closing delimiter."""
    length = len(line)
    while pos < length:
        char = line[pos]
        if char == "#":
            break
        if char in "\"'":
            triple = line[pos : pos + 3]
            if triple in ('"""', "'''"):
                close = line.find(triple, pos + 3)
                if close < 0:
                    return depth, triple
                pos = close + 3
                continue
            pos = _end_of_string(line, pos, char)
            continue
        if char in "[{":
            depth += 1
        elif char in "]}":
            depth = max(0, depth - 1)
        pos += 1
    return depth, None


def _end_of_string(line: str, pos: int, quote: str) -> int:
    index = pos + 1
    while index < len(line):
        char = line[index]
        if char == "\\" and quote == '"':
            index += 2
            continue
        if char == quote:
            return index + 1
        index += 1
    return index


def toml_error_line(message: str, last_line: int) -> int:
    """The line ``tomllib`` names in a syntax error (``… (at line 3, column 7)``), or the
    last line for ``at end of document``."""
    found = _TOML_ERROR_LINE.search(message)
    return int(found.group(1)) if found else last_line
