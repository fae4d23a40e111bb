"""Strict unpadded base64url (RFC 7515 section 2 and appendix C).

One byte string has exactly one accepted encoding: the alphabet is ``A-Z a-z 0-9 - _``
only, with no padding, no whitespace, and the unused low bits of the final character zero.
Lenient decoders (which skip junk characters or ignore those bits) let an attacker make many
distinct tokens with one signature, which defeats replay and token caches keyed on the text.

The work runs in C: one ``bytes.translate`` maps ``-_`` to ``+/`` and every byte outside the
base64url alphabet (including ``+``, ``/`` and ``=``) to ``*``, which the strict mode of
``binascii.a2b_base64`` then refuses; only the explanation of a refusal is built in Python.
``jws.parse_compact`` inlines :func:`b64url_decode_ascii` using the constants below.
"""

from __future__ import annotations

import binascii

__all__ = [
    "CANONICAL_LAST",
    "DECODE_TABLE",
    "PADDING",
    "B64Error",
    "b64url_decode",
    "b64url_decode_ascii",
    "b64url_encode",
    "describe_b64_error",
]

_URLSAFE = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
DECODE_TABLE = bytes(
    c if c in _URLSAFE[:62] else 0x2B if c == 0x2D else 0x2F if c == 0x5F else 0x2A
    for c in range(256)
)
"""base64url to standard base64; every other byte becomes ``*``, which strict mode refuses."""
PADDING = (b"", b"", b"==", b"=")
"""Indexed by ``len(text) % 4``."""
CANONICAL_LAST: tuple[frozenset[int], ...] = (
    frozenset(range(256)),
    frozenset(),
    frozenset(_URLSAFE[i] for i in range(0, 64, 16)),
    frozenset(_URLSAFE[i] for i in range(0, 64, 4)),
)
"""Indexed by ``len(text) % 4``: the bytes allowed last. A 2- or 3-character tail leaves 4 or
2 unused bits in its last character, which must be zero; a length of 4n+1 is impossible."""
_TO_URLSAFE = bytes.maketrans(b"+/", b"-_")


class B64Error(ValueError):
    """The text is not strict unpadded base64url; ``str()`` says why (never the text)."""


def b64url_decode(text: str) -> bytes:
    """Decode strict unpadded base64url; raise :class:`B64Error` for anything else."""
    try:
        raw = text.encode("ascii")
    except UnicodeEncodeError:
        raise B64Error(describe_b64_error(text)) from None
    return b64url_decode_ascii(raw)


def b64url_decode_ascii(raw: bytes) -> bytes:
    """:func:`b64url_decode` for text already encoded as bytes."""
    tail = len(raw) & 3
    if raw and raw[-1] in CANONICAL_LAST[tail]:
        try:
            return binascii.a2b_base64(
                raw.translate(DECODE_TABLE) + PADDING[tail], strict_mode=True
            )
        except binascii.Error:
            pass
    elif not raw:
        return b""
    raise B64Error(describe_b64_error(raw.decode("ascii", "replace")))


def b64url_encode(data: bytes) -> str:
    """Unpadded base64url text of ``data``."""
    return binascii.b2a_base64(data, newline=False).rstrip(b"=").translate(_TO_URLSAFE).decode()


def describe_b64_error(text: str) -> str:
    """Why ``text`` is not strict base64url (for messages; names a position, not content)."""
    for position, char in enumerate(text):
        if char == "=":
            return f"padding '=' at position {position} (base64url is unpadded)"
        if ord(char) > 127 or char.encode() not in _URLSAFE:
            shown = repr(char) if char.isprintable() and ord(char) < 127 else f"U+{ord(char):04X}"
            return f"character {shown} at position {position} is not in the base64url alphabet"
    if len(text) % 4 == 1:
        return f"a length of {len(text)} characters is impossible for base64"
    return "the final character has non-zero unused bits (non-canonical encoding)"
