"""Project Wycheproof vectors through realmgate's own paths.

* ``json_web_signature_test.json`` and ``json_web_key_test.json``: each compact JWS goes
  through ``parse_compact`` + ``key_from_jwk`` / ``load_jwks`` + ``verify_signature``; any
  refusal by our parser or key loader counts as "invalid".
* Primitive files (RSA PKCS#1 v1.5, RSA-PSS, ECDSA P1363, Ed25519, HMAC): their messages
  cannot be wrapped in a token, so each case goes through ``signature._verify_raw``, the same
  checks and verify callables that ``verify_signature`` uses, with the key built by
  ``key_from_public_key`` / ``secret_key``.

JWS never truncates an HMAC, so a vector "valid" with a truncated tag must be invalid here.
"acceptable" vectors may go either way; they are counted. Where realmgate is deliberately
stricter than a vector, the case is listed in ``DEVIATIONS`` with the refusal we must give.
Vectors that contradict each other (the same token and key both "valid" and "invalid") are
detected from the data and counted. A summary line per file is written to the terminal.

The vectors are read from ``$REALMGATE_VECTORS`` or ``<repo>/../shared/vectors``.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.serialization import load_der_public_key

from realmgate.b64url import b64url_encode
from realmgate.errors import InvalidToken
from realmgate.jws import parse_compact
from realmgate.keys.jwk import key_from_jwk, key_from_public_key, load_jwks, secret_key
from realmgate.keys.material import KeyMaterialError, VerificationKey
from realmgate.signature import _verify_raw, verify_signature


def _vector_dir() -> Path:
    base = Path(
        os.environ.get("REALMGATE_VECTORS")
        or Path(__file__).resolve().parents[2] / "shared" / "vectors"
    )
    return base if base.name == "wycheproof" else base / "wycheproof"


VECTORS = _vector_dir()
if not (VECTORS / "json_web_signature_test.json").is_file():
    _MISSING = f"Wycheproof vectors not found at {VECTORS} (set REALMGATE_VECTORS)"
    if os.environ.get("CI") == "true":  # CI has the vectors: their absence is a failure
        pytest.fail(f"{_MISSING}; under CI=true this is a failure, not a skip", pytrace=False)
    pytestmark = pytest.mark.skip(reason=_MISSING)

# (file, tcId) -> (message id we must refuse with, why we differ from the vector)
DEVIATIONS: dict[tuple[str, int], tuple[str, str]] = {
    ("json_web_signature_test.json", 372): (
        "RG1005E",
        "'?' inside the header segment: strict base64url refuses it (the vector expects a "
        "lenient decoder that skips junk)",
    ),
    ("json_web_signature_test.json", 373): (
        "RG1005E",
        "'?' inside the payload segment: strict base64url refuses it",
    ),
    ("json_web_signature_test.json", 346): (
        "RG3003E",
        "RFC 7520 4.2 PS384 token, but the vector's key says alg PS256: a key's alg binds it",
    ),
    ("json_web_signature_test.json", 350): ("RG3003E", "as 346, the key_ops variant"),
    ("json_web_signature_test.json", 347): (
        "key refused",
        "RFC 7520 4.3 ES512 token, but the vector's key says alg 'ES521', which is no JWS "
        "algorithm (json_web_key_test.json itself expects 'ES521' keys to be refused)",
    ),
    ("json_web_signature_test.json", 351): ("key refused", "as 347, the key_ops variant"),
}

SUMMARY: dict[str, Counter[str]] = defaultdict(Counter)


@pytest.fixture(scope="module", autouse=True)
def _report(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None:
        return
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
        reporter.write_line("")
        for name in sorted(SUMMARY):
            counts = ", ".join(f"{k} {v}" for k, v in sorted(SUMMARY[name].items()))
            reporter.write_line(f"wycheproof {name}: {counts}")


def load(name: str) -> dict[str, Any]:
    return dict(json.loads((VECTORS / name).read_text(encoding="utf-8")))


def outcome(expected: str, got: bool, counts: Counter[str]) -> bool:
    """Record one case; True if it agrees (``acceptable`` agrees either way)."""
    counts["cases"] += 1
    if expected == "acceptable":
        counts[f"acceptable->{'valid' if got else 'invalid'}"] += 1
        return True
    counts[f"{expected}"] += 1
    return got == (expected == "valid")


# --- JWS and JWK files ------------------------------------------------------------------


def jws_verdict(token: str, keys: list[VerificationKey]) -> tuple[bool, str]:
    if not keys:
        return False, "key refused"
    try:
        parsed = parse_compact(token, payload_json=False)
    except InvalidToken as exc:
        return False, exc.message_id
    candidates = [k for k in keys if parsed.kid is None or k.kid in (None, parsed.kid)]
    if not candidates:
        return False, "no key for kid"
    reason = "bad signature"
    for key in candidates:
        try:
            if verify_signature(parsed, key):
                return True, "verified"
        except InvalidToken as exc:
            reason = exc.message_id
    return False, reason


def _contradictions(groups: list[tuple[Any, list[dict[str, Any]]]]) -> set[int]:
    results: dict[str, set[str]] = defaultdict(set)
    for key, tests in groups:
        for test in tests:
            results[json.dumps([key, test["jws"]], sort_keys=True)].add(test["result"])
    return {
        test["tcId"]
        for key, tests in groups
        for test in tests
        if {"valid", "invalid"} <= results[json.dumps([key, test["jws"]], sort_keys=True)]
    }


def check_jose_file(name: str, *, keyset: bool) -> None:
    data = load(name)
    counts = SUMMARY[name]
    groups = [(g.get("public") or g.get("private"), g["tests"]) for g in data["testGroups"]]
    contradictory = _contradictions(groups)
    failures: list[str] = []
    for jwk, tests in groups:
        keys: list[VerificationKey] = []
        key_problem = ""
        if keyset:
            keys, problems = load_jwks(jwk, "wycheproof")
            key_problem = "; ".join(problems)
        else:
            try:
                keys = [key_from_jwk(jwk, "wycheproof")]
            except KeyMaterialError as exc:
                key_problem = str(exc)
        for test in tests:
            tc = test["tcId"]
            if "JsonSerialization" in test.get("flags", []):
                counts["skipped: JSON serialization (not accepted by design)"] += 1
                assert jws_verdict(test["jws"], keys)[0] is False
                continue
            valid, reason = jws_verdict(test["jws"], keys)
            if tc in contradictory:
                counts["contradictory vectors (same token+key valid and invalid)"] += 1
                continue
            deviation = DEVIATIONS.get((name, tc))
            if deviation is not None:
                counts["deliberate deviations"] += 1
                if valid or reason != deviation[0]:
                    failures.append(f"tc {tc}: expected our refusal {deviation[0]}, got {reason}")
                continue
            if not outcome(test["result"], valid, counts):
                failures.append(
                    f"tc {tc} {test['comment']}: expected {test['result']}, got "
                    f"{'valid' if valid else 'invalid'} ({reason}; key: {key_problem or 'ok'})"
                )
    assert not failures, "\n".join(failures)


def test_json_web_signature() -> None:
    check_jose_file("json_web_signature_test.json", keyset=False)


def test_json_web_key() -> None:
    check_jose_file("json_web_key_test.json", keyset=True)


# --- primitive files ----------------------------------------------------------------------

SHA_BITS = {"SHA-256": 256, "SHA-384": 384, "SHA-512": 512}
CURVE_ALG = {"secp256r1": "ES256", "secp384r1": "ES384", "secp521r1": "ES512"}
PRIMITIVES = [
    "rsa_signature_2048_sha256_test.json",
    "rsa_signature_2048_sha384_test.json",
    "rsa_signature_2048_sha512_test.json",
    "rsa_pss_2048_sha256_mgf1_32_test.json",
    "rsa_pss_2048_sha384_mgf1_48_test.json",
    "ecdsa_secp256r1_sha256_p1363_test.json",
    "ecdsa_secp384r1_sha384_p1363_test.json",
    "ecdsa_secp521r1_sha512_p1363_test.json",
    "ed25519_test.json",
    "hmac_sha256_test.json",
    "hmac_sha384_test.json",
    "hmac_sha512_test.json",
]


def group_key(name: str, group: dict[str, Any]) -> tuple[str | None, VerificationKey | None, str]:
    """(JWS alg, key, why not) for a primitive test group."""
    kind = group["type"]
    if kind == "MacTest":
        return f"HS{name.split('_sha')[1][:3]}", None, ""
    if kind == "RsassaPssVerify":
        bits = SHA_BITS[group["sha"]]
        if group["mgfSha"] != group["sha"] or group["sLen"] != bits // 8:
            return None, None, "PSS parameters that no PS* algorithm uses"
        alg = f"PS{bits}"
    elif kind == "RsassaPkcs1Verify":
        alg = f"RS{SHA_BITS[group['sha']]}"
    elif kind == "EcdsaP1363Verify":
        alg = CURVE_ALG[group["publicKey"]["curve"]]
        if int(alg[2:]) != SHA_BITS[group["sha"]]:
            return None, None, "a hash that the curve's ES algorithm does not use"
    elif kind == "EddsaVerify":
        alg = "EdDSA"
    else:
        return None, None, f"type {kind}"
    try:
        if kind == "EddsaVerify":
            public: Any = ed25519.Ed25519PublicKey.from_public_bytes(
                bytes.fromhex(group["publicKey"]["pk"])
            )
        else:
            public = load_der_public_key(bytes.fromhex(group["publicKeyDer"]))
        key = key_from_public_key(public, source="wycheproof", alg=alg)
    except (ValueError, KeyMaterialError) as exc:
        return alg, None, f"key refused: {exc}"
    if "publicKeyJwk" in group:
        assert key_from_jwk(group["publicKeyJwk"], "wycheproof").fingerprint == key.fingerprint
    return alg, key, ""


def primitive_verdict(alg: str, key: VerificationKey | None, test: dict[str, Any]) -> bool:
    """The case as a compact JWS: the vector's signature becomes the token's third segment
    (so it goes through the strict base64url decoding of ``parse_compact``), and, because the
    vector signs its own message rather than ``header.payload``, the parsed token's signing
    input is replaced by that message before ``verify_signature``. ``_verify_raw`` (the bare
    verify callables) must give the same verdict."""
    message = bytes.fromhex(test["msg"])
    if key is None:  # HMAC: the key is per test
        try:
            key = secret_key(bytes.fromhex(test["key"]), "wycheproof", algorithms=frozenset({alg}))
        except KeyMaterialError:
            return False
        signature = bytes.fromhex(test["tag"])
    else:
        signature = bytes.fromhex(test["sig"])
    try:
        raw = _verify_raw(alg, key, message, signature)
    except InvalidToken:
        raw = False
    header = b64url_encode(json.dumps({"alg": alg}).encode())
    token = f"{header}.{b64url_encode(message)}.{b64url_encode(signature)}"
    try:
        parsed = parse_compact(token, max_bytes=1 << 20, payload_json=False)
        via_token = verify_signature(parsed._replace(signing_input=message), key)
    except InvalidToken:
        via_token = False
    assert via_token == raw, f"tc {test['tcId']}: token path {via_token}, raw path {raw}"
    return via_token


@pytest.mark.parametrize("name", PRIMITIVES)
def test_primitive_file(name: str) -> None:
    data = load(name)
    counts = SUMMARY[name]
    failures: list[str] = []
    for group in data["testGroups"]:
        alg, key, why = group_key(name, group)
        if alg is None:
            counts[f"skipped: {why}"] += len(group["tests"])
            continue
        truncated = group["type"] == "MacTest" and group["tagSize"] != int(alg[2:])
        for test in group["tests"]:
            if key is None and group["type"] != "MacTest":
                got = False
            else:
                got = primitive_verdict(alg, key, test)
            expected = test["result"]
            if truncated:
                counts["truncated HMAC tags (invalid in JWS)"] += 1
                expected = "invalid"
            if not outcome(expected, got, counts):
                failures.append(
                    f"tc {test['tcId']} {test['comment']!r} {test.get('flags')}: expected "
                    f"{expected}, got {'valid' if got else 'invalid'}"
                )
    assert counts["cases"] > 0
    assert not failures, "\n".join(failures[:40])
