"""Strict base64url and strict JSON: one accepted encoding, no silent reinterpretation."""

from __future__ import annotations

import base64
import json
import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from realmgate import jsonparse
from realmgate.b64url import B64Error, b64url_decode, b64url_encode
from realmgate.errors import InvalidToken
from realmgate.jsonparse import MAX_DEPTH, loads_object

# --- base64url ------------------------------------------------------------------------


@given(st.binary(max_size=300))
def test_round_trip_matches_stdlib(data: bytes) -> None:
    text = b64url_encode(data)
    assert text == base64.urlsafe_b64encode(data).rstrip(b"=").decode()
    assert b64url_decode(text) == data


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("QQ==", "padding '='"),
        ("QUI=", "padding '='"),
        ("ab+c", "'+'"),
        ("ab/c", "'/'"),
        ("ab c", "' '"),
        ("ab\nc", "U+000A"),
        ("ab\tc", "U+0009"),
        ("abcé", "U+00E9"),
        ("abcde", "length of 5"),
        ("QR", "non-zero unused bits"),
        ("QUJ", "non-zero unused bits"),
        ("ab.c", "'.'"),
    ],
)
def test_refusals(text: str, fragment: str) -> None:
    with pytest.raises(B64Error) as caught:
        b64url_decode(text)
    assert fragment in str(caught.value)


def test_non_canonical_tail_is_refused_for_one_and_two_bytes() -> None:
    assert b64url_decode("QQ") == b"A"
    for char in "RSTUVWXYZabcdef":
        with pytest.raises(B64Error):
            b64url_decode("Q" + char)
    assert b64url_decode("QUI") == b"AB"
    for char in "JKL":
        with pytest.raises(B64Error):
            b64url_decode("QU" + char)


def test_every_single_junk_byte_is_refused() -> None:
    alphabet = set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    for byte in range(128):
        if byte in alphabet:
            continue
        with pytest.raises(B64Error):
            b64url_decode("QUJD" + chr(byte) + "QUJD")


def test_empty_is_empty() -> None:
    assert b64url_decode("") == b""
    assert b64url_encode(b"") == ""


# --- JSON -------------------------------------------------------------------------------


def refused(data: bytes, message_id: str = "RG1006E") -> InvalidToken:
    with pytest.raises(InvalidToken) as caught:
        loads_object(data, "payload")
    assert caught.value.message_id == message_id
    assert caught.value.values["segment"] == "payload"
    return caught.value


def test_plain_object() -> None:
    assert loads_object(b'{"a":1,"b":[true,null,"x"],"c":{"d":1.5}}', "payload") == {
        "a": 1,
        "b": [True, None, "x"],
        "c": {"d": 1.5},
    }


def test_whitespace_and_crlf_allowed() -> None:
    assert loads_object(b'{"iss":"joe",\r\n "exp":1300819380}', "header") == {
        "iss": "joe",
        "exp": 1300819380,
    }


@pytest.mark.parametrize(
    "data",
    [
        b'{"a":1,"a":2}',
        b'{"a":1, "a" : 1}',
        b'{"x":{"a":1,"a":2}}',
        b'{"x":[{"b":{"a":1,"a":2}}]}',
        b'{"a":"\\u003a","a":2,"b":"::"}',
        b'{"a":1,"\\u0061":2}',
        b'{"url":"https://x","url":"https://y"}',
    ],
)
def test_duplicate_names_refused_at_any_depth(data: bytes) -> None:
    assert "duplicate member name" in refused(data).values["detail"]


def test_colon_escape_cannot_hide_a_duplicate() -> None:
    # One escaped colon in a string makes the parsed text show one colon more than the input:
    # exactly what would hide one dropped duplicate from a colon count.
    assert "duplicate" in refused(b'{"a":1,"a":2,"b":"\\u003A"}').values["detail"]
    assert loads_object(b'{"a":"\\u003a"}', "payload") == {"a": ":"}


@pytest.mark.parametrize(
    "data", [b'{"a":NaN}', b'{"a":Infinity}', b'{"a":-Infinity}', b'{"a":1e400}', b'{"a":-1e999}']
)
def test_non_finite_numbers_refused(data: bytes) -> None:
    refused(data)


def test_depth_limit() -> None:
    ok = b'{"a":' + b"[" * (MAX_DEPTH - 1) + b"1" + b"]" * (MAX_DEPTH - 1) + b"}"
    assert loads_object(ok, "payload")["a"]
    deep = b'{"a":' + b"[" * MAX_DEPTH + b"1" + b"]" * MAX_DEPTH + b"}"
    assert "nested deeper" in refused(deep).values["detail"]
    assert refused(b'{"a":' + b"[" * 5000 + b"]" * 5000 + b"}")


def test_many_brackets_in_strings_are_not_depth() -> None:
    text = {"a": "[" * 100, "b": "{" * 100}
    assert loads_object(json.dumps(text).encode(), "payload") == text


@pytest.mark.parametrize(
    ("data", "found"),
    [
        (b"[1]", "array"),
        (b'"s"', "string"),
        (b"1", "number"),
        (b"1.5", "number"),
        (b"true", "boolean"),
        (b"null", "null"),
    ],
)
def test_non_object_top_level(data: bytes, found: str) -> None:
    assert refused(data, "RG1007E").values["found"] == found


@pytest.mark.parametrize(
    "data",
    [
        b"\xef\xbb\xbf{}",
        b'{"a":"\xff"}',
        b'{"a":"\xed\xa0\x80"}',
        b'{"a":"\xc0\xaf"}',
        b'{"a":"\\ud800"}',
        b'{"\\udfff":1}',
        b'{"a":"x\ny"}',
        b'{"a":1,}',
        b'{"a":01}',
        b'{"a":1} x',
        b"",
        b"{",
        b'{"a":"\\x"}',
    ],
)
def test_malformed_refused(data: bytes) -> None:
    detail = refused(data).values["detail"]
    assert detail and len(detail) < 200


def test_surrogate_pairs_are_fine() -> None:
    assert loads_object(b'{"e":"\\ud83d\\ude00"}', "payload") == {"e": "\U0001f600"}


def test_big_integers_are_read_the_same_way_on_both_paths(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = b'{"a":18446744073709551615,"b":18446744073709551616,"c":-9223372036854775809}'
    fast = loads_object(data, "payload")
    monkeypatch.setattr(jsonparse, "_fast_loads", None)
    slow = loads_object(data, "payload")
    assert fast == slow == {"a": 2**64 - 1, "b": float(2**64), "c": float(-(2**63) - 1)}


@pytest.mark.parametrize("fast", [True, False])
def test_stdlib_path_gives_the_same_results(fast: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    if not fast:
        monkeypatch.setattr(jsonparse, "_fast_loads", None)
    assert loads_object(b'{"a":[1,{"b":null}],"c":"\\u00e9"}', "payload") == {
        "a": [1, {"b": None}],
        "c": "é",
    }
    for bad in (b'{"a":1,"a":1}', b'{"a":NaN}', b"[]", b"\xef\xbb\xbf{}"):
        with pytest.raises(InvalidToken):
            loads_object(bad, "payload")


@given(
    st.dictionaries(
        st.text(max_size=8),
        st.recursive(
            st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=10),
            lambda inner: (
                st.lists(inner, max_size=3)
                | st.dictionaries(st.text(max_size=5), inner, max_size=3)
            ),
            max_leaves=10,
        ),
        max_size=6,
    )
)
def test_agrees_with_json_on_well_formed_objects(value: dict[str, object]) -> None:
    for text in (json.dumps(value), json.dumps(value, ensure_ascii=False, indent=1)):
        assert loads_object(text.encode(), "payload") == value


def test_random_bytes_never_raise_anything_else() -> None:
    for _ in range(300):
        blob = os.urandom(40)
        try:
            loads_object(blob, "payload")
        except InvalidToken:
            pass
