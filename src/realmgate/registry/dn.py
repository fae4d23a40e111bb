"""Distinguished names in user filters and token subjects (RFC 4514).

A mapping rule's user filter, and the subject it is compared with, may be a DN. Both are
brought to one normal form so that ``cn=Ann, o=Corp`` and ``CN=Ann,O=Corp`` are the same user:
attribute types are case-insensitive and are upper-cased, whitespace around ``=``, ``,`` and
``+`` is dropped, and escapes and quoted values are kept exactly as written (values keep
their case; only types fold).
"""

from __future__ import annotations

import re

__all__ = ["KNOWN_TYPES", "is_dn", "normalize_user_filter", "parse_dn", "split_dn"]

_KEYSTRING = re.compile(r"[A-Za-z][A-Za-z0-9-]*\Z")
_NUMERICOID = re.compile(r"(?:0|[1-9][0-9]*)(?:\.(?:0|[1-9][0-9]*))+\Z")
_HEXPAIR = re.compile(r"[0-9A-Fa-f]{2}")
_ESCAPABLE = frozenset(' "#+,;<=>\\')
_DN_SPACE = " "

# A lone "x=y" is ambiguous: base64 subjects such as "dXNlcg==" parse as a one-RDN DN, and
# treating them as DNs would upper-case part of an opaque, case-sensitive identifier. So a
# single-RDN value is a DN only when its type is a well-known attribute (RFC 4519, X.520,
# certificate subjects) or a numeric OID; with two or more RDNs any descriptor is accepted.
KNOWN_TYPES = frozenset(
    (
        "BUSINESSCATEGORY",
        "C",
        "CN",
        "DC",
        "DNQUALIFIER",
        "E",
        "EMAIL",
        "EMAILADDRESS",
        "GENERATIONQUALIFIER",
        "GIVENNAME",
        "INITIALS",
        "L",
        "MAIL",
        "NAME",
        "O",
        "OU",
        "POSTALADDRESS",
        "POSTALCODE",
        "POSTOFFICEBOX",
        "PSEUDONYM",
        "SERIALNUMBER",
        "SN",
        "ST",
        "STREET",
        "T",
        "TITLE",
        "UID",
        "UNIQUEIDENTIFIER",
    )
)


def _dn_error(value: str, detail: str) -> ValueError:
    return ValueError(f"{value!r} is not a distinguished name: {detail}")


def _read_value(value: str, pos: int) -> tuple[str, int]:
    """Read one attribute value starting at ``pos``; return it (escapes and quotes kept,
    unescaped surrounding spaces dropped) and the index of the separator or the end."""
    n = len(value)
    while pos < n and value[pos] == _DN_SPACE:
        pos += 1
    start = pos
    if pos < n and value[pos] == '"':
        # RFC 2253 quoted value: kept verbatim, separators inside do not split.
        pos += 1
        while pos < n and value[pos] != '"':
            pos += 2 if value[pos] == "\\" else 1
        if pos >= n:
            raise _dn_error(value, "unterminated quoted value")
        pos += 1
        text = value[start:pos]
        while pos < n and value[pos] == _DN_SPACE:
            pos += 1
        if pos < n and value[pos] not in ",+":
            raise _dn_error(value, f"unexpected {value[pos]!r} after quoted value")
        return text, pos
    end = pos  # end of the value without unescaped trailing spaces
    while pos < n and value[pos] not in ",+":
        char = value[pos]
        if char == "\\":
            following = value[pos + 1 : pos + 3]
            if _HEXPAIR.match(following):
                pos += 3
            elif following[:1] and following[0] in _ESCAPABLE:
                pos += 2
            else:
                raise _dn_error(value, f"bad escape at position {pos}")
            end = pos
            continue
        if char in '"<>;':
            raise _dn_error(value, f"unescaped {char!r} at position {pos}")
        pos += 1
        if char != _DN_SPACE:
            end = pos
    return value[start:end], pos


def parse_dn(value: str) -> list[list[tuple[str, str]]]:
    """Parse an RFC 4514 string into RDNs of (TYPE, raw value); raise ValueError."""
    rdns: list[list[tuple[str, str]]] = []
    avas: list[tuple[str, str]] = []
    pos, n = 0, len(value)
    while True:
        equals = value.find("=", pos)
        if equals < 0:
            raise _dn_error(value, f"no '=' after position {pos}")
        attr_type = value[pos:equals].strip(_DN_SPACE)
        if not (_KEYSTRING.match(attr_type) or _NUMERICOID.match(attr_type)):
            raise _dn_error(value, f"bad attribute type {attr_type!r}")
        text, pos = _read_value(value, equals + 1)
        avas.append((attr_type.upper(), text))
        if pos >= n:
            rdns.append(avas)
            return rdns
        if value[pos] == ",":
            rdns.append(avas)
            avas = []
        pos += 1
        if pos >= n:
            raise _dn_error(value, "ends with a separator")


def _parse_known_dn(value: str) -> list[list[tuple[str, str]]] | None:
    if "=" not in value or value == "*":  # the wildcard filter (registry.base.ANY)
        return None
    try:
        rdns = parse_dn(value)
    except ValueError:
        return None
    if len(rdns) == 1 and not all(t in KNOWN_TYPES or _NUMERICOID.match(t) for t, _ in rdns[0]):
        return None
    return rdns


def _format_rdns(rdns: list[list[tuple[str, str]]]) -> list[str]:
    return ["+".join(f"{t}={v}" for t, v in rdn) for rdn in rdns]


def is_dn(value: str) -> bool:
    """True if ``value`` is treated as a distinguished name (and so normalised, and matched
    by dropping RDNs)."""
    return _parse_known_dn(value) is not None


def split_dn(value: str) -> list[str]:
    """The RDNs of a DN, most specific first, each normalised (``CN=Alice``).

    Commas inside escapes (``\\,``) or quoted values do not split. Raises ValueError if
    ``value`` is not a distinguished name (see :func:`is_dn`)."""
    rdns = _parse_known_dn(value)
    if rdns is None:
        parse_dn(value)  # raises with the reason when there is one
        raise _dn_error(value, "a single RDN whose attribute type is not a well-known one")
    return _format_rdns(rdns)


def normalize_user_filter(value: str) -> str:
    """The stored and compared form of a user filter or token subject.

    ``*`` stays ``*``; a DN (see :func:`is_dn`) is normalised per RFC 4514; anything else is a
    plain user name, kept exactly as given."""
    rdns = _parse_known_dn(value)
    if rdns is None:
        return value
    return ",".join(_format_rdns(rdns))
