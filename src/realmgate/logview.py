"""Read long trace records: split a file into records, pick them by position, follow it.

Records
    A record is one non-empty line. Lines end with LF (0x0A) in ASCII/UTF-8 files and with
    NL (0x15) or LF (0x25) in EBCDIC files (z/OS UNIX files use 0x15; IBM's tables map
    0x25 to LF, so both are accepted); a CR before the line end is dropped. Records are
    split on bytes before decoding, so a line end is never confused with a character.

Following
    :func:`follow` polls (never more than ``poll_interval`` seconds asleep): new complete
    records are shown as they arrive; when the file shrinks below the position read so far
    it was truncated and is read again from its start; when its inode changes it was
    deleted and recreated (or rotated), and the new file is read from its start; while it
    does not exist the viewer waits. A truncation followed by a rewrite to a larger size
    between two polls cannot be told from an append.

Decoding (UTF-8, ASCII, EBCDIC, auto-detection) is in :mod:`realmgate.ebcdic`; flowing a
record to a width, safe for a terminal, is in :mod:`realmgate.logrender`.
"""

from __future__ import annotations

import itertools
import os
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO, TextIO

from realmgate.ebcdic import decode_record, detect_encoding, separators_for
from realmgate.logrender import render_record, write_lines

SAMPLE_BYTES = 64 * 1024
CHUNK_BYTES = 64 * 1024
MIN_WIDTH = 10
MAX_POLL_INTERVAL = 1.0

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


# --- viewing and following ----------------------------------------------------------------


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
