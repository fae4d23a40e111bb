"""The HTTP service: forward-auth, verify API, publishing, token endpoint, health, metrics,
limits. In-process through httpx's ASGI transport, plus real `realmgate serve` processes for
what needs sockets (discovery between two instances, workers)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from realmgate.config import load_config
from realmgate.errors import ConfigError
from realmgate.server.app import RealmgateApp
from realmgate.server.service import Service
from realmgate.server.settings import surface_settings
from tests.serverkit import ISSUER, Env, make_env


@pytest.fixture
def env(tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> Env:
    return make_env(tmp_path, rsa_key)


def call(
    env: Env,
    method: str,
    path: str,
    *,
    peer: str = "127.0.0.1",
    **kwargs: Any,
) -> httpx.Response:
    """One request to a fresh app over the in-process ASGI transport from ``peer``."""
    app = RealmgateApp(Service(env.config), watch=False)
    return asyncio.run(_call(app, method, path, peer, **kwargs))


async def _call(app: Any, method: str, path: str, peer: str, **kwargs: Any) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, client=(peer, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://gate.test") as client:
        return await client.request(method, path, **kwargs)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# -- forward-auth ---------------------------------------------------------------------------
def test_auth_accepts_and_sends_identity_headers(env: Env) -> None:
    response = call(env, "GET", "/auth", headers=bearer(env.token()))
    assert response.status_code == 200
    assert response.headers["x-realmgate-user"] == "ALICE01"
    assert response.headers["x-realmgate-realm"] == "DEMO"
    assert response.headers["x-realmgate-subject"] == "alice"
    assert response.headers["x-realmgate-client"] == "test-client"
    assert "x-realmgate-message" not in response.headers


def test_auth_post_and_envoy_prefix_are_accepted(env: Env) -> None:
    assert call(env, "POST", "/auth", headers=bearer(env.token())).status_code == 200
    assert call(env, "PUT", "/auth/api/items/7", headers=bearer(env.token())).status_code == 200


def test_expired_token_gets_rfc6750_challenge(env: Env) -> None:
    response = call(env, "GET", "/auth", headers=bearer(env.expired()))
    assert response.status_code == 401
    assert response.headers["x-realmgate-message"] == "RG4001E"
    challenge = response.headers["www-authenticate"]
    match = re.fullmatch(r'Bearer error="invalid_token", error_description="([^"\\]*)"', challenge)
    assert match, challenge
    assert match.group(1).startswith("RG4001E The token expired at")
    assert all(" " <= c <= "~" for c in challenge)
    assert response.text.startswith("RG4001E ")


def test_missing_token_gets_bare_challenge(env: Env) -> None:
    response = call(env, "GET", "/auth")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.headers["x-realmgate-message"] == "RG1001E"


def test_unmapped_identity_is_403(env: Env) -> None:
    response = call(env, "GET", "/auth", headers=bearer(env.token("mallory")))
    assert response.status_code == 403
    assert response.headers["x-realmgate-message"] == "RG5001E"
    assert "www-authenticate" not in response.headers
    assert "mallory" in response.text


def test_garbage_token_is_401_never_500(env: Env) -> None:
    for value in ("Bearer a.b.c", 'Bearer "x', "Basic dXNlcjpwdw==", "Bearer " + "A" * 20000):
        response = call(env, "GET", "/auth", headers={"Authorization": value})
        assert response.status_code in (401, 431), (value[:30], response.status_code)
        assert response.headers["x-realmgate-message"].startswith("RG")


def test_error_detail_id_hides_values(env: Env) -> None:
    env.write('[server]\nerror_detail = "id"\n')
    response = call(env, "GET", "/auth", headers=bearer(env.token("mallory")))
    assert response.status_code == 403
    assert "mallory" not in response.text
    assert response.text.startswith("RG5001E")


def test_quotes_in_description_are_replaced(env: Env) -> None:
    # An expired token whose subject holds a quote and a backslash: the description quotes
    # the claims' values, and neither character may appear inside it (RFC 6750 3).
    bad = env.builder().sign({"iss": ISSUER, "sub": 'a"b\\c', "exp": 1, "iat": 0, "aud": 'x"'})
    response = call(env, "GET", "/auth", headers=bearer(bad))
    assert response.status_code == 401
    inner = response.headers["www-authenticate"].split('error_description="', 1)[1]
    assert inner.endswith('"') and '"' not in inner[:-1] and "\\" not in inner


def test_non_ascii_subject_header_is_percent_encoded(env: Env) -> None:
    env.map("jöhn%", "DEMO", "JOHN01")
    response = call(env, "GET", "/auth", headers=bearer(env.token("jöhn%")))
    assert response.status_code == 200
    assert response.headers["x-realmgate-subject"] == "j%C3%B6hn%25"
    assert unquote(response.headers["x-realmgate-subject"]) == "jöhn%"


# -- trusted proxies ------------------------------------------------------------------------
FILTERED = """
[[auth_filter]]
id = "office"
[[auth_filter.condition]]
kind = "remote_address"
match = "equals"
value = "10.1.2.3"
[[auth_filter.condition]]
kind = "request_url"
match = "contains"
value = "/app/"
"""


def _filtered(env: Env, trusted: str | None) -> None:
    proxies = f'[server]\ntrusted_proxies = ["{trusted}"]\n' if trusted else ""
    text = env.config.read_text().replace(
        "clock_skew = 60\n", 'clock_skew = 60\nauth_filter = "office"\n'
    )
    env.config.write_text(text + FILTERED + proxies)


FORWARDED = {
    "X-Forwarded-For": "10.1.2.3",
    "X-Forwarded-Uri": "/app/page",
    "X-Forwarded-Host": "a.example",
}


def test_forwarded_headers_are_used_from_trusted_proxy(env: Env) -> None:
    _filtered(env, "127.0.0.0/8")
    response = call(env, "GET", "/auth", headers={**bearer(env.token()), **FORWARDED})
    assert response.status_code == 200, response.text


def test_forwarded_headers_are_ignored_from_anyone_else(env: Env) -> None:
    _filtered(env, "192.0.2.0/24")
    response = call(env, "GET", "/auth", headers={**bearer(env.token()), **FORWARDED})
    assert response.status_code == 401
    assert response.headers["x-realmgate-message"] == "RG2004E"


def test_client_written_xff_entries_do_not_win(env: Env) -> None:
    # The client wrote 10.1.2.3 itself; the proxy appended the real address 198.51.100.9.
    _filtered(env, "127.0.0.0/8")
    headers = {**bearer(env.token()), **FORWARDED, "X-Forwarded-For": "10.1.2.3, 198.51.100.9"}
    assert call(env, "GET", "/auth", headers=headers).status_code == 401


def test_original_uri_header_nginx_style(env: Env) -> None:
    _filtered(env, "127.0.0.1/32")
    headers = {**bearer(env.token()), "X-Real-IP": "10.1.2.3", "X-Original-URI": "/app/x?y=1"}
    assert call(env, "GET", "/auth", headers=headers).status_code == 200
    headers["X-Original-URI"] = "/other"
    assert call(env, "GET", "/auth", headers=headers).status_code == 401


# -- verify API -----------------------------------------------------------------------------
def test_verify_api_returns_decision(env: Env) -> None:
    response = call(env, "POST", "/v1/verify", json={"token": env.token()})
    assert response.status_code == 200
    body = response.json()
    assert body["accepted"] is True and body["local_user"] == "ALICE01"
    assert "trace" not in body
    refused = call(env, "POST", "/v1/verify", json={"token": env.expired()}).json()
    assert refused["accepted"] is False and refused["message_id"] == "RG4001E"
    assert refused["status"] == 401 and refused["action"]


def test_verify_api_modes(env: Env) -> None:
    body = call(env, "POST", "/v1/verify", json={"token": env.token(), "mode": "config"}).json()
    assert body["accepted"] is True
    response = call(env, "POST", "/v1/verify", json={"token": env.token(), "mode": "magic"})
    assert response.status_code == 400 and response.headers["x-realmgate-message"] == "RG8031E"


def test_verify_explain_only_for_allowed_callers(env: Env) -> None:
    request = {"token": env.token(), "explain": True}
    local = call(env, "POST", "/v1/verify", json=request).json()
    assert local["trace"] and any(step["stage"] == "jws" for step in local["trace"])
    remote = call(env, "POST", "/v1/verify", json=request, peer="203.0.113.5").json()
    assert "trace" not in remote and remote["trace_withheld"].startswith("RG8014W")


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"not json", 400),
        (b"[1, 2]", 400),
        (b'{"token": 5}', 400),
        (b'{"token": "a", "bogus": 1}', 400),
        (b"{" * 100_000, 413),
        (b'{"token": "a", "discovery_url": "http://x"}', 400),
    ],
)
def test_verify_api_rejects_bad_bodies(env: Env, body: bytes, status: int) -> None:
    response = call(
        env, "POST", "/v1/verify", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == status
    assert response.headers["x-realmgate-message"] == "RG0003E"


# -- routing and limits ---------------------------------------------------------------------
def test_unknown_path_and_method(env: Env) -> None:
    response = call(env, "GET", "/nope")
    assert response.status_code == 404 and response.headers["x-realmgate-message"] == "RG8003E"
    response = call(env, "GET", "/v1/verify")
    assert response.status_code == 405 and response.headers["allow"] == "POST"


def test_oversized_headers_are_431(env: Env) -> None:
    response = call(env, "GET", "/auth", headers={"X-Big": "x" * 20_000})
    assert response.status_code == 431
    assert response.headers["x-realmgate-message"] == "RG8001E"


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    path=st.sampled_from(["/auth", "/auth/x", "/v1/verify", "/v1/token", "/jwks.json", "/readyz"]),
    method=st.sampled_from(["GET", "POST", "PUT", "HEAD", "DELETE"]),
    header=st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=255), max_size=300),
    body=st.binary(max_size=300),
)
def test_no_client_input_gives_500(
    env: Env, path: str, method: str, header: str, body: bytes
) -> None:
    raw = header.encode("latin-1")
    headers = {"Authorization": raw, "X-Forwarded-For": raw, "Content-Type": b"application/json"}
    response = call(env, method, path, headers=headers, content=body)
    assert response.status_code < 500 or response.status_code == 503, response.text


# -- publishing and tokens ------------------------------------------------------------------
def test_jwks_and_discovery_for_single_issuer(env: Env) -> None:
    jwks = call(env, "GET", "/jwks.json").json()
    assert [k["kid"] for k in jwks["keys"]] == ["local"]
    assert "d" not in jwks["keys"][0]
    doc = call(env, "GET", "/.well-known/openid-configuration").json()
    assert doc["issuer"] == ISSUER
    assert doc["jwks_uri"] == "http://gate.test/jwks.json"
    per = call(env, "GET", "/issuers/local/.well-known/openid-configuration").json()
    assert per["issuer"] == ISSUER


def test_discovery_with_two_issuers_needs_per_issuer_paths(env: Env, other_rsa_key: Any) -> None:
    from tests.serverkit import pem_private

    (env.dir / "second.pem").write_bytes(pem_private(other_rsa_key))
    env.write(
        """
        [[issuer]]
        id = "second"
        issuer = "http://gate.test/tenants/two"
        key = "second.pem"
        algorithm = "RS256"
        kid = "second-1"
        """
    )
    response = call(env, "GET", "/.well-known/openid-configuration")
    assert response.status_code == 404 and response.headers["x-realmgate-message"] == "RG8013E"
    doc = call(env, "GET", "/tenants/two/.well-known/openid-configuration").json()
    assert doc["issuer"] == "http://gate.test/tenants/two"
    assert doc["jwks_uri"] == "http://gate.test/issuers/second/jwks.json"
    keys = call(env, "GET", "/issuers/second/jwks.json").json()["keys"]
    assert [k["kid"] for k in keys] == ["second-1"]
    assert len(call(env, "GET", "/jwks.json").json()["keys"]) == 2


def test_token_endpoint_off_by_default(env: Env) -> None:
    response = call(env, "POST", "/v1/token", json={"subject": "bob"}, headers=bearer(env.token()))
    assert response.status_code == 404 and response.headers["x-realmgate-message"] == "RG8010E"


def test_token_endpoint_needs_allowed_caller(env: Env) -> None:
    env.write('[server]\ntoken_endpoint = true\ntoken_issuers_allowed_users = ["ISSUER01"]\n')
    assert call(env, "POST", "/v1/token", json={"subject": "bob"}).status_code == 401
    response = call(env, "POST", "/v1/token", json={"subject": "bob"}, headers=bearer(env.token()))
    assert response.status_code == 403 and response.headers["x-realmgate-message"] == "RG8011E"
    env.map("tokenadmin", "DEMO", "ISSUER01")
    caller = bearer(env.token("tokenadmin"))
    response = call(env, "POST", "/v1/token", json={"subject": "alice", "ttl": 60}, headers=caller)
    assert response.status_code == 200, response.text
    issued = response.json()
    assert issued["token_type"] == "Bearer" and issued["expires_in"] == 60
    check = call(env, "GET", "/auth", headers=bearer(issued["access_token"]))
    assert check.headers["x-realmgate-user"] == "ALICE01"
    too_long = call(env, "POST", "/v1/token", json={"subject": "a", "ttl": 9999}, headers=caller)
    assert too_long.status_code == 400


# -- health and metrics ---------------------------------------------------------------------
def test_health_and_readiness(env: Env) -> None:
    assert call(env, "GET", "/healthz").text == "ok\n"
    ready = call(env, "GET", "/readyz")
    assert ready.status_code == 200
    checks = ready.json()["checks"]
    assert checks["registry"]["ok"] and checks["keys:test-client"]["ok"]


def test_readiness_fails_when_registry_unreadable(env: Env) -> None:
    (env.dir / "broken.db").write_bytes(b"this is not an SQLite database" * 100)
    env.config.write_text(
        env.config.read_text().replace('path = "registry.db"', 'path = "broken.db"')
    )
    ready = call(env, "GET", "/readyz")
    assert ready.status_code == 503
    assert ready.headers["x-realmgate-message"] == "RG8030E"
    assert ready.json()["checks"]["registry"]["ok"] is False


def test_metrics_count_decisions_by_message_id(env: Env) -> None:
    app = RealmgateApp(Service(env.config), watch=False)

    async def scenario() -> str:
        await _call(app, "GET", "/auth", "127.0.0.1", headers=bearer(env.token()))
        await _call(app, "GET", "/auth", "127.0.0.1", headers=bearer(env.expired()))
        await _call(app, "GET", "/auth", "127.0.0.1", headers=bearer(env.expired()))
        return (await _call(app, "GET", "/metrics", "127.0.0.1")).text

    text = asyncio.run(scenario())
    assert (
        'realmgate_decisions_total{endpoint="auth",result="accepted",message_id="",status="200"} 1'
        in text
    )
    refused = 'result="refused",message_id="RG4001E",status="401"} 2'
    assert 'realmgate_decisions_total{endpoint="auth",' + refused in text
    assert 'realmgate_decision_seconds_bucket{le="+Inf"} 3' in text
    assert "realmgate_decision_seconds_count 3" in text
    assert 'realmgate_reloads_total{result="ok"} 0' in text
    for line in text.splitlines():
        assert line.startswith("#") or re.fullmatch(r"[a-z_]+(\{.*\})? \S+", line), line


# -- settings validation --------------------------------------------------------------------
def test_server_settings_problems_have_file_and_line(env: Env) -> None:
    env.write(
        '[server]\ntrusted_proxys = ["10.0.0.0/8"]\nexplain_from = ["not-an-ip"]\n'
        "token_endpoint = true\n"
    )
    with pytest.raises(ConfigError) as info:
        surface_settings(load_config(env.config))
    texts = [p.text for p in info.value.problems]
    name = str(env.config)
    assert any(t.startswith(f"RG6003E {name}:") and "trusted_proxies" in t for t in texts), texts
    assert any(t.startswith("RG6004E") and "not-an-ip" in t for t in texts), texts
    assert any(t.startswith("RG8005E") and "token_issuers_allowed_users" in t for t in texts)


def test_admin_settings_need_token_env(env: Env) -> None:
    env.write('[admin]\nenabled = true\nlisten = "127.0.0.1:9999"\n')
    with pytest.raises(ConfigError) as info:
        surface_settings(load_config(env.config))
    assert "token_env" in info.value.problems[0].text
