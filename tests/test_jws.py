"""Compact JWS: every refusal by its catalogue id, every algorithm, confusion attacks."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from realmgate import jws
from realmgate.errors import InvalidToken
from realmgate.jws import ParsedJWS, parse_compact
from realmgate.jws_sign import sign_compact
from realmgate.keys.jwk import key_from_public_key, secret_key
from realmgate.keys.material import ALL_ALGS, VerificationKey
from realmgate.keys.signing import SigningKey, signing_key_from_private
from realmgate.signature import _verify_raw, key_can_verify, verify_signature

CLAIMS = {"iss": "https://issuer.example", "sub": "alice", "exp": 2000000000, "realm": "R1"}
SECRET = b"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def token(header: Any, payload: Any = None, signature: bytes = b"sig") -> str:
    h = header if isinstance(header, bytes) else json.dumps(header).encode()
    p = payload if isinstance(payload, bytes) else json.dumps(payload or CLAIMS).encode()
    return f"{b64(h)}.{b64(p)}.{b64(signature)}"


def refusal(text: str, message_id: str, **kwargs: Any) -> InvalidToken:
    with pytest.raises(InvalidToken) as caught:
        parse_compact(text, **kwargs)
    assert caught.value.message_id == message_id, caught.value.text
    return caught.value


@pytest.fixture(scope="module")
def signers(
    rsa_key: rsa.RSAPrivateKey,
    ec_key: ec.EllipticCurvePrivateKey,
    ed_key: ed25519.Ed25519PrivateKey,
) -> dict[str, SigningKey]:
    return {
        "RSA": signing_key_from_private(rsa_key, source="test"),
        "P-256": signing_key_from_private(ec_key, source="test"),
        "P-384": signing_key_from_private(ec.generate_private_key(ec.SECP384R1()), source="t"),
        "P-521": signing_key_from_private(ec.generate_private_key(ec.SECP521R1()), source="t"),
        "Ed25519": signing_key_from_private(ed_key, source="test"),
        "oct": signing_key_from_private(SECRET, source="test", kid="hs"),
    }


SIGNER_FOR = {
    **{a: "RSA" for a in ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512")},
    "ES256": "P-256",
    "ES384": "P-384",
    "ES512": "P-521",
    "EdDSA": "Ed25519",
    **{a: "oct" for a in ("HS256", "HS384", "HS512")},
}


# --- round trips ------------------------------------------------------------------------


def test_thirteen_algorithms() -> None:
    assert set(SIGNER_FOR) == ALL_ALGS and len(ALL_ALGS) == 13


@pytest.mark.parametrize("alg", sorted(SIGNER_FOR))
def test_sign_verify_round_trip(alg: str, signers: dict[str, SigningKey]) -> None:
    signer = signers[SIGNER_FOR[alg]]
    text = sign_compact(CLAIMS, signer, alg, kid=signer.kid)
    parsed = parse_compact(text)
    assert parsed.alg == alg and parsed.kid == signer.kid and parsed.claims == CLAIMS
    assert dict(parsed.header) == {"alg": alg, "typ": "JWT", "kid": signer.kid}
    key = signer.verification_key()
    assert key_can_verify(key, alg)
    assert verify_signature(parsed, key) is True
    h, _, s = text.split(".")
    tampered = parse_compact(f"{h}.{b64(json.dumps({**CLAIMS, 'sub': 'root'}).encode())}.{s}")
    assert verify_signature(tampered, key) is False
    sig = bytearray(parsed.signature)
    sig[len(sig) // 2] ^= 1
    assert verify_signature(parsed._replace(signature=bytes(sig)), key) is False


def test_sign_compact_format(signers: dict[str, SigningKey]) -> None:
    text = sign_compact({"a": "é"}, signers["oct"], "HS256", extra_header={"cty": "x"})
    header, payload, _ = text.split(".")
    assert base64.urlsafe_b64decode(header + "==") == b'{"alg":"HS256","typ":"JWT","cty":"x"}'
    assert base64.urlsafe_b64decode(payload + "==") == '{"a":"é"}'.encode()
    for name in ("alg", "crit", "b64"):
        with pytest.raises(Exception, match=name):
            sign_compact({}, signers["oct"], "HS256", extra_header={name: "x"})


# --- structure ----------------------------------------------------------------------------


def test_size_is_checked_first() -> None:
    error = refusal("x" * 20, "RG1002E", max_bytes=10)
    assert error.values == {"size": 20, "limit": 10}
    refusal("a.b.c.d.e" + "x" * 20, "RG1002E", max_bytes=10)


def test_five_segments_is_jwe() -> None:
    refusal("a.b.c.d.e", "RG1003E")


@pytest.mark.parametrize(("text", "parts"), [("", 1), ("abc", 1), ("a.b", 2), ("a.b.c.d", 4)])
def test_segment_count(text: str, parts: int) -> None:
    assert refusal(text, "RG1004E").values["parts"] == parts


@pytest.mark.parametrize(
    ("make", "segment"),
    [
        (lambda t: t.replace(".", "=.", 1), "header"),
        (lambda t: t.split(".")[0] + ".+" + t.split(".", 1)[1], "payload"),
        (lambda t: t + "=", "signature"),
        (lambda t: t + " ", "signature"),
        (lambda t: t[: t.rindex(".") + 1], "signature"),
        (lambda t: t[: t.rindex(".") + 1] + "é", "signature"),
        (lambda t: "é" + t, "header"),
    ],
)
def test_base64_refusals_name_the_segment(make: Any, segment: str) -> None:
    good = token({"alg": "HS256"})
    error = refusal(make(good), "RG1005E")
    assert error.values["segment"] == segment
    assert good not in error.text


def test_empty_signature_detail() -> None:
    error = refusal(token({"alg": "HS256"}, signature=b""), "RG1005E")
    assert error.values["detail"] == "empty signature"


def test_non_canonical_payload_bits() -> None:
    header = b64(b'{"alg":"HS256"}')
    refusal(f"{header}.AB.c2ln", "RG1005E", payload_json=False)
    assert parse_compact(f"{header}.AA.c2ln", payload_json=False).payload == b"\x00"


def test_json_refusals() -> None:
    error = refusal(token(b'{"alg":"HS256","alg":"HS512"}'), "RG1006E")
    assert error.values["segment"] == "header"
    assert refusal(token(b'["HS256"]'), "RG1007E").values["found"] == "array"
    error = refusal(token({"alg": "HS256"}, b'{"sub":"a","sub":"b"}'), "RG1006E")
    assert error.values["segment"] == "payload"
    assert refusal(token({"alg": "HS256"}, b"[]"), "RG1007E").values["segment"] == "payload"


def test_empty_payload_is_allowed_only_without_claims() -> None:
    text = token({"alg": "HS256"}, b"")
    assert parse_compact(text, payload_json=False).payload == b""
    refusal(text, "RG1006E")


# --- header parameters --------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        {},
        {"typ": "JWT"},
        {"alg": None},
        {"alg": 256},
        {"alg": ["HS256"]},
        {"alg": ""},
        {"alg": "HS256\n[audit] ok"},
        {"alg": "A" * 33},
        {"alg": "HS256é"},
    ],
)
def test_alg_missing_or_not_a_string(header: dict[str, Any]) -> None:
    refusal(token(header), "RG1008E")


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
def test_alg_none_in_any_case(alg: str) -> None:
    assert refusal(token({"alg": alg}, signature=b"x"), "RG1009E").values["alg"] == alg


@pytest.mark.parametrize("crit", [["exp"], ["b64"], [], "exp", [1], None, {"a": 1}])
def test_crit_in_any_form(crit: Any) -> None:
    refusal(token({"alg": "HS256", "crit": crit}), "RG1010E")


@pytest.mark.parametrize(
    ("extra", "name"),
    [
        ({"b64": False}, "b64"),
        ({"b64": True}, "b64"),
        ({"kid": 7}, "kid"),
        ({"kid": None}, "kid"),
        ({"kid": "k" * 257}, "kid"),
        ({"kid": "a\nb"}, "kid"),
        ({"kid": "a\x00b"}, "kid"),
        ({"kid": "a\x85b"}, "kid"),
        ({"kid": "evil\u202egnp.exe"}, "kid"),
        ({"x5t": 5}, "x5t"),
        ({"x5t": "a\nb"}, "x5t"),
        ({"x5t": "a" * 300}, "x5t"),
        ({"cty": 5}, "cty"),
    ],
)
def test_header_parameter_refusals(extra: dict[str, Any], name: str) -> None:
    assert refusal(token({"alg": "HS256", **extra}), "RG1011E").values["name"] == name


def test_kid_of_256_printable_characters_is_fine() -> None:
    kid = "ключ-" + "k" * 251
    assert parse_compact(token({"alg": "HS256", "kid": kid})).kid == kid


@pytest.mark.parametrize("cty", ["JWT", "jwt", "Jwt"])
def test_nested_jwt_refused(cty: str) -> None:
    assert refusal(token({"alg": "HS256", "cty": cty}), "RG1012E").values["cty"] == cty


def test_key_locating_headers_are_kept_but_not_interpreted() -> None:
    header = {
        "alg": "HS256",
        "jku": "https://evil",
        "x5u": "https://evil",
        "x5c": ["MII"],
        "jwk": {"kty": "oct", "k": "AAAA"},
        "x5t": "abc",
    }
    parsed = parse_compact(token(header))
    assert {k: parsed.header[k] for k in header} == header
    assert parsed.x5t == "abc" and parsed.kid is None


def test_header_cache_is_shared_read_only_and_bounded() -> None:
    jws.header_cache_clear()
    first = parse_compact(token({"alg": "HS256", "kid": "a"}))
    second = parse_compact(token({"alg": "HS256", "kid": "a"}, {"sub": "other"}))
    assert first.header is second.header
    with pytest.raises(TypeError):
        first.header["alg"] = "none"  # type: ignore[index]
    with pytest.raises(AttributeError):
        first.alg = "none"  # type: ignore[misc]
    for n in range(600):
        parse_compact(token({"alg": "HS256", "kid": f"k{n}"}))
    assert len(jws._header_cache) <= jws._HEADER_CACHE_SIZE


def test_refused_headers_are_refused_every_time() -> None:
    bad = token({"alg": "none"})
    refusal(bad, "RG1009E")
    refusal(bad, "RG1009E")


# --- keys and algorithms ------------------------------------------------------------------


def test_rs_hs_confusion(rsa_key: rsa.RSAPrivateKey) -> None:
    """An HS256 token MACed with the RSA public key's PEM text must not verify under it."""
    public = rsa_key.public_key()
    pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    forged = sign_compact(CLAIMS, signing_key_from_private(pem, source="attacker"), "HS256")
    key = key_from_public_key(public, source="trust store")
    assert not key_can_verify(key, "HS256")
    with pytest.raises(InvalidToken) as caught:
        verify_signature(parse_compact(forged), key)
    assert caught.value.message_id == "RG3003E"
    assert caught.value.values["kty"] == "RSA"


@pytest.mark.parametrize(
    ("signer", "alg", "verifier"),
    [
        ("RSA", "RS256", "P-256"),
        ("P-256", "ES256", "RSA"),
        ("P-256", "ES256", "P-384"),
        ("P-384", "ES384", "P-256"),
        ("Ed25519", "EdDSA", "P-256"),
        ("oct", "HS256", "RSA"),
        ("RSA", "PS256", "oct"),
    ],
)
def test_wrong_family_keys(
    signer: str, alg: str, verifier: str, signers: dict[str, SigningKey]
) -> None:
    parsed = parse_compact(sign_compact(CLAIMS, signers[signer], alg))
    key = signers[verifier].verification_key()
    with pytest.raises(InvalidToken) as caught:
        verify_signature(parsed, key)
    assert caught.value.message_id == "RG3003E"


def test_key_bound_to_one_alg_refuses_its_siblings(rsa_key: rsa.RSAPrivateKey) -> None:
    key = key_from_public_key(rsa_key.public_key(), source="t", alg="PS256")
    signer = signing_key_from_private(rsa_key, source="t")
    assert verify_signature(parse_compact(sign_compact(CLAIMS, signer, "PS256")), key)
    with pytest.raises(InvalidToken):
        verify_signature(parse_compact(sign_compact(CLAIMS, signer, "RS256")), key)


def test_unknown_alg_is_refused_by_every_key(signers: dict[str, SigningKey]) -> None:
    parsed = parse_compact(token({"alg": "HS1024"}))
    with pytest.raises(InvalidToken) as caught:
        verify_signature(parsed, signers["oct"].verification_key())
    assert caught.value.message_id == "RG3003E"


def test_short_rsa_key_refused() -> None:
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    key = key_from_public_key(small.public_key(), source="t", kid="old")
    message = b"header.payload"
    parsed = parse_compact(token({"alg": "RS256"}, signature=b"x" * 128))
    with pytest.raises(InvalidToken) as caught:
        verify_signature(parsed, key)
    assert caught.value.message_id == "RG3006E"
    assert caught.value.values == {"kid": "old", "bits": 1024}
    signature = small.sign(message, padding.PKCS1v15(), hashes.SHA256())
    with pytest.raises(InvalidToken):
        _verify_raw("RS256", key, message, signature)


# --- ECDSA encodings ----------------------------------------------------------------------


def es256(signers: dict[str, SigningKey]) -> tuple[ParsedJWS, VerificationKey, int, int]:
    parsed = parse_compact(sign_compact(CLAIMS, signers["P-256"], "ES256"))
    r = int.from_bytes(parsed.signature[:32], "big")
    s = int.from_bytes(parsed.signature[32:], "big")
    return parsed, signers["P-256"].verification_key(), r, s


def raw_signature(r: int, s: int) -> bytes:
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def test_der_signature_refused(signers: dict[str, SigningKey]) -> None:
    parsed, key, r, s = es256(signers)
    der = encode_dss_signature(r, s)
    assert verify_signature(parsed._replace(signature=der), key) is False
    assert verify_signature(parsed, key) is True


@pytest.mark.parametrize(
    "change",
    [
        lambda r, s: (0, s),
        lambda r, s: (r, 0),
        lambda r, s: (0, 0),
        lambda r, s: (r + P256_ORDER, s) if r + P256_ORDER < 2**256 else (P256_ORDER, s),
        lambda r, s: (P256_ORDER, s),
        lambda r, s: (r, P256_ORDER),
        lambda r, s: (r, s + P256_ORDER) if s + P256_ORDER < 2**256 else (r, P256_ORDER),
    ],
)
def test_r_and_s_out_of_range(change: Any, signers: dict[str, SigningKey]) -> None:
    parsed, key, r, s = es256(signers)
    bad_r, bad_s = change(r, s)
    assert verify_signature(parsed._replace(signature=raw_signature(bad_r, bad_s)), key) is False


@pytest.mark.parametrize("length", [0, 63, 65, 128])
def test_es256_signature_length(length: int, signers: dict[str, SigningKey]) -> None:
    parsed, key, _, _ = es256(signers)
    assert (
        verify_signature(
            parsed._replace(signature=parsed.signature[:length].ljust(length, b"\1")), key
        )
        is False
    )


def test_high_s_is_accepted_as_rfc_7518_allows(signers: dict[str, SigningKey]) -> None:
    """RFC 7518 3.4 has no low-S rule; (r, n - s) is the same signature's other form."""
    parsed, key, r, s = es256(signers)
    twin = parsed._replace(signature=raw_signature(r, P256_ORDER - s))
    assert verify_signature(twin, key) is True


def test_p1363_from_der_signer_verifies(ec_key: ec.EllipticCurvePrivateKey) -> None:
    message = b"e30.e30"
    r, s = decode_dss_signature(ec_key.sign(message, ec.ECDSA(hashes.SHA256())))
    key = key_from_public_key(ec_key.public_key(), source="t")
    assert _verify_raw("ES256", key, message, raw_signature(r, s))


# --- HMAC -------------------------------------------------------------------------------


def test_hmac_truncated_or_extended_tag_refused() -> None:
    key = secret_key(SECRET, "t")
    signer = signing_key_from_private(SECRET, source="t")
    parsed = parse_compact(sign_compact(CLAIMS, signer, "HS512"))
    assert verify_signature(parsed, key)
    assert not verify_signature(parsed._replace(signature=parsed.signature[:32]), key)
    assert not verify_signature(parsed._replace(signature=parsed.signature + b"\0"), key)


def test_hmac_key_cannot_verify_when_not_bound() -> None:
    key = secret_key(SECRET, "t", algorithms=frozenset({"HS256"}))
    parsed = parse_compact(
        sign_compact(CLAIMS, signing_key_from_private(SECRET, source="t"), "HS384")
    )
    with pytest.raises(InvalidToken):
        verify_signature(parsed, key)


def test_refusal_messages_never_carry_the_token(signers: dict[str, SigningKey]) -> None:
    good = sign_compact(CLAIMS, signers["oct"], "HS256")
    for bad in (good + "!", good.replace(".", "..", 1), "é" + good):
        with pytest.raises(InvalidToken) as caught:
            parse_compact(bad)
        assert good.split(".")[1] not in caught.value.text
        assert good.split(".")[2] not in caught.value.text
