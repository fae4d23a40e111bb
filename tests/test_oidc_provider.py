"""Against a real, externally written OpenID Provider: panva's ``oidc-provider`` (npm, pinned
in tests/oidc/package-lock.json), started on loopback with its own generated keys.

It issues RFC 9068 JWT access tokens (client_credentials grant); realmgate verifies them
through discovery, then the provider rotates its signing key: the new kid is fetched once,
and tokens signed before the rotation keep passing until they expire.

Needs node and ``npm ci`` in tests/oidc (scripts/system-deps.sh does it). Without them the
tests skip saying why; under ``CI=true`` they fail instead.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx
import pytest

from realmgate import Verifier
from realmgate.config import parse_config
from realmgate.registry import MappingRule, SQLiteRegistry

HERE = Path(__file__).resolve().parent / "oidc"
CLIENT = ("realmgate-test", "realmgate-loopback-test-secret-not-used-elsewhere")
AUDIENCE = "urn:realmgate:test-api"
TOKEN_TTL = 60
COOLDOWN = 0.2


def _need(ok: bool, reason: str) -> None:
    if ok:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (required under CI=true)")
    pytest.skip(reason)


@dataclass
class Provider:
    issuer: str
    kid: str
    process: subprocess.Popen[str]

    def token(self) -> str:
        response = httpx.post(
            f"{self.issuer}/token",
            data={"grant_type": "client_credentials", "scope": "api"},
            auth=CLIENT,
            timeout=10,
        )
        response.raise_for_status()
        return str(response.json()["access_token"])

    def rotate(self) -> dict[str, str]:
        response = httpx.post(f"{self.issuer}/__test/rotate", timeout=10)
        response.raise_for_status()
        return dict(response.json())

    def served(self, path: str) -> int:
        log = httpx.get(f"{self.issuer}/__test/requests", timeout=10).json()
        return sum(1 for line in log if line == f"GET {path}")


def _lines(stream: IO[str], out: queue.Queue[str]) -> None:
    for line in stream:  # keep draining so the provider never blocks on a full pipe
        out.put(line)


@pytest.fixture
def provider(tmp_path: Path) -> Iterator[Provider]:
    node = shutil.which("node")
    _need(node is not None, "node is not installed")
    _need(
        (HERE / "node_modules" / "oidc-provider").is_dir(),
        "tests/oidc/node_modules missing: run scripts/system-deps.sh (npm ci)",
    )
    assert node is not None
    stderr = (tmp_path / "provider.stderr").open("w")
    process = subprocess.Popen(
        [node, "provider.mjs", "0", str(TOKEN_TTL)],
        cwd=HERE,
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    assert process.stdout is not None
    threading.Thread(target=_lines, args=(process.stdout, lines), daemon=True).start()
    try:
        try:
            ready = json.loads(lines.get(timeout=20))
        except queue.Empty:
            stderr.flush()
            pytest.fail(
                "oidc-provider did not start: " + (tmp_path / "provider.stderr").read_text()
            )
        yield Provider(ready["issuer"], ready["kid"], process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        stderr.close()


def _verifier(tmp_path: Path, op: Provider, **kwargs: Any) -> Verifier:
    text = f"""
[discovery]
allow = ["{op.issuer}"]

[[client]]
id = "op"
issuers = ["{op.issuer}"]
algorithms = ["RS256"]
discovery = true
allow_insecure_http = true
audiences = ["{AUDIENCE}"]
clock_skew = 0
map_to_registry_user = true
jwks_unknown_kid_cooldown = {COOLDOWN}
"""
    registry = SQLiteRegistry(tmp_path / "registry.db")
    if not registry.rules():
        registry.add(MappingRule("*", op.issuer, "svc"))
    config = parse_config(text, str(tmp_path / "realmgate.toml"))
    return Verifier(config, registry=registry, **kwargs)


def _kid(token: str) -> str:
    import base64

    header = token.split(".")[0]
    return str(json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["kid"])


def test_tokens_of_a_real_provider_verify_through_discovery(tmp_path: Path, provider: Provider):
    verifier = _verifier(tmp_path, provider)
    token = provider.token()
    assert _kid(token) == provider.kid
    decision = verifier.verify_jwt_using_config(token)
    assert decision.accepted, decision.reason
    assert decision.subject == CLIENT[0] and decision.key_id == provider.kid
    assert decision.claims["aud"] == AUDIENCE
    # The dynamic discovery mode reaches the same documents through the shared cache.
    decision = verifier.verify_jwt_using_discovery(provider.token())
    assert decision.accepted, decision.reason
    assert decision.local_user == "svc"
    assert provider.served("/.well-known/openid-configuration") == 1
    assert provider.served("/jwks") == 1


def test_key_rotation_fetches_the_new_kid_once_and_old_tokens_pass_until_expiry(
    tmp_path: Path, provider: Provider
):
    verifier = _verifier(tmp_path, provider)
    old = provider.token()
    assert verifier.verify_jwt(old).accepted
    assert provider.served("/jwks") == 1
    time.sleep(COOLDOWN + 0.05)  # the first fetch's cool-down is over
    rotated = provider.rotate()
    assert rotated["previous"] == provider.kid
    new = provider.token()
    assert _kid(new) == rotated["kid"] != _kid(old)
    for _ in range(10):
        decision = verifier.verify_jwt(new)
        assert decision.accepted, decision.reason
        assert decision.key_id == rotated["kid"]
    assert provider.served("/jwks") == 2  # the new kid caused exactly one refetch
    health = verifier.key_health()["op"]
    assert [h["unknown_kid_refetches"] for h in health] == [0, 1]
    assert verifier.verify_jwt(old).accepted  # the old key is still published and cached
    assert provider.served("/jwks") == 2
    # "Until they expire": judged one second before its exp the old token passes, one second
    # after it is refused. The key cache is shared by these verifiers: no new fetch.
    exp = float(json.loads(_payload(old))["exp"])
    assert _verifier(tmp_path, provider, clock=lambda: exp - 1).verify_jwt(old).accepted
    expired = _verifier(tmp_path, provider, clock=lambda: exp + 1).verify_jwt(old)
    assert expired.message_id == "RG4001E", expired.reason
    assert provider.served("/jwks") == 2


def _payload(token: str) -> str:
    import base64

    part = token.split(".")[1]
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)).decode()
