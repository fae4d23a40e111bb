"""The C extension ``realmgate._speedups`` agrees exactly with the pure-Python reference.

The extension runs the verifier's fast lane; every one of its answers must be one the
reference would give (or "not sure", where the contract allows it):

1. ``split_compact``: the compact-JWS split with strict base64url, against a model written
   from the contract, ``b64url.b64url_decode`` and ``jws.parse_compact``;
2. ``loads_strict``: the strict JSON-object parser, against ``jsonparse._strict_loads``, on
   hand-picked refusals and edge cases, Hypothesis-generated objects, and thousands of byte
   mutations of realistic claims sets;
3. ``check_claims``: the claim checks, against the closure of ``claims.compile_claims``;
4. the whole pipeline: ``Verifier.verify`` (fast lane) against ``verify(explain=True)`` (the
   reference pipeline) on valid, refused and mutated tokens of all five algorithms.

Items 1-3 need the extension: without it they skip, or fail under ``CI=true`` (where it is
built). Item 4 runs either way (without the extension it compares the reference with itself).
"""

from __future__ import annotations

import dataclasses
import gc
import hashlib
import hmac
import json
import math
import os
import random
import re
import string
import time
import tracemalloc
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from realmgate.b64url import B64Error, b64url_decode, b64url_encode
from realmgate.claims import MAX_NUMERIC_DATE, compile_claims
from realmgate.configmodel import ClientDefinition, Location
from realmgate.decision import Decision
from realmgate.errors import InvalidToken
from realmgate.jsonparse import _strict_loads
from realmgate.jws import parse_compact
from realmgate.jws_sign import sign_compact
from realmgate.keys.signing import signing_key_from_private
from realmgate.registry import MappingRule, SQLiteRegistry
from realmgate.verifier import Verifier

_speedups: ModuleType | None
try:
    from realmgate import _speedups
except ImportError as _exc:  # not built yet (or a platform without a compiler)
    _speedups = None
    _IMPORT_ERROR = f"{type(_exc).__name__}: {_exc}"


@pytest.fixture(scope="module")
def sp() -> ModuleType:
    """The extension; skip without it, except under CI=true where it must be built."""
    if _speedups is None:
        reason = f"realmgate._speedups is not built ({_IMPORT_ERROR})"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; under CI=true this is a failure, not a skip")
        pytest.skip(reason)
    return _speedups


def _examples(count: int) -> settings:
    return settings(
        max_examples=count,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


# --- exact, type-aware comparison -----------------------------------------------------------


def _diff(a: Any, b: Any, path: str = "$") -> str | None:
    """The first difference between two JSON values, types included (int, float and bool
    differ; floats compare by bits, so -0.0 is not 0.0; key order counts); None if equal."""
    if type(a) is not type(b):
        return f"{path}: {type(a).__name__} {a!r} vs {type(b).__name__} {b!r}"
    if type(a) is dict:
        if list(a) != list(b):
            return f"{path}: keys {list(a)!r} vs {list(b)!r}"
        for key in a:
            found = _diff(a[key], b[key], f"{path}[{key!r}]")
            if found:
                return found
        return None
    if type(a) is list:
        if len(a) != len(b):
            return f"{path}: {len(a)} items vs {len(b)}"
        for index, (x, y) in enumerate(zip(a, b, strict=True)):
            found = _diff(x, y, f"{path}[{index}]")
            if found:
                return found
        return None
    if type(a) is float:
        return None if a.hex() == b.hex() else f"{path}: {a!r} vs {b!r}"
    return None if a == b else f"{path}: {a!r} vs {b!r}"


# === 1. split_compact ===========================================================================

_B64 = string.ascii_letters + string.digits + "-_"
_GOOD_HEADER = b64url_encode(b'{"alg":"HS256"}')


def _model_split(token: Any, max_bytes: int) -> tuple[bytes, bytes, bytes, bytes] | None:
    """``split_compact`` written from its contract."""
    if not isinstance(token, str) or len(token) > max_bytes or not token.isascii():
        return None
    if token.count(".") != 2:
        return None
    head, payload, signature = token.split(".")
    if not (head and payload and signature):
        return None
    try:
        return (
            head.encode(),
            f"{head}.{payload}".encode(),
            b64url_decode(payload),
            b64url_decode(signature),
        )
    except B64Error:
        return None


def _check_split(sp: ModuleType, token: Any, max_bytes: int) -> Any:
    got = sp.split_compact(token, max_bytes)
    expected = _model_split(token, max_bytes)
    if expected is None:
        assert got is None, f"split_compact({token!r}, {max_bytes}) = {got!r}, expected None"
        return got
    assert type(got) is tuple and len(got) == 4, f"split_compact({token!r}) = {got!r}"
    assert all(type(part) is bytes for part in got), f"split_compact({token!r}) = {got!r}"
    assert got == expected, f"split_compact({token!r}, {max_bytes}) = {got!r} != {expected!r}"
    return got


def _check_against_parse_compact(sp: ModuleType, token: str, max_bytes: int) -> None:
    """The other reference: ``parse_compact`` (which also validates the header and allows
    an empty payload) must agree wherever the two contracts overlap."""
    got = sp.split_compact(token, max_bytes)
    try:
        parsed = parse_compact(token, max_bytes, payload_json=False)
    except InvalidToken:
        parsed = None
    if parsed is not None and parsed.payload:
        assert got is not None, f"parse_compact accepts {token!r}; split_compact refuses"
        assert got == (
            parsed.header_b64.encode(),
            parsed.signing_input,
            parsed.payload,
            parsed.signature,
        ), token
    if got is not None and parsed is None:
        # Only the header (which split_compact does not look into) may explain it.
        swapped = _GOOD_HEADER + token[token.index(".") :]
        reparsed = parse_compact(swapped, 10**9, payload_json=False)
        assert (reparsed.payload, reparsed.signature) == (got[2], got[3]), token


_segments = st.one_of(
    st.binary(max_size=48).map(b64url_encode),
    st.text(alphabet=_B64, max_size=13),
    st.text(alphabet=_B64 + "=+/ .\t\x00\x7f\x80é€😀", max_size=9),
    st.builds(
        lambda good, last: good[:-1] + last,  # a final character with unused bits set
        st.binary(min_size=1, max_size=20).map(b64url_encode),
        st.sampled_from(_B64),
    ),
    st.sampled_from(["", "=", "==", "A", "AA", "AAA", "AAAA", "AB", "AAB", "_-", "e30"]),
)
_token_texts = st.one_of(
    st.lists(_segments, min_size=1, max_size=5).map(".".join),
    st.tuples(_segments, _segments, _segments).map(".".join),
    st.text(max_size=40),
    st.text(alphabet=_B64 + ".=", max_size=40),
)
_max_bytes = st.one_of(st.just(16384), st.integers(min_value=0, max_value=90))


@_examples(3000)
@given(_token_texts, _max_bytes)
def test_split_compact_matches_the_model(sp: ModuleType, token: str, max_bytes: int) -> None:
    _check_split(sp, token, max_bytes)
    _check_against_parse_compact(sp, token, max_bytes)


@_examples(500)
@given(st.binary(min_size=1, max_size=300), st.binary(min_size=1, max_size=300), _segments)
def test_split_compact_decodes_what_b64url_decode_decodes(
    sp: ModuleType, payload: bytes, signature: bytes, head: str
) -> None:
    """The converse: both segments decoding and the shape holding means a tuple."""
    assume(head and "." not in head and head.isascii())
    token = f"{head}.{b64url_encode(payload)}.{b64url_encode(signature)}"
    got = _check_split(sp, token, 16384)
    assert got == (head.encode(), token[: token.rindex(".")].encode(), payload, signature)


def test_split_compact_every_final_character(sp: ModuleType) -> None:
    """Every length 1-9 with every possible last character (and non-ASCII ones), in the
    payload and in the signature: canonical unused bits, the impossible length 4n+1, and
    characters outside the alphabet."""
    lasts = [chr(c) for c in range(256)] + ["\u20ac", "\U0001f600", "\ud800"]
    checked = 0
    for length in range(1, 10):
        for fill in ("A", "_", "g"):
            prefix = fill * (length - 1)
            for last in lasts:
                segment = prefix + last
                for token in (f"hdr.{segment}.AA", f"hdr.AA.{segment}", f"e30.{segment}.{segment}"):
                    _check_split(sp, token, 16384)
                    checked += 1
    assert checked > 20_000


def test_split_compact_shapes_and_limits(sp: ModuleType) -> None:
    good = f"{_GOOD_HEADER}.{b64url_encode(b'{}')}.{b64url_encode(b'sig')}"
    got = _check_split(sp, good, 16384)
    assert got == (_GOOD_HEADER.encode(), good[: good.rindex(".")].encode(), b"{}", b"sig")
    for max_bytes in (len(good) - 1, len(good), len(good) + 1, 0, -1, -(2**31)):
        _check_split(sp, good, max_bytes)
    assert sp.split_compact(good, len(good)) is not None
    assert sp.split_compact(good, len(good) - 1) is None
    # The header segment is returned as written: not decoded, not validated.
    assert sp.split_compact("!!~.AA.AA", 100) == (b"!!~", b"!!~.AA", b"\x00", b"\x00")
    assert sp.split_compact("=.AA.AA", 100) == (b"=", b"=.AA", b"\x00", b"\x00")
    for token in (
        "",
        ".",
        "..",
        "...",
        "a.b",
        "AA.AA.AA.AA",
        "AA.AA.AA.AA.AA",
        ".AA.AA",
        "AA..AA",
        "AA.AA.",
        "AA.AA=.AA",
        "AA.AA.AA=",
        "AA.AA==.AA",
        "AA.A.AA",
        "AA.AAAAA.AA",
        "AA.AB.AA",
        "AA.AA.AB",
        "AA.AAB.AA",
        "AA.A+.AA",
        "AA.A/.AA",
        "AA. AA.AA",
        "AA.AA .AA",
        "AA.AA.AA\n",
        "AA.AA.AA\x00",
        "AA.AA.A\x00A",
        "é.AA.AA",
        "AA.AA.AA\u00e9",
        "AA.AA.AA\U0001f600",
        "AA.AA.AA\ud800",
        "\x80.AA.AA",
        "AA\uff0eAA.AA",  # fullwidth full stop
        "AA.AA.AA" + "A" * 100,
    ):
        _check_split(sp, token, 16384)
    big = f"{_GOOD_HEADER}.{b64url_encode(os.urandom(300_000))}.{b64url_encode(os.urandom(512))}"
    assert _check_split(sp, big, len(big)) is not None
    assert _check_split(sp, big, len(big) - 1) is None


@pytest.mark.parametrize(
    "token",
    [None, 1, 1.5, b"AA.AA.AA", bytearray(b"AA.AA.AA"), memoryview(b"AA.AA.AA"), ["AA"], object()],
)
def test_split_compact_never_raises_for_non_strings(sp: ModuleType, token: Any) -> None:
    assert sp.split_compact(token, 16384) is None


# === 2. loads_strict ============================================================================

_REFUSED = object()


def _reference_loads(data: bytes) -> Any:
    try:
        return _strict_loads(data, "payload")
    except InvalidToken:
        return _REFUSED


def _number_lengths(data: bytes) -> tuple[int, int]:
    """(longest integer text, longest number text) of a document the reference accepts."""
    longest = [0, 0]

    def on_int(text: str) -> int:
        longest[0] = max(longest[0], len(text))
        longest[1] = max(longest[1], len(text))
        return 0

    def on_float(text: str) -> float:
        longest[1] = max(longest[1], len(text))
        return 0.0

    json.JSONDecoder(parse_int=on_int, parse_float=on_float, strict=True).decode(
        data.decode("utf-8")
    )
    return longest[0], longest[1]


def _may_decline(data: bytes) -> bool:
    """Whether the contract lets ``loads_strict`` say None for this valid document: an
    integer of 19 or more characters, or a number longer than 64 characters."""
    int_chars, number_chars = _number_lengths(data)
    return int_chars >= 19 or number_chars > 64


def _check_loads(sp: ModuleType, data: bytes) -> str:
    """Check the whole contract on one input; return "accepted", "declined" or "refused"."""
    got = sp.loads_strict(data)
    reference = _reference_loads(data)
    if reference is _REFUSED:
        assert got is None, f"loads_strict({data!r}) = {got!r}; the reference refuses it"
        return "refused"
    if got is None:
        assert _may_decline(data), (
            f"loads_strict({data!r}) is None; the reference accepts it as {reference!r}"
        )
        return "declined"
    assert type(got) is dict, f"loads_strict({data!r}) = {got!r}"
    difference = _diff(got, reference)
    assert difference is None, f"loads_strict({data!r}) != reference: {difference}"
    return "accepted"


_MUST_REFUSE = [
    # byte order mark, invalid UTF-8
    b"\xef\xbb\xbf{}",
    b'\xef\xbb\xbf{"a":1}',
    b'{"a":"\xc0\xaf"}',
    b'{"a":"\xc1\xbf"}',
    b'{"a":"\xe0\x80\xaf"}',
    b'{"a":"\xf0\x80\x80\xaf"}',
    b'{"a":"\xed\xa0\x80"}',
    b'{"a":"\xed\xbf\xbf"}',
    b'{"a":"\xed\xa0\xbd\xed\xb8\x80"}',  # CESU-8 surrogate pair
    b'{"a":"\xc3"}',
    b'{"a":"\xe2\x82"}',
    b'{"a":"\xf0\x9f\x98"}',
    b'{"a":"\xf4\x90\x80\x80"}',
    b'{"a":"\xf5\x80\x80\x80"}',
    b'{"a":"\xf8\x88\x80\x80\x80"}',
    b'{"a":"\xff"}',
    b'{"a":"\xfe"}',
    b'{"a":"\x80"}',
    b'{"a":"\xbf"}',
    b'{"a":"\xc3\x28"}',
    b'{"\xc3":1}',
    b'{"a":1}\xc3',
    b'{"a":1}\x80',
    # duplicate member names, at any depth, also through escapes
    b'{"a":1,"a":2}',
    b'{"a":1,"a":1}',
    b'{"a":1,"b":2,"a":3}',
    b'{"a":{"b":1,"b":1}}',
    b'{"a":[{"x":1,"x":1}]}',
    b'{"a":[1,[{"y":{"z":0,"z":0}}]]}',
    b'{"a":1,"\\u0061":2}',
    b'{"\\u0061":1,"a":2}',
    b'{"\xc3\xa9":1,"\\u00e9":2}',
    b'{"\\ud83d\\ude00":1,"\xf0\x9f\x98\x80":2}',
    b'{"":1,"":2}',
    # constants and overflow
    b'{"a":NaN}',
    b'{"a":Infinity}',
    b'{"a":-Infinity}',
    b'{"a":nan}',
    b'{"a":inf}',
    b'{"a":[NaN]}',
    b'{"a":1e400}',
    b'{"a":-1e400}',
    b'{"a":1E309}',
    b'{"a":1.7976931348623159e308}',
    b'{"a":-1.7976931348623159e308}',
    b'{"a":1e99999999999999999999}',
    b'{"a":' + b"9" * 400 + b"}",
    b'{"a":-' + b"9" * 400 + b"}",
    b'{"a":' + b"9" * 400 + b".0}",
    # lone surrogates from escapes
    b'{"a":"\\ud800"}',
    b'{"a":"\\uD800"}',
    b'{"a":"\\udc00"}',
    b'{"a":"\\uDFFF"}',
    b'{"a":"\\udbff"}',
    b'{"a":"\\ud800\\u0041"}',
    b'{"a":"\\ud800x"}',
    b'{"a":"x\\ud800"}',
    b'{"a":"\\ud800\\ud800"}',
    b'{"a":"\\udc00\\ud800"}',
    b'{"a":"\\ud800\\n"}',
    b'{"\\ud800":1}',
    b'{"a":["\\udfff"]}',
    # nesting: 33 levels (the object and 32 arrays)
    b'{"a":' + b"[" * 32 + b"]" * 32 + b"}",
    b'{"a":' + b'{"a":' * 32 + b"1" + b"}" * 32 + b"}",
    b'{"a":' + b"[" * 100_000,
    b'{"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    b'{"a":' + b'{"a":' * 100_000 + b"1" + b"}" * 100_000 + b"}",
    # not an object at the top
    b"[]",
    b"[{}]",
    b'"s"',
    b"1",
    b"-1.5",
    b"null",
    b"true",
    b"false",
    b"",
    b" ",
    b"\n",
    # trailing garbage
    b"{}x",
    b"{}{}",
    b"{} 1",
    b"{}\x00",
    b"{},",
    b'{"a":1}}',
    b'{"a":1}]',
    # raw control characters in strings
    b'{"a":"\x00"}',
    b'{"a":"\x01"}',
    b'{"a":"\x1f"}',
    b'{"a":"\n"}',
    b'{"a":"\t"}',
    b'{"a":"\r"}',
    b'{"\x01":1}',
    b'{"a\nb":1}',
    # numbers
    b'{"a":01}',
    b'{"a":00}',
    b'{"a":-01}',
    b'{"a":01.5}',
    b'{"a":1.}',
    b'{"a":1.e5}',
    b'{"a":.5}',
    b'{"a":-.5}',
    b'{"a":-}',
    b'{"a":+1}',
    b'{"a":--1}',
    b'{"a":1e}',
    b'{"a":1e+}',
    b'{"a":1e-}',
    b'{"a":1E}',
    b'{"a":0x10}',
    b'{"a":1_000}',
    b'{"a":1.5.5}',
    b'{"a":1e5e5}',
    b'{"a":- 1}',
    # quotes, commas, comments
    b"{'a':1}",
    b"{\"a\":'x'}",
    b'{"a":1,}',
    b'{"a":[1,]}',
    b'{"a":[,1]}',
    b"{,}",
    b'{"a":1,,"b":2}',
    b'{"a":1/*c*/}',
    b'{"a":1}//c',
    b"{/*c*/}",
    b"#\n{}",
    b'{"a":1}#',
    # whitespace other than space, tab, CR, LF
    b"{\x0b}",
    b'{\x0c"a":1}',
    b'{"a"\x0b:1}',
    b"\xc2\xa0{}",
    b"{}\xc2\xa0",
    b'{"a":1}\xe2\x80\xa8',
    b'{\xe2\x80\xa8"a":1}',
    b"{\xe2\x80\xa9}",
    b"\xe3\x80\x80{}",
    b"\x00{}",
    b"{\x00}",
    b"\x1c{}",
    # escapes
    b'{"a":"\\x41"}',
    b'{"a":"\\a"}',
    b'{"a":"\\0"}',
    b'{"a":"\\\'"}',
    b'{"a":"\\U0001F600"}',
    b'{"a":"\\u"}',
    b'{"a":"\\u1"}',
    b'{"a":"\\u12"}',
    b'{"a":"\\u123"}',
    b'{"a":"\\u12g4"}',
    b'{"a":"\\u-123"}',
    b'{"a":"\\u 123"}',
    b'{"a":"\\ud800\\u12"}',
    b'{"a":"\\ud800\\u"}',
    b'{"a":"\\ud800\\uzzzz"}',
    b'{"a":"\\"}',
    b'{"a":"\\',
    # literals and structure
    b'{"a":True}',
    b'{"a":tru}',
    b'{"a":truee}',
    b'{"a":nul}',
    b'{"a":None}',
    b'{"a":undefined}',
    b'{"a":"x}',
    b'{"a":1',
    b'{"a":[1}',
    b'{"a":{"b":1]}',
    b"{",
    b"}",
    b'{"a"}',
    b'{"a":}',
    b'{"a"::1}',
    b"{1:2}",
    b"{null:2}",
    b'{"a" 1}',
    b'{"a":1 "b":2}',
    b'{"a":1;"b":2}',
    b'{"a"=1}',
    b"{a:1}",
]


@pytest.mark.parametrize("data", _MUST_REFUSE, ids=lambda d: repr(d[:40]))
def test_loads_strict_refuses(sp: ModuleType, data: bytes) -> None:
    assert _reference_loads(data) is _REFUSED, "the test's list is wrong: the reference accepts"
    assert sp.loads_strict(data) is None, f"loads_strict({data!r}) should be None"


_MUST_ACCEPT = [
    b"{}",
    b" {} ",
    b"\t\r\n{\t\r\n}\t\r\n",
    b'{ "a" : 1 , "b" : [ 1 , 2 ] }',
    b'{"":""}',
    b'{"a":[]}',
    b'{"a":{}}',
    b'{"a":[[]],"b":{"c":{}}}',
    b'{"a":true,"b":false,"c":null}',
    b'{"a":[true,false,null,0,-0,0.0,-0.0,"",{},[]]}',
    b'{"a":1,"A":2,"a ":3," a":4}',
    b'{"\xc3\xa9":1,"e\xcc\x81":2}',  # NFC and NFD: two names
    b'{"b":1,"a":2}',  # the order is kept
    b'{"a":"\x7f"}',
    b'{"a":"\xc2\x80\xc2\x9f"}',
    b'{"a":"\xe2\x80\xa8\xe2\x80\xa9"}',
    b'{"a":"\xef\xbb\xbf"}',
    b'{"a":"\xef\xbf\xbe\xef\xbf\xbf"}',
    b'{"a":"\xf4\x8f\xbf\xbf"}',
    b'{"a":"\xf0\x90\x80\x80"}',
    b'{"a":"\xf0\x9f\x98\x80","\xf0\x9f\x98\x80":"a"}',
    b'{"a":"\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80"}',  # around the surrogate block
    b'{"\\ud83d\\ude00":1}',
    b'{"a":"\\uD83D\\uDE00"}',
    b'{"a":"\\uDBFF\\uDFFF\\ud800\\udc00"}',
    b'{"a":"\\/\\b\\f\\n\\r\\t\\"\\\\"}',
    b'{"a":"\\u0000\\u001f\\u001F\\u007f"}',
    b'{"a":"\\u00e9\\u00E9\\uFFFF\\ufffe\\ufeff"}',
    b'{"a":"\\u0022\\u005c"}',
    b'{"a":"\\u003a","b":1}',
    b'{"a":"x\\u0000y"}',
    b'{"a\\u0000":1,"a":2}',
    b'{"a":-0}',
    b'{"a":-0.0}',
    b'{"a":0e0}',
    b'{"a":-0e0}',
    b'{"a":0E+0}',
    b'{"a":0.0e-0}',
    b'{"a":1E2}',
    b'{"a":1e+2}',
    b'{"a":1e-2}',
    b'{"a":1e007}',
    b'{"a":1e-400}',
    b'{"a":-1e-400}',
    b'{"a":123456789012345678}',
    b'{"a":-12345678901234567}',
    b'{"a":999999999999999999}',
    b'{"a":-99999999999999999}',
    b'{"a":9007199254740993}',
    b'{"a":9007199254740993.0}',
    b'{"a":0.1}',
    b'{"a":0.30000000000000004}',
    b'{"a":1.7976931348623157e308}',
    b'{"a":1.7976931348623158e308}',
    b'{"a":-1.7976931348623157e308}',
    b'{"a":2.2250738585072011e-308}',
    b'{"a":2.2250738585072012e-308}',
    b'{"a":2.2250738585072014e-308}',
    b'{"a":4.9406564584124654e-324}',
    b'{"a":5e-324}',
    b'{"a":2.4703282292062328e-324}',
    b'{"a":2.4703282292062327e-324}',
    b'{"a":1.00000000000000011102230246251565404236316680908203125}',
    b'{"a":1.00000000000000011102230246251565404236316680908203124}',
    b'{"a":1.00000000000000011102230246251565404236316680908203126}',
    b'{"a":0.' + b"1" * 62 + b"}",  # 64 characters
    b'{"a":1.' + b"0" * 61 + b"1}",
    b'{"a":-0.' + b"9" * 61 + b"}",
    b'{"a":' + b"1" * 18 + b".5e-20}",
    b'{"a":1' + b"0" * 17 + b".0}",  # a float with 18 integer digits
    b'{"a":12345678.9e300}',
    b'{"a":1e-1000000}',
    b'{"a":0.000000000000000000000000000000000000001e-300}',
    b'{"a":' + b"[" * 31 + b"]" * 31 + b"}",  # 32 levels: the object and 31 arrays
    b'{"a":' + b'{"a":' * 31 + b"1" + b"}" * 31 + b"}",
    b'{"a":' + b"[" * 31 + b"]" * 31 + b',"b":' + b"[" * 31 + b"]" * 31 + b"}",
    b'{"a":"' + b"x" * 100_000 + b'"}',
    b'{"a":[' + b"1," * 10_000 + b"1]}",
]


@pytest.mark.parametrize("data", _MUST_ACCEPT, ids=lambda d: repr(d[:40]))
def test_loads_strict_accepts(sp: ModuleType, data: bytes) -> None:
    reference = _reference_loads(data)
    assert reference is not _REFUSED, "the test's list is wrong: the reference refuses"
    assert not _may_decline(data), "the test's list is wrong: C may decline it"
    got = sp.loads_strict(data)
    assert got is not None, f"loads_strict({data!r}) is None; the reference accepts it"
    assert _diff(got, reference) is None, f"{data!r}: {_diff(got, reference)}"


@pytest.mark.parametrize(
    "data",
    [
        b'{"a":9223372036854775807}',  # 19 characters
        b'{"a":-9223372036854775808}',
        b'{"a":-9223372036854775809}',
        b'{"a":18446744073709551615}',
        b'{"a":18446744073709551616}',
        b'{"a":1000000000000000000}',
        b'{"a":-100000000000000000}',  # 19 characters with its sign
        b'{"a":' + b"9" * 300 + b"}",
        b'{"a":' + b"1" * 4400 + b"}",
        b'{"a":0.' + b"1" * 63 + b"}",  # 65 characters
        b'{"a":1.' + b"0" * 100 + b"1e5}",
        b'{"a":[1,' + b"7" * 30 + b',"x"]}',
    ],
    ids=lambda d: repr(d[:40]),
)
def test_loads_strict_long_numbers_follow_the_contract(sp: ModuleType, data: bytes) -> None:
    """None is allowed here (long numbers); any dict must still be the reference's, and
    what the reference refuses (4,400 digits overflow a float) C must not accept."""
    _check_loads(sp, data)


@pytest.mark.parametrize(
    "special",
    [b"\\n", b'\\"', b"\\u00e9", b"\x01", b"\x1f", b"\x7f", b"\xc3\xa9", b"\xff", b'"'],
    ids=repr,
)
def test_loads_strict_strings_across_the_eight_byte_scan(sp: ModuleType, special: bytes) -> None:
    """The string scan reads eight plain bytes at a time: a character that ends or
    complicates the body must be seen at every offset, before, on and after a boundary."""
    for before in range(0, 26):
        for after in (0, 1, 7, 8, 9):
            body = b"a" * before + special + b"b" * after
            _check_loads(sp, b'{"s":"' + body + b'","t":1}')
            _check_loads(sp, b'{"' + body + b'":1}')


def test_split_compact_every_length_and_group(sp: ModuleType) -> None:
    """Decoding stores four bytes per group of three: every length up to a few groups, and a
    bad character in every position, must decode exactly as b64url_decode or not at all."""
    for size in range(0, 40):
        data = bytes(range(1, size + 1))
        text = b64url_encode(data)
        for position in range(len(text)):
            for bad in ("=", "+", "\x7f", "."):
                mutated = text[:position] + bad + text[position + 1 :]
                _check_split(sp, f"{_GOOD_HEADER}.{mutated}.{b64url_encode(b'sig')}", 4096)
                _check_split(sp, f"{_GOOD_HEADER}.e30.{mutated}", 4096)
        if text:
            got = sp.split_compact(f"{_GOOD_HEADER}.{text}.{text}", 4096)
            assert got is not None and got[2] == data and got[3] == data


def test_loads_strict_depth_limit(sp: ModuleType) -> None:
    for levels in range(1, 40):
        inner = levels - 1
        for doc in (
            b'{"a":' + b"[" * inner + b"]" * inner + b"}",
            b'{"a":' + b'{"a":' * inner + b"0" + b"}" * inner + b"}",
            b'{"a":' + b"[{}," * inner + b"0" + b"]" * inner + b"}",
            b'{"x":1,"a":' + b'[{"b":' * (inner // 2) + b"[]" + b"}]" * (inner // 2) + b"}",
        ):
            outcome = _check_loads(sp, doc)
            assert outcome != "declined", doc
    assert _check_loads(sp, b'{"a":' + b"[" * 31 + b"]" * 31 + b"}") == "accepted"
    assert _check_loads(sp, b'{"a":' + b"[" * 32 + b"]" * 32 + b"}") == "refused"


def test_loads_strict_returns_fresh_objects(sp: ModuleType) -> None:
    data = b'{"a":[1,2],"b":{"c":"d"}}'
    first = sp.loads_strict(data)
    first["a"].append(3)
    first["b"]["e"] = 1
    first["z"] = 0
    assert sp.loads_strict(data) == {"a": [1, 2], "b": {"c": "d"}}


# --- generated objects ------------------------------------------------------------------------

_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**17) + 1, max_value=10**17),
    st.floats(allow_nan=False, allow_infinity=False),
    _text,
    st.sampled_from([0, -1, 2**31, 2**53 + 1, 5e-324, 1.7976931348623157e308, -0.0, 0.1]),
)


def _values(depth: int) -> st.SearchStrategy[Any]:
    if depth == 0:
        return _scalars
    child = _values(depth - 1)
    return st.one_of(
        _scalars,
        st.lists(child, max_size=4),
        st.dictionaries(_text, child, max_size=4),
    )


_objects = st.dictionaries(_text, _values(5), max_size=8)
_WHITESPACE = ["", "", "", " ", "\t", "\n", "\r\n", "  \t"]
_SHORT = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(code: int, rng: random.Random) -> str:
    text = f"\\u{code:04x}"
    return text.upper().replace("\\U", "\\u") if rng.random() < 0.5 else text


def _dump_string(value: str, rng: random.Random) -> str:
    out = ['"']
    for char in value:
        code = ord(char)
        roll = rng.random()
        if char in _SHORT and roll < 0.6:
            out.append(_SHORT[char])
        elif char in _SHORT or code < 0x20 or roll < 0.15:
            if code > 0xFFFF:
                code -= 0x10000
                out.append(
                    _escape(0xD800 + (code >> 10), rng) + _escape(0xDC00 + (code & 0x3FF), rng)
                )
            else:
                out.append(_escape(code, rng))
        elif char == "/" and roll < 0.5:
            out.append("\\/")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def _dump_number(value: int | float, rng: random.Random) -> str:
    if type(value) is int:
        return "-0" if value == 0 and rng.random() < 0.2 else str(value)
    text = repr(value)
    roll = rng.random()
    if roll < 0.2:
        return text.upper()  # 1E+16
    if roll < 0.3 and "e" not in text:
        return text + "e0"
    if roll < 0.4:
        mantissa, _, exponent = text.partition("e")
        return f"{mantissa}e{int(exponent or 0):+04d}"  # 1.5e+005
    return text


def _dump(value: Any, rng: random.Random) -> str:
    def ws() -> str:
        return rng.choice(_WHITESPACE)

    if value is None or type(value) is bool:
        return json.dumps(value)
    if type(value) in (int, float):
        return _dump_number(value, rng)
    if type(value) is str:
        return _dump_string(value, rng)
    if type(value) is list:
        return "[" + ws() + ",".join(ws() + _dump(v, rng) + ws() for v in value) + ws() + "]"
    members = (
        ws() + _dump_string(k, rng) + ws() + ":" + ws() + _dump(v, rng) + ws()
        for k, v in value.items()
    )
    return "{" + ws() + ",".join(members) + ws() + "}"


def _serialize(value: dict[str, Any], how: int, rng: random.Random) -> bytes:
    if how == 0:
        pad = rng.choice(_WHITESPACE)
        return (pad + _dump(value, rng) + pad).encode("utf-8")
    separators = rng.choice([(",", ":"), (", ", ": "), (",", ": "), (" ,", " : ")])
    indent = rng.choice([None, None, 0, 1, 2, "\t"])
    text = json.dumps(
        value,
        ensure_ascii=rng.random() < 0.5,
        separators=separators,
        indent=indent,
        sort_keys=rng.random() < 0.3,
    )
    return text.encode("utf-8")


@_examples(1500)
@given(_objects, st.integers(0, 1), st.randoms(use_true_random=False))
def test_loads_strict_agrees_on_generated_objects(
    sp: ModuleType, value: dict[str, Any], how: int, rng: random.Random
) -> None:
    data = _serialize(value, how, rng)
    reference = _reference_loads(data)
    assert reference is not _REFUSED, f"generator produced an invalid document: {data!r}"
    got = sp.loads_strict(data)
    assert got is not None, f"loads_strict({data!r}) is None; the reference accepts it"
    difference = _diff(got, reference)
    assert difference is None, f"loads_strict({data!r}) != reference: {difference}"


_digits = st.text(alphabet="0123456789", min_size=1, max_size=30)


@_examples(1500)
@given(
    st.sampled_from(["", "-"]),
    st.one_of(st.just("0"), st.from_regex(r"[1-9][0-9]{0,25}", fullmatch=True)),
    st.one_of(st.just(""), _digits.map(lambda d: "." + d)),
    st.one_of(
        st.just(""),
        st.tuples(st.sampled_from("eE"), st.sampled_from(["", "+", "-"]), st.integers(0, 400)).map(
            lambda t: f"{t[0]}{t[1]}{t[2]}"
        ),
    ),
)
def test_loads_strict_numbers_round_like_python(
    sp: ModuleType, sign: str, whole: str, fraction: str, exponent: str
) -> None:
    """Every number of at most 64 characters parses to exactly Python's value (correct
    rounding, subnormals, -0.0), or both refuse (overflow to infinity)."""
    number = sign + whole + fraction + exponent
    data = b'{"n":' + number.encode() + b',"m":[' + number.encode() + b"]}"
    outcome = _check_loads(sp, data)
    if outcome == "declined":
        assert len(number) > 64 or (not fraction and not exponent and len(number) >= 19)


# --- mutations of realistic claims sets --------------------------------------------------------


def _realistic_payloads() -> list[bytes]:
    rng = random.Random(20261123)
    payloads = []
    for index in range(30):
        issued = 1_795_000_000 + rng.randrange(10**6)
        claims: dict[str, Any] = {
            "iss": rng.choice(["https://idp.example.com/rs256", "https://login.example.org/t/1"]),
            "sub": rng.choice([f"user{index:04d}", f"CN=User {index},O=Example", "José.Müller"]),
            "aud": rng.choice(["api", ["api", "other"], ["api://realmgate-bench"]]),
            "iat": issued,
            "nbf": issued - rng.randrange(5),
            "exp": issued + 3600,
            "jti": str(uuid.UUID(int=rng.getrandbits(128))),
        }
        extras: dict[str, Any] = {
            "scope": "openid profile email orders:read",
            "email_verified": rng.random() < 0.5,
            "auth_time": issued - rng.random() * 100,
            "realm_access": {"roles": ["offline_access", "uma_authorization"]},
            "resource_access": {"account": {"roles": ["manage-account", "view-profile"]}},
            "name": rng.choice(["Zoë Ångström", "山田太郎", "Ἀθηνᾶ 😀", 'Bobby "Tables"\\']),
            "amr": ["pwd", "otp"],
            "acr": None,
            "cnf": {"x5t#S256": "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"},
            "sid": rng.randrange(10**15),
            "groups": [],
            "ratio": rng.choice([0.25, 1e-7, 123.456e10, -0.0]),
            "tenant": {"id": rng.randrange(1000), "tags": [None, True, 1.5, "x\ty"]},
            "big": 2**62 - 1,
        }
        for name in rng.sample(sorted(extras), rng.randrange(len(extras) + 1)):
            claims[name] = extras[name]
        text = json.dumps(
            claims,
            ensure_ascii=rng.random() < 0.5,
            separators=rng.choice([(",", ":"), (", ", ": ")]),
            indent=rng.choice([None, None, 2]),
        )
        payloads.append(text.encode("utf-8"))
    return payloads


_INTERESTING = b'{}[]",:\\/0123456789.-+eEtfnu \t\r\n\x00\x0b\x1f\x7f\x80\xbf\xc3\xed\xef\xff'
_MEMBER = re.compile(rb'"[^"\\]*"\s*:')


def _mutate(data: bytes, rng: random.Random) -> bytes:
    buf = bytearray(data)
    kind = rng.randrange(10)
    at = rng.randrange(len(buf))
    if kind == 0:
        buf[at] ^= 1 << rng.randrange(8)
    elif kind == 1:
        buf[at] = rng.choice(_INTERESTING)
    elif kind == 2:
        buf[at] = rng.randrange(256)
    elif kind == 3:
        buf.insert(at, rng.choice(_INTERESTING))
    elif kind == 4:
        del buf[at]
    elif kind == 5:
        end = min(len(buf), at + rng.randrange(1, 20))
        buf[at:at] = buf[at:end]
    elif kind in (6, 7):  # duplicate a member (optionally spelling its name with an escape)
        members = list(_MEMBER.finditer(data))
        if members:
            member = rng.choice(members)
            end = data.find(b",", member.end())
            if end != -1:
                span = data[member.start() : end]
                if kind == 7 and len(span) > 2 and span[1:2].isalnum():
                    span = b'"' + f"\\u{span[1]:04x}".encode() + span[2:]
                buf[member.start() : member.start()] = span + b","
    elif kind == 8:
        del buf[at:]
    else:
        replacement = rng.choice([b"\\ud800", b"\\udc00", b"1e400", b"NaN", b"-0", b"[[[", b"}"])
        buf[at:at] = replacement
    return bytes(buf)


def test_loads_strict_on_mutated_claims(sp: ModuleType) -> None:
    rng = random.Random(5)
    counts = {"accepted": 0, "declined": 0, "refused": 0}
    for payload in _realistic_payloads():
        assert _check_loads(sp, payload) == "accepted"
        for _ in range(170):
            mutated = payload
            for _ in range(rng.choice((1, 1, 1, 2, 3))):
                if not mutated:
                    break
                mutated = _mutate(mutated, rng)
            counts[_check_loads(sp, mutated)] += 1
    assert sum(counts.values()) == 30 * 170
    assert counts["accepted"] > 300 and counts["refused"] > 1000, counts


# === 3. check_claims ============================================================================

T0 = 1_900_000_000.0
TOP = MAX_NUMERIC_DATE
_BASE = ClientDefinition("d", ("https://idp",), ("RS256",), Location("test", 1))
_MISSING = object()


class _Int(int):
    pass


class _Float(float):
    pass


class _Str(str):
    pass


def _closure(
    skew: Any,
    max_age: Any,
    check_aud: bool,
    expected: frozenset[str] | None,
    required: tuple[str, ...],
) -> Callable[[dict[str, Any], float], float | None]:
    definition = dataclasses.replace(
        _BASE,
        clock_skew=skew,
        max_age=max_age,
        audiences_any=not check_aud,
        audiences=None if expected is None else tuple(sorted(expected)),
        required_claims=required,
    )
    return compile_claims(definition)


def _check_claims_case(
    sp: ModuleType,
    claims: dict[str, Any],
    now: float,
    skew: Any,
    max_age: Any,
    check_aud: bool,
    expected: frozenset[str] | None,
    required: tuple[str, ...],
) -> float | None:
    reference = _closure(skew, max_age, check_aud, expected, required)(claims, now)
    before = repr(claims)
    got = sp.check_claims(claims, now, skew, max_age, check_aud, expected, required)
    case = (
        f"check_claims({claims!r}, {now!r}, {skew!r}, {max_age!r}, {check_aud!r}, "
        f"{expected!r}, {required!r})"
    )
    assert repr(claims) == before, f"{case} changed the claims"
    if reference is None:
        assert got is None, f"{case} = {got!r}; the closure says None"
    else:
        assert type(got) is float, f"{case} = {got!r}; the closure says {reference!r}"
        assert got.hex() == reference.hex(), f"{case} = {got!r}; the closure says {reference!r}"
    return got


def _around(anchor: float) -> list[Any]:
    if not math.isfinite(anchor):
        return [anchor]
    whole = math.floor(anchor)
    out: list[Any] = [anchor, anchor + 0.5, anchor - 0.5, math.nextafter(anchor, math.inf)]
    if abs(whole) < 2**62:
        out += [whole, whole + 1, whole - 1, float(whole)]
    return out


_ODD_TIMES = [
    0,
    -1,
    0.0,
    -0.0,
    -0.5,
    TOP,
    TOP + 1,
    float(TOP),
    TOP + 0.5,
    math.nextafter(float(TOP), math.inf),
    2**53,
    2**53 + 1,
    2**63,
    2**64,
    10**30,
    -(10**30),
    10**400,
    1e300,
    math.nan,
    math.inf,
    -math.inf,
    True,
    False,
    "1900000000",
    "",
    [],
    {},
    [T0],
]


@st.composite
def _claims_cases(draw: st.DrawFn) -> tuple[Any, ...]:
    now = draw(
        st.one_of(
            st.sampled_from([T0, T0 + 0.25, 0.0, 1.0, float(TOP), TOP - 30.5, TOP + 5.0]),
            st.floats(min_value=0, max_value=3e11),
            st.floats(),
        )
    )
    skew = draw(st.sampled_from([0, 1, 60, 300, 0.5, 86400 * 365 * 10_000]))
    max_age = draw(st.sampled_from([None, None, 0, 1, 100, 600, 10**12]))
    anchors = [now, now - skew, now + skew]
    if max_age is not None:
        anchors.append(now - max_age - skew)
    near = [value for anchor in anchors for value in _around(anchor)]
    times = st.one_of(
        st.sampled_from(near),
        st.sampled_from(near).map(lambda v: v + 3600 if isinstance(v, int | float) else v),
        st.integers(min_value=-5, max_value=TOP + 5),
        st.sampled_from(_ODD_TIMES),
        st.floats(),
        st.none(),
    )
    strings = st.one_of(
        st.sampled_from(["https://idp", "", "user"]),
        st.none(),
        st.integers(-1, 1),
        st.booleans(),
        st.just(["x"]),
    )
    audience_names = st.sampled_from(["api", "other", "", "API"])
    auds = st.one_of(
        audience_names,
        st.none(),
        st.lists(
            st.one_of(audience_names, st.integers(0, 2), st.none(), st.just(["api"])), max_size=3
        ),
        st.lists(audience_names, min_size=1, max_size=3),
        st.sampled_from([[], 1, True, {"api": 1}, ("api",)]),
    )
    claims = draw(
        st.fixed_dictionaries(
            {},
            optional={
                "iss": strings,
                "sub": strings,
                "jti": strings,
                "exp": times,
                "nbf": times,
                "iat": times,
                "aud": auds,
                "tenant": st.one_of(st.none(), st.integers()),
                "jti2": st.just(1),
            },
        )
    )
    names = list(claims)
    draw(st.randoms(use_true_random=False)).shuffle(names)
    claims = {name: claims[name] for name in names}
    check_aud = draw(st.booleans())
    expected = draw(
        st.one_of(
            st.none(),
            st.sets(st.sampled_from(["api", "x", ""]), min_size=1).map(frozenset),
            st.just(frozenset()),
        )
    )
    required = draw(
        st.lists(st.sampled_from(["tenant", "jti", "exp", "nope", "aud"]), max_size=3, unique=True)
    )
    return claims, now, skew, max_age, check_aud, expected, tuple(required)


@_examples(6000)
@given(_claims_cases())
def test_check_claims_matches_the_compiled_closure(sp: ModuleType, case: tuple[Any, ...]) -> None:
    _check_claims_case(sp, *case)


def test_check_claims_typical_tokens(sp: ModuleType) -> None:
    """The usual shapes, with every combination of the definition's settings."""
    issued = int(T0) - 10
    base = {
        "iss": "https://idp",
        "sub": "alice",
        "aud": "api",
        "iat": issued,
        "nbf": issued,
        "exp": issued + 3600,
        "jti": "j",
    }
    variants = [
        base,
        {**base, "aud": ["other", "api"]},
        {**base, "aud": ["other"]},
        {**base, "exp": float(issued + 3600)},
        {**base, "iat": issued + 0.5},
        {k: v for k, v in base.items() if k != "nbf"},
        {k: v for k, v in base.items() if k != "iat"},
        {k: v for k, v in base.items() if k != "aud"},
        {k: v for k, v in base.items() if k != "exp"},
        {**base, "exp": int(T0) - 59},
        {**base, "exp": int(T0) - 60},
        {**base, "exp": int(T0) - 61},
        {**base, "nbf": int(T0) + 60},
        {**base, "nbf": int(T0) + 61},
        {**base, "iat": int(T0) + 60, "nbf": int(T0)},
        {**base, "iat": issued + 3601},
        {**base, "iss": None},
        {**base, "sub": None},
        {**base, "jti": 5},
        {**base, "nbf": None},
        {**base, "iat": None},
        {**base, "aud": None},
        {**base, "aud": []},
        {**base, "exp": True},
        {**base, "exp": 1.0e10},
    ]
    results = 0
    for claims in variants:
        for skew in (0, 60):
            for max_age in (None, 5, 10, 70, 3600):
                for check_aud in (True, False):
                    for expected in (None, frozenset({"api"}), frozenset({"x"})):
                        for required in ((), ("jti",), ("nope",)):
                            got = _check_claims_case(
                                sp, claims, T0, skew, max_age, check_aud, expected, required
                            )
                            results += got is not None
    assert results > 500


def test_check_claims_subclasses_are_not_numbers_or_strings(sp: ModuleType) -> None:
    """The closure tests exact types (``type(x) is int``): bool, and subclasses of int,
    float and str, never pass as numbers or strings."""
    issued = int(T0) - 10
    base = {"iss": "i", "aud": "api", "iat": issued, "nbf": issued, "exp": issued + 3600}
    for name, value in (
        ("exp", True),
        ("exp", _Int(issued + 3600)),
        ("exp", _Float(issued + 3600)),
        ("nbf", _Int(issued)),
        ("nbf", False),
        ("iat", _Float(issued)),
        ("iat", True),
        ("iss", _Str("i")),
        ("sub", _Str("s")),
        ("aud", _Str("api")),
        ("aud", [_Str("api")]),
    ):
        for expected in (None, frozenset({"api"})):
            _check_claims_case(sp, {**base, name: value}, T0, 60, None, True, expected, ())


def test_check_claims_accepts_what_the_closure_accepts(sp: ModuleType) -> None:
    """Guard against a trivially-None implementation: typical valid claims pass."""
    claims = {"iss": "i", "aud": "api", "iat": int(T0), "nbf": int(T0), "exp": int(T0) + 60}
    got = sp.check_claims(claims, T0, 60, None, True, frozenset({"api"}), ())
    assert got == T0 + 60 and type(got) is float


# --- no leaks ---------------------------------------------------------------------------------


def _growth(call: Callable[[], object], rounds: int = 20_000) -> int:
    for _ in range(200):
        call()
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(rounds):
            call()
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    return after - before


def test_no_memory_growth(sp: ModuleType) -> None:
    payload = _realistic_payloads()[3]
    token = f"{_GOOD_HEADER}.{b64url_encode(payload)}.{b64url_encode(b'x' * 256)}"
    claims = sp.loads_strict(payload)
    assert claims is not None
    calls: list[tuple[str, Callable[[], object]]] = [
        ("loads_strict valid", lambda: sp.loads_strict(payload)),
        ("loads_strict refused late", lambda: sp.loads_strict(payload[:-1] + b',"iss":1}')),
        ("loads_strict bad escape", lambda: sp.loads_strict(b'{"a":["x",{"b":"\\ud800"}]}')),
        ("loads_strict bad utf-8", lambda: sp.loads_strict(b'{"a":["x",{"b":"\xed\xa0\x80"}]}')),
        ("split_compact valid", lambda: sp.split_compact(token, 16384)),
        ("split_compact refused", lambda: sp.split_compact(token + "=", 16384)),
        (
            "check_claims",
            lambda: sp.check_claims(claims, T0, 60, 10**12, True, frozenset({"api"}), ("jti",)),
        ),
    ]
    for name, call in calls:
        grown = _growth(call)
        assert grown < 256 * 1024, f"{name}: {grown} bytes more after 20000 calls"


# === 4. the whole pipeline: fast lane against the reference pipeline ============================

ALGORITHMS = ("RS256", "PS256", "ES256", "EdDSA", "HS256")
AUDIENCE = "api://realmgate-speedups"
REALM = "SPEED"
SUBJECTS = 20
SECRET_ENV = "REALMGATE_SPEEDUPS_TEST_SECRET"
_SHA256 = hashes.SHA256()


def issuer_of(name: str) -> str:
    return f"https://idp.example.com/{name.lower()}"


def _new_private(alg: str) -> Any:
    if alg in ("RS256", "PS256"):
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if alg == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    if alg == "EdDSA":
        return ed25519.Ed25519PrivateKey.generate()
    return os.urandom(32).hex().encode()


def _sign_raw(alg: str, private: Any, message: bytes) -> bytes:
    if alg == "HS256":
        return hmac.digest(private, message, "sha256")
    if alg == "RS256":
        return bytes(private.sign(message, padding.PKCS1v15(), _SHA256))
    if alg == "PS256":
        pss = padding.PSS(mgf=padding.MGF1(_SHA256), salt_length=32)
        return bytes(private.sign(message, pss, _SHA256))
    if alg == "ES256":
        r, s = decode_dss_signature(private.sign(message, ec.ECDSA(_SHA256)))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")
    return bytes(private.sign(message))


class World:
    """Keys, a configuration file (one definition per algorithm and two more with other
    claim rules), a registry of :data:`SUBJECTS` users, and token makers."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.keys = {alg: _new_private(alg) for alg in ALGORITHMS}
        self.other = {alg: _new_private(alg) for alg in ALGORITHMS}
        trust = directory / "trust"
        trust.mkdir()
        blocks = ["[registry]", 'path = "registry.db"', ""]
        os.environ[SECRET_ENV] = self.keys["HS256"].decode()
        for alg in ALGORITHMS:
            blocks += [
                "[[client]]",
                f'id = "{alg.lower()}"',
                f'issuers = ["{issuer_of(alg)}"]',
                f'algorithms = ["{alg}"]',
                f'audiences = ["{AUDIENCE}"]',
                f'realm = "{REALM}"',
                "clock_skew = 60",
            ]
            blocks.append(self._key_line(alg, trust))
            blocks.append("")
        blocks += [
            "[[client]]",
            'id = "hs-any"',
            f'issuers = ["{issuer_of("hs-any")}"]',
            'algorithms = ["HS256"]',
            'audiences = "any"',
            f'realm = "{REALM}"',
            "clock_skew = 0",
            "max_age = 600",
            'required_claims = ["jti", "tenant"]',
            f'shared_secret_env = "{SECRET_ENV}"',
            "",
            "[[client]]",
            'id = "ed-open"',
            f'issuers = ["{issuer_of("ed-open")}"]',
            'algorithms = ["EdDSA"]',
            "clock_skew = 5",
            "map_to_registry_user = true",
            self._key_line("EdDSA", trust),
            "",
        ]
        self.config = directory / "realmgate.toml"
        self.config.write_text("\n".join(blocks))
        self.registry = SQLiteRegistry(directory / "registry.db")
        for i in range(SUBJECTS):
            self.registry.add(MappingRule(f"user{i:04d}", REALM, f"L{i:04d}", "speedups"))

    def _key_line(self, alg: str, trust: Path) -> str:
        if alg == "HS256":
            return f'shared_secret_env = "{SECRET_ENV}"'
        pem = (
            self.keys[alg]
            .public_key()
            .public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
        )
        (trust / f"{alg.lower()}.pem").write_bytes(pem)
        return f'trust_store = "trust/{alg.lower()}.pem"'

    def verifier(self, clock: Callable[[], float] = time.time) -> Verifier:
        return Verifier(self.config, registry=self.registry, clock=clock)

    def claims(self, alg: str, now: float, index: int = 1, **changes: Any) -> dict[str, Any]:
        issued = int(now) - 30
        claims: dict[str, Any] = {
            "iss": issuer_of(alg),
            "sub": f"user{index % SUBJECTS:04d}",
            "aud": AUDIENCE,
            "iat": issued,
            "nbf": issued,
            "exp": issued + 3600,
            "jti": str(uuid.UUID(int=index)),
            "tenant": "acme",
            "roles": ["reader", "writer"],
        }
        claims.update(changes)
        return {k: v for k, v in claims.items() if v is not _MISSING}

    def token(
        self,
        alg: str,
        claims: dict[str, Any],
        *,
        key_alg: str | None = None,
        other_key: bool = False,
        kid: Any = _MISSING,
        extra_header: dict[str, Any] | None = None,
    ) -> str:
        key_alg = key_alg or alg
        private = (self.other if other_key else self.keys)[key_alg]
        if kid is _MISSING:
            kid = None if key_alg == "HS256" else key_alg.lower()
        signer = signing_key_from_private(private, source="test", kid=kid)
        return sign_compact(claims, signer, key_alg, kid=kid, extra_header=extra_header)

    def raw_token(self, alg: str, header: bytes, payload: bytes) -> str:
        signing_input = f"{b64url_encode(header)}.{b64url_encode(payload)}"
        signature = _sign_raw(alg, self.keys[alg], signing_input.encode())
        return f"{signing_input}.{b64url_encode(signature)}"

    def header(self, alg: str) -> bytes:
        kid = "" if alg == "HS256" else f',"kid":"{alg.lower()}"'
        return f'{{"alg":"{alg}","typ":"JWT"{kid}}}'.encode()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    saved = os.environ.get(SECRET_ENV)
    made = World(tmp_path_factory.mktemp("speedups"))
    yield made
    made.registry.close()
    if saved is None:
        os.environ.pop(SECRET_ENV, None)
    else:
        os.environ[SECRET_ENV] = saved


_FIELDS = (
    "accepted",
    "status",
    "message_id",
    "client_id",
    "issuer",
    "subject",
    "realm",
    "local_user",
    "key_id",
    "algorithm",
    "token_hash",
    "realm_source",
    "expires_at",
)


def _view(decision: Decision) -> dict[str, Any]:
    view = {name: getattr(decision, name) for name in _FIELDS}
    view["claims"] = dict(decision.claims)
    view["mapping_rule"] = decision.mapping_rule
    return view


def _compare(fast: Decision, reference: Decision, token: str, label: str) -> None:
    difference = _diff(_view(fast), _view(reference))
    assert difference is None, (
        f"{label}: verify() and verify(explain=True) disagree on {token!r}: {difference}\n"
        f"fast: {fast.message_id} {fast.reason}\nreference: {reference.message_id} "
        f"{reference.reason}"
    )


def _valid_corpus(world: World, now: float) -> list[tuple[str, str]]:
    """(label, token) pairs: valid and refused tokens of every definition."""
    corpus: list[tuple[str, str]] = []

    def add(label: str, token: str) -> None:
        corpus.append((label, token))

    i = 0
    for alg in ALGORITHMS:
        i += 1
        c = world.claims
        t = world.token
        add(f"{alg} valid", t(alg, c(alg, now, i)))
        add(f"{alg} valid aud list", t(alg, c(alg, now, i + 1, aud=["x", AUDIENCE])))
        add(f"{alg} valid float times", t(alg, c(alg, now, i, exp=now + 3600.5, iat=now - 1.25)))
        add(
            f"{alg} valid rich claims",
            t(
                alg,
                c(
                    alg,
                    now,
                    i + 2,
                    name="Zoë 😀 \u2028",
                    nested={"a": [1, 2.5, None, True, {"b": "c"}]},
                    big=2**63 - 1,
                    neg=-(2**40),
                    small=5e-324,
                    zero=-0.0,
                    empty={},
                ),
            ),
        )
        add(f"{alg} no nbf", t(alg, c(alg, now, i, nbf=_MISSING)))
        add(f"{alg} no iat", t(alg, c(alg, now, i, iat=_MISSING)))
        add(f"{alg} expired", t(alg, c(alg, now, i, exp=int(now) - 3600, iat=int(now) - 7200)))
        add(f"{alg} expired within skew", t(alg, c(alg, now, i, exp=int(now) - 30)))
        add(f"{alg} nbf in the future", t(alg, c(alg, now, i, nbf=int(now) + 3600)))
        add(f"{alg} nbf within skew", t(alg, c(alg, now, i, nbf=int(now) + 30)))
        add(f"{alg} iat future", t(alg, c(alg, now, i, iat=int(now) + 3600)))
        add(f"{alg} iat after exp", t(alg, c(alg, now, i, iat=int(now) + 10, exp=int(now) + 5)))
        add(f"{alg} exp missing", t(alg, c(alg, now, i, exp=_MISSING)))
        add(f"{alg} exp null", t(alg, c(alg, now, i, exp=None)))
        add(f"{alg} exp string", t(alg, c(alg, now, i, exp=str(int(now) + 3600))))
        add(f"{alg} exp bool", t(alg, c(alg, now, i, exp=True)))
        add(f"{alg} exp beyond 9999", t(alg, c(alg, now, i, exp=10**12)))
        add(f"{alg} exp negative", t(alg, c(alg, now, i, exp=-1)))
        add(f"{alg} nbf null", t(alg, c(alg, now, i, nbf=None)))
        add(f"{alg} wrong audience", t(alg, c(alg, now, i, aud="api://other")))
        add(f"{alg} aud list without ours", t(alg, c(alg, now, i, aud=["a", "b"])))
        add(f"{alg} aud empty list", t(alg, c(alg, now, i, aud=[])))
        add(f"{alg} aud non-string item", t(alg, c(alg, now, i, aud=[AUDIENCE, 1])))
        add(f"{alg} aud missing", t(alg, c(alg, now, i, aud=_MISSING)))
        add(f"{alg} aud null", t(alg, c(alg, now, i, aud=None)))
        add(f"{alg} unknown subject", t(alg, c(alg, now, i, sub="user9999")))
        add(f"{alg} sub missing", t(alg, c(alg, now, i, sub=_MISSING)))
        add(f"{alg} sub int", t(alg, c(alg, now, i, sub=7)))
        add(f"{alg} sub empty", t(alg, c(alg, now, i, sub="")))
        add(f"{alg} jti int", t(alg, c(alg, now, i, jti=7)))
        add(f"{alg} jti null", t(alg, c(alg, now, i, jti=None)))
        add(f"{alg} wrong issuer", t(alg, c(alg, now, i, iss="https://evil.example.com")))
        add(f"{alg} iss missing", t(alg, c(alg, now, i, iss=_MISSING)))
        add(f"{alg} iss null", t(alg, c(alg, now, i, iss=None)))
        add(f"{alg} iss int", t(alg, c(alg, now, i, iss=1)))
        add(f"{alg} other key", t(alg, c(alg, now, i), other_key=True))
        if alg != "HS256":
            add(f"{alg} unknown kid", t(alg, c(alg, now, i), kid="no-such-key"))
            add(f"{alg} no kid", t(alg, c(alg, now, i), kid=None))
        else:
            add(f"{alg} a kid", t(alg, c(alg, now, i), kid="hs256"))
        add(f"{alg} jku header", t(alg, c(alg, now, i), extra_header={"jku": "https://evil/j"}))
        add(f"{alg} x5u and jwk", t(alg, c(alg, now, i), extra_header={"x5u": "u", "jwk": {}}))
        add(f"{alg} cty JWT", t(alg, c(alg, now, i), extra_header={"cty": "JWT"}))
        other_alg = "HS256" if alg != "HS256" else "EdDSA"
        add(f"{alg} issuer with another alg", t(alg, c(alg, now, i), key_alg=other_alg))

        # Raw payloads: what the C parser sees, signed so that it reaches it.
        good = json.dumps(c(alg, now, i), separators=(",", ":")).encode()
        header = world.header(alg)
        raw = world.raw_token
        subject = f"user{i % SUBJECTS:04d}".encode()
        for label, payload in (
            ("pretty", json.dumps(c(alg, now, i), indent=2).encode()),
            ("ascii escapes", json.dumps(c(alg, now, i, name="Zoë"), ensure_ascii=True).encode()),
            ("escaped iss", good.replace(b'"iss":"h', b'"iss":"\\u0068', 1)),
            ("escaped sub name", good.replace(b'"sub"', b'"s\\u0075b"', 1)),
            ("duplicate sub", good[:-1] + b',"sub":"user0003"}'),
            ("duplicate sub via escape", good[:-1] + b',"\\u0073ub":"' + subject + b'"}'),
            ("duplicate exp", good[:-1] + b',"exp":1}'),
            ("NaN claim", good[:-1] + b',"x":NaN}'),
            ("NaN exp", good.replace(b'"exp":', b'"exp":NaN,"e":', 1)),
            ("1e400 claim", good[:-1] + b',"x":1e400}'),
            ("lone surrogate", good[:-1] + b',"x":"\\ud800"}'),
            ("surrogate pair", good[:-1] + b',"x":"\\ud83d\\ude00"}'),
            ("bom", b"\xef\xbb\xbf" + good),
            ("trailing garbage", good + b"x"),
            ("trailing whitespace", b" \r\n" + good + b"\t\n"),
            ("array", b"[" + good + b"]"),
            ("empty object", b"{}"),
            ("empty payload", b""),
            ("null", b"null"),
            ("depth 32", good[:-1] + b',"d":' + b"[" * 31 + b"]" * 31 + b"}"),
            ("depth 33", good[:-1] + b',"d":' + b"[" * 32 + b"]" * 32 + b"}"),
            ("19-char int", good[:-1] + b',"n":1234567890123456789}'),
            ("huge int", good[:-1] + b',"n":123456789012345678901234567890}'),
            ("65-char number", good[:-1] + b',"n":0.' + b"1" * 63 + b"}"),
            ("exp as float text", good.replace(b'"exp":', b'"exp":1e0,"e0":', 1)),
            (
                "exp 1.9e9",
                good.replace(b'"exp":', b'"exp":' + b"%.6e" % (now + 3600) + b',"e":', 1),
            ),
            ("exp -0", good.replace(b'"exp":', b'"exp":-0,"e":', 1)),
            ("raw control char", good[:-1] + b',"x":"a\x01b"}'),
            ("invalid utf-8", good[:-1] + b',"x":"\xed\xa0\x80"}'),
            ("raw astral", good[:-1] + b',"x":"\xf0\x9f\x98\x80"}'),
            ("leading zero", good[:-1] + b',"x":01}'),
            ("trailing comma", good[:-1] + b",}"),
            ("single quotes", good[:-1] + b",'x':1}"),
            ("vertical tab", good[:-1] + b',\x0b"x":1}'),
            ("nbsp", good[:-1] + b',\xc2\xa0"x":1}'),
        ):
            add(f"{alg} raw {label}", raw(alg, header, payload))
        for label, head in (
            ("header duplicate alg", header[:-1] + b',"alg":"HS256"}'),
            ("header alg none", b'{"alg":"none"}'),
            ("header crit", header[:-1] + b',"crit":["exp"]}'),
            ("header b64", header[:-1] + b',"b64":false}'),
            ("header not json", b"{alg}"),
            ("header spaces", header.replace(b":", b": ")),
            ("header lone surrogate kid", header[:-1] + b',"x":"\\udfff"}'),
        ):
            add(f"{alg} raw {label}", raw(alg, head, good))

        # Non-canonical final characters in each segment.
        token = t(alg, c(alg, now, i))
        head, payload_part, signature_part = token.split(".")
        for segment in (payload_part, signature_part):
            tail = segment[-1]
            bumped = _B64[(_B64.index(tail) + 1) % 64]
            add(f"{alg} noncanonical", token.replace("." + segment, "." + segment[:-1] + bumped))
            add(f"{alg} padded", token.replace("." + segment, "." + segment + "="))

    # The extra definitions: other claim rules, and map_to_registry_user.
    c = world.claims
    for label, claims in (
        ("valid", c("hs-any", now, 1)),
        ("any audience", c("hs-any", now, 1, aud="whatever")),
        ("aud int", c("hs-any", now, 1, aud=3)),
        ("no tenant", c("hs-any", now, 1, tenant=_MISSING)),
        ("no jti", c("hs-any", now, 1, jti=_MISSING)),
        ("too old", c("hs-any", now, 1, iat=int(now) - 601, nbf=int(now) - 601)),
        ("old but fine", c("hs-any", now, 1, iat=int(now) - 500, nbf=int(now) - 500)),
        ("no iat with max_age", c("hs-any", now, 1, iat=_MISSING)),
        ("no skew: exp in the past", c("hs-any", now, 1, exp=int(now) - 1)),
        ("no skew: nbf future", c("hs-any", now, 1, nbf=int(now) + 10)),
    ):
        add(f"hs-any {label}", world.token("HS256", claims))
    for label, claims in (
        ("valid", c("ed-open", now, 1, sub="anyone")),
        ("no audience rule", c("ed-open", now, 1, sub="anyone", aud=["a"])),
        ("aud bad type", c("ed-open", now, 1, sub="anyone", aud={"a": 1})),
        ("realm claim", c("ed-open", now, 1, sub="anyone", realm="R1")),
        ("realm claim int", c("ed-open", now, 1, sub="anyone", realm=5)),
        ("exp within small skew", c("ed-open", now, 1, sub="anyone", exp=int(now) - 2)),
        ("exp beyond small skew", c("ed-open", now, 1, sub="anyone", exp=int(now) - 20)),
    ):
        add(f"ed-open {label}", world.token("EdDSA", claims))
    return corpus


def _mutations(corpus: list[tuple[str, str]], count: int, seed: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    valid = [token for label, token in corpus if label.endswith(" valid")]
    out = []
    for n in range(count):
        token = rng.choice(valid)
        at = rng.randrange(len(token))
        kind = n % 10
        if kind == 0:
            mutated = token[:at] + rng.choice(_B64) + token[at + 1 :]
        elif kind == 1:
            mutated = token[:at] + token[at + 1 :]
        elif kind == 2:
            head, payload, signature = token.split(".")
            mutated = rng.choice(
                [
                    f"{payload}.{head}.{signature}",
                    f"{head}.{signature}.{payload}",
                    f"{head}.{payload}",
                ]
            )
        elif kind == 3:
            mutated = token[:at] + rng.choice(_B64 + ".=+/ é\x00") + token[at:]
        elif kind == 4:
            mutated = token[:at] + rng.choice(".=+/ é\x00\u2028😀") + token[at + 1 :]
        elif kind == 5:
            mutated = token[:at] + token[at].swapcase() + token[at + 1 :]
        elif kind == 6:
            mutated = token[:at]
        elif kind == 7:
            head, payload, signature = token.split(".")
            mutated = rng.choice(
                [f"{head}.{payload}.{signature}.{signature}", f"{head}.{head}.{signature}"]
            )
        elif kind == 8:
            head, payload, signature = token.split(".")
            last = rng.choice(_B64)
            mutated = f"{head}.{payload[:-1]}{last}.{signature}"
        else:
            mutated = token + rng.choice(["=", "A", "AA", ".", " ", "\n"])
        if mutated != token:
            out.append((f"mutation {n} (kind {kind})", mutated))
    return out


def test_pipeline_fast_lane_agrees_with_the_reference(world: World) -> None:
    now = time.time()
    corpus = _valid_corpus(world, now)
    corpus += _mutations(corpus, 200, seed=11)
    outcomes: dict[bool, int] = {True: 0, False: 0}
    ids: set[str | None] = set()
    for label, token in corpus:
        fast_verifier = world.verifier()
        fast = fast_verifier.verify(token)
        reference = world.verifier().verify(token, explain=True)
        _compare(fast, reference, token, label)
        for attempt in range(2):  # the second sighting is stored, the third is a cache hit
            again = fast_verifier.verify(token)
            _compare(again, reference, token, f"{label} (repeat {attempt + 1})")
        outcomes[reference.accepted] += 1
        ids.add(reference.message_id)
        if label.endswith(" valid"):
            assert reference.accepted, f"{label}: {reference.reason}"
    # The corpus really exercises both answers and many refusal reasons.
    assert outcomes[True] >= 40 and outcomes[False] >= 300, outcomes
    assert len(ids) >= 20, sorted(map(str, ids))


def test_pipeline_boundaries_with_a_fixed_clock(world: World) -> None:
    """Exact time boundaries (both lanes must read the verifier's clock)."""
    now = float(int(time.time())) + 0.25

    def clock() -> float:
        return now

    c = world.claims
    cases: list[tuple[str, dict[str, Any]]] = []
    for alg, skew in (("RS256", 60), ("HS256", 60), ("hs-any", 0), ("ed-open", 5)):
        sub = {"sub": "anyone"} if alg == "ed-open" else {}
        for exp in (now - skew, now - skew + 0.25, now - skew - 0.25, math.ceil(now - skew)):
            cases.append((f"{alg} exp {exp - now}", c(alg, now, 1, exp=exp, **sub)))
        for nbf in (now + skew, now + skew + 0.25, math.floor(now + skew), math.ceil(now + skew)):
            cases.append((f"{alg} nbf {nbf - now}", c(alg, now, 1, nbf=nbf, **sub)))
        for iat in (now + skew, now + skew + 0.001, now - 600, now - 600.5, now - 599.75):
            cases.append((f"{alg} iat {iat - now}", c(alg, now, 1, iat=iat, nbf=_MISSING, **sub)))
    for label, claims in cases:
        alg = label.split()[0]
        key_alg = {"hs-any": "HS256", "ed-open": "EdDSA"}.get(alg, alg)
        token = world.token(key_alg, claims)
        fast = world.verifier(clock).verify(token)
        reference = world.verifier(clock).verify(token, explain=True)
        _compare(fast, reference, token, label)


def test_token_hash_is_the_documented_one(world: World) -> None:
    now = time.time()
    token = world.token("HS256", world.claims("HS256", now))
    decision = world.verifier().verify(token)
    assert decision.accepted, decision.reason
    assert decision.token_hash == hashlib.sha256(token.encode()).hexdigest()[:12]


@pytest.fixture(params=[True, False], ids=["vector", "scalar"])
def both_decoders(sp: ModuleType, request: pytest.FixtureRequest) -> Any:
    """Each test run once with the AVX2 base64url blocks and once without (the vector run
    skips on a CPU without AVX2)."""
    before = sp.vector_base64()
    if request.param and not sp.vector_base64(True):
        pytest.skip("this CPU has no AVX2: only the scalar decoder runs here")
    sp.vector_base64(request.param)
    yield sp
    sp.vector_base64(before)


def test_base64url_every_length_through_the_vector_blocks(both_decoders: ModuleType) -> None:
    """Lengths across several 32-character blocks and every tail (the last 12 to 43
    characters always go the scalar way), random bytes: exactly b64url_decode's output."""
    rng = random.Random(5)
    for size in range(0, 400):
        data = rng.randbytes(size)
        text = b64url_encode(data)
        if not text:
            continue
        got = both_decoders.split_compact(f"{_GOOD_HEADER}.{text}.{text}", 4096)
        assert got is not None and got[2] == data and got[3] == data, size


def test_base64url_every_ascii_byte_at_every_block_position(both_decoders: ModuleType) -> None:
    """Each ASCII byte (non-ASCII text never reaches the decoder) at each position of the
    first two 32-character blocks and the scalar tail of a 96-character segment: decoded as
    b64url_decode decodes it, or refused where it refuses."""
    text = b64url_encode(bytes(range(72)))
    assert len(text) == 96
    for position in range(len(text)):
        for code in range(128):
            mutated = text[:position] + chr(code) + text[position + 1 :]
            _check_split(both_decoders, f"{_GOOD_HEADER}.{mutated}.{b64url_encode(b'sig')}", 4096)
            _check_split(both_decoders, f"{_GOOD_HEADER}.e30.{mutated}", 4096)


def test_base64url_vector_and_scalar_agree_on_mutations(sp: ModuleType) -> None:
    """The two decoders side by side on random segments with random bad bytes."""
    if not sp.vector_base64(True):
        pytest.skip("this CPU has no AVX2")
    rng = random.Random(11)
    try:
        for _ in range(3000):
            text = b64url_encode(rng.randbytes(rng.randrange(30, 300)))
            chars = list(text)
            for _ in range(rng.randrange(0, 3)):
                chars[rng.randrange(len(chars))] = chr(rng.randrange(128))
            token = f"{_GOOD_HEADER}.{''.join(chars)}.{text}"
            sp.vector_base64(True)
            vector = sp.split_compact(token, 4096)
            sp.vector_base64(False)
            assert sp.split_compact(token, 4096) == vector == _model_split(token, 4096)
    finally:
        sp.vector_base64(True)


def test_doorkeeper_unseen_is_never_wrong_about_a_marked_token(sp: ModuleType) -> None:
    """``unseen`` may only say True for a token not marked: after ``admit`` every token is
    seen (short, non-ASCII and long ones alike), and a fresh bitmap sees none of them."""
    from realmgate.doorkeeper import Doorkeeper

    rng = random.Random(3)
    tokens = [b64url_encode(rng.randbytes(rng.randrange(1, 700))) for _ in range(2000)]
    tokens += ["a", "é" * 20, "x.y.z", "\U0001f600" * 30]
    keeper = Doorkeeper()
    assert all(keeper.unseen(t) for t in tokens[:50])
    for token in tokens:
        keeper.admit(token)
    assert not any(keeper.unseen(t) for t in tokens)
    keeper.clear()
    assert keeper.unseen(tokens[0])
