"""Throughput of the HTTP service with wrk on loopback: /auth against /healthz on the same
server, under uvicorn (uvloop + httptools, what ``realmgate serve`` runs) and granian.

    .venv/bin/python benchmarks/bench_server.py [--duration 8] [--connections 64]

Needs ``wrk`` (scripts/system-deps.sh installs it); granian is measured when installed
(``pip install granian``). wrk and the server share the machine, so numbers are relative:
compare rows of one run, not runs on different machines. Results go to stdout as a table.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from realmgate.demo import demo_tokens, prepare_demo

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait(url: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise SystemExit(f"{url} did not answer")


def wrk(url: str, duration: int, connections: int, header: str | None) -> tuple[float, str]:
    command = ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", url]
    if header:
        command[1:1] = ["-H", header]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"\s99%\s+(\S+)", out).group(1)  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise SystemExit(f"{url}: {errors.group(1)} non-2xx answers\n{out}")
    return rps, p99


def servers(config: Path, port: int) -> dict[str, list[str]]:
    out = {
        "uvicorn": [str(BIN / "realmgate"), "serve", "--config", str(config), "--port", str(port)]
    }
    if shutil.which(str(BIN / "granian")):
        out["granian"] = [
            str(BIN / "granian"), "--interface", "asgi", "--factory", "--port", str(port),
            "--workers", "1", "--log-level", "warning", "--no-ws",
            "realmgate.server.app:app_from_env",
        ]  # fmt: skip
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=int, default=8)
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (scripts/system-deps.sh)")
    with tempfile.TemporaryDirectory() as tmp:
        files = prepare_demo(Path(tmp))
        good, _ = demo_tokens(files)
        header = f"Authorization: Bearer {good}"
        print(f"{'server':10} {'endpoint':10} {'req/s':>10} {'p99':>10}")
        for name, command in servers(files.config, free_port()).items():
            port = command[command.index("--port") + 1]
            env = {**os.environ, "REALMGATE_CONFIG": str(files.config)}
            proc = subprocess.Popen(command, env=env, cwd=tmp, stdout=subprocess.DEVNULL)
            try:
                base = f"http://127.0.0.1:{port}"
                wait(base + "/healthz")
                for endpoint, hdr in (("/healthz", None), ("/auth", header)):
                    wrk(base + endpoint, 2, args.connections, hdr)  # warm up
                    rps, p99 = wrk(base + endpoint, args.duration, args.connections, hdr)
                    print(f"{name:10} {endpoint:10} {rps:>10.0f} {p99:>10}", flush=True)
            finally:
                proc.send_signal(signal.SIGINT)
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
