"""OIDC discovery and the verify API modes (verify_jwt, verify_jwt_using_discovery,
verify_jwt_using_config), with the discovery allow-list checked before any request."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from realmgate import ConfigError, Verifier
from realmgate.config import parse_config
from realmgate.keys.discovery import WELL_KNOWN, DiscoveryAllow
from realmgate.modes import NEW_ISSUER_LIMIT
from realmgate.registry import MappingRule, SQLiteRegistry
from tests.conftest import CliResult
from tests.keyserver import Issuer, KeyServer, key_server


@pytest.fixture
def server() -> Iterator[KeyServer]:
    with key_server() as srv:
        yield srv


@pytest.fixture(scope="module")
def rsa_keys() -> dict[str, rsa.RSAPrivateKey]:
    return {k: rsa.generate_private_key(public_exponent=65537, key_size=2048) for k in "AB"}


@pytest.fixture
def issuer(server: KeyServer, rsa_keys: dict[str, rsa.RSAPrivateKey]) -> Issuer:
    """The loopback server as an OpenID Provider: discovery document + JWK Set."""
    op = Issuer(server.base, rsa_keys)
    publish(server, op)
    return op


def publish(server: KeyServer, op: Issuer, prefix: str = "", **doc: Any) -> None:
    document = {"issuer": op.iss, "jwks_uri": server.url(prefix + "/jwks"), **doc}
    server.set(prefix + WELL_KNOWN, {k: v for k, v in document.items() if v is not None})
    server.set(prefix + "/jwks", op.jwks())


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "realmgate.toml"
    path.write_text(text)
    return path


def verifier(tmp_path: Path, text: str, rules: tuple[tuple[str, str], ...] = ()) -> Verifier:
    registry = SQLiteRegistry(tmp_path / "registry.db")
    for realm, local_user in rules:
        registry.add(MappingRule("*", realm, local_user))
    return Verifier(parse_config(text, str(write(tmp_path, text))), registry=registry)


def definition(iss: str, ident: str = "op", source: str = "discovery = true", **extra: Any) -> str:
    lines = "\n".join(f"{k} = {json.dumps(v)}" for k, v in extra.items())
    return f"""
[[client]]
id = "{ident}"
issuers = ["{iss}"]
algorithms = ["RS256"]
{source}
allow_insecure_http = true
audiences = ["api"]
map_to_registry_user = true
{lines}
"""


def allow(*entries: str) -> str:
    return f"[discovery]\nallow = {json.dumps(list(entries))}\n"


def test_discovery_true_derives_the_document_from_the_issuer(
    tmp_path: Path, server: KeyServer, issuer: Issuer
):
    v = verifier(tmp_path, definition(issuer.iss))
    for _ in range(3):
        decision = v.verify(issuer.token("A"))
        assert decision.accepted, decision.reason
    assert [r.path for r in server.requests()] == [WELL_KNOWN, "/jwks"]
    assert [h["status"] for h in v.key_health()["op"]] == ["fresh", "fresh"]
    assert v.verify_jwt_using_config(issuer.token("B")).client_id == "op"


def test_discovery_document_naming_another_issuer_is_refused(
    tmp_path: Path, server: KeyServer, issuer: Issuer
):
    publish(server, Issuer(server.base + "/", {}))  # same issuer but for the trailing slash
    decision = verifier(tmp_path, definition(issuer.iss)).verify(issuer.token("A"))
    assert decision.message_id == "RG7020E" and decision.status == 503
    assert f"names issuer '{server.base}/', not the expected '{server.base}'" in (
        decision.reason or ""
    )
    assert [r.path for r in server.requests()] == [WELL_KNOWN]  # no JWKS from that document


@pytest.mark.parametrize("mode", ["verify_jwt", "verify_jwt_using_discovery"])
def test_issuer_outside_discovery_allow_costs_no_request(
    tmp_path: Path, server: KeyServer, issuer: Issuer, mode: str
):
    config = allow("https://idp.example.com", "*.example.org") + definition(
        "https://configured.example", source='jwks_uri = "https://configured.example/jwks"'
    )
    v = verifier(tmp_path, config)
    decision = getattr(v, mode)(issuer.token("A"))
    assert decision.message_id == "RG7022E" and decision.status == 401
    assert "no request was made" in (decision.reason or "")
    assert "'https://idp.example.com', '*.example.org'" in (decision.reason or "")
    assert server.requests() == []


def test_verify_jwt_discovers_an_allowed_issuer_and_maps_it(
    tmp_path: Path, server: KeyServer, issuer: Issuer
):
    v = verifier(tmp_path, allow(issuer.iss), rules=((issuer.iss, "svc"),))
    decision = v.verify_jwt(issuer.token("A", subject="robot"))
    assert decision.accepted, decision.reason
    assert decision.client_id == f"discovery for {issuer.iss}"
    assert (decision.local_user, decision.realm, decision.realm_source) == (
        "svc",
        issuer.iss,
        "definition",
    )
    assert v.verify_jwt_using_discovery(issuer.token("B")).accepted
    assert v.verify_jwt_using_config(issuer.token("A")).message_id == "RG2001E"
    assert [r.path for r in server.requests()] == [WELL_KNOWN, "/jwks"]
    assert f"discovery for {issuer.iss}" in v.key_health()


def test_configured_definition_wins_and_shares_the_cache(
    tmp_path: Path, server: KeyServer, issuer: Issuer
):
    v = verifier(tmp_path, allow(issuer.iss) + definition(issuer.iss), rules=((issuer.iss, "x"),))
    assert v.verify_jwt(issuer.token("A")).client_id == "op"
    assert v.verify_jwt_using_discovery(issuer.token("A")).accepted
    assert len(server.requests()) == 2  # one discovery document, one JWK Set, for all modes


def test_explicit_discovery_url_skips_the_allow_list_but_not_the_issuer_match(
    tmp_path: Path, server: KeyServer, issuer: Issuer, rsa_keys: dict[str, rsa.RSAPrivateKey]
):
    publish(server, issuer, prefix="/custom")
    v = verifier(tmp_path, allow(), rules=((issuer.iss, "svc"),))
    url = server.url("/custom" + WELL_KNOWN)
    assert v.verify_jwt_using_discovery(issuer.token("A"), url).accepted
    stranger = Issuer("https://stranger.example", rsa_keys)
    decision = v.verify_jwt_using_discovery(stranger.token("A"), url)
    assert decision.message_id == "RG7021E" and decision.status == 401
    assert "'https://stranger.example' is not the issuer" in (decision.reason or "")


def test_algorithms_come_from_the_discovery_document(
    tmp_path: Path, server: KeyServer, issuer: Issuer
):
    publish(server, issuer, id_token_signing_alg_values_supported=["ES256", "HS256"])
    v = verifier(tmp_path, allow(issuer.iss), rules=((issuer.iss, "svc"),))
    hs = issuer.sign("A", {"iss": issuer.iss, "sub": "x", "exp": int(time.time()) + 60})
    decision = v.verify_jwt(json_header(hs, alg="HS256"))
    assert decision.message_id == "RG7023E" and "nothing was fetched" in (decision.reason or "")
    assert server.requests() == []  # refused before any request
    decision = v.verify_jwt(issuer.token("A"))
    assert decision.message_id == "RG7023E"
    assert "allowed ['ES256']" in (decision.reason or "")  # HS256 never, whatever it says
    assert "lists ['ES256', 'HS256']" in (decision.reason or "")


def json_header(token: str, **header: str) -> str:
    """``token`` with its protected header replaced (signature left as is)."""
    raw = json.dumps({"typ": "JWT", "kid": "A", **header}).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode() + token[token.index(".") :]


def test_use_issuer_selects_among_definitions_sharing_an_issuer(
    tmp_path: Path, server: KeyServer, issuer: Issuer
):
    two = definition(issuer.iss, "first") + definition(issuer.iss, "second")
    v = verifier(tmp_path, two)
    assert v.verify(issuer.token("A")).client_id == "first"  # the request pipeline: file order
    decision = v.verify_jwt_using_config(issuer.token("A"))
    assert decision.message_id == "RG7024E"
    assert "none says use_issuer = true" in (decision.reason or "")
    marked = definition(issuer.iss, "first") + definition(issuer.iss, "second", use_issuer=True)
    assert verifier(tmp_path, marked).verify_jwt(issuer.token("A")).client_id == "second"
    forced = definition(issuer.iss, "first", allow_issuer_selection=True) + definition(
        issuer.iss, "second"
    )
    assert verifier(tmp_path, forced).verify_jwt_using_config(issuer.token("A")).client_id == (
        "first"
    )
    off = verifier(tmp_path, definition(issuer.iss, use_issuer=False))
    assert off.verify_jwt_using_config(issuer.token("A")).message_id == "RG7024E"
    off_allowed = verifier(
        tmp_path,
        allow(issuer.iss) + definition(issuer.iss, use_issuer=False),
        rules=((issuer.iss, "svc"),),
    )
    decision = off_allowed.verify_jwt(issuer.token("A"))  # excluded: discovery instead
    assert decision.accepted and decision.client_id == f"discovery for {issuer.iss}"


def test_two_use_issuer_definitions_are_a_config_error(tmp_path: Path, issuer: Issuer):
    text = definition(issuer.iss, "first", use_issuer=True) + definition(
        issuer.iss, "second", use_issuer=True
    )
    with pytest.raises(ConfigError) as caught:
        parse_config(text, str(write(tmp_path, text)))
    assert [p.message_id for p in caught.value.problems] == ["RG6013E"]


def test_default_issuer_and_missing_iss(tmp_path: Path, server: KeyServer, issuer: Issuer):
    v = verifier(tmp_path, allow(issuer.iss) + definition(issuer.iss))
    token = issuer.sign("A", {"sub": "alice", "aud": "api", "exp": int(time.time()) + 60})
    assert v.verify_jwt_using_config(token).message_id == "RG2002E"
    assert v.verify_jwt_using_config(token, default_issuer=issuer.iss).accepted
    assert v.verify_jwt(token, issuer.iss).accepted
    assert v.verify_jwt_using_discovery(token).message_id == "RG7025E"


def test_new_issuers_per_window_are_bounded(tmp_path: Path, server: KeyServer, issuer: Issuer):
    issuers = [Issuer(f"{server.base}/t{i}", issuer.keys) for i in range(NEW_ISSUER_LIMIT + 1)]
    for op in issuers:
        publish(server, op, prefix=op.iss[len(server.base) :])
    v = verifier(tmp_path, allow(*(op.iss for op in issuers)), rules=((("*"), "svc"),))
    for op in issuers[:-1]:
        assert v.verify_jwt(op.token("A")).accepted
    decision = v.verify_jwt(issuers[-1].token("A"))
    assert decision.message_id == "RG7026E" and decision.status == 503
    assert not [r for r in server.requests() if r.path.startswith(f"/t{NEW_ISSUER_LIMIT}/")]
    assert v.verify_jwt(issuers[0].token("A")).accepted  # known issuers are unaffected


@pytest.mark.parametrize(
    ("issuer", "allowed"),
    [
        ("https://idp.example.com", True),
        ("https://idp.example.com/", False),  # exact entries are exact
        ("https://a.example.org", True),
        ("https://a.b.example.org/realms/x", True),
        ("https://example.org", False),  # *.example.org is below example.org only
        ("https://a.example.org:8443", False),  # another port needs its own entry
        ("https://a.example.org:443", True),
        ("https://api.example.net:8443/x", True),
        ("https://api.example.net/x", False),
        ("http://a.example.org", False),  # patterns are https only
        ("https://a.example.org.evil.test", False),
        ("https://evil.test/a.example.org", False),
        ("https://a.example.org@evil.test", False),
        ("https://evil.test#@a.example.org", False),
        ("https://A.Example.ORG", True),  # host names are case-insensitive
        ("https://a.example.org?x=1", False),
        ("https://*.example.org", False),
        ("https://xn--80ak6aa92e.example.org", True),
        ("https://аpple.example.org", False),  # a Cyrillic 'а': not ASCII
        ("not a url", False),
    ],
)
def test_discovery_allow_patterns(issuer: str, allowed: bool):
    rules = DiscoveryAllow(
        ["https://idp.example.com", "*.example.org", "api.example.net:8443", "bad pattern!"]
    )
    assert rules.allows(issuer) is allowed


def test_cli_modes(
    tmp_path: Path, server: KeyServer, issuer: Issuer, cli: Callable[..., CliResult]
):
    registry = SQLiteRegistry(tmp_path / "registry.db")
    registry.add(MappingRule("*", issuer.iss, "svc"))
    registry.close()
    text = '[registry]\npath = "registry.db"\n' + allow(issuer.iss)
    path = write(tmp_path, text + definition(issuer.iss, use_issuer=True))
    token = issuer.token("A")
    for mode in ("config", "auto", "discovery"):
        result = cli("verify", "-c", str(path), "--mode", mode, "-t", token)
        assert result.code == 0, result.out + result.err
    custom = server.url(WELL_KNOWN)
    result = cli(
        "verify", "-c", str(path), "--mode", "discovery", "--discovery-url", custom, "-t", token
    )
    assert result.code == 0, result.out
    result = cli("verify", "-c", str(path), "--discovery-url", custom, "-t", token)
    assert result.code == 2 and "--discovery-url needs --mode discovery" in result.err
    stranger = Issuer("https://stranger.example", issuer.keys).token("A")
    result = cli("explain", "-c", str(path), "--mode", "auto", "-t", stranger)
    assert result.code == 1 and "RG7022E" in result.out
