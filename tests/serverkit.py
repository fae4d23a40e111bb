"""Helpers for the HTTP service tests: a configured directory, a real server process, tools.

Servers listen on 127.0.0.1 on free ports, are waited for with bounded timeouts and are
always stopped (SIGINT, then SIGKILL) by the fixtures that start them.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from realmgate.builder import TokenBuilder
from realmgate.keys.signing import load_signing_key, self_signed_certificate
from realmgate.registry import MappingRule, SQLiteRegistry

ROOT = Path(__file__).resolve().parents[1]
REALMGATE = str(Path(sys.executable).with_name("realmgate"))
ISSUER = "TEST-ISSUER"
REALM = "DEMO"

BASE_CONFIG = """\
[registry]
path = "registry.db"

[[issuer]]
id = "local"
issuer = "{issuer}"
key = "issuer-key.pem"
algorithm = "RS256"
kid = "local"
ttl = 600

[[client]]
id = "test-client"
issuers = ["{issuer}"]
algorithms = ["RS256"]
trust_store = "truststore"
audiences = "any"
realm = "{realm}"
clock_skew = 60
"""


def require_tool(name: str, *candidates: str) -> str:
    """The path of a system tool; skip when missing, but fail under CI=true."""
    for candidate in (name, *candidates):
        found = shutil.which(candidate) or (candidate if os.path.isfile(candidate) else None)
        if found:
            return found
    reason = f"{name} is not installed (scripts/system-deps.sh installs it)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; under CI=true this is a failure, not a skip")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pem_private(key: Any) -> bytes:
    return bytes(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))


@dataclass
class Env:
    """A configuration directory: issuer key, trust store, registry with alice → ALICE01."""

    dir: Path
    config: Path
    key: rsa.RSAPrivateKey
    extra: str = ""

    def builder(self, key: Any = None, issuer: str = ISSUER, kid: str = "local") -> TokenBuilder:
        signing = load_signing_key(pem_private(key or self.key), source="test")
        return TokenBuilder(signing, "RS256", issuer, kid=kid)

    def token(self, subject: str = "alice", **options: Any) -> str:
        return self.builder().build(subject, **options)

    def expired(self, subject: str = "alice") -> str:
        builder = self.builder()
        claims = builder.claims(subject, ttl=600)
        claims["iat"] = int(time.time()) - 7200
        claims["exp"] = int(time.time()) - 3600
        return builder.sign(claims)

    def write(self, extra: str | None = None) -> None:
        if extra is not None:
            self.extra = textwrap.dedent(extra)
        text = BASE_CONFIG.format(issuer=ISSUER, realm=REALM) + self.extra
        tmp = self.config.with_suffix(".tmp")
        tmp.write_text(text)
        os.replace(tmp, self.config)

    def trust(self, key: Any, name: str) -> None:
        cert = self_signed_certificate(key, name, days=30).public_bytes(Encoding.PEM)
        tmp = self.dir / "truststore" / f".{name}.tmp"
        tmp.write_bytes(cert)
        os.replace(tmp, self.dir / "truststore" / f"{name}.pem")

    def map(self, user: str, realm: str, local_user: str) -> None:
        registry = SQLiteRegistry(self.dir / "registry.db")
        try:
            registry.add(MappingRule(user, realm, local_user))
        finally:
            registry.close()


def make_env(directory: Path, key: rsa.RSAPrivateKey, extra: str = "") -> Env:
    (directory / "truststore").mkdir(parents=True, exist_ok=True)
    (directory / "issuer-key.pem").write_bytes(pem_private(key))
    env = Env(directory, directory / "realmgate.toml", key)
    env.trust(key, "local")
    env.write(extra)
    env.map("alice", REALM, "ALICE01")
    return env


@dataclass
class ServerProcess:
    proc: subprocess.Popen[bytes]
    url: str
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self, timeout: float = 10.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return int(self.proc.returncode)


def wait_http(url: str, proc: subprocess.Popen[bytes] | None, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"process exited with {proc.returncode} before {url} answered")
        try:
            if httpx.get(url, timeout=1.0).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"{url} did not answer within {timeout}s")


@contextmanager
def serve(
    config: Path, *args: str, port: int | None = None, env: dict[str, str] | None = None
) -> Iterator[ServerProcess]:
    """``realmgate serve`` on ``config`` in a subprocess, stopped on exit."""
    port = port or free_port()
    log = config.parent / f"serve-{port}.log"
    handle = log.open("wb")
    command = [REALMGATE, "serve", "--config", str(config), "--port", str(port), *args]
    proc = subprocess.Popen(
        command,
        stdout=handle,
        stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {})},
        cwd=config.parent,
    )
    server = ServerProcess(proc, f"http://127.0.0.1:{port}", log)
    try:
        wait_http(server.url + "/healthz", proc)
        yield server
    finally:
        server.stop()
        handle.close()
