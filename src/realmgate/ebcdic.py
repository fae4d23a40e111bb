"""Text encodings of log files: a cp1047 codec for Python, and telling EBCDIC from ASCII.

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
    From a sample (:mod:`realmgate.logview` passes a file's first 64 KiB): EBCDIC text has
    many 0x40 (space) and 0x81–0xE9 letter and 0xF0–0xF9 digit bytes and few 0x20 (space),
    0x61–0x7A and 0x30–0x39 bytes; ASCII text the reverse. Text that is not EBCDIC is
    UTF-8 (``ascii`` if every byte is below 0x80). Between the EBCDIC code pages the bytes
    that differ decide: each page is scored +2 per balanced ``[ ]`` pair and -1 for every
    unbalanced bracket and every rare character (``¢ ¬ Ý ¨``) it would produce; the best
    score wins, cp1047 on a tie, then cp037, then cp500. Log text almost always has
    brackets, so a single ``[...]`` pair usually decides.
"""

from __future__ import annotations

import codecs
from typing import Any

ENCODINGS = ("auto", "utf-8", "ascii", "cp037", "cp1047", "cp500")
EBCDIC = ("cp1047", "cp037", "cp500")  # also the order of preference on a tie

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
