"""`realmgate serve` as a real process: discovery between two instances, pre-forked workers,
refusal of a bad configuration, logs without tokens."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from realmgate.registry import MappingRule, SQLiteRegistry
from tests.serverkit import ISSUER, Env, make_env, serve


@pytest.fixture
def env(tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> Env:
    return make_env(tmp_path, rsa_key)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


RELYING = """\
[registry]
path = "registry.db"

[[client]]
id = "peer"
issuers = ["{issuer}"]
algorithms = ["RS256"]
discovery = "{url}/.well-known/openid-configuration"
allow_insecure_http = true
audiences = "any"
realm = "PEER"
"""


def test_one_realmgate_trusts_another_via_discovery(tmp_path: Path, rsa_key: Any) -> None:
    publisher = make_env(tmp_path / "a", rsa_key)
    with serve(publisher.config) as server_a:
        relying = tmp_path / "b"
        relying.mkdir()
        (relying / "realmgate.toml").write_text(RELYING.format(issuer=ISSUER, url=server_a.url))
        registry = SQLiteRegistry(relying / "registry.db")
        registry.add(MappingRule("alice", "PEER", "PEERALICE"))
        registry.close()
        with serve(relying / "realmgate.toml") as server_b:
            response = httpx.get(
                server_b.url + "/auth", headers=bearer(publisher.token()), timeout=10
            )
            assert response.status_code == 200, response.text
            assert response.headers["x-realmgate-user"] == "PEERALICE"
            assert response.headers["x-realmgate-client"] == "peer"
            metrics = httpx.get(server_b.url + "/metrics", timeout=5).text
            assert re.search(r'realmgate_key_fetches_total\{client="peer"\} [1-9]', metrics)
            ready = httpx.get(server_b.url + "/readyz", timeout=5).json()
            assert "fresh" in ready["checks"]["keys:peer"]["detail"], ready


def test_serve_with_workers_shares_the_port(env: Env) -> None:
    with serve(env.config, "--workers", "2") as server:
        for _ in range(20):
            response = httpx.get(server.url + "/auth", headers=bearer(env.token()), timeout=5)
            assert response.status_code == 200
        assert server.stop() == 0
    assert "2 worker(s)" in server.output()


def test_serve_refuses_bad_config_with_messages(env: Env, cli: Any) -> None:
    env.write("[server]\nport = 99999\n")
    result = cli("serve", "--config", str(env.config))
    assert result.code == 2
    assert "RG6004E" in result.err and "65535" in result.err


def test_json_log_never_holds_the_token(env: Env) -> None:
    env.write('[trace]\nspec = "*=info:realmgate.decision=fine"\n')
    token = env.token()
    with serve(env.config, "--log-format", "json") as server:
        httpx.get(server.url + "/auth", headers=bearer(token), timeout=5)
        server.stop()
    out = server.output()
    assert token not in out and token.split(".")[2] not in out
    assert any(
        json.loads(line).get("logger", "").startswith("realmgate")
        for line in out.splitlines()
        if line.startswith("{")
    )


OFFICE_ONLY = """\
auth_filter = "office"

[[auth_filter]]
id = "office"
[[auth_filter.condition]]
kind = "remote_address"
match = "equals"
value = "10.9.9.9"
"""


def test_forwarded_for_is_believed_only_from_configured_proxies(env: Env) -> None:
    """uvicorn's own proxy-header handling (it believes X-Forwarded-For from 127.0.0.1 by
    default) must be off: only ``[server] trusted_proxies`` decides whose forwarded headers
    count, or a local client could pass a remote-address filter by writing the header."""
    env.write(OFFICE_ONLY)
    spoofed = {**bearer(env.token()), "X-Forwarded-For": "10.9.9.9"}
    with serve(env.config) as server:
        response = httpx.get(server.url + "/auth", headers=spoofed, timeout=10)
        assert response.status_code == 401, response.text
        assert response.headers["x-realmgate-message"].startswith("RG2")
    env.write(OFFICE_ONLY + '\n[server]\ntrusted_proxies = ["127.0.0.1/32"]\n')
    with serve(env.config) as server:
        response = httpx.get(server.url + "/auth", headers=spoofed, timeout=10)
        assert response.status_code == 200, response.text
        assert response.headers["x-realmgate-user"] == "ALICE01"
