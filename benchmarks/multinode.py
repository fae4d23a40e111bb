"""Verified decisions per second: one realmgate node against two behind nginx (issue 8).

    .venv/bin/python benchmarks/multinode.py [--duration 8] [--connections 32] [--tokens 40000]

The nodes run the configuration of examples/multinode (PostgreSQL registry, Redis replay
store, ``token_reuse = false``) and nginx runs examples/multinode/nginx.conf, with only the
addresses replaced. Every request carries a token with a jti of its own (a wrk Lua script
walks through pre-signed tokens), so each decision is a full one: signature, claims,
revocation list, ``SET NX`` in Redis, mapping. The Redis keys are cleared between runs so
the same tokens can be used again. Only 2xx answers count; any other answer aborts the run.

Scenarios: wrk → one node's /auth directly; wrk → nginx (auth_request) → one node;
wrk → nginx → two nodes. wrk, nginx, the nodes, PostgreSQL and Redis share the machine, so
compare the rows of one run (and mind the core count, printed first).

Needs PostgreSQL and Redis on their standard local ports, nginx and wrk.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import httpx
import psycopg
import redis
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)

from realmgate.builder import TokenBuilder
from realmgate.keys.signing import load_signing_key, self_signed_certificate

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "multinode"
REALMGATE = str(Path(sys.executable).with_name("realmgate"))
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS = "redis://127.0.0.1:6379/0"
ISSUER, AUDIENCE = "https://idp.example.com", "payroll-api"
ADMIN_TOKEN = "benchmark-admin-token-0123456789"
LOCK_FILE = "/tmp/realmgate-test-services.lock"  # as tests/services.py

WRK_SCRIPT = """
local counter = 0
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end
function init(args)
  tokens = {}
  local n = 0
  for line in io.lines(args[1]) do
    if n % tonumber(args[2]) == id then tokens[#tokens + 1] = line end
    n = n + 1
  end
  next_token = 1
end
function request()
  local token = tokens[next_token]
  next_token = next_token % #tokens + 1
  return wrk.format("GET", args_path, {["Authorization"] = "Bearer " .. token})
end
"""

NGINX_MAIN = """\
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    include {dir}/realmgate-nginx.conf;
    server {{
        listen 127.0.0.1:{app};
        location / {{ return 200 "ok\\n"; }}
    }}
}}
"""


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1).status_code < 500:
                return
        time.sleep(0.1)
    raise SystemExit(f"{url} did not answer")


def _sign(args: tuple[bytes, int]) -> list[str]:
    pem, count = args
    key = load_signing_key(pem, source="benchmark")
    builder = TokenBuilder(key, "RS256", ISSUER, kid="idp")
    return [builder.build(f"user{i % 50}", jti=True, audience=AUDIENCE) for i in range(count)]


def make_tokens(pem: bytes, count: int) -> list[str]:
    workers = os.cpu_count() or 1
    with ProcessPoolExecutor(workers) as pool:
        parts = pool.map(_sign, [(pem, count // workers + 1)] * workers)
    return [token for part in parts for token in part]


@contextlib.contextmanager
def database() -> Iterator[str]:
    name = f"realmgate_bench_{os.getpid()}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"'.encode())
    try:
        yield PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())


def configure(directory: Path, url: str, prefix: str, key: rsa.RSAPrivateKey) -> None:
    """The example files with this machine's addresses (as tests/test_multinode.py does)."""
    common = (EXAMPLES / "common.toml").read_text()
    for old, new in (
        ('"postgresql://realmgate@db.internal:5432/realmgate"', f'"{url}"'),
        ('"redis://redis.internal:6379/0"', f'"{REDIS}"'),
        ('key_prefix = "realmgate:replay:"', f'key_prefix = "{prefix}"'),
        ('host = "0.0.0.0"', 'host = "127.0.0.1"'),
        ('["10.0.0.10/32"]', '["127.0.0.1/32"]'),
        ("[server]\n", "[server]\nwatch = false\n"),
    ):
        assert old in common, old
        common = common.replace(old, new)
    (directory / "common.toml").write_text(common)
    for node, port in (("a", "9091"), ("b", "9092")):
        text = (EXAMPLES / f"node-{node}.toml").read_text()
        (directory / f"node-{node}.toml").write_text(text.replace(port, str(free_port())))
    (directory / "truststore").mkdir()
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    for name, signer in (("idp", key), ("reports", other)):
        cert = self_signed_certificate(signer, name.upper(), days=2).public_bytes(Encoding.PEM)
        (directory / "truststore" / f"{name}.pem").write_bytes(cert)


@contextlib.contextmanager
def node(directory: Path, name: str, port: int) -> Iterator[str]:
    log = (directory / f"node-{name}.log").open("wb")
    proc = subprocess.Popen(
        [REALMGATE, "serve", "--config", str(directory / f"node-{name}.toml"), "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "REALMGATE_ADMIN_TOKEN": ADMIN_TOKEN},
    )
    try:
        wait(f"http://127.0.0.1:{port}/healthz")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(20)
        log.close()


@contextlib.contextmanager
def nginx(directory: Path, upstreams: list[int]) -> Iterator[str]:
    port, app = free_port(), free_port()
    text = (EXAMPLES / "nginx.conf").read_text()
    servers = "".join(f"    server 127.0.0.1:{p} max_fails=2 fail_timeout=5s;\n" for p in upstreams)
    text = re.sub(r"(    server 10\.0\.0\.2\d:8080[^\n]*\n)+", servers, text)
    text = text.replace("10.0.0.31:8000", f"127.0.0.1:{app}").replace(
        "listen 80;", f"listen 127.0.0.1:{port};"
    )
    (directory / "realmgate-nginx.conf").write_text(text)
    main = directory / "nginx-main.conf"
    main.write_text(NGINX_MAIN.format(dir=directory, app=app))
    nginx_bin = shutil.which("nginx") or "/usr/sbin/nginx"
    proc = subprocess.Popen([nginx_bin, "-c", str(main), "-g", "daemon off;"])
    try:
        wait(f"http://127.0.0.1:{port}/", 10)
        yield f"http://127.0.0.1:{port}/"
    finally:
        proc.terminate()
        proc.wait(20)


def run_wrk(url: str, tokens: Path, duration: int, connections: int) -> tuple[float, str]:
    script = tokens.with_suffix(".lua")
    path = url.split("/", 3)[3] if url.count("/") >= 3 else ""
    script.write_text(f'args_path = "/{path}"\n' + WRK_SCRIPT)
    command = ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", "-s", str(script),
               url, "--", str(tokens), "2"]  # fmt: skip
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise SystemExit(f"{url}: {errors.group(1)} non-2xx answers\n{out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"\s99%\s+(\S+)", out).group(1)  # type: ignore[union-attr]
    return rps, p99


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=8)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--tokens", type=int, default=40000)
    args = parser.parse_args()
    for tool in ("wrk", "nginx"):
        if not (shutil.which(tool) or os.path.exists(f"/usr/sbin/{tool}")):
            raise SystemExit(f"{tool} is not installed (scripts/system-deps.sh)")
    print(f"cores: {os.cpu_count()}, {args.duration}s per run, {args.connections} connections")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    assert load_pem_private_key(pem, None)
    start = time.monotonic()
    tokens = make_tokens(pem, args.tokens)
    print(f"signed {len(tokens)} tokens in {time.monotonic() - start:.1f}s")
    # Tests that stop Redis or restart PostgreSQL take this lock exclusively: wait for them.
    lock = open(LOCK_FILE, "a")  # noqa: SIM115 - held until the process exits
    fcntl.flock(lock, fcntl.LOCK_SH)
    prefix = f"realmgate-bench:{os.getpid()}:"
    store = redis.Redis.from_url(REDIS)
    rows: list[tuple[str, float, str]] = []
    with tempfile.TemporaryDirectory() as tmp, database() as url:
        directory = Path(tmp)
        token_file = directory / "tokens.txt"
        token_file.write_text("\n".join(tokens) + "\n")
        configure(directory, url, prefix, key)
        subprocess.run([REALMGATE, "map", "add", "--config", str(directory / "node-a.toml"),
                        "--user", "*", "--realm", "CORP", "--local-user", "STAFF"],
                       check=True, capture_output=True)  # fmt: skip
        port_a, port_b = free_port(), free_port()

        def measure(label: str, target: str) -> None:
            keys = list(store.scan_iter(match=prefix + "*", count=5000))
            for i in range(0, len(keys), 5000):
                store.delete(*keys[i : i + 5000])
            rps, p99 = run_wrk(target, token_file, args.duration, args.connections)
            rows.append((label, rps, p99))
            print(f"{label:<34} {rps:>9.0f} decisions/s   p99 {p99}", flush=True)

        try:
            with node(directory, "a", port_a) as node_a, node(directory, "b", port_b) as node_b:
                for base in (node_a, node_b):  # open the registry, warm up
                    wait(base + "/readyz")
                measure("one node, direct (/auth)", node_a + "/auth")
                with nginx(directory, [port_a]) as front:
                    measure("one node behind nginx", front)
                with nginx(directory, [port_a, port_b]) as front:
                    measure("two nodes behind nginx", front)
        finally:
            for name in ("a", "b"):  # warnings explain failed runs (Redis timeouts…)
                log = (directory / f"node-{name}.log").read_text(errors="replace")
                for line in log.splitlines():
                    if " WARNING " in line or " ERROR " in line:
                        print(f"node {name}: {line}")
        keys = list(store.scan_iter(match=prefix + "*", count=5000))
        if keys:
            store.delete(*keys)
    one = next(r for r in rows if r[0] == "one node behind nginx")[1]
    two = next(r for r in rows if r[0] == "two nodes behind nginx")[1]
    print(f"two nodes / one node behind nginx: {two / one:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
