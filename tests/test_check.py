"""Configuration lint: each RG605xW warning, with the values its message names."""

from __future__ import annotations

import datetime
import textwrap
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from realmgate.check import lint, provably_disjoint
from realmgate.config import parse_config
from realmgate.configmodel import Config
from realmgate.errors import RealmgateError
from realmgate.filters import compile_filter

LONG_SECRET = "k" * 64


@pytest.fixture(autouse=True)
def secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RG_LONG", LONG_SECRET)
    monkeypatch.setenv("RG_SHORT", "short-secret-20bytes")
    monkeypatch.setenv("RG_OTHER", "o" * 32)


def load(tmp_path: Path, text: str) -> Config:
    return parse_config(textwrap.dedent(text), str(tmp_path / "realmgate.toml"))


def client(cid: str, issuer: str = "https://i", extra: str = "", env: str = "RG_LONG") -> str:
    return textwrap.dedent(f"""
        [[client]]
        id = "{cid}"
        issuers = ["{issuer}"]
        algorithms = ["HS256"]
        shared_secret_env = "{env}"
        audiences = ["api"]
    """) + textwrap.dedent(extra)


def filt(fid: str, *conditions: str) -> str:
    body = "".join(
        f"\n[[auth_filter.condition]]\n{textwrap.dedent(c).strip()}\n" for c in conditions
    )
    return f'\n[[auth_filter]]\nid = "{fid}"\n{body}'


def ids(warnings: list[RealmgateError]) -> list[str]:
    return [w.message_id for w in warnings]


def only(warnings: list[RealmgateError], message_id: str) -> list[RealmgateError]:
    return [w for w in warnings if w.message_id == message_id]


def test_clean_configuration_has_no_warnings(tmp_path: Path) -> None:
    config = load(tmp_path, client("a", "https://a") + client("b", "https://b", env="RG_OTHER"))
    assert lint(config) == []


def test_rg6050w_overlap_without_filters_names_the_winner(tmp_path: Path) -> None:
    config = load(tmp_path, client("first") + client("second"))
    (warning,) = only(lint(config), "RG6050W")
    assert warning.values == {"clients": "'first', 'second'", "iss": "https://i", "first": "first"}
    assert "first wins because it comes first" in warning.text


def test_rg6050w_one_filtered_definition_still_overlaps(tmp_path: Path) -> None:
    text = (
        client("a", extra='auth_filter = "f"\n')
        + client("b")
        + filt("f", 'kind = "host"\nvalue = "x"')
    )
    assert ids(only(lint(load(tmp_path, text)), "RG6050W")) == ["RG6050W"]


def test_rg6050w_not_reported_for_different_issuers(tmp_path: Path) -> None:
    config = load(tmp_path, client("a", "https://a") + client("b", "https://b"))
    assert only(lint(config), "RG6050W") == []


@pytest.mark.parametrize(
    ("left", "right", "disjoint"),
    [
        # disjoint address ranges with equals / contains
        (
            'kind = "remote_address"\nmatch = "equals"\nvalue = "10.1.*.*"',
            'kind = "remote_address"\nmatch = "equals"\nvalue = "10.2.*.*"',
            True,
        ),
        (
            'kind = "remote_address"\nvalue = "10.0.0.0/16|192.168.0.0/16"',
            'kind = "remote_address"\nmatch = "equals"\nvalue = "10.0.[0-7].*"',
            False,
        ),
        (
            'kind = "remote_address"\nmatch = "greater_than"\nvalue = "10.1.*.*"',
            'kind = "remote_address"\nmatch = "less_than"\nvalue = "10.2.0.0"',
            True,
        ),
        (
            'kind = "remote_address"\nmatch = "not_contains"\nvalue = "10.0.0.0/8"',
            'kind = "remote_address"\nmatch = "equals"\nvalue = "10.9.*.*"',
            True,
        ),
        (
            'kind = "remote_address"\nmatch = "equals"\nvalue = "fd00::/8"',
            'kind = "remote_address"\nmatch = "equals"\nvalue = "10.0.0.0/8"',
            True,
        ),
        # string conditions
        (
            'kind = "host"\nmatch = "equals"\nvalue = "a.example"',
            'kind = "host"\nmatch = "equals"\nvalue = "b.example"',
            True,
        ),
        (
            'kind = "host"\nmatch = "equals"\nvalue = "a.example"',
            'kind = "host"\nmatch = "contains"\nvalue = "example"',
            False,
        ),
        (
            'kind = "request_url"\nvalue = "/admin/|/ops/"',
            'kind = "request_url"\nmatch = "not_contains"\nvalue = "/admin|/ops"',
            True,
        ),
        (
            'kind = "request_url"\nvalue = "/admin/"',
            'kind = "request_url"\nmatch = "not_contains"\nvalue = "/ops"',
            False,
        ),
        (
            'kind = "request_header"\nname = "X-A"\nmatch = "equals"',
            'kind = "request_header"\nname = "X-A"\nmatch = "not_contains"',
            True,
        ),
        (
            'kind = "host"\nmatch = "equals"\nvalue = "a"',
            'kind = "user_agent"\nmatch = "equals"\nvalue = "b"',
            False,
        ),
    ],
)
def test_rg6050w_disjoint_filters_are_not_reported(
    tmp_path: Path, left: str, right: str, disjoint: bool
) -> None:
    text = (
        client("a", extra='auth_filter = "left"\n')
        + client("b", extra='auth_filter = "right"\n')
        + filt("left", left)
        + filt("right", right)
    )
    config = load(tmp_path, text)
    a, b = (compile_filter(config.filters[f]) for f in ("left", "right"))
    assert provably_disjoint(a, b) is disjoint
    assert provably_disjoint(b, a) is disjoint
    assert len(only(lint(config), "RG6050W")) == (0 if disjoint else 1)


def test_rg6051w_same_secret_for_several_issuers(tmp_path: Path) -> None:
    config = load(tmp_path, client("a", "https://a") + client("b", "https://b"))
    (warning,) = only(lint(config), "RG6051W")
    assert warning.values["issuers"] == "'https://a', 'https://b'"
    assert warning.values["fingerprint"].startswith("sha256:")
    assert LONG_SECRET not in warning.text


def pem_cert(key: rsa.RSAPrivateKey, cn: str) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
    )
    return builder.sign(key, hashes.SHA256()).public_bytes(Encoding.PEM)


def rsa_client(cid: str, issuer: str, store: str) -> str:
    return textwrap.dedent(f"""
        [[client]]
        id = "{cid}"
        issuers = ["{issuer}"]
        algorithms = ["RS256"]
        trust_store = "{store}"
        audiences = ["api"]
    """)


def test_rg6051w_same_public_key_for_several_issuers(tmp_path: Path) -> None:
    (tmp_path / "shared.pem").write_bytes(
        pem_cert(rsa.generate_private_key(public_exponent=65537, key_size=2048), "shared")
    )
    text = rsa_client("a", "https://a", "shared.pem") + rsa_client("b", "https://b", "shared.pem")
    config = load(tmp_path, text)
    (warning,) = lint(config)
    assert warning.message_id == "RG6051W"
    assert warning.values == {
        "fingerprint": config.clients[0].static_keys[0].fingerprint,
        "issuers": "'https://a', 'https://b'",
    }


def test_rg6052w_no_filter_and_any_audience(tmp_path: Path) -> None:
    text = client("a").replace('audiences = ["api"]', 'audiences = "any"')
    assert ids(lint(load(tmp_path, text))) == ["RG6052W"]
    filtered = text.replace('audiences = "any"', 'audiences = "any"\nauth_filter = "f"') + filt(
        "f", 'kind = "host"\nvalue = "h"'
    )
    assert lint(load(tmp_path, filtered)) == []


def test_rg6053w_short_shared_secret(tmp_path: Path) -> None:
    text = client("a", env="RG_SHORT").replace('["HS256"]', '["HS256", "HS512"]')
    (warning,) = lint(load(tmp_path, text))
    assert warning.message_id == "RG6053W"
    assert warning.values == {
        "client": "a",
        "env": "RG_SHORT",
        "length": 20,
        "bits": 512,
        "alg": "HS512",
        "min_bytes": 64,
    }
    assert "short-secret" not in warning.text


def test_rg6054w_small_rsa_key(tmp_path: Path) -> None:
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    (tmp_path / "legacy.pem").write_bytes(pem_cert(small, "legacy"))
    (warning,) = lint(load(tmp_path, rsa_client("a", "https://a", "legacy.pem")))
    assert warning.message_id == "RG6054W"
    assert warning.values == {"client": "a", "kid": "legacy", "bits": 1024}


def test_rg6055w_large_clock_skew(tmp_path: Path) -> None:
    assert lint(load(tmp_path, client("a", extra="clock_skew = 300\n"))) == []
    (warning,) = lint(load(tmp_path, client("a", extra="clock_skew = 301\n")))
    assert warning.message_id == "RG6055W"
    assert warning.values == {"client": "a", "skew": 301}


def test_rg6056w_no_audiences(tmp_path: Path) -> None:
    text = client("a").replace('audiences = ["api"]\n', "")
    (warning,) = lint(load(tmp_path, text))
    assert warning.message_id == "RG6056W"
    assert warning.values == {"client": "a"}
