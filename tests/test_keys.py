"""JWKs, thumbprints, trust stores, signing keys and the ``realmgate keys`` commands."""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa, x25519

from realmgate.cli import keys_cmd
from realmgate.errors import UsageError
from realmgate.jws import parse_compact
from realmgate.jws_sign import sign_compact
from realmgate.keys.jwk import (
    key_from_jwk,
    key_from_public_key,
    load_jwks,
    public_jwk,
    secret_key,
    thumbprint,
)
from realmgate.keys.material import HMAC_ALGS, RSA_ALGS, KeyMaterialError
from realmgate.keys.signing import (
    SigningKey,
    generate_private_key,
    load_signing_key,
    pkcs12_bytes,
    private_key_pem,
    self_signed_certificate,
    signing_key_from_private,
)
from realmgate.keys.truststore import load_trust_store
from realmgate.signature import verify_signature

RFC7638_KEY = {
    "kty": "RSA",
    "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc"
    "_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_"
    "FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4"
    "vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
    "e": "AQAB",
    "alg": "RS256",
    "kid": "2011-04-29",
}
RFC7638_THUMBPRINT = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
CLAIMS = {"iss": "i", "sub": "s"}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def ec_jwk(key: ec.EllipticCurvePrivateKey, **extra: Any) -> dict[str, Any]:
    return {**public_jwk(key, use=None), **extra}


def refused(jwk: Any, fragment: str) -> None:
    with pytest.raises(KeyMaterialError) as caught:
        key_from_jwk(jwk, "test")
    assert fragment in str(caught.value)


# --- JWK ---------------------------------------------------------------------------------


def test_rfc7638_thumbprint() -> None:
    assert thumbprint(RFC7638_KEY) == RFC7638_THUMBPRINT
    key = key_from_jwk(RFC7638_KEY, "rfc")
    assert key.fingerprint == RFC7638_THUMBPRINT
    assert key.kid == "2011-04-29" and key.algorithms == frozenset({"RS256"}) and key.bits == 2048


def test_rsa_without_alg_gets_the_rsa_family(rsa_key: rsa.RSAPrivateKey) -> None:
    key = key_from_jwk(public_jwk(rsa_key), "t")
    assert key.algorithms == RSA_ALGS and key.kty == "RSA"


def test_private_jwk_keeps_only_the_public_part(rsa_key: rsa.RSAPrivateKey) -> None:
    numbers = rsa_key.private_numbers()
    jwk = {**public_jwk(rsa_key), "d": b64(numbers.d.to_bytes(256, "big"))}
    key = key_from_jwk(jwk, "t")
    assert isinstance(key.key, rsa.RSAPublicKey)
    assert key.fingerprint == thumbprint(public_jwk(rsa_key))


@pytest.mark.parametrize(
    ("crv", "curve", "alg"),
    [
        ("P-256", ec.SECP256R1(), "ES256"),
        ("P-384", ec.SECP384R1(), "ES384"),
        ("P-521", ec.SECP521R1(), "ES512"),
    ],
)
def test_ec_curves(crv: str, curve: ec.EllipticCurve, alg: str) -> None:
    private = ec.generate_private_key(curve)
    key = key_from_jwk(ec_jwk(private), "t")
    assert key.algorithms == frozenset({alg}) and key.kty == "EC"
    assert public_jwk(key.key)["crv"] == crv
    refused(ec_jwk(private, alg="ES256" if alg != "ES256" else "ES384"), "does not fit")


def test_ed25519(ed_key: ed25519.Ed25519PrivateKey) -> None:
    key = key_from_jwk(public_jwk(ed_key), "t")
    assert key.algorithms == frozenset({"EdDSA"}) and key.kty == "OKP"
    refused({**public_jwk(ed_key), "alg": "ES256"}, "does not fit")


def test_oct_lengths() -> None:
    assert key_from_jwk({"kty": "oct", "k": b64(b"k" * 48)}, "t").algorithms == frozenset(
        {"HS256", "HS384"}
    )
    assert key_from_jwk({"kty": "oct", "k": b64(b"k" * 64)}, "t").algorithms == HMAC_ALGS
    refused({"kty": "oct", "k": b64(b"k" * 31), "alg": "HS256"}, "at least 32")
    refused({"kty": "oct", "k": b64(b"k" * 32), "alg": "HS512"}, "at least 64")
    refused({"kty": "oct", "k": ""}, "empty")
    refused({"kty": "oct", "k": b64(b"k" * 32), "alg": "A256GCM"}, "not an HMAC")


def test_invalid_ec_point(ec_key: ec.EllipticCurvePrivateKey) -> None:
    jwk = ec_jwk(ec_key)
    y = bytearray(base64.urlsafe_b64decode(jwk["y"] + "=="))
    y[-1] ^= 1
    refused({**jwk, "y": b64(bytes(y))}, "not on curve")
    refused({**jwk, "crv": "P-384"}, "48 bytes")
    refused({**jwk, "x": b64(base64.urlsafe_b64decode(jwk["x"] + "==")[1:])}, "32 bytes")


def test_rsa_exponent_rules(rsa_key: rsa.RSAPrivateKey) -> None:
    jwk = public_jwk(rsa_key)
    refused({**jwk, "e": "AQ"}, "")  # e = 1
    refused({**jwk, "e": "AQAA"}, "")  # e = 65536, even


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"use": "enc"}, "use is 'enc'"),
        ({"key_ops": ["encrypt"]}, "do not include 'verify'"),
        ({"key_ops": ["verify", "verify"]}, "repeats"),
        ({"key_ops": "verify"}, "array of strings"),
        ({"kty": "DSA"}, "not supported"),
        ({"kty": 1}, "must be a string"),
        ({"kid": 7}, "must be a string"),
        ({"alg": "RS256"}, "does not fit"),
        ({"alg": "HS256"}, "does not fit"),
        ({"alg": "ES521"}, "does not fit"),
        ({"x": "not base64!"}, "not base64url"),
        ({"x": None}, "not null"),
    ],
)
def test_bad_members(change: dict[str, Any], fragment: str, ec_key: Any) -> None:
    refused({**ec_jwk(ec_key), **change}, fragment)


def test_bad_shapes() -> None:
    refused([], "JSON object")
    refused({}, "'kty' is missing")
    refused({"kty": "RSA", "e": "AQAB"}, "'n' is missing")
    refused({"kty": "OKP", "crv": "Ed448", "x": b64(b"x" * 57)}, "not supported")
    raw = (
        x25519.X25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )
    refused({"kty": "OKP", "crv": "X25519", "x": b64(raw)}, "not a signature curve")


def test_use_sig_and_key_ops_verify_accepted(ec_key: Any) -> None:
    key = key_from_jwk(ec_jwk(ec_key, use="sig", key_ops=["verify", "sign"]), "t")
    assert key.use == "sig" and key.key_ops == frozenset({"verify", "sign"})


def test_key_from_public_key_refusals() -> None:
    with pytest.raises(KeyMaterialError, match="Ed448"):
        key_from_public_key(ed448.Ed448PrivateKey.generate().public_key(), source="t")
    with pytest.raises(KeyMaterialError, match="not supported"):
        key_from_public_key(ec.generate_private_key(ec.SECP256K1()).public_key(), source="t")
    with pytest.raises(KeyMaterialError, match="not a supported"):
        key_from_public_key(b"secret", source="t")


def test_roca_fingerprint_refused() -> None:
    path = Path(__file__).resolve().parents[2] / "shared/vectors/wycheproof/json_web_key_test.json"
    if not path.is_file():
        pytest.skip(f"no ROCA sample without {path}")
    groups = json.loads(path.read_text())["testGroups"]
    jwk = next(g for g in groups if g["comment"] == "jws_rsa_roca_key")["public"]["keys"][0]
    refused(jwk, "ROCA")


def test_generated_keys_are_not_roca(rsa_key: rsa.RSAPrivateKey) -> None:
    assert key_from_public_key(rsa_key.public_key(), source="t").kty == "RSA"


def test_secret_key_fingerprint_hides_the_secret() -> None:
    key = secret_key(b"s" * 32, "env")
    assert key.fingerprint.startswith("sha256:") and "ssss" not in key.fingerprint
    assert "ssss" not in repr(key)
    with pytest.raises(KeyMaterialError):
        secret_key(b"", "env")
    with pytest.raises(KeyMaterialError):
        secret_key(b"x" * 32, "env", algorithms=frozenset({"RS256"}))


def test_load_jwks_skips_each_bad_key_with_a_reason(rsa_key: Any, ec_key: Any) -> None:
    keys, problems = load_jwks(
        {
            "keys": [
                public_jwk(rsa_key, kid="r"),
                {"kty": "EC", "kid": "bad"},
                "junk",
                ec_jwk(ec_key, kid="e", use="enc"),
            ]
        },
        "jwks",
    )
    assert [k.kid for k in keys] == ["r"]
    assert len(problems) == 3 and "kid 'bad'" in problems[0] and "use is 'enc'" in problems[2]
    assert load_jwks({"nokeys": []}, "x") == ([], ["x: not a JWK Set (no 'keys' array)"])


def test_load_jwks_mixed_symmetry_and_duplicate_kids(rsa_key: Any, ec_key: Any) -> None:
    oct_key = {"kty": "oct", "kid": "h", "k": b64(b"k" * 32)}
    keys, problems = load_jwks({"keys": [oct_key, public_jwk(rsa_key, kid="r")]}, "s")
    assert [k.kid for k in keys] == ["r"] and "shared secret" in problems[0]
    keys, problems = load_jwks(
        {"keys": [public_jwk(rsa_key, kid="x"), ec_jwk(ec_key, kid="x"), ec_jwk(ec_key, kid="e")]},
        "s",
    )
    assert [k.kid for k in keys] == ["e"] and len(problems) == 2
    same = public_jwk(rsa_key, kid="x")
    keys, _ = load_jwks({"keys": [{**same, "alg": "RS256"}, {**same, "alg": "PS256"}]}, "s")
    assert len(keys) == 2


# --- trust stores --------------------------------------------------------------------------


def cert_pem(key: Any, cn: str) -> bytes:
    return self_signed_certificate(key, cn, 30).public_bytes(serialization.Encoding.PEM)


def test_pem_file_with_one_certificate(tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> None:
    certificate = self_signed_certificate(rsa_key, "LINUX", 30)
    path = tmp_path / "linux.pem"
    path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    store = load_trust_store(path)
    (key,) = store.keys
    der = certificate.public_bytes(serialization.Encoding.DER)
    assert key.alias == key.kid == "linux"
    assert key.x5t == b64(hashlib.sha1(der).digest())
    assert key.x5t_s256 == b64(hashlib.sha256(der).digest())
    assert key.fingerprint == thumbprint(public_jwk(rsa_key))
    assert key.source == f"trust store {path} alias 'linux'"
    assert store.certificate_of(key) == certificate
    assert store.aliases() == ["linux"] and store.select("linux") == (key,)
    assert store.select("other") == () and store.by_kid("linux") == (key,)


def test_pem_file_with_several_objects(
    tmp_path: Path, rsa_key: Any, ec_key: Any, other_rsa_key: Any
) -> None:
    spki = ec_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    pkcs1 = other_rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.PKCS1
    )
    private = private_key_pem(ed25519.Ed25519PrivateKey.generate())
    path = tmp_path / "bundle.pem"
    path.write_bytes(cert_pem(rsa_key, "A") + b"junk\n" + private + spki + pkcs1)
    store = load_trust_store(path)
    assert store.aliases() == ["bundle", "bundle#2", "bundle#3"]
    assert [k.kty for k in store.keys] == ["RSA", "EC", "RSA"]
    assert store.keys[1].x5t is None


def test_pem_with_only_a_private_key_is_not_a_trust_store(tmp_path: Path, rsa_key: Any) -> None:
    path = tmp_path / "key.pem"
    path.write_bytes(private_key_pem(rsa_key))
    with pytest.raises(KeyMaterialError, match="no PEM certificate or public key"):
        load_trust_store(path)


def test_directory(tmp_path: Path, rsa_key: Any, ec_key: Any, ed_key: Any) -> None:
    (tmp_path / "linux.pem").write_bytes(cert_pem(rsa_key, "LINUX"))
    der = self_signed_certificate(ec_key, "ZOS", 30).public_bytes(serialization.Encoding.DER)
    (tmp_path / "zos.der").write_bytes(der)
    (tmp_path / "remote.jwks").write_text(
        json.dumps(
            {
                "keys": [
                    public_jwk(ed_key, kid="ed-1"),
                    {"kty": "oct", "kid": "h", "k": b64(b"k" * 32)},
                ]
            }
        )
    )
    (tmp_path / "README.txt").write_text("not a key")
    (tmp_path / ".hidden.pem").write_text("junk")
    store = load_trust_store(tmp_path)
    assert store.aliases() == ["linux", "ed-1", "zos"]
    assert store.select("ed-1")[0].kid == "ed-1"
    assert len(store.problems) == 1 and "shared secrets" in store.problems[0]


def test_jwks_file_duplicate_kid_refused(tmp_path: Path, rsa_key: Any, ec_key: Any) -> None:
    path = tmp_path / "keys.json"
    path.write_text(json.dumps({"keys": [public_jwk(rsa_key, kid="a"), ec_jwk(ec_key, kid="a")]}))
    with pytest.raises(KeyMaterialError, match="two different keys"):
        load_trust_store(path)


def test_pkcs12_with_aliases_and_password(tmp_path: Path, rsa_key: Any, ec_key: Any) -> None:
    other = self_signed_certificate(ec_key, "PARTNER", 30)
    data = pkcs12_bytes(
        rsa_key,
        self_signed_certificate(rsa_key, "CONN1", 30),
        "CONN1.IZUDFLT",
        b"s3cret",
        extra_certs=[("partner", other)],
    )
    path = tmp_path / "ts.p12"
    path.write_bytes(data)
    store = load_trust_store(path, password=b"s3cret")
    assert store.aliases() == ["CONN1.IZUDFLT", "partner"]
    (key,) = store.select("conn1.izudflt")  # case-insensitive fallback
    assert key.source == f"trust store {path} alias 'CONN1.IZUDFLT'"
    assert key.fingerprint == thumbprint(public_jwk(rsa_key))
    with pytest.raises(KeyMaterialError) as caught:
        load_trust_store(path, password=b"wrong-pw")
    assert "password is wrong" in str(caught.value) and "wrong-pw" not in str(caught.value)
    with pytest.raises(KeyMaterialError, match="needs a password"):
        load_trust_store(path)


def test_pkcs12_certificates_only(tmp_path: Path, rsa_key: Any) -> None:
    certificate = self_signed_certificate(rsa_key, "A", 30)
    path = tmp_path / "certs.pfx"
    path.write_bytes(pkcs12_bytes(None, certificate, "Trusted A", None))
    assert load_trust_store(path).aliases() == ["Trusted A"]


def test_trust_store_errors(tmp_path: Path) -> None:
    with pytest.raises(KeyMaterialError, match="cannot read"):
        load_trust_store(tmp_path / "missing.pem")
    (tmp_path / "bad.pem").write_text(
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
    )
    with pytest.raises(KeyMaterialError, match="cannot be read"):
        load_trust_store(tmp_path / "bad.pem")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(KeyMaterialError, match="no usable key"):
        load_trust_store(empty)


# --- signing keys --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fmt",
    [serialization.PrivateFormat.PKCS8, serialization.PrivateFormat.TraditionalOpenSSL],
)
def test_load_pem_private_keys(fmt: Any, rsa_key: Any, ec_key: Any) -> None:
    for private in (rsa_key, ec_key):
        data = private.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption())
        key = load_signing_key(data, source="pem")
        assert key.kid == thumbprint(public_jwk(private))
        assert key.verification_key().fingerprint == key.kid


def test_encrypted_pem(rsa_key: Any) -> None:
    data = private_key_pem(rsa_key, b"pw")
    assert b"ENCRYPTED" in data
    assert load_signing_key(data, source="x", password=b"pw").kty == "RSA"
    with pytest.raises(KeyMaterialError, match="no password"):
        load_signing_key(data, source="x")
    with pytest.raises(KeyMaterialError, match="password is wrong"):
        load_signing_key(data, source="x", password=b"nope")


def test_signing_key_from_pkcs12_by_alias(rsa_key: Any) -> None:
    data = pkcs12_bytes(rsa_key, self_signed_certificate(rsa_key, "I", 30), "Issuer", b"pw")
    key = load_signing_key(data, source="p12", password=b"pw", alias="ISSUER")
    assert key.alias == "Issuer" and isinstance(key.certificate, x509.Certificate)
    assert load_signing_key(data, source="p12", password=b"pw").alias == "Issuer"
    with pytest.raises(KeyMaterialError, match="no private key with alias"):
        load_signing_key(data, source="p12", password=b"pw", alias="other")
    with pytest.raises(KeyMaterialError, match="password is wrong"):
        load_signing_key(data, source="p12", password=b"bad")


def test_signing_key_from_private_jwks(rsa_key: Any, ec_key: Any, ed_key: Any) -> None:
    numbers = rsa_key.private_numbers()

    def n(value: int) -> str:
        return b64(value.to_bytes((value.bit_length() + 7) // 8, "big"))

    rsa_jwk = {**public_jwk(rsa_key, kid="r"), "d": n(numbers.d)}
    ec_jwk_private = {**ec_jwk(ec_key, kid="e"), "d": n(ec_key.private_numbers().private_value)}
    raw = ed_key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    ed_jwk = {**public_jwk(ed_key, kid="d"), "d": b64(raw)}
    oct_jwk = {"kty": "oct", "kid": "h", "k": b64(b"k" * 32), "alg": "HS256"}
    document = json.dumps({"keys": [rsa_jwk, ec_jwk_private, ed_jwk, oct_jwk]}).encode()
    for kid, kty in (("r", "RSA"), ("e", "EC"), ("d", "OKP"), ("h", "oct")):
        key = load_signing_key(document, source="jwks", alias=kid)
        assert (key.kid, key.kty) == (kid, kty)
        alg = sorted(key.algorithms)[0]
        parsed = parse_compact(sign_compact(CLAIMS, key, alg))
        assert verify_signature(parsed, key.verification_key())
    wrong = {
        **ec_jwk_private,
        "d": n(ec.generate_private_key(ec.SECP256R1()).private_numbers().private_value),
    }
    with pytest.raises(KeyMaterialError, match="does not match"):
        load_signing_key(json.dumps(wrong).encode(), source="jwk")
    with pytest.raises(KeyMaterialError, match="no private JWK"):
        load_signing_key(json.dumps(public_jwk(rsa_key)).encode(), source="jwk")


def test_signing_key_never_shows_private_parts(rsa_key: Any) -> None:
    key = signing_key_from_private(rsa_key, source="x")
    assert "RSAPrivateKey" not in repr(key) and "key=" not in repr(key)
    secret = signing_key_from_private(b"s" * 32, source="env")
    assert "ssss" not in repr(secret)
    with pytest.raises(KeyMaterialError):
        secret.public_key()


def test_generate_private_key() -> None:
    assert isinstance(generate_private_key("ec", curve="P-384"), ec.EllipticCurvePrivateKey)
    assert isinstance(generate_private_key("ed25519"), ed25519.Ed25519PrivateKey)
    for kind, options in (
        ("rsa", {"size": 1024}),
        ("ec", {"curve": "P-192"}),
        ("dsa", {}),
        ("ed25519", {"size": 2048}),
    ):
        with pytest.raises(KeyMaterialError):
            generate_private_key(kind, **options)
    with pytest.raises(KeyMaterialError, match="too short"):
        signing_key_from_private(rsa.generate_private_key(65537, 1024), source="x")


# --- CLI -------------------------------------------------------------------------------------


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="realmgate")
    keys_cmd.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(list(argv))
    return int(args.func(args))


def test_cli_generate_jwks_show(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    key_path, cert_path = tmp_path / "issuer.pem", tmp_path / "issuer-cert.pem"
    assert (
        run(
            "keys",
            "generate",
            "--type",
            "ec",
            "--curve",
            "P-384",
            "--out",
            str(key_path),
            "--cert-out",
            str(cert_path),
            "--cn",
            "ISSUER",
        )
        == 0
    )
    assert stat.S_IMODE(os.stat(key_path).st_mode) == 0o600
    kid = capsys.readouterr().out.split("kid (RFC 7638 thumbprint): ")[1].split()[0]
    assert run("keys", "jwks", str(cert_path), str(key_path)) == 0
    jwks = json.loads(capsys.readouterr().out)
    assert [k["kid"] for k in jwks["keys"]] == [kid]  # one key, published once
    assert "d" not in jwks["keys"][0] and jwks["keys"][0]["crv"] == "P-384"
    assert run("keys", "show", str(cert_path), "--json") == 0
    (shown,) = json.loads(capsys.readouterr().out)["keys"]
    assert shown["thumbprint"] == kid and shown["subject"] == "CN=ISSUER"
    assert shown["algorithms"] == ["ES384"]
    assert run("keys", "show", str(key_path)) == 0
    assert kid in capsys.readouterr().out


def test_cli_pkcs12(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("P12_PW", "pw")
    out = tmp_path / "issuer.p12"
    assert (
        run(
            "keys",
            "generate",
            "--type",
            "rsa",
            "--out",
            str(out),
            "--format",
            "pkcs12",
            "--password-env",
            "P12_PW",
            "--alias",
            "CONN1",
        )
        == 0
    )
    capsys.readouterr()
    assert run("keys", "show", str(out), "--password-env", "P12_PW", "--json") == 0
    (shown,) = json.loads(capsys.readouterr().out)["keys"]
    assert shown["alias"] == "CONN1" and shown["bits"] == 2048
    assert (
        run("keys", "jwks", str(out), "--password-env", "P12_PW", "--kid", "k1", "--alg", "PS256")
        == 0
    )
    (published,) = json.loads(capsys.readouterr().out)["keys"]
    assert (published["kid"], published["alg"], published["use"]) == ("k1", "PS256", "sig")


def usage_error(*argv: str) -> UsageError:
    with pytest.raises(UsageError) as caught:
        run(*argv)
    return caught.value


def test_cli_errors(tmp_path: Path, rsa_key: Any, ec_key: Any) -> None:
    existing = tmp_path / "k.pem"
    existing.write_bytes(private_key_pem(rsa_key))
    assert (
        usage_error("keys", "generate", "--type", "rsa", "--out", str(existing)).message_id
        == "RG0001E"
    )
    assert (
        usage_error(
            "keys", "generate", "--type", "rsa", "--size", "1024", "--out", str(tmp_path / "n.pem")
        ).message_id
        == "RG0001E"
    )
    assert (
        usage_error(
            "keys",
            "generate",
            "--type",
            "ec",
            "--format",
            "pkcs12",
            "--out",
            str(tmp_path / "n.p12"),
        ).message_id
        == "RG0001E"
    )
    error = usage_error("keys", "show", str(tmp_path / "k.pem"), "--password-env", "NOPE_UNSET")
    assert error.message_id == "RG0002E" and "NOPE_UNSET" in error.text
    assert usage_error("keys", "show", str(tmp_path / "none.pem")).message_id == "RG0002E"
    (tmp_path / "two.pem").write_bytes(cert_pem(rsa_key, "A") + cert_pem(ec_key, "B"))
    assert (
        usage_error("keys", "jwks", str(tmp_path / "two.pem"), "--kid", "x").message_id == "RG0001E"
    )
    assert (
        usage_error("keys", "jwks", str(tmp_path / "two.pem"), "--alg", "HS256").message_id
        == "RG0001E"
    )
    (tmp_path / "junk.pem").write_text("nothing here")
    assert usage_error("keys", "show", str(tmp_path / "junk.pem")).message_id == "RG0002E"


def test_signing_key_type() -> None:
    assert SigningKey.__dataclass_params__.frozen  # type: ignore[attr-defined]
