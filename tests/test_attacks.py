"""The attack suite of issue 6: each known bad token as a named test, refused with a specific
message id through the public surface (``Verifier.verify``; several also through the CLI
``realmgate verify`` and the HTTP ``/auth`` endpoint).

Every forged token is otherwise well formed and, wherever the attack allows, correctly
signed by a key the definition trusts: the refusal must come from the check under test, not
from a bad signature that happens to be there too. ``test_controls_are_accepted`` proves the
untouched tokens of every definition pass, so each refusal below is meaningful.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from realmgate import jws, signature
from realmgate.config import load_config, parse_config
from realmgate.decision import Decision
from realmgate.errors import ConfigError
from realmgate.keys.jwk import public_jwk
from realmgate.request import RequestInfo
from realmgate.server.app import RealmgateApp
from realmgate.server.service import Service
from realmgate.verifier import Verifier
from tests.conftest import CliResult, pem_certificate
from tests.keyserver import KeyServer, key_server

SECRET = "attack-suite-shared-secret-0123456789abcdef"
SECRET_ENV = "RG_ATTACK_SUITE_SECRET"
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551

RS = "https://rs.example"
MIXED = "https://mixed.example"
BOTH = "https://both.example"
ES = "https://es.example"
WEAK = "https://weak.example"
ONCE = "https://once.example"
ISS_A = "https://a.example"
ISS_B = "https://b.example"

CONFIG = f"""
[[client]]
id = "rs-only"
issuers = ["{RS}"]
algorithms = ["RS256"]
trust_store = "trust/rsa"
audiences = ["api"]
map_to_registry_user = true

[[client]]
id = "rs-and-hs"
issuers = ["{MIXED}"]
algorithms = ["RS256", "HS256"]
trust_store = "trust/rsa"
shared_secret_env = "{SECRET_ENV}"
audiences = ["api"]
map_to_registry_user = true

[[client]]
id = "rsa-and-ec"
issuers = ["{BOTH}"]
algorithms = ["RS256", "ES256", "ES384"]
trust_store = "trust/both"
audiences = ["api"]
map_to_registry_user = true

[[client]]
id = "es"
issuers = ["{ES}"]
algorithms = ["ES256"]
trust_store = "trust/ec"
audiences = ["api"]
map_to_registry_user = true

[[client]]
id = "weak"
issuers = ["{WEAK}"]
algorithms = ["RS256"]
trust_store = "trust/weak"
audiences = ["api"]
map_to_registry_user = true

[[client]]
id = "once"
issuers = ["{ONCE}"]
algorithms = ["RS256"]
trust_store = "trust/rsa"
audiences = ["api"]
token_reuse = false
map_to_registry_user = true

[[client]]
id = "A"
issuers = ["{ISS_A}"]
algorithms = ["RS256"]
trust_store = "trust/rsa"
audiences = ["api"]
auth_filter = "only-a"
map_to_registry_user = true

[[client]]
id = "B"
issuers = ["{ISS_B}"]
algorithms = ["RS256"]
trust_store = "trust/rsa"
audiences = ["api"]
auth_filter = "only-b"
map_to_registry_user = true

[[auth_filter]]
id = "only-a"
[[auth_filter.condition]]
kind = "request_url"
value = "/a/"

[[auth_filter]]
id = "only-b"
[[auth_filter.condition]]
kind = "request_url"
value = "/b/"
"""


# --- keys, tokens and the configured world ------------------------------------------------


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def raw_sign(alg: str, key: Any, message: bytes) -> bytes:
    """A JWS signature made with ``cryptography`` directly (independent of realmgate)."""
    bits = {"256": hashes.SHA256(), "384": hashes.SHA384(), "512": hashes.SHA512()}
    if alg.startswith("HS"):  # hmac.new, not hmac.digest: tests observe realmgate's calls
        return hmac.new(key, message, f"sha{alg[2:]}").digest()
    if alg.startswith("RS"):
        return bytes(key.sign(message, padding.PKCS1v15(), bits[alg[2:]]))
    if alg.startswith("PS"):
        pss = padding.PSS(padding.MGF1(bits[alg[2:]]), bits[alg[2:]].digest_size)
        return bytes(key.sign(message, pss, bits[alg[2:]]))
    if alg.startswith("ES"):
        size = (key.curve.key_size + 7) // 8
        r, s = decode_dss_signature(key.sign(message, ec.ECDSA(bits[alg[2:]])))
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")
    if alg == "EdDSA":
        return bytes(key.sign(message))
    raise AssertionError(alg)


def encode(value: Any) -> bytes:
    return value if isinstance(value, bytes) else json.dumps(value).encode()


def forge(header: Any, payload: Any, key: Any = None, alg: str | None = None) -> str:
    """``header.payload.signature``; header and payload are JSON values or exact bytes. With
    ``key`` the signature is a real one over the exact segments (``alg`` defaults to the
    header's)."""
    signing_input = f"{b64(encode(header))}.{b64(encode(payload))}"
    if key is None:
        return signing_input + "." + b64(b"not-a-signature")
    alg = alg or header["alg"]
    return signing_input + "." + b64(raw_sign(alg, key, signing_input.encode()))


def claims(iss: str, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    values: dict[str, Any] = {
        "iss": iss,
        "sub": "alice",
        "aud": "api",
        "iat": now,
        "exp": now + 600,
        "jti": f"jti-{time.monotonic_ns()}",
    }
    for name, value in changes.items():
        if value is None:
            values.pop(name, None)
        else:
            values[name] = value
    return values


@dataclass
class World:
    dir: Path
    config: Path
    rsa: rsa.RSAPrivateKey
    ec: ec.EllipticCurvePrivateKey
    weak: rsa.RSAPrivateKey
    attacker: rsa.RSAPrivateKey
    verifier: Verifier

    def token(self, iss: str = RS, alg: str = "RS256", key: Any = None, **changes: Any) -> str:
        header: dict[str, Any] = {"alg": alg, "typ": "JWT"}
        return forge(header, claims(iss, **changes), key or self.rsa)

    def verify(self, token: str, request: RequestInfo | None = None) -> Decision:
        return self.verifier.verify(token, request)

    def rsa_public_pem(self) -> bytes:
        return bytes(
            self.rsa.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )


@pytest.fixture(scope="module")
def weak_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=1024)


@pytest.fixture
def world(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    rsa_key: rsa.RSAPrivateKey,
    ec_key: ec.EllipticCurvePrivateKey,
    other_rsa_key: rsa.RSAPrivateKey,
    weak_key: rsa.RSAPrivateKey,
) -> World:
    monkeypatch.setenv(SECRET_ENV, SECRET)
    for name, entries in {
        "rsa": {"issuer": rsa_key},
        "ec": {"issuer-ec": ec_key},
        "both": {"issuer": rsa_key, "issuer-ec": ec_key},
        "weak": {"old": weak_key},
    }.items():
        folder = tmp_path / "trust" / name
        folder.mkdir(parents=True)
        for alias, key in entries.items():
            (folder / f"{alias}.pem").write_bytes(pem_certificate(key, alias))
    config = tmp_path / "realmgate.toml"
    config.write_text(CONFIG)
    jws.header_cache_clear()
    return World(
        tmp_path, config, rsa_key, ec_key, weak_key, other_rsa_key, Verifier(load_config(config))
    )


def refused(decision: Decision, message_id: str) -> Decision:
    assert not decision.accepted, "the attack was accepted"
    assert decision.message_id == message_id, (decision.message_id, decision.reason)
    assert decision.status in (401, 403, 503), decision.status
    return decision


def test_controls_are_accepted(world: World) -> None:
    """The untouched token of every definition passes: the refusals below are the attacks'."""
    for iss, alg, key in [
        (RS, "RS256", world.rsa),
        (BOTH, "RS256", world.rsa),
        (BOTH, "ES256", world.ec),
        (ES, "ES256", world.ec),
        (ONCE, "RS256", world.rsa),
    ]:
        decision = world.verify(world.token(iss, alg, key))
        assert decision.accepted, (iss, decision.reason)
        assert decision.local_user == "alice"
    hs = forge({"alg": "HS256"}, claims(MIXED), SECRET.encode())
    assert world.verify(hs).accepted
    assert world.verify(world.token(MIXED)).accepted
    on_a = RequestInfo.build(url="https://gate.example/a/items")
    assert world.verify(world.token(ISS_A), on_a).accepted


# --- algorithm attacks ----------------------------------------------------------------------


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
@pytest.mark.parametrize("signature", ["", "c2ln"])
def test_alg_none_in_any_case(world: World, alg: str, signature: str) -> None:
    head_and_payload = forge({"alg": alg, "typ": "JWT"}, claims(RS)).rsplit(".", 1)[0]
    refused(world.verify(f"{head_and_payload}.{signature}"), "RG1009E")


def test_alg_none_cannot_be_configured(tmp_path: Path) -> None:
    text = CONFIG.replace('algorithms = ["RS256"]', 'algorithms = ["RS256", "none"]', 1)
    with pytest.raises(ConfigError) as caught:
        parse_config(text, str(tmp_path / "realmgate.toml"))
    assert "RG6005E" in [p.message_id for p in caught.value.problems]


def rsa_public_key_forms(world: World) -> dict[str, bytes]:
    public = world.rsa.public_key()
    pem = world.rsa_public_pem()
    return {
        "spki-pem": pem,
        "spki-pem-no-newline": pem.rstrip(b"\n"),
        "pkcs1-pem": bytes(
            public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1)
        ),
        "spki-der": bytes(
            public.public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        ),
        "certificate-file": (world.dir / "trust" / "rsa" / "issuer.pem").read_bytes(),
        "jwk-json": json.dumps(public_jwk(world.rsa)).encode(),
    }


@pytest.fixture
def hmac_keys_used(world: World, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[bytes]]:
    """Every key realmgate computes an HMAC with during the test (``hmac.digest``, and the
    keyed ``cryptography`` context ``signature`` prepares once per key). At the end a genuine
    HS256 token is verified and its secret must have been seen: the observation itself is
    proven to work."""
    used: list[bytes] = []
    real = hmac.digest

    def recording(key: bytes, message: bytes, digest: str) -> bytes:
        used.append(bytes(key))
        return real(key, message, digest)

    real_keyed = signature.crypto_hmac.HMAC

    def recording_keyed(key: bytes, algorithm: Any) -> Any:
        used.append(bytes(key))
        return real_keyed(key, algorithm)

    monkeypatch.setattr(signature.hmac, "digest", recording)
    monkeypatch.setattr(signature, "crypto_hmac", SimpleNamespace(HMAC=recording_keyed))
    yield used
    assert world.verify(forge({"alg": "HS256"}, claims(MIXED), SECRET.encode())).accepted
    # The keyed context is made once per key: by this token, or earlier in the test.
    assert SECRET.encode() in used, "the HMAC observation missed a real HMAC"


@pytest.mark.parametrize("kid", [None, "issuer"])
def test_rs_hs_confusion_against_rs256_only(
    world: World, hmac_keys_used: list[bytes], kid: str | None
) -> None:
    """HS256 MACed with the RSA public key's bytes, against a definition allowing RS256 only."""
    header = {"alg": "HS256", "typ": "JWT", **({"kid": kid} if kid else {})}
    for form, public_bytes in rsa_public_key_forms(world).items():
        token = forge(header, claims(RS), public_bytes)
        decision = refused(world.verify(token), "RG3001E")
        assert "does not allow algorithm HS256" in (decision.reason or ""), form
    assert hmac_keys_used == []


@pytest.mark.parametrize(("kid", "message_id"), [("issuer", "RG3003E"), (None, "RG3004E")])
def test_rs_hs_confusion_against_rs256_and_hs256_with_a_shared_secret(
    world: World, hmac_keys_used: list[bytes], kid: str | None, message_id: str
) -> None:
    """The definition allows HS256 too (with its own secret): the RSA key must still never act
    as an HMAC key. Naming the RSA key by kid is a family mismatch (RG3003E); without a kid
    only the shared secret is tried, and the forged MAC does not match it (RG3004E)."""
    header = {"alg": "HS256", "typ": "JWT", **({"kid": kid} if kid else {})}
    forms = rsa_public_key_forms(world)
    for public_bytes in forms.values():
        refused(world.verify(forge(header, claims(MIXED), public_bytes)), message_id)
    assert not set(hmac_keys_used) & set(forms.values()), "an RSA key was used as an HMAC key"
    assert set(hmac_keys_used) <= {SECRET.encode()}


def test_algorithm_not_in_the_definitions_list(world: World) -> None:
    # The trusted RSA key itself, but PS256/RS512 instead of the allowed RS256.
    for alg in ("PS256", "RS512"):
        refused(world.verify(world.token(RS, alg)), "RG3001E")
    refused(world.verify(world.token(RS, "ES256", world.ec)), "RG3001E")
    refused(world.verify(world.token(ES, "RS256")), "RG3001E")
    refused(world.verify(forge({"alg": "HS1024"}, claims(RS), SECRET.encode(), "HS512")), "RG3001E")


def test_key_of_the_wrong_family_for_alg(world: World) -> None:
    # ES256 header naming the trusted RSA key, and RS256 naming the EC key.
    es_on_rsa = forge({"alg": "ES256", "kid": "issuer"}, claims(BOTH), world.ec)
    refused(world.verify(es_on_rsa), "RG3003E")
    rs_on_ec = forge({"alg": "RS256", "kid": "issuer-ec"}, claims(BOTH), world.rsa)
    refused(world.verify(rs_on_ec), "RG3003E")
    # Cross-curve: an ES384 token for the P-256 key.
    p384 = ec.generate_private_key(ec.SECP384R1())
    cross = forge({"alg": "ES384", "kid": "issuer-ec"}, claims(BOTH), p384)
    refused(world.verify(cross), "RG3003E")


# --- kid ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kid",
    [
        "../../../../../../etc/passwd",
        "../rsa/issuer.pem",
        "/dev/zero",
        "..\\..\\windows\\win.ini",
        "' OR '1'='1",
        "issuer' --",
        "x'; DROP TABLE rules; --",
        "issuer\u0000",
    ],
)
def test_kid_path_traversal_and_sql(world: World, kid: str) -> None:
    token = forge({"alg": "RS256", "kid": kid}, claims(RS), world.rsa)
    decision = world.verify(token)
    expected = "RG1011E" if "\u0000" in kid else "RG3002E"
    refused(decision, expected)
    assert "root:" not in (decision.reason or "")


def test_kid_of_10_kb(world: World) -> None:
    token = forge({"alg": "RS256", "kid": "k" * 10240}, claims(RS), world.rsa)
    decision = refused(world.verify(token), "RG1011E")
    assert "10240 characters" in (decision.reason or "")
    assert len(decision.reason or "") < 300


@pytest.mark.parametrize("kid", ["a\nb", "a\u202eb", "\u001b[31m", 42, None, ["issuer"]])
def test_kid_control_characters_and_types(world: World, kid: Any) -> None:
    token = forge({"alg": "RS256", "kid": kid}, claims(RS), world.rsa)
    refused(world.verify(token), "RG1011E")


# --- key-locating headers: never followed ---------------------------------------------------


@pytest.fixture
def attacker_site(world: World) -> Iterator[KeyServer]:
    with key_server() as server:
        jwk = public_jwk(world.attacker, kid="evil", alg="RS256")
        server.set("/evil/jwks.json", {"keys": [jwk]})
        server.set("/evil/cert.pem", pem_certificate(world.attacker, "evil"))
        yield server


def attacker_headers(world: World, site: KeyServer) -> dict[str, dict[str, Any]]:
    from cryptography import x509

    cert = x509.load_pem_x509_certificate(pem_certificate(world.attacker, "evil"))
    x5c = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()
    return {
        "jku": {"jku": site.url("/evil/jwks.json")},
        "x5u": {"x5u": site.url("/evil/cert.pem")},
        "jwk": {"jwk": public_jwk(world.attacker, kid="evil", alg="RS256")},
        "x5c": {"x5c": [x5c]},
        "all": {
            "jku": site.url("/evil/jwks.json"),
            "x5u": site.url("/evil/cert.pem"),
            "jwk": public_jwk(world.attacker),
            "x5c": [x5c],
        },
    }


@pytest.mark.parametrize("kid", [None, "evil"])
def test_jku_x5u_jwk_x5c_pointing_at_an_attacker_key(
    world: World, attacker_site: KeyServer, kid: str | None
) -> None:
    for name, extra in attacker_headers(world, attacker_site).items():
        header = {"alg": "RS256", **extra, **({"kid": kid} if kid else {})}
        decision = world.verify(forge(header, claims(RS), world.attacker))
        refused(decision, "RG3002E" if kid else "RG3004E")
        ignored = [s for s in decision.trace if s.detail.get("ignored")]
        assert ignored and set(ignored[0].detail["ignored"]) <= {"jku", "x5u", "jwk", "x5c"}, name
    assert attacker_site.requests() == [], "a key-locating header caused a network request"


def test_jku_on_a_jwks_definition_fetches_only_the_configured_url(
    world: World, attacker_site: KeyServer, tmp_path: Path
) -> None:
    attacker_site.set("/issuer/jwks.json", {"keys": [public_jwk(world.rsa, kid="good")]})
    text = f"""
[[client]]
id = "remote"
issuers = ["{RS}"]
algorithms = ["RS256"]
jwks_uri = "{attacker_site.url("/issuer/jwks.json")}"
allow_insecure_http = true
audiences = ["api"]
map_to_registry_user = true
"""
    verifier = Verifier(parse_config(text, str(tmp_path / "remote.toml")))
    good = forge({"alg": "RS256", "kid": "good"}, claims(RS), world.rsa)
    assert verifier.verify(good).accepted
    for extra in attacker_headers(world, attacker_site).values():
        token = forge({"alg": "RS256", "kid": "evil", **extra}, claims(RS), world.attacker)
        assert not verifier.verify(token).accepted
    paths = {r.path for r in attacker_site.requests()}
    assert paths == {"/issuer/jwks.json"}, paths


# --- header parameters that change the meaning ------------------------------------------------


@pytest.mark.parametrize(
    "extra",
    [
        {"crit": ["exp2"], "exp2": 1},
        {"crit": ["kid"], "kid": "issuer"},
        {"crit": []},
        {"crit": "b64"},
    ],
)
def test_crit_with_an_unknown_name(world: World, extra: dict[str, Any]) -> None:
    refused(world.verify(forge({"alg": "RS256", **extra}, claims(RS), world.rsa)), "RG1010E")


def test_b64_false(world: World) -> None:
    payload = json.dumps(claims(RS)).encode()
    # RFC 7797: with b64 false the payload is signed as is, not base64url-encoded.
    header = b64(json.dumps({"alg": "RS256", "b64": False, "crit": ["b64"]}).encode())
    unencoded = f"{header}.".encode() + payload
    token = f"{header}.{b64(payload)}.{b64(raw_sign('RS256', world.rsa, unencoded))}"
    refused(world.verify(token), "RG1010E")
    without_crit = forge({"alg": "RS256", "b64": False}, claims(RS), world.rsa)
    refused(world.verify(without_crit), "RG1011E")


def test_jwe_where_a_jws_is_expected(world: World) -> None:
    header = b64(json.dumps({"alg": "RSA-OAEP", "enc": "A256GCM"}).encode())
    jwe = ".".join([header, b64(b"k" * 256), b64(b"i" * 12), b64(b"c" * 64), b64(b"t" * 16)])
    refused(world.verify(jwe), "RG1003E")
    # A "dir" JWE has an empty encrypted key segment: still five segments.
    refused(world.verify(".".join([header, "", b64(b"i" * 12), b64(b"c"), b64(b"t")])), "RG1003E")


@pytest.mark.parametrize("cty", ["JWT", "jwt", "Jwt"])
def test_nested_jwt(world: World, cty: str) -> None:
    inner = world.token(RS)
    token = forge({"alg": "RS256", "cty": cty}, inner.encode(), world.rsa)
    refused(world.verify(token), "RG1012E")


# --- JSON ---------------------------------------------------------------------------------


def test_duplicate_member_names_in_header(world: World) -> None:
    for header in (
        b'{"alg":"RS256","alg":"none"}',
        b'{"alg":"none","alg":"RS256"}',
        b'{"alg":"RS256","kid":"issuer","kid":"../x"}',
        b'{"alg":"RS256","x":{"a":1,"a":2}}',
    ):
        token = forge(header, claims(RS), world.rsa, alg="RS256")
        refused(world.verify(token), "RG1006E")


def test_duplicate_member_names_in_payload(world: World) -> None:
    body = json.dumps(claims(RS))[:-1]
    for extra in (', "sub": "admin"}', ', "iss": "https://evil.example"}', ', "exp": 1}'):
        token = forge({"alg": "RS256"}, (body + extra).encode(), world.rsa)
        refused(world.verify(token), "RG1006E")


@pytest.mark.parametrize("payload", [b"[1, 2]", b'"alice"', b"null", b"42", b"true", b""])
def test_non_object_payload(world: World, payload: bytes) -> None:
    decision = world.verify(forge({"alg": "RS256"}, payload, world.rsa))
    refused(decision, "RG1006E" if payload == b"" else "RG1007E")


def test_deeply_nested_json(world: World) -> None:
    deep = b'{"iss": "x", "a": ' + b"[" * 4000 + b"]" * 4000 + b"}"
    refused(world.verify(forge({"alg": "RS256"}, deep, world.rsa)), "RG1006E")
    header = b'{"alg": "RS256", "x": ' + b'{"a":' * 1000 + b"1" + b"}" * 1000 + b"}"
    refused(world.verify(forge(header, claims(RS), world.rsa, alg="RS256")), "RG1006E")
    # 33 levels: just over the limit of 32.
    just_over = json.dumps(
        claims(RS, x=[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]])
    )
    refused(world.verify(forge({"alg": "RS256"}, just_over.encode(), world.rsa)), "RG1006E")


@pytest.mark.parametrize(
    ("segment", "data"),
    [
        ("header", b'{"alg": "RS256", "x": "\xff"}'),
        ("header", b'\xef\xbb\xbf{"alg": "RS256"}'),
        ("payload", b'{"iss": "https://rs.example", "sub": "\xc3\x28"}'),
        ("payload", b'{"iss": "https://rs.example", "sub": "\xc0\xaf"}'),  # overlong '/'
        ("payload", b'{"iss": "https://rs.example", "sub": "\xed\xa0\x80"}'),  # surrogate
        ("payload", b'{"iss": "https://rs.example", "sub": "\\ud800"}'),  # lone escape
    ],
)
def test_header_or_payload_not_utf8(world: World, segment: str, data: bytes) -> None:
    if segment == "header":
        token = forge(data, claims(RS), world.rsa, alg="RS256")
    else:
        token = forge({"alg": "RS256"}, data, world.rsa)
    decision = refused(world.verify(token), "RG1006E")
    assert segment in (decision.reason or "")


# --- claim types -------------------------------------------------------------------------


@pytest.mark.parametrize("claim", ["exp", "nbf", "iat"])
@pytest.mark.parametrize(
    ("raw", "message_id"),
    [
        ('"2000000000"', "RG4007E"),  # a string
        ('"1e10"', "RG4007E"),
        ("true", "RG4007E"),  # booleans (a bool is an int in Python)
        ("false", "RG4007E"),
        ("-1", "RG4007E"),  # negative
        ("-1e300", "RG4007E"),
        ("1e300", "RG4007E"),  # finite but beyond any meaningful date
        ("1e400", "RG1006E"),  # overflows to infinity: not acceptable JSON
        ("-1e400", "RG1006E"),
        ("NaN", "RG1006E"),  # not JSON at all
        ("Infinity", "RG1006E"),
        ("-Infinity", "RG1006E"),
        ("null", "RG4007E"),
        ("[2000000000]", "RG4007E"),
        ('{"$numberLong": "2000000000"}', "RG4007E"),
        ("1" + "0" * 24, "RG4007E"),  # beyond 64 bits: read as the float 1e24, too far
        ("1" + "0" * 400, "RG1006E"),  # beyond any float: out of range, as 1e400
    ],
)
def test_time_claims_of_the_wrong_type(world: World, claim: str, raw: str, message_id: str) -> None:
    body = json.dumps(claims(RS, **{claim: None}))[:-1] + f', "{claim}": {raw}}}'
    refused(world.verify(forge({"alg": "RS256"}, body.encode(), world.rsa)), message_id)


@pytest.mark.parametrize(
    "aud", [[1, 2], ["api", 1], [None], ["api", None], [], [["api"]], {"api": 1}, True, 7]
)
def test_aud_that_is_not_a_string_or_list_of_strings(world: World, aud: Any) -> None:
    refused(world.verify(world.token(RS, aud=aud)), "RG4007E")


@pytest.mark.parametrize("claim", ["iss", "sub", "jti"])
@pytest.mark.parametrize("value", [1, ["x"], {"x": 1}, True])
def test_string_claims_of_the_wrong_type(world: World, claim: str, value: Any) -> None:
    values = claims(RS)
    values[claim] = value
    refused(world.verify(forge({"alg": "RS256"}, values, world.rsa)), "RG4007E")


# --- base64url ----------------------------------------------------------------------------


def lenient(segment: str) -> bytes:
    """What a lenient decoder makes of a segment (junk skipped, padding added, bits ignored)."""
    cleaned = "".join(c for c in segment if c.isalnum() or c in "-_+/")
    cleaned = cleaned.replace("+", "-").replace("/", "_")
    return base64.urlsafe_b64decode(cleaned + "=" * (-len(cleaned) % 4))


def variants(segment: str) -> dict[str, str]:
    """Other encodings of the same bytes that lenient decoders accept."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    out = {
        "padding": segment + "=" * (-len(segment) % 4 or 4),
        "space": segment[:5] + " " + segment[5:],
        "newline": segment[:5] + "\n" + segment[5:],
        "tab": segment[:5] + "\t" + segment[5:],
        "crlf-at-end": segment + "\r\n",
    }
    standard = segment.replace("-", "+").replace("_", "/")
    if standard != segment:
        out["standard-alphabet"] = standard
    if len(segment) % 4 in (2, 3):
        last = alphabet.index(segment[-1])
        out["non-canonical-bits"] = segment[:-1] + alphabet[last + 1]
    return out


@pytest.mark.parametrize("position", [0, 1, 2], ids=["header", "payload", "signature"])
def test_base64url_variants_of_a_valid_token(world: World, position: int) -> None:
    # Segments with '-' or '_' and a length that leaves unused bits (4n+2 or 4n+3).
    for attempt in range(400):
        header = {"alg": "RS256", "typ": "JWT", "x": "?>" * (attempt % 7) + "~" * (attempt % 5)}
        token = forge(header, claims(RS, sub=f"alice-{attempt}-??>>"), world.rsa)
        parts = token.split(".")
        seg = parts[position]
        if len(seg) % 4 in (2, 3) and ("-" in seg or "_" in seg):
            break
    else:
        raise AssertionError("no suitable token")
    assert world.verify(token).accepted
    seen = set()
    for name, changed in variants(parts[position]).items():
        assert lenient(changed) == lenient(parts[position]), name  # same bytes when lenient
        forged = ".".join([*parts[:position], changed, *parts[position + 1 :]])
        refused(world.verify(forged), "RG1005E")
        seen.add(name)
    assert {"padding", "space", "newline", "standard-alphabet", "non-canonical-bits"} <= seen


def test_non_ascii_in_a_segment(world: World) -> None:
    parts = world.token(RS).split(".")
    for char in ("\u0410", "\u00e9", "\uff21", "\u200b"):  # Cyrillic A, é, fullwidth A, ZWSP
        forged = ".".join([parts[0], parts[1][:4] + char + parts[1][4:], parts[2]])
        refused(world.verify(forged), "RG1005E")


def test_one_megabyte_token(world: World) -> None:
    big = world.token(RS, padding="x" * (1 << 20))
    assert len(big) > 1 << 20
    started = time.perf_counter()
    decision = refused(world.verify(big), "RG1002E")
    assert time.perf_counter() - started < 0.5, "a huge token must be refused before parsing"
    assert str(len(big)) in (decision.reason or "")


@pytest.mark.parametrize(
    ("text", "message_id"),
    [
        ("", "RG1004E"),
        (".", "RG1004E"),
        ("a.b", "RG1004E"),
        ("a.b.c.d", "RG1004E"),
        ("a.b.c.d.e.f", "RG1004E"),
        ("....", "RG1003E"),  # five segments: a JWE
        ("..", "RG1006E"),  # three empty segments: the header is no JSON object
    ],
)
def test_wrong_number_of_segments(world: World, text: str, message_id: str) -> None:
    refused(world.verify(text), message_id)


# --- signatures ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("r", "s"),
    [
        (0, 0),  # the "psychic signature" (CVE-2022-21449)
        (0, 1),
        (1, 0),
        (P256_ORDER, 1),
        (1, P256_ORDER),
        (P256_ORDER, P256_ORDER),
        (2**256 - 1, 2**256 - 1),
        (None, P256_ORDER),  # the real r with s = n
        (P256_ORDER + 1, None),  # n + 1: equal to 1 mod n, out of range
    ],
)
def test_ecdsa_r_or_s_zero_or_at_least_n(world: World, r: Any, s: Any) -> None:
    good = world.token(ES, "ES256", world.ec)
    head, payload, sig = good.split(".")
    raw = base64.urlsafe_b64decode(sig + "==")
    real_r, real_s = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
    r_value = real_r if r is None else r
    s_value = real_s if s is None else s
    signature = r_value.to_bytes(32, "big") + s_value.to_bytes(32, "big")
    refused(world.verify(f"{head}.{payload}.{b64(signature)}"), "RG3004E")


def test_ecdsa_der_signature_is_refused(world: World) -> None:
    good = world.token(ES, "ES256", world.ec)
    head, payload, _ = good.split(".")
    der = world.ec.sign(f"{head}.{payload}".encode(), ec.ECDSA(hashes.SHA256()))
    refused(world.verify(f"{head}.{payload}.{b64(der)}"), "RG3004E")


def test_rsa_key_under_2048_bits(world: World) -> None:
    token = forge({"alg": "RS256"}, claims(WEAK), world.weak)
    decision = refused(world.verify(token), "RG3006E")
    assert "1024-bit" in (decision.reason or "")


def test_signature_stripped_or_from_another_token(world: World) -> None:
    head, payload, _ = world.token(RS).split(".")
    refused(world.verify(f"{head}.{payload}."), "RG1005E")
    other_signature = world.token(RS, sub="bob").split(".")[2]
    refused(world.verify(f"{head}.{payload}.{other_signature}"), "RG3004E")


def test_token_signed_by_an_untrusted_key(world: World) -> None:
    refused(world.verify(world.token(RS, key=world.attacker)), "RG3004E")
    named = forge({"alg": "RS256", "kid": "issuer"}, claims(RS), world.attacker)
    refused(world.verify(named), "RG3004E")


# --- replay, selection, issuer --------------------------------------------------------------


def test_jti_replay_with_token_reuse_false(world: World) -> None:
    token = world.token(ONCE, jti="once-only")
    assert world.verify(token).accepted
    refused(world.verify(token), "RG4012E")
    # The same jti in a freshly signed, different token is a replay too.
    refused(world.verify(world.token(ONCE, jti="once-only", sub="bob")), "RG4012E")
    refused(world.verify(world.token(ONCE, jti=None)), "RG4013E")
    refused(world.verify(world.token(ONCE, jti="")), "RG4013E")
    # A refused token does not burn its jti: a signature failure never records it.
    forged = world.token(ONCE, key=world.attacker, jti="not-yet-used")
    refused(world.verify(forged), "RG3004E")
    assert world.verify(world.token(ONCE, jti="not-yet-used")).accepted


def test_token_for_definition_a_on_a_request_only_b_admits(world: World) -> None:
    token_a = world.token(ISS_A)
    on_b = RequestInfo.build(
        {"Authorization": f"Bearer {token_a}"}, url="https://gate.example/b/items"
    )
    decision = refused(world.verify(token_a, on_b), "RG2003E")
    assert "A" in str(decision.reason)
    refused(world.verifier.verify_request(on_b), "RG2003E")
    # B's own token on B's URL passes: the filter, not the token, refused above.
    token_b = world.token(ISS_B)
    on_b_own = RequestInfo.build(
        {"Authorization": f"Bearer {token_b}"}, url="https://gate.example/b/items"
    )
    assert world.verifier.verify_request(on_b_own).accepted


@pytest.mark.parametrize(
    "iss",
    [
        "https://rs.exampl\u0435",  # Cyrillic ie
        "https://r\u0455.example",  # Cyrillic dze
        "https://\uff52s.example",  # fullwidth r
        "https://rs.example\u200b",  # zero-width space
        "https://rs.example/",
        "https://rs.example ",
        "HTTPS://RS.EXAMPLE",
        "https://rs.example\u0000",
        "https://rs.e\u0301xample",  # combining accent
    ],
)
def test_look_alike_issuer(world: World, iss: str) -> None:
    """Signed by the trusted key, but the issuer only resembles the configured one."""
    decision = refused(world.verify(world.token(iss)), "RG2001E")
    assert decision.client_id is None


def test_look_alike_issuer_is_named_in_the_refusal(world: World) -> None:
    # Width and case variants fold to the configured issuer and are named as look-alikes;
    # other scripts are shown escaped, so the operator sees what the reader cannot.
    decision = refused(world.verify(world.token("https://\uff52s.example")), "RG2001E")
    assert "resembles the configured issuer 'https://rs.example'" in (decision.reason or "")
    decision = refused(world.verify(world.token("https://rs.exampl\u0435")), "RG2001E")
    assert "non-ASCII characters: 'https://rs.exampl\\u0435'" in (decision.reason or "")


# --- timing ---------------------------------------------------------------------------------


def test_hmac_comparison_is_constant_time(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """The MAC is compared with hmac.compare_digest (observed, not timed), for good and bad
    tokens alike, and with the full computed MAC against the full presented one."""
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def observed(a: Any, b: Any) -> bool:
        calls.append((bytes(a), bytes(b)))
        return real(a, b)

    monkeypatch.setattr(signature.hmac, "compare_digest", observed)
    good = forge({"alg": "HS256"}, claims(MIXED), SECRET.encode())
    assert world.verify(good).accepted
    head, payload, sig = good.split(".")
    wrong = raw_sign("HS256", b"another secret", f"{head}.{payload}".encode())
    refused(world.verify(f"{head}.{payload}.{b64(wrong)}"), "RG3004E")
    short = base64.urlsafe_b64decode(sig + "=")[:16]
    refused(world.verify(f"{head}.{payload}.{b64(short)}"), "RG3004E")
    assert len(calls) == 3
    expected = hmac.new(SECRET.encode(), f"{head}.{payload}".encode(), "sha256").digest()
    assert [c[0] for c in calls] == [expected] * 3
    assert [c[1] for c in calls] == [base64.urlsafe_b64decode(sig + "="), wrong, short]


def test_admin_token_comparison_is_constant_time() -> None:
    import inspect

    from realmgate.server import admin

    source = inspect.getsource(admin)
    assert "hmac.compare_digest" in source
    assert "== self._token" not in source and "self._token ==" not in source


# --- the same attacks through the CLI and the HTTP /auth endpoint ---------------------------


def attack_tokens(world: World) -> dict[str, tuple[str, str]]:
    """name → (token, expected message id) for the CLI and HTTP runs."""
    pem = world.rsa_public_pem()
    head_payload = forge({"alg": "none"}, claims(RS)).rsplit(".", 1)[0]
    jwe = ".".join([b64(b'{"alg":"dir","enc":"A128GCM"}'), "", "aXY", "Y3Q", "dGFn"])
    return {
        "alg-none": (head_payload + ".", "RG1009E"),
        "rs-hs-confusion": (forge({"alg": "HS256"}, claims(RS), pem), "RG3001E"),
        "rs-hs-with-secret": (
            forge({"alg": "HS256", "kid": "issuer"}, claims(MIXED), pem),
            "RG3003E",
        ),
        "crit": (forge({"alg": "RS256", "crit": ["x"], "x": 1}, claims(RS), world.rsa), "RG1010E"),
        "jwe": (jwe, "RG1003E"),
        "duplicate-sub": (
            forge(
                {"alg": "RS256"},
                (json.dumps(claims(RS))[:-1] + ', "sub": "root"}').encode(),
                world.rsa,
            ),
            "RG1006E",
        ),
        "exp-string": (world.token(RS, exp="9999999999"), "RG4007E"),
        "untrusted-key": (world.token(RS, key=world.attacker), "RG3004E"),
        "look-alike-issuer": (world.token("https://rs.exampl\u0435"), "RG2001E"),
    }


def test_attacks_through_the_cli(world: World, cli: Callable[..., CliResult]) -> None:
    assert cli("verify", "--config", str(world.config), "--token", world.token(RS)).code == 0
    for name, (token, message_id) in attack_tokens(world).items():
        result = cli("verify", "--config", str(world.config), "--token", token)
        assert result.code == 1, (name, result.out, result.err)
        assert result.out.startswith(f"refused: {message_id} "), (name, result.out)
        assert token not in result.out + result.err


def auth(world: World, headers: dict[str, str], path: str = "/auth") -> httpx.Response:
    app = RealmgateApp(Service(world.config), watch=False)

    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://gate.test") as client:
            return await client.get(path, headers=headers)

    return asyncio.run(call())


def test_attacks_through_http_auth(world: World, attacker_site: KeyServer) -> None:
    ok = auth(world, {"Authorization": f"Bearer {world.token(RS)}"})
    assert ok.status_code == 200 and ok.headers["x-realmgate-user"] == "alice"
    cases = attack_tokens(world)
    jku = forge(
        {"alg": "RS256", "kid": "evil", "jku": attacker_site.url("/evil/jwks.json")},
        claims(RS),
        world.attacker,
    )
    cases["jku"] = (jku, "RG3002E")
    for name, (token, message_id) in cases.items():
        response = auth(world, {"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, (name, response.status_code, response.text)
        assert response.headers["x-realmgate-message"] == message_id, (name, response.text)
        assert response.headers["www-authenticate"].startswith('Bearer error="invalid_token"')
        assert token not in response.text
    assert attacker_site.requests() == []


def test_token_for_a_on_b_through_http_auth(world: World) -> None:
    token_a = world.token(ISS_A)
    on_b = auth(world, {"Authorization": f"Bearer {token_a}"}, "/auth/b/items")
    assert on_b.status_code == 401 and on_b.headers["x-realmgate-message"] == "RG2003E"
    on_a = auth(world, {"Authorization": f"Bearer {token_a}"}, "/auth/a/items")
    assert on_a.status_code == 200, on_a.text


def test_one_megabyte_token_through_http_auth(world: World) -> None:
    big = world.token(RS, padding="x" * (1 << 20))
    response = auth(world, {"Authorization": f"Bearer {big}"})
    assert response.status_code == 431
    assert response.headers["x-realmgate-message"] == "RG8001E"


def test_private_key_material_in_a_jwk_header_is_ignored(world: World) -> None:
    """An embedded jwk carrying the *trusted* public key is no more use than a jwk carrying
    the attacker's: the header is never a key source, so the signature decides."""
    header = {"alg": "RS256", "jwk": public_jwk(world.rsa)}
    refused(world.verify(forge(header, claims(RS), world.attacker)), "RG3004E")
    assert world.verify(forge(header, claims(RS), world.rsa)).accepted


def test_ed25519_key_cannot_stand_in(world: World) -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    refused(world.verify(forge({"alg": "EdDSA"}, claims(RS), key)), "RG3001E")
