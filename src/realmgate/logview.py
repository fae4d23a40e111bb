"""Read long trace records: decode (UTF-8, ASCII, EBCDIC), flow to a width, follow a file.

Records
    A record is one non-empty line. Lines end with LF (0x0A) in ASCII/UTF-8 files and with
    NL (0x15) or LF (0x25) in EBCDIC files (z/OS UNIX files use 0x15; IBM's tables map
    0x25 to LF, so both are accepted); a CR before the line end is dropped. Records are
    split on bytes before decoding, so a line end is never confused with a character.

Encodings
    ``utf-8`` and ``ascii`` (undecodable bytes shown as U+FFFD), and the EBCDIC code pages
    ``cp037`` (US/Canada), ``cp500`` (International) and ``cp1047`` (Latin-1/Open Systems,
    the z/OS UNIX default). Python has no cp1047 codec, so it is built here from Python's
    cp037 table with the six code points where IBM-1047 differs (checked against the
    glibc ``IBM1047`` charmap and GNU libiconv's ``ebcdic1047.h``)::

        byte   cp037  cp1047
        0x5F   ¬      ^
        0xAD   Ý      [
        0xB0   ^      ¬
        0xBA   [      Ý
        0xBB   ]      ¨
        0xBD   ¨      ]

    ``¯`` (0xBC) and ``´`` (0xBE) are the same in both. The codec is registered with
    :mod:`codecs` as ``cp1047`` (aliases ``ibm1047``, ``ibm-1047``).

Auto-detection (``auto``)
    From the first 64 KiB: EBCDIC text has many 0x40 (space) and 0x81–0xE9 letter and
    0xF0–0xF9 digit bytes and few 0x20 (space), 0x61–0x7A and 0x30–0x39 bytes; ASCII text
    the reverse. Text that is not EBCDIC is UTF-8 (``ascii`` if every byte is below 0x80).
    Between the EBCDIC code pages the bytes that differ decide: each page is scored +2 per
    balanced ``[ ]`` pair and -1 for every unbalanced bracket and every rare character
    (``¢ ¬ Ý ¨``) it would produce; the best score wins, cp1047 on a tie, then cp037, then
    cp500. Log text almost always has brackets, so a single ``[...]`` pair usually decides.

Flowing
    Each record is cut to the width (display cells: East Asian wide characters count 2,
    combining marks 0); continuation lines are indented by 4 spaces (plus the line's own
    indentation). Words are kept whole when they fit on a line; a word longer than a line
    is split. Tabs are expanded; control characters (C0, C1, DEL) and Unicode bidi
    overrides are shown escaped (``\\x1b``, ``\\u202e``) so a log record can never drive
    the terminal. JSON-object records are pretty-printed (2-space indent, keys in their
    order) unless ``json_pretty`` is off; a record with duplicate keys is shown as written.

Following
    :func:`follow` polls (never more than ``poll_interval`` seconds asleep): new complete
    records are shown as they arrive; when the file shrinks below the position read so far
    it was truncated and is read again from its start; when its inode changes it was
    deleted and recreated (or rotated), and the new file is read from its start; while it
    does not exist the viewer waits. A truncation followed by a rewrite to a larger size
    between two polls cannot be told from an append.
"""

from __future__ import annotations

import codecs
import itertools
import json
import os
import re
import threading
import time
import unicodedata
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO, TextIO

ENCODINGS = ("auto", "utf-8", "ascii", "cp037", "cp1047", "cp500")
EBCDIC = ("cp1047", "cp037", "cp500")  # also the order of preference on a tie
SAMPLE_BYTES = 64 * 1024
CHUNK_BYTES = 64 * 1024
CONTINUATION_INDENT = "    "
MIN_WIDTH = 10
MAX_POLL_INTERVAL = 1.0

# --- cp1047 -------------------------------------------------------------------------------

#: Bytes where IBM-1047 differs from IBM-037 (glibc charmaps/IBM1047, libiconv ebcdic1047.h).
CP1047_DIFFERENCES: dict[int, str] = {
    0x5F: "^",
    0xAD: "[",
    0xB0: "\u00ac",  # ¬
    0xBA: "\u00dd",  # Ý
    0xBB: "\u00a8",  # ¨
    0xBD: "]",
}


def _build_cp1047_table() -> str:
    table = list(bytes(range(256)).decode("cp037"))
    for byte, char in CP1047_DIFFERENCES.items():
        table[byte] = char
    return "".join(table)


CP1047_DECODING_TABLE = _build_cp1047_table()
_CP1047_ENCODING_TABLE = codecs.charmap_build(CP1047_DECODING_TABLE)


class _Cp1047Codec(codecs.Codec):
    def encode(self, input: str, errors: str = "strict") -> tuple[bytes, int]:
        return codecs.charmap_encode(input, errors, _CP1047_ENCODING_TABLE)

    def decode(self, input: Any, errors: str = "strict") -> tuple[str, int]:
        return codecs.charmap_decode(input, errors, CP1047_DECODING_TABLE)


class _Cp1047IncrementalEncoder(codecs.IncrementalEncoder):
    def encode(self, input: str, final: bool = False) -> bytes:
        return codecs.charmap_encode(input, self.errors, _CP1047_ENCODING_TABLE)[0]


class _Cp1047IncrementalDecoder(codecs.IncrementalDecoder):
    def decode(self, input: Any, final: bool = False) -> str:
        return codecs.charmap_decode(input, self.errors, CP1047_DECODING_TABLE)[0]


class _Cp1047StreamWriter(_Cp1047Codec, codecs.StreamWriter):
    pass


class _Cp1047StreamReader(_Cp1047Codec, codecs.StreamReader):
    pass


_CP1047_INFO = codecs.CodecInfo(
    name="cp1047",
    encode=_Cp1047Codec().encode,
    decode=_Cp1047Codec().decode,
    incrementalencoder=_Cp1047IncrementalEncoder,
    incrementaldecoder=_Cp1047IncrementalDecoder,
    streamreader=_Cp1047StreamReader,
    streamwriter=_Cp1047StreamWriter,
)


def _search_cp1047(name: str) -> codecs.CodecInfo | None:
    if name.replace("-", "_") in ("cp1047", "ibm1047", "ibm_1047"):
        return _CP1047_INFO
    return None


_registered = False


def register_cp1047() -> None:
    """Make ``bytes.decode("cp1047")`` work (idempotent)."""
    global _registered
    if _registered:
        return
    try:
        codecs.lookup("cp1047")
    except LookupError:
        codecs.register(_search_cp1047)
    _registered = True


register_cp1047()


def decode_record(raw: bytes, encoding: str) -> str:
    """Decode one record; never raises (undecodable bytes become U+FFFD)."""
    if encoding == "cp1047":
        return codecs.charmap_decode(raw, "replace", CP1047_DECODING_TABLE)[0]
    text = raw.decode(encoding, "replace")
    if encoding == "utf-8" and text.startswith("\ufeff"):
        text = text[1:]
    return text


def separators_for(encoding: str) -> bytes:
    """The line-end bytes of an encoding: NL 0x15 and LF 0x25 for EBCDIC, else LF 0x0A."""
    return b"\x15\x25" if encoding in EBCDIC else b"\n"


# --- detection ----------------------------------------------------------------------------

_EBCDIC_ALNUM = bytes(
    [
        *range(0x81, 0x8A),
        *range(0x91, 0x9A),
        *range(0xA2, 0xAA),
        *range(0xC1, 0xCA),
        *range(0xD1, 0xDA),
        *range(0xE2, 0xEA),
        *range(0xF0, 0xFA),
    ]
)
_ASCII_ALNUM = bytes([*range(0x61, 0x7B), *range(0x30, 0x3A)])
_RARE = ("\u00a2", "\u00ac", "\u00dd", "\u00a8")  # ¢ ¬ Ý ¨


def _ebcdic_score(text: str) -> int:
    left, right = text.count("["), text.count("]")
    rare = sum(text.count(c) for c in _RARE)
    return 2 * min(left, right) - abs(left - right) - rare


def detect_encoding(sample: bytes) -> str:
    """Guess the encoding of ``sample`` (see the module docstring)."""
    if not sample:
        return "utf-8"
    counts = [0] * 256
    for byte, n in _byte_counts(sample).items():
        counts[byte] = n
    ebcdic = counts[0x40] + sum(counts[b] for b in _EBCDIC_ALNUM)
    ascii_ = counts[0x20] + sum(counts[b] for b in _ASCII_ALNUM)
    if ebcdic > ascii_:
        return max(
            EBCDIC, key=lambda cp: (_ebcdic_score(decode_record(sample, cp)), -EBCDIC.index(cp))
        )
    if max(sample) < 0x80:
        return "ascii"
    return "utf-8"


def _byte_counts(data: bytes) -> dict[int, int]:
    result: dict[int, int] = {}
    for byte in set(data):
        result[byte] = data.count(byte)
    return result


def resolve_encoding(requested: str, sample: bytes) -> str:
    return detect_encoding(sample) if requested == "auto" else requested


# --- records ------------------------------------------------------------------------------


def _split_pattern(seps: bytes) -> re.Pattern[bytes]:
    return re.compile(b"[" + b"".join(re.escape(bytes([s])) for s in seps) + b"]")


def _clean(raw: bytes) -> bytes:
    return raw[:-1] if raw.endswith(b"\r") else raw


class RecordReader:
    """Split a byte stream into records (non-empty lines); keeps an incomplete last line."""

    def __init__(self, seps: bytes) -> None:
        self._pattern = _split_pattern(seps)
        self._pending = b""

    def feed(self, data: bytes) -> list[bytes]:
        parts = self._pattern.split(self._pending + data)
        self._pending = parts.pop()
        return [c for c in (_clean(p) for p in parts) if c]

    def flush(self) -> list[bytes]:
        rest, self._pending = _clean(self._pending), b""
        return [rest] if rest else []

    @property
    def pending(self) -> bytes:
        return self._pending


def iter_records(fh: BinaryIO, seps: bytes) -> Iterator[bytes]:
    """All records from the current position of ``fh`` to its end (last line included)."""
    reader = RecordReader(seps)
    while True:
        chunk = fh.read(CHUNK_BYTES)
        if not chunk:
            break
        yield from reader.feed(chunk)
    yield from reader.flush()


def tail_offset(fh: BinaryIO, count: int, seps: bytes) -> int:
    """Byte offset where the last ``count`` records of a seekable file start (0 if fewer)."""
    end = fh.seek(0, os.SEEK_END)
    pattern = _split_pattern(seps)
    found = 0
    pos = end
    right_has_content = False  # the bytes right of the boundary scanned so far form a record
    while pos > 0:
        start = max(0, pos - CHUNK_BYTES)
        fh.seek(start)
        block = fh.read(pos - start)
        positions = [m.start() for m in pattern.finditer(block)]
        seg_end = len(block)
        for p in reversed(positions):
            segment = block[p + 1 : seg_end]
            if segment.strip(b"\r"):
                right_has_content = True
            if right_has_content:
                found += 1
                if found == count:
                    return start + p + 1
            right_has_content = False
            seg_end = p
        if block[:seg_end].strip(b"\r"):
            right_has_content = True
        pos = start
    return 0


def head_offset(fh: BinaryIO, skip: int, seps: bytes) -> int:
    """Byte offset just after the first ``skip`` complete records (after the last line end
    if the file has fewer)."""
    fh.seek(0)
    if skip <= 0:
        return 0
    pattern = _split_pattern(seps)
    base = 0
    found = 0
    last_end = 0
    has_content = False
    while True:
        block = fh.read(CHUNK_BYTES)
        if not block:
            return last_end
        seg_start = 0
        for m in pattern.finditer(block):
            if block[seg_start : m.start()].strip(b"\r"):
                has_content = True
            last_end = base + m.end()
            if has_content:
                found += 1
                if found == skip:
                    return last_end
            has_content = False
            seg_start = m.end()
        if block[seg_start:].strip(b"\r"):
            has_content = True
        base += len(block)


def select_records(fh: BinaryIO, seps: bytes, start: int, count: int | None) -> Iterator[bytes]:
    """Records ``start`` (1-based; negative counts from the end) onward, at most ``count``."""
    if start < 0:
        if fh.seekable():
            fh.seek(tail_offset(fh, -start, seps))
            records: Iterator[bytes] = iter_records(fh, seps)
        else:
            records = iter(deque(iter_records(fh, seps), maxlen=-start))
    else:
        records = iter_records(fh, seps)
        for _ in range(start - 1):
            if next(records, None) is None:
                return
    yield from (records if count is None else itertools.islice(records, count))


# --- rendering ----------------------------------------------------------------------------

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


# --- viewing and following ----------------------------------------------------------------


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


@dataclass
class ViewOptions:
    width: int = 80
    encoding: str = "auto"
    json_pretty: bool = True


def _read_sample(fh: BinaryIO) -> bytes:
    pos = fh.tell()
    fh.seek(0)
    sample = fh.read(SAMPLE_BYTES)
    fh.seek(pos)
    return sample


def view(
    fh: BinaryIO, out: TextIO, options: ViewOptions, start: int = 1, count: int | None = None
) -> int:
    """Show ``count`` records from record ``start``; returns the number shown."""
    if options.encoding == "auto":
        sample = _read_sample(fh) if fh.seekable() else fh.peek(SAMPLE_BYTES)  # type: ignore[attr-defined]
        encoding = detect_encoding(sample)
    else:
        encoding = options.encoding
    seps = separators_for(encoding)
    shown = 0
    for raw in select_records(fh, seps, start, count):
        write_lines(
            out, render_record(decode_record(raw, encoding), options.width, options.json_pretty)
        )
        shown += 1
    return shown


def _identity(st: os.stat_result) -> tuple[int, int]:
    return (st.st_dev, st.st_ino)


def follow(
    path: str,
    out: TextIO,
    options: ViewOptions,
    start: int = -10,
    *,
    poll_interval: float = 0.5,
    stop: threading.Event | None = None,
    notice: Callable[[str], None] | None = None,
) -> int:
    """Show records from ``start`` to the end, then new ones as the file grows.

    Runs until ``stop`` is set (tests, embedding) or Ctrl-C (returns normally then).
    ``notice`` receives short human messages (truncated, recreated, waiting). Returns the
    number of records shown.
    """
    interval = min(max(poll_interval, 0.01), MAX_POLL_INTERVAL)

    def say(text: str) -> None:
        if notice is not None:
            notice(text)

    def sleep() -> bool:
        if stop is not None:
            return stop.wait(interval)
        time.sleep(interval)
        return False

    shown = 0
    fh: BinaryIO | None = None
    try:
        fh = open(path, "rb")  # noqa: SIM115 - reopened on truncation/recreation
        ident = _identity(os.fstat(fh.fileno()))
        encoding: str | None = None if options.encoding == "auto" else options.encoding

        def ensure_encoding(first_data: bytes) -> str:
            nonlocal encoding
            if encoding is None:
                sample = _read_sample(fh) if fh is not None else first_data
                encoding = detect_encoding(sample or first_data)
            return encoding

        # initial position
        if os.fstat(fh.fileno()).st_size > 0:
            enc = ensure_encoding(b"")
            seps = separators_for(enc)
            if start < 0:
                fh.seek(tail_offset(fh, -start, seps))
            else:
                fh.seek(head_offset(fh, start - 1, seps))
        reader: RecordReader | None = None
        missing_announced = False

        def emit(records: list[bytes]) -> None:
            nonlocal shown
            if not records:
                return
            assert encoding is not None
            lines: list[str] = []
            for raw in records:
                lines.extend(
                    render_record(decode_record(raw, encoding), options.width, options.json_pretty)
                )
            write_lines(out, lines)
            out.flush()
            shown += len(records)

        while stop is None or not stop.is_set():
            chunk = fh.read(CHUNK_BYTES)
            if chunk:
                enc = ensure_encoding(chunk)
                if reader is None:
                    reader = RecordReader(separators_for(enc))
                emit(reader.feed(chunk))
                continue
            try:
                st = os.stat(path)
            except FileNotFoundError:
                if not missing_announced:
                    say(f"{path} was deleted; waiting for it to be created again")
                    missing_announced = True
                if sleep():
                    break
                continue
            except OSError:
                if sleep():
                    break
                continue
            if _identity(st) != ident:
                if reader is not None:
                    emit(reader.flush())
                try:
                    new = open(path, "rb")  # noqa: SIM115
                except OSError:
                    if sleep():
                        break
                    continue
                fh.close()
                fh, ident = new, _identity(os.fstat(new.fileno()))
                say(f"{path} was replaced by a new file; reading it from the start")
                missing_announced = False
                reader = None
                if options.encoding == "auto":
                    encoding = None
                continue
            if st.st_size < fh.tell():
                if reader is not None:
                    emit(reader.flush())
                fh.seek(0)
                say(f"{path} was truncated; reading it from the start")
                reader = None
                if options.encoding == "auto":
                    encoding = None
                continue
            if sleep():
                break
        if reader is not None:
            emit(reader.flush())
    except KeyboardInterrupt:
        pass
    finally:
        if fh is not None:
            fh.close()
    return shown
