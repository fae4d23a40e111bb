"""Strict JSON for JOSE headers and claims sets.

Stricter than ``json.loads`` where leniency lets two parsers disagree about one token
(RFC 7515 section 4 and RFC 7519 section 4: member names must be unique; I-JSON, RFC 7493):

* UTF-8 only, decoded strictly; a byte order mark is refused;
* no duplicate member names at any depth (otherwise "last one wins" in one library and
  "first one wins" in another);
* no ``NaN`` / ``Infinity`` constants and no number that overflows to infinity;
* no lone UTF-16 surrogates from ``\\uD800``-style escapes (they cannot be re-encoded);
* nesting at most :data:`MAX_DEPTH` deep;
* integers outside the 64-bit range are read as floats (as ``orjson`` reads them, so both
  paths below give one result).

Speed: the stdlib scanner with an ``object_pairs_hook`` (which sees duplicates) costs about
4.3 µs for a typical 450-byte claims set; ``orjson`` costs 0.8 µs but keeps the last of two
duplicate names silently. So ``orjson`` parses first and a C-speed count proves there was no
duplicate: each member contributes exactly one ``:`` outside strings, so the colons of the
input equal the colons of ``orjson.dumps(result)`` exactly when no member was dropped -
unless a ``\\u003a`` escape put a colon into a string that the input text does not show, in
which case (and when counts differ, nesting may be deep, or ``orjson`` refuses) the strict
stdlib parser decides. Most issuers write compact JSON, which ``orjson.dumps`` reproduces
byte for byte: then equality alone proves nothing was dropped. Without ``orjson`` installed
the stdlib parser is used throughout.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

from realmgate.errors import InvalidToken

_fast_loads: Callable[[bytes], Any] | None
_fast_dumps: Callable[[Any], bytes]
_FastError: type[Exception]
try:
    from orjson import JSONDecodeError as _FastError
    from orjson import dumps as _fast_dumps
    from orjson import loads as _fast_loads
except ImportError:  # pragma: no cover - exercised where orjson is absent
    _fast_loads = None

__all__ = ["MAX_DEPTH", "loads_object"]

MAX_DEPTH = 32
_BOM = b"\xef\xbb\xbf"
_JSON_TYPES = {list: "array", str: "string", int: "number", float: "number", bool: "boolean"}


class _Refused(ValueError):
    pass


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for name, _ in pairs:
            if name in seen:
                raise _Refused(f"duplicate member name {_short(name)}")
            seen.add(name)
    return result


def _constant(name: str) -> Any:
    raise _Refused(f"the constant {name} is not JSON")


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Refused(f"the number {_short(text)} is out of range")
    return value


def _int(text: str) -> int | float:
    if len(text) < 19:
        return int(text)
    value = int(text) if len(text) < 4300 else None
    if value is not None and -(2**63) <= value < 2**64:
        return value
    return _float(text)


_DECODER = json.JSONDecoder(
    object_pairs_hook=_pairs,
    parse_constant=_constant,
    parse_float=_float,
    parse_int=_int,
    strict=True,
)


def loads_object(data: bytes, segment: str) -> dict[str, Any]:
    """Parse ``data`` as a strict JSON object; raise ``InvalidToken`` RG1006E/RG1007E."""
    if _fast_loads is not None:
        try:
            value = _fast_loads(data)
        except _FastError as exc:
            # The stdlib parser explains the refusal in its words, or (for the few inputs
            # only orjson refuses) its message stands.
            _strict_loads(data, segment)
            raise InvalidToken("RG1006E", segment=segment, detail=str(exc)[:120]) from None
        if type(value) is dict and data.count(b"{") + data.count(b"[") <= MAX_DEPTH:
            dumped = _fast_dumps(value)
            if dumped == data or (
                (92 not in data or b"\\u003" not in data)  # 92: "\\" (an int needle is memchr)
                and data.count(b":") == dumped.count(b":")
            ):
                return value
    return _strict_loads(data, segment)


def _strict_loads(data: bytes, segment: str) -> dict[str, Any]:
    if data[:3] == _BOM:
        raise InvalidToken("RG1006E", segment=segment, detail="starts with a byte order mark")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidToken(
            "RG1006E", segment=segment, detail=f"invalid UTF-8 at byte {exc.start}"
        ) from None
    try:
        value = _DECODER.decode(text)
    except _Refused as exc:
        raise InvalidToken("RG1006E", segment=segment, detail=str(exc)) from None
    except json.JSONDecodeError as exc:
        raise InvalidToken(
            "RG1006E", segment=segment, detail=f"{exc.msg} at character {exc.pos}"
        ) from None
    except RecursionError:
        raise InvalidToken(
            "RG1006E", segment=segment, detail=f"nested deeper than {MAX_DEPTH} levels"
        ) from None
    except ValueError as exc:  # e.g. an integer with more digits than Python converts
        raise InvalidToken("RG1006E", segment=segment, detail=str(exc)[:120]) from None
    if type(value) is not dict:
        found = "null" if value is None else _JSON_TYPES.get(type(value), type(value).__name__)
        raise InvalidToken("RG1007E", segment=segment, found=found)
    # Cheap C-level counts bound the nesting and spot surrogate escapes; the exact (slower)
    # walk runs only for the rare document that could fail.
    if data.count(b"{") + data.count(b"[") > MAX_DEPTH and _depth(value) > MAX_DEPTH:
        raise InvalidToken(
            "RG1006E", segment=segment, detail=f"nested deeper than {MAX_DEPTH} levels"
        )
    if (b"\\ud" in data or b"\\uD" in data) and _has_lone_surrogate(value):
        raise InvalidToken(
            "RG1006E", segment=segment, detail="a \\u escape encodes a lone UTF-16 surrogate"
        )
    return value


def _depth(value: Any) -> int:
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in children)
    return deepest


def _has_lone_surrogate(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
    return False


def _short(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:40] + "…")
