"""The signed examples of RFC 7515 appendix A and RFC 7520 section 4, verified as published.

The data files in ``tests/data/rfc`` hold each example's compact serialization and the public
members of its key. Their tokens have long-past ``exp`` values: this tests the signature path,
not claims. A transcription error cannot pass: the signature would not verify.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from realmgate.errors import InvalidToken
from realmgate.jws import parse_compact
from realmgate.keys.jwk import key_from_jwk
from realmgate.signature import verify_signature

DATA = Path(__file__).parent / "data" / "rfc"
EXAMPLES = sorted(DATA.glob("*.json"))


def load(path: Path) -> dict[str, Any]:
    return dict(json.loads(path.read_text(encoding="utf-8")))


def test_all_examples_present() -> None:
    assert [p.stem for p in EXAMPLES] == [
        "rfc7515_a1",
        "rfc7515_a2",
        "rfc7515_a3",
        "rfc7515_a4",
        "rfc7520_4_1",
        "rfc7520_4_2",
        "rfc7520_4_3",
        "rfc7520_4_4",
    ]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_verifies(path: Path) -> None:
    example = load(path)
    key = key_from_jwk(example["jwk"], example["source"])
    parsed = parse_compact(example["jws"], payload_json=example["payload_is_claims"])
    assert parsed.alg == example["alg"]
    assert parsed.payload.decode("utf-8") == example["payload_text"]
    assert verify_signature(parsed, key) is True


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_with_one_bit_flipped_fails(path: Path) -> None:
    example = load(path)
    key = key_from_jwk(example["jwk"], example["source"])
    header, payload, signature = example["jws"].split(".")
    # Flip the payload's first character between two alphabet letters (keeps it canonical).
    swapped = ("B" if payload[0] != "B" else "C") + payload[1:]
    parsed = parse_compact(f"{header}.{swapped}.{signature}", payload_json=False)
    assert verify_signature(parsed, key) is False


def test_a1_is_the_published_text_with_crlf_in_the_header() -> None:
    example = load(DATA / "rfc7515_a1.json")
    assert example["jws"] == (
        "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9"
        ".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290"
        "Ijp0cnVlfQ.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    )
    parsed = parse_compact(example["jws"])
    assert dict(parsed.header) == {"typ": "JWT", "alg": "HS256"}
    assert parsed.claims == {"iss": "joe", "exp": 1300819380, "http://example.com/is_root": True}


def test_rfc7520_hs256_key_is_bound_by_its_alg() -> None:
    example = load(DATA / "rfc7520_4_4.json")
    key = key_from_jwk(example["jwk"], "rfc")
    assert key.algorithms == frozenset({"HS256"})


def test_rfc7520_rsa_key_refuses_hs256_confusion() -> None:
    rsa = key_from_jwk(load(DATA / "rfc7520_4_1.json")["jwk"], "rfc")
    hs = load(DATA / "rfc7520_4_4.json")
    with pytest.raises(InvalidToken) as caught:
        verify_signature(parse_compact(hs["jws"], payload_json=False), rsa)
    assert caught.value.message_id == "RG3003E"
