"""The admin listener: off by default, separate, authenticated; mappings, reload, trace."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.serverkit import Env, free_port, make_env, serve

TOKEN = "admin-token-0123456789abcdef"


@pytest.fixture
def env(tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> Env:
    return make_env(tmp_path, rsa_key)


def admin_config(port: int) -> str:
    return f'[admin]\nenabled = true\nlisten = "127.0.0.1:{port}"\ntoken_env = "RG_ADMIN"\n'


def auth(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_admin_endpoints(env: Env) -> None:
    port = free_port()
    env.write(admin_config(port))
    admin = f"http://127.0.0.1:{port}/admin"
    with serve(env.config, env={"RG_ADMIN": TOKEN}) as server:
        assert httpx.get(admin + "/mappings", timeout=5).status_code == 401
        wrong = httpx.get(admin + "/mappings", headers=auth("x" * 30), timeout=5)
        assert wrong.status_code == 401 and wrong.headers["x-realmgate-message"] == "RG8020E"
        listed = httpx.get(admin + "/mappings", headers=auth(), timeout=5).json()
        assert [m["local_user"] for m in listed["mappings"]] == ["ALICE01"]

        bob = env.token("bob")
        check = httpx.get(server.url + "/auth", headers={"Authorization": f"Bearer {bob}"})
        assert check.status_code == 403
        rule = {"user": "bob", "realm": "DEMO", "local_user": "BOB01"}
        added = httpx.post(admin + "/mappings", json=rule, headers=auth(), timeout=5)
        assert added.status_code == 201, added.text
        check = httpx.get(server.url + "/auth", headers={"Authorization": f"Bearer {bob}"})
        assert check.status_code == 200 and check.headers["x-realmgate-user"] == "BOB01"
        again = httpx.post(admin + "/mappings", json=rule, headers=auth(), timeout=5)
        assert again.status_code == 409 and again.headers["x-realmgate-message"] == "RG5005E"
        removed = httpx.request(
            "DELETE", admin + "/mappings", json={"user": "bob", "realm": "DEMO"}, headers=auth()
        )
        assert removed.status_code == 200
        check = httpx.get(server.url + "/auth", headers={"Authorization": f"Bearer {bob}"})
        assert check.status_code == 403

        reloaded = httpx.post(admin + "/reload", headers=auth(), timeout=10).json()
        assert reloaded["ok"] is True
        env.config.write_text(env.config.read_text() + "\n[server]\nbogus = 1\n")
        refused = httpx.post(admin + "/reload", headers=auth(), timeout=10)
        assert refused.status_code == 422
        assert any("RG6003E" in p and "bogus" in p for p in refused.json()["problems"])

        spec = {"spec": "*=info:realmgate.decision=fine"}
        traced = httpx.put(admin + "/trace", json=spec, headers=auth(), timeout=5).json()
        assert "realmgate.decision=fine" in traced["spec"]
        status = httpx.get(admin + "/status", headers=auth(), timeout=5).json()
        assert status["config"].endswith("realmgate.toml")
        # Admin endpoints are not on the main listener.
        assert httpx.get(server.url + "/admin/mappings", headers=auth()).status_code == 404


def test_admin_on_unix_socket_is_private(env: Env, tmp_path: Path) -> None:
    sock = tmp_path / "admin.sock"
    env.write(f'[admin]\nenabled = true\nsocket = "{sock}"\ntoken_env = "RG_ADMIN"\n')
    with serve(env.config, env={"RG_ADMIN": TOKEN}):
        transport = httpx.HTTPTransport(uds=str(sock))
        with httpx.Client(transport=transport, base_url="http://admin") as client:
            assert client.get("/admin/mappings", headers=auth()).status_code == 200
        assert stat.S_IMODE(sock.stat().st_mode) == 0o600


def test_admin_without_token_refuses_to_start(env: Env, cli: Any, monkeypatch: Any) -> None:
    env.write(admin_config(free_port()))
    monkeypatch.setenv("RG_ADMIN", "short")
    result = cli("serve", "--config", str(env.config), "--port", str(free_port()))
    assert result.code == 2
    assert "RG8042E" in result.err and "$RG_ADMIN" in result.err
