"""Read one Liberty XML file safely, keeping the line of every element and attribute.

``xml.parsers.expat`` is driven directly (no ElementTree) so that:

* a ``<!DOCTYPE`` (and with it every entity declaration) is refused before anything is
  expanded: Liberty configuration never needs one, and refusing it rules out entity
  expansion bombs and external entities (the protections defusedxml adds);
* each attribute gets its own line: a definition written over several lines
  (``<openidConnectClient id="a"\\n    issuerIdentifier="b"``) is reported at the line of
  the attribute, not of the element.

The bytes are decoded here rather than by expat, because z/OS files may be EBCDIC
(IBM-1047) and expat knows only a few encodings: a UTF-8/16 byte order mark wins, then
EBCDIC is recognised by its ``<`` (0x4C) and read as IBM-1047 unless the XML declaration
names another code page; otherwise the declaration's ``encoding``, else UTF-8.
"""

from __future__ import annotations

import codecs
import re
import xml.parsers.expat as expat
from dataclasses import dataclass, field
from pathlib import Path

from realmgate.ebcdic import register_cp1047
from realmgate.errors import RealmgateError

MAX_FILE_BYTES = 8 * 1024 * 1024
MAX_DEPTH = 64
_DECLARED = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._:-]+)["']""")
_EBCDIC_LT = 0x4C
_EBCDIC_BLANKS = frozenset({0x40, 0x15, 0x25, 0x0D, 0x05})


@dataclass
class XmlElement:
    """One element as written: attributes in document order, each with its line."""

    tag: str
    attrs: dict[str, str]
    file: str
    line: int
    attr_lines: dict[str, int] = field(default_factory=dict)
    children: list[XmlElement] = field(default_factory=list)
    text: str = ""

    def line_of(self, name: str) -> int:
        return self.attr_lines.get(name, self.line)


class _Refused(Exception):
    """Raised inside an expat handler; carries the reason (a DTD, too deep…)."""

    def __init__(self, message_id: str, detail: str) -> None:
        super().__init__(detail)
        self.message_id = message_id
        self.detail = detail


def read_xml_file(path: Path) -> XmlElement:
    """Parse ``path``; raises RealmgateError RG6101E (unreadable), RG6102E (not
    well-formed, with its line) or RG6103E (DTD or entity declaration)."""
    file = str(path)
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise RealmgateError("RG6101E", file=file, detail=exc.strerror or str(exc)) from None
    if len(data) > MAX_FILE_BYTES:
        raise RealmgateError(
            "RG6101E", file=file, detail=f"larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB"
        )
    return parse_xml_bytes(data, file)


def decode_xml(data: bytes, file: str) -> str:
    """The document as text (see the module docstring for how the encoding is chosen)."""
    register_cp1047()  # Python has no cp1047 codec of its own
    encoding = "utf-8"
    if data.startswith(codecs.BOM_UTF8):
        encoding, data = "utf-8", data[len(codecs.BOM_UTF8) :]
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    else:
        ebcdic = _looks_ebcdic(data)
        # The declaration's characters are the same in every EBCDIC code page.
        head = data[:200].decode("cp1047").encode("ascii", "replace") if ebcdic else data[:200]
        declared = _DECLARED.match(head)
        encoding = "cp1047" if ebcdic else "utf-8"
        if declared:
            name = declared.group(1).decode("ascii").lower()
            name = {"ibm-1047": "cp1047", "ibm-037": "cp037", "ibm-500": "cp500"}.get(name, name)
            try:
                encoding = codecs.lookup(name).name
            except LookupError:
                raise RealmgateError(
                    "RG6102E", file=file, line=1, detail=f"unknown encoding {name!r}"
                ) from None
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise RealmgateError(
            "RG6102E", file=file, line=line, detail=f"bytes that are not {encoding}"
        ) from None


def _looks_ebcdic(data: bytes) -> bool:
    for byte in data[:64]:
        if byte in _EBCDIC_BLANKS:
            continue
        return byte == _EBCDIC_LT
    return False


def parse_xml_bytes(data: bytes, file: str) -> XmlElement:
    """Parse a whole document held in memory; errors as :func:`read_xml_file`."""
    raw = decode_xml(data, file).encode("utf-8")
    # The encoding given here overrides the declaration, which described the original bytes.
    parser = expat.ParserCreate(encoding="UTF-8")
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    stack: list[XmlElement] = []
    roots: list[XmlElement] = []

    def refuse_dtd(*_: object) -> None:
        raise _Refused("RG6103E", "a <!DOCTYPE> declaration")

    def refuse_entity(name: str | None, *_: object) -> int:
        raise _Refused("RG6103E", f"the entity {name!r}")

    def start(tag: str, attrs: dict[str, str]) -> None:
        if len(stack) >= MAX_DEPTH:
            raise _Refused("RG6102E", f"elements nested more than {MAX_DEPTH} deep")
        line = parser.CurrentLineNumber
        element = XmlElement(tag, dict(attrs), file, line)
        element.attr_lines = _attribute_lines(raw, parser.CurrentByteIndex, line, attrs)
        if stack:
            stack[-1].children.append(element)
        else:
            roots.append(element)
        stack.append(element)

    def end(_tag: str) -> None:
        stack.pop()

    def characters(text: str) -> None:
        if stack:
            stack[-1].text += text

    parser.StartDoctypeDeclHandler = refuse_dtd
    parser.EntityDeclHandler = refuse_entity
    parser.UnparsedEntityDeclHandler = refuse_entity
    parser.ExternalEntityRefHandler = refuse_entity
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = characters
    try:
        parser.Parse(raw, True)
    except _Refused as exc:
        raise RealmgateError(
            exc.message_id, file=file, line=parser.CurrentLineNumber, detail=exc.detail
        ) from None
    except expat.ExpatError as exc:
        detail = expat.errors.messages.get(exc.code, str(exc)) if exc.code else str(exc)
        raise RealmgateError("RG6102E", file=file, line=exc.lineno, detail=detail) from None
    if not roots:
        raise RealmgateError("RG6102E", file=file, line=1, detail="no root element")
    return roots[0]


def _attribute_lines(raw: bytes, start: int, line: int, attrs: dict[str, str]) -> dict[str, int]:
    """The line of each attribute of the start tag beginning at byte ``start``."""
    if start < 0 or not attrs:
        return {}
    end = _tag_end(raw, start)
    tag = raw[start:end]
    lines: dict[str, int] = {}
    for name in attrs:
        found = re.search(rb"(?<![\w.:-])" + re.escape(name.encode()) + rb"\s*=", tag)
        lines[name] = line + (tag.count(b"\n", 0, found.start()) if found else 0)
    return lines


def _tag_end(raw: bytes, start: int) -> int:
    """Index of the ``>`` closing the start tag at ``start`` (quotes respected)."""
    quote = 0
    for index in range(start, len(raw)):
        byte = raw[index]
        if quote:
            if byte == quote:
                quote = 0
        elif byte in (0x22, 0x27):
            quote = byte
        elif byte == 0x3E:
            return index
    return len(raw)
