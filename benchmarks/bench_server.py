"""Throughput of the HTTP service with wrk on loopback: /auth against /healthz on the same
server, under uvicorn (uvloop + httptools, what ``realmgate serve`` runs) and granian.

    .venv/bin/python benchmarks/bench_server.py [--duration 8] [--connections 64] [--rounds 1]

Needs ``wrk`` (scripts/system-deps.sh installs it); granian is measured when installed
(``pip install granian``). wrk and the server share the machine, so numbers are relative:
compare rows of one run, not runs on different machines. Rounds are interleaved and each
/auth figure is taken against the /healthz of its own round.

Besides wrk's wall-clock figures the table gives the server's CPU time per request (user +
system, from /proc, its worker processes included). On a machine shared with other jobs
requests/s swings with whatever else runs (the same code measured 55-77 % of /healthz in
one run); the CPU time a request costs the server moves much less, so it shows whether a
change made the service cheaper even when the wall-clock ratio is noise.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from realmgate.demo import demo_tokens, prepare_demo

BIN = Path(sys.executable).parent
TICK = os.sysconf("SC_CLK_TCK")


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


def cpu_seconds(pid: int) -> float:
    """User + system time of ``pid`` and its children (granian's workers), from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return 0.0
    own = (int(fields[11]) + int(fields[12])) / TICK
    return own + sum(cpu_seconds(int(child)) for child in children)


def _ms(text: str) -> float:
    number = re.match(r"([\d.]+)(\w+)", text)
    assert number is not None, text
    return float(number.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[number.group(2)]


def wrk(
    url: str, duration: int, connections: int, header: str | None, pid: int
) -> tuple[float, float, float, float]:
    """requests/s, p50 ms, p99 ms, server CPU µs per request."""
    command = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", url]
    if header:
        command[1:1] = ["-H", header]
    before = cpu_seconds(pid)
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    cpu = cpu_seconds(pid) - before
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise SystemExit(f"{url}: {errors.group(1)} non-2xx answers\n{out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    return rps, p50, p99, cpu / total * 1e6


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


def measure(
    command: list[str], env: dict[str, str], cwd: str, header: str, args: argparse.Namespace
) -> list[list[tuple[float, float, float, float]]]:
    """Per round: the /healthz and the /auth figures."""
    port = command[command.index("--port") + 1]
    proc = subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        wait(base + "/healthz")
        cases = (("/healthz", None), ("/auth", header))
        for endpoint, hdr in cases:  # warm up
            wrk(base + endpoint, 2, args.connections, hdr, proc.pid)
        return [
            [wrk(base + ep, args.duration, args.connections, hdr, proc.pid) for ep, hdr in cases]
            for _ in range(args.rounds)
        ]
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=int, default=8)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (scripts/system-deps.sh)")
    with tempfile.TemporaryDirectory() as tmp:
        files = prepare_demo(Path(tmp))
        good, _ = demo_tokens(files)
        header = f"Authorization: Bearer {good}"
        print(
            f"medians of {args.rounds} round(s) of {args.duration} s, wrk -t1 -c{args.connections}"
        )
        print(
            f"{'server':8} {'endpoint':9} {'req/s':>8} {'% healthz':>14} {'p50 ms':>7} "
            f"{'p99 ms':>7} {'CPU µs/req':>10} {'CPU %':>6}"
        )
        for name, command in servers(files.config, free_port()).items():
            env = {**os.environ, "REALMGATE_CONFIG": str(files.config)}
            rounds = measure(command, env, tmp, header, args)
            for n, endpoint in enumerate(("/healthz", "/auth")):
                rows = [r[n] for r in rounds]
                ratios = [r[n][0] / r[0][0] for r in rounds]
                cpu = [r[0][3] / r[n][3] for r in rounds]
                spread = f"{min(ratios):.0%}-{max(ratios):.0%}"
                print(
                    f"{name:8} {endpoint:9} {statistics.median(r[0] for r in rows):>8.0f} "
                    f"{statistics.median(ratios):>5.0%} {spread:>8} "
                    f"{statistics.median(r[1] for r in rows):>7.2f} "
                    f"{statistics.median(r[2] for r in rows):>7.2f} "
                    f"{statistics.median(r[3] for r in rows):>10.1f} "
                    f"{statistics.median(cpu):>6.0%}",
                    flush=True,
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
