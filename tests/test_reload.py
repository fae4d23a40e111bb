"""Live reload: file watching, SIGHUP, refused configurations, under load, on a real server."""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from realmgate.config import load_config
from realmgate.server.reload import describe_changes, file_signature
from realmgate.server.service import Service
from realmgate.server.settings import surface_settings
from tests.serverkit import Env, make_env, serve

NEW_CLIENT = """
[[client]]
id = "newcomer"
issuers = ["NEW-ISSUER"]
algorithms = ["RS256"]
trust_store = "truststore"
audiences = "any"
realm = "NEWREALM"
"""


@pytest.fixture
def env(tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> Env:
    return make_env(tmp_path, rsa_key)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class Load:
    """Sends /auth requests with a good token from a thread; counts every failure."""

    def __init__(self, url: str, token: str) -> None:
        self.url, self.token = url, token
        self.ok = 0
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(timeout=5) as client:
            while not self._stop.is_set():
                try:
                    response = client.get(self.url + "/auth", headers=bearer(self.token))
                except httpx.HTTPError as exc:
                    self.failures.append(repr(exc))
                    continue
                if response.status_code == 200:
                    self.ok += 1
                else:
                    self.failures.append(f"{response.status_code} {response.text[:120]}")

    def __enter__(self) -> Load:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)


def until(check: Callable[[], bool], limit: float) -> float:
    """Seconds until ``check()`` holds; fails after ``limit`` seconds."""
    start = time.monotonic()
    while time.monotonic() - start < limit:
        if check():
            return time.monotonic() - start
        time.sleep(0.05)
    raise AssertionError(f"not in effect within {limit}s")


def status(url: str, token: str) -> int:
    return httpx.get(url + "/auth", headers=bearer(token), timeout=5).status_code


def test_config_and_trust_store_edits_under_load(env: Env, other_rsa_key: Any) -> None:
    env.map("alice", "NEWREALM", "ALICE02")
    partner = env.builder(other_rsa_key, kid="partner").build("alice")
    newcomer = env.builder(issuer="NEW-ISSUER").build("alice")
    with serve(env.config) as server, Load(server.url, env.token()) as load:
        time.sleep(0.3)
        assert status(server.url, partner) == 401
        assert status(server.url, newcomer) == 401

        env.trust(other_rsa_key, "partner")  # trust store: a new certificate
        took = until(lambda: status(server.url, partner) == 200, 2.0)

        env.write(NEW_CLIENT)  # configuration: a new definition
        took = max(took, until(lambda: status(server.url, newcomer) == 200, 2.0))
        identity = httpx.get(server.url + "/auth", headers=bearer(newcomer), timeout=5)
        assert identity.headers["x-realmgate-user"] == "ALICE02"

        env.config.write_text("[[client]\nthis is not toml")  # broken: refused, old serves
        time.sleep(1.5)
        assert status(server.url, newcomer) == 200
        assert status(server.url, partner) == 200

        env.write("")  # a valid configuration again, without the newcomer
        until(lambda: status(server.url, newcomer) == 401, 2.0)
        (env.dir / "truststore" / "partner.pem").unlink()  # certificate removed
        until(lambda: status(server.url, partner) == 401, 2.0)
        metrics = httpx.get(server.url + "/metrics", timeout=5).text
    assert load.failures == [], load.failures[:5]
    assert load.ok > 50
    assert took < 2.0
    log = server.output()
    assert "RG8022E" in log and "RG6002E" in log  # the refusal and its reason
    assert "client 'newcomer' added" in log and "client 'test-client': keys changed" in log
    assert 'realmgate_reloads_total{result="refused"} 1' in metrics


def test_sighup_reloads_when_watching_is_off(env: Env) -> None:
    env.write("[server]\nwatch = false\n")
    env.map("alice", "NEWREALM", "ALICE02")
    newcomer = env.builder(issuer="NEW-ISSUER").build("alice")
    with serve(env.config) as server:
        env.write("[server]\nwatch = false\n" + NEW_CLIENT)
        time.sleep(1.2)
        assert status(server.url, newcomer) == 401  # not watching: nothing happened
        server.proc.send_signal(signal.SIGHUP)
        until(lambda: status(server.url, newcomer) == 200, 2.0)
    assert "(SIGHUP)" in server.output()


def test_reload_refuses_broken_config_in_process(env: Env) -> None:
    service = Service(env.config)
    generation = service.state.generation
    env.config.write_text(env.config.read_text() + '\n[server]\nport = "eighty"\n')
    outcome = asyncio.run(service.reload("test"))
    assert not outcome.ok and outcome.generation == generation
    assert any(p.startswith("RG6004E") and "port" in p for p in outcome.problems)
    assert service.state.generation == generation
    env.write('[server]\nerror_detail = "id"\n')
    outcome = asyncio.run(service.reload("test"))
    assert outcome.ok and outcome.generation != generation
    assert outcome.changes == ("[server] changed",)
    assert service.state.settings.server.error_detail == "id"


def test_describe_changes(env: Env) -> None:
    old = load_config(env.config)
    env.write(NEW_CLIENT + "\n[limits]\nmax_token_bytes = 9000\n")
    text = env.config.read_text().replace("clock_skew = 60", "clock_skew = 30")
    env.config.write_text(text)
    new = load_config(env.config)
    changes = describe_changes(old, new, surface_settings(old), surface_settings(new))
    assert "client 'newcomer' added" in changes
    assert "client 'test-client': clock_skew changed" in changes
    assert "limits changed" in changes


def test_file_signature_sees_directory_entries(env: Env, other_rsa_key: Any) -> None:
    store = str(env.dir / "truststore")
    before = file_signature([store])
    env.trust(other_rsa_key, "partner")
    assert file_signature([store]) != before
