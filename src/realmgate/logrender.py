"""Flow a decoded record to a terminal width, made safe to show.

Each record is cut to the width (display cells: East Asian wide characters count 2,
combining marks 0); continuation lines are indented by 4 spaces (plus the line's own
indentation). Words are kept whole when they fit on a line; a word longer than a line
is split. Tabs are expanded; control characters (C0, C1, DEL) and Unicode bidi
overrides are shown escaped (``\\x1b``, ``\\u202e``) so a log record can never drive
the terminal. JSON-object records are pretty-printed (2-space indent, keys in their
order) unless ``json_pretty`` is off; a record with duplicate keys is shown as written.
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import TextIO

CONTINUATION_INDENT = "    "

_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")


def _escape_char(ch: str) -> str:
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


_UNSAFE_RE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029" + "".join(sorted(_BIDI)) + "]")


def sanitize(text: str) -> str:
    """Make control characters and bidi overrides visible escapes, then expand tabs."""
    result = _UNSAFE_RE.sub(lambda m: _escape_char(m.group(0)), text)
    if "\t" in result:  # after escaping, so tab stops line up with what is shown
        result = "\n".join(line.expandtabs(8) for line in result.split("\n"))
    return result


def char_width(ch: str) -> int:
    """Terminal cells taken by ``ch``: 0 for combining marks, 2 for wide/fullwidth, else 1."""
    if unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def text_width(text: str) -> int:
    if text.isascii():
        return len(text)
    return sum(char_width(c) for c in text)


def _split_to_width(word: str, width: int) -> tuple[str, str]:
    """The longest head of ``word`` that fits in ``width`` cells (at least one character)."""
    if word.isascii():
        cut = max(width, 1)
        return word[:cut], word[cut:]
    used = 0
    for i, ch in enumerate(word):
        w = char_width(ch)
        if used + w > width and i > 0:
            return word[:i], word[i:]
        used += w
    return word, ""


_TOKEN_RE = re.compile(r"\S+|\s+")


def flow_line(line: str, width: int, indent: str = CONTINUATION_INDENT) -> list[str]:
    """Cut one line (no newline in it) into lines of at most ``width`` display cells."""
    width = max(width, 2)
    if text_width(line) <= width:
        return [line.rstrip(" ")]
    stripped = line.lstrip(" ")
    lead = line[: len(line) - len(stripped)]
    if text_width(lead) > width // 2:
        lead = lead[: width // 2]
    cont = lead + indent
    if text_width(cont) > width // 2:
        cont = " " * (width // 2)
    out: list[str] = []
    current = lead
    current_w = text_width(lead)
    at_start = True  # nothing but indentation on the current line yet
    pending_space = ""

    def new_line() -> None:
        nonlocal current, current_w, at_start, pending_space
        out.append(current.rstrip(" "))
        current, current_w, at_start, pending_space = cont, text_width(cont), True, ""

    for token in _TOKEN_RE.findall(stripped):
        if token.isspace():
            if not at_start:
                pending_space = token
            continue
        word = token
        space_w = text_width(pending_space)
        word_w = text_width(word)
        if current_w + space_w + word_w <= width:
            current += pending_space + word
            current_w += space_w + word_w
            at_start, pending_space = False, ""
            continue
        available = width - text_width(cont)
        if word_w <= available:
            # fits on a fresh continuation line: keep it whole
            new_line()
            current += word
            current_w += word_w
            at_start = False
            continue
        # longer than any line: fill the rest of this line (if worth it), then split
        room = width - current_w - space_w
        if not at_start and room >= 8:
            head, word = _split_to_width(word, room)
            current += pending_space + head
            current_w += space_w + text_width(head)
            new_line()
        elif not at_start:
            new_line()
        pending_space = ""
        while word:
            head, word = _split_to_width(word, width - current_w)
            current += head
            current_w += text_width(head)
            at_start = False
            if word:
                new_line()
    out.append(current.rstrip(" "))
    return out


def pretty_json(text: str) -> str | None:
    """``text`` re-indented if it is one JSON object without duplicate keys, else None."""
    stripped = text.strip()
    if not (stripped.startswith("{") and stripped.endswith("}")):
        return None
    duplicate = False

    def pairs(items: list[tuple[str, object]]) -> dict[str, object]:
        nonlocal duplicate
        result = dict(items)
        if len(result) != len(items):
            duplicate = True
        return result

    try:
        value = json.loads(stripped, object_pairs_hook=pairs)
    except (ValueError, RecursionError):
        return None
    if duplicate or not isinstance(value, dict):
        return None
    return json.dumps(value, indent=2, ensure_ascii=False)


def render_record(text: str, width: int, json_pretty: bool = True) -> list[str]:
    """The screen lines of one decoded record."""
    if json_pretty:
        pretty = pretty_json(text)
        if pretty is not None:
            text = pretty
    lines: list[str] = []
    for line in sanitize(text).split("\n"):
        lines.extend(flow_line(line, width))
    return lines


def write_lines(out: TextIO, lines: list[str]) -> None:
    """Write lines; characters the stream cannot encode are replaced, never an error."""
    text = "".join(line + "\n" for line in lines)
    encoding = getattr(out, "encoding", None)
    if encoding:
        try:
            text.encode(encoding)
        except UnicodeEncodeError:
            text = text.encode(encoding, "replace").decode(encoding)
        except LookupError:
            pass
    out.write(text)
