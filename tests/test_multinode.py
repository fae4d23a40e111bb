"""Two ``realmgate serve`` nodes sharing one PostgreSQL registry and one Redis replay store,
configured by the files of examples/multinode (docs/deploy.md): a mapping added through node
A is used by node B within 1 s; a token accepted by A is a replay at B; a revocation made on
B applies on A; stopping Redis gives each definition's configured behaviour and readiness
says so; restarting PostgreSQL mid-traffic loses no committed mapping and both nodes
reconnect by themselves.

The tests that stop or restart a server hold the services lock exclusively (no other test
using PostgreSQL or Redis runs meanwhile, in this or another pytest process) and restore the
server in ``finally`` blocks, whatever happens."""

from __future__ import annotations

import contextlib
import json
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from realmgate.keys.signing import self_signed_certificate
from tests import services
from tests.serverkit import REALMGATE, ServerProcess, free_port, require_tool, serve

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "multinode"
ADMIN_TOKEN = "multinode-admin-token-0123456789"
PAYROLL = ("https://idp.example.com", "payroll-api", "idp")  # issuer, audience, kid
REPORTS = ("https://reports.example.com", "reports-api", "reports")

pytestmark = pytest.mark.slow


@dataclass
class Cluster:
    dir: Path
    nodes: dict[str, ServerProcess]
    admin: dict[str, str]
    keys: dict[str, Any]

    def token(self, subject: str, which: tuple[str, str, str] = PAYROLL) -> str:
        issuer, audience, kid = which
        return services.token(self.keys[issuer], subject, issuer=issuer, kid=kid, audience=audience)

    def auth(self, node: str, token: str) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"}
        return httpx.get(self.nodes[node].url + "/auth", headers=headers, timeout=10)

    def ready(self, node: str) -> httpx.Response:
        return httpx.get(self.nodes[node].url + "/readyz", timeout=10)

    def cli(self, node: str, *args: str) -> subprocess.CompletedProcess[str]:
        config = str(self.dir / f"node-{node.lower()}.toml")
        return subprocess.run(
            [REALMGATE, *args, "--config", config], capture_output=True, text=True, timeout=60
        )


def _copy_examples(directory: Path, url: str, prefix: str, admin_ports: dict[str, int]) -> None:
    """The example files, with only what differs on this machine replaced."""
    replacements = {
        "common.toml": [
            ('"postgresql://realmgate@db.internal:5432/realmgate"', f'"{url}"'),
            ('"redis://redis.internal:6379/0"', f'"{services.REDIS_URL}"'),
            ('key_prefix = "realmgate:replay:"', f'key_prefix = "{prefix}"'),
            ('host = "0.0.0.0"', 'host = "127.0.0.1"'),
            ('["10.0.0.10/32"]', '["127.0.0.1/32"]'),
        ],
        "node-a.toml": [("127.0.0.1:9091", f"127.0.0.1:{admin_ports['A']}")],
        "node-b.toml": [("127.0.0.1:9092", f"127.0.0.1:{admin_ports['B']}")],
    }
    for name, pairs in replacements.items():
        text = (EXAMPLES / name).read_text()
        for old, new in pairs:
            assert old in text, f"{name} no longer contains {old!r}"
            text = text.replace(old, new)
        (directory / name).write_text(text)


@pytest.fixture(scope="module")
def cluster(
    tmp_path_factory: pytest.TempPathFactory, rsa_key: Any, other_rsa_key: Any
) -> Iterator[Cluster]:
    require_tool("redis-server")
    require_tool("pg_ctlcluster", "/usr/bin/pg_ctlcluster")
    directory = tmp_path_factory.mktemp("multinode")
    with contextlib.ExitStack() as stack:
        stack.enter_context(services.exclusive_services())
        services.restore_redis()  # in case an earlier run was killed while Redis was down
        services.redis_client()
        url = stack.enter_context(services.pg_schema())
        prefix = stack.enter_context(services.redis_prefix())
        admin_ports = {"A": free_port(), "B": free_port()}
        _copy_examples(directory, url, prefix, admin_ports)
        keys = {PAYROLL[0]: rsa_key, REPORTS[0]: other_rsa_key}
        (directory / "truststore").mkdir()
        for name, key in (("idp", rsa_key), ("reports", other_rsa_key)):
            cert = self_signed_certificate(key, name.upper(), days=3).public_bytes(Encoding.PEM)
            (directory / "truststore" / f"{name}.pem").write_bytes(cert)
        cluster = Cluster(directory, {}, {}, keys)
        for user, realm, local in (("alice", "CORP", "ALICE01"), ("*", "REPORTS", "RPT")):
            done = cluster.cli("A", "map", "add", "--user", user, "--realm", realm,
                               "--local-user", local)  # fmt: skip
            assert done.returncode == 0, done.stderr
        env = {"REALMGATE_ADMIN_TOKEN": ADMIN_TOKEN}
        for node in ("A", "B"):
            config = directory / f"node-{node.lower()}.toml"
            cluster.nodes[node] = stack.enter_context(serve(config, env=env))
            cluster.admin[node] = f"http://127.0.0.1:{admin_ports[node]}/admin"
        for node in ("A", "B"):  # the first decision opens the registry
            assert cluster.auth(node, cluster.token("alice")).status_code == 200
        yield cluster


def _until(condition: Callable[[], bool], timeout: float) -> float | None:
    """Seconds until ``condition()`` held, or None after ``timeout``."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout:
            return None
        time.sleep(0.005)
    return time.monotonic() - start


def test_mapping_added_through_a_is_used_by_b_within_a_second(cluster: Cluster) -> None:
    assert cluster.auth("B", cluster.token("carol")).status_code == 403
    rule = {"user": "carol", "realm": "CORP", "local_user": "CAROL01"}
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    added = httpx.post(cluster.admin["A"] + "/mappings", json=rule, headers=headers, timeout=10)
    assert added.status_code == 201, added.text
    latency = _until(lambda: cluster.auth("B", cluster.token("carol")).status_code == 200, 1.0)
    assert latency is not None, "node B did not use the new mapping within 1 s"
    print(f"mapping added on A in force on B after {latency * 1000:.0f} ms")
    answer = cluster.auth("B", cluster.token("carol"))
    assert answer.headers["x-realmgate-user"] == "CAROL01"


def test_token_accepted_by_a_is_a_replay_at_b(cluster: Cluster) -> None:
    token = cluster.token("alice")
    assert cluster.auth("A", token).status_code == 200
    replayed = cluster.auth("B", token)
    assert replayed.status_code == 401
    assert replayed.headers["x-realmgate-message"] == "RG4012E"


def test_revocation_made_on_b_applies_on_a(cluster: Cluster) -> None:
    assert cluster.auth("A", cluster.token("alice")).status_code == 200
    done = cluster.cli("B", "revoke", "--subject", "alice", "--reason", "left the company")
    assert done.returncode == 0, done.stderr
    try:
        refused: list[httpx.Response] = []

        def revoked() -> bool:
            refused.append(cluster.auth("A", cluster.token("alice")))
            return refused[-1].status_code == 401

        latency = _until(revoked, 1.0)
        assert latency is not None, "node A still accepted the subject after 1 s"
        print(f"revocation made on B in force on A after {latency * 1000:.0f} ms")
        assert refused[-1].headers["x-realmgate-message"] == "RG8510E"
        assert "subject 'alice' was revoked at" in refused[-1].text
        assert "left the company" in refused[-1].text
    finally:
        assert cluster.cli("B", "unrevoke", "--subject", "alice").returncode == 0
    accepted = _until(lambda: cluster.auth("A", cluster.token("alice")).status_code == 200, 1.0)
    assert accepted is not None


def test_stopping_redis_gives_the_configured_behaviour_and_readiness_says_so(
    cluster: Cluster,
) -> None:
    try:
        services.stop_redis()
        refused = cluster.auth("A", cluster.token("alice"))  # payroll: refuse
        assert refused.status_code == 503, refused.text
        assert refused.headers["x-realmgate-message"] == "RG8501E"
        allowed = cluster.auth("B", cluster.token("anyone", REPORTS))  # reports: allow
        assert allowed.status_code == 200 and allowed.headers["x-realmgate-user"] == "RPT"
        for node in ("A", "B"):
            ready = cluster.ready(node)
            assert ready.status_code == 503
            replay = ready.json()["checks"]["replay"]
            assert replay["ok"] is False and replay["status"] == "unavailable"
            assert replay["refusing"] == ["payroll"] and replay["allowing"] == ["reports"]
            assert "replay" in ready.json()["message"]
    finally:
        services.start_redis()
    for node in ("A", "B"):  # back by themselves once Redis answers (after retry_interval)
        assert _until(lambda n=node: cluster.ready(n).status_code == 200, 5.0) is not None
        assert cluster.ready(node).json()["checks"]["replay"]["status"] == "ok"
        accepted = _until(
            lambda n=node: cluster.auth(n, cluster.token("alice")).status_code == 200, 3.0
        )
        assert accepted is not None


def test_postgresql_restart_mid_traffic_loses_nothing_and_nodes_reconnect(
    cluster: Cluster,
) -> None:
    services.pg_cluster()
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    for i in range(10):  # committed just before the restart
        rule = {"user": f"user{i}", "realm": "CORP", "local_user": f"U{i}"}
        added = httpx.post(cluster.admin["A"] + "/mappings", json=rule, headers=headers)
        assert added.status_code == 201, added.text
    seen: list[tuple[str, int, str]] = []
    stop = threading.Event()

    def traffic(node: str) -> None:
        n = 0
        while not stop.is_set():
            subject = f"user{n % 10}"
            try:
                answer = cluster.auth(node, cluster.token(subject))
                seen.append(
                    (node, answer.status_code, answer.headers.get("x-realmgate-message", ""))
                )
            except httpx.HTTPError as exc:
                seen.append((node, 0, type(exc).__name__))
            n += 1

    threads = [threading.Thread(target=traffic, args=(node,)) for node in ("A", "B")]
    for thread in threads:
        thread.start()
    try:
        time.sleep(0.5)
        services.restart_postgres()
        time.sleep(1.0)
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
        services.wait_postgres()
    statuses = {status for _, status, _ in seen}
    print(f"{len(seen)} decisions during the restart: {sorted(statuses)}")
    # A committed mapping is never "not mapped" (403); the registry being away may only
    # ever show as 503 RG5002E past the grace period.
    assert not [s for s in seen if s[1] not in (200, 503)], seen
    assert all(m == "RG5002E" for _, status, m in seen if status == 503), seen

    def listening(node: str) -> bool:
        checks = cluster.ready(node).json()["checks"]
        return bool(checks.get("registry_changes", {}).get("status") == "listening")

    for node in ("A", "B"):
        reconnected = _until(lambda n=node: listening(n), 10.0)  # type: ignore[misc]
        assert reconnected is not None, f"node {node} did not reconnect its change listener"
        assert cluster.auth(node, cluster.token("user7")).headers["x-realmgate-user"] == "U7"
    rule = {"user": "dave", "realm": "CORP", "local_user": "DAVE01"}
    added = httpx.post(cluster.admin["A"] + "/mappings", json=rule, headers=headers, timeout=10)
    assert added.status_code == 201, added.text
    latency = _until(lambda: cluster.auth("B", cluster.token("dave")).status_code == 200, 1.0)
    assert latency is not None, "after the restart, B did not see A's change within 1 s"
    listed = cluster.cli("B", "map", "list", "--json")
    stored = {entry["user"] for entry in json.loads(listed.stdout)}
    assert {f"user{i}" for i in range(10)} | {"alice", "dave"} <= stored


def test_docs_show_the_files_this_test_runs() -> None:
    deploy = (Path(__file__).resolve().parents[1] / "docs" / "deploy.md").read_text()
    for name in ("common.toml", "node-a.toml", "node-b.toml", "nginx.conf"):
        assert f"examples/multinode/{name}" in deploy
        assert (EXAMPLES / name).read_text().strip() in deploy, f"{name} differs in the docs"
