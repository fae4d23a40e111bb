"""The HTTP figures: ``/auth`` against the trivial ``/healthz`` on the same ``realmgate
serve`` (uvicorn with uvloop and httptools, one worker), driven by wrk on loopback.

Five cases, in interleaved rounds after a warm-up: ``/healthz`` (the HTTP floor: a 200
with no work, written in one piece like ``/auth``'s answers; the first ratio is to it), a
trivial ASGI endpoint on plain uvicorn (``bench_trivial.py``: two ordinary messages, the
issue's literal floor; the second ratio is to it), ``/healthz`` sent the same
``Authorization`` header as ``/auth`` (what carrying and parsing a 900-byte header costs
any endpoint, shown beside the floors rather than replacing them), ``/auth`` with one
repeated token (a session's traffic: verified-token cache hits), and ``/auth`` with a
different token on every request (a wrk Lua script walks a file of tokens never sent
before: the full pipeline on each). wrk and the servers share the machine: each server is
pinned to one CPU and wrk to the other, wrk runs one thread, the cases run in a shuffled
order each round, and the figures compare rows of one run.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import httpx

BIN = Path(sys.executable).parent
LUA = """
local tokens, i = {}, 0
init = function(args)
  for line in io.lines(args[1]) do tokens[#tokens + 1] = line end
end
request = function()
  i = i + 1
  if i > #tokens then i = 1 end
  return wrk.format("GET", "/auth", {["Authorization"] = "Bearer " .. tokens[i]})
end
"""


@dataclass
class HttpResult:
    case: str
    rps: list[float] = field(default_factory=list)
    ratios: list[float] = field(default_factory=list)
    """Requests/s over the /healthz requests/s of the same round."""
    trivial_ratios: list[float] = field(default_factory=list)
    """Requests/s over the plain-uvicorn trivial endpoint's of the same round."""
    p50: list[float] = field(default_factory=list)
    p99: list[float] = field(default_factory=list)
    """Milliseconds."""
    requests: int = 0


SERVER_CPU, WRK_CPU = 0, 1
"""With two CPUs or more, the server and wrk each get their own (``taskset``): left to the
scheduler, both sometimes shared one core for part of a run while the other idled, and a
round's figure then measured the scheduler (rounds of one run differed by up to 30 points;
pinned, see the results file)."""


def _pin(cpu: int) -> list[str]:
    if (os.cpu_count() or 1) < 2 or not shutil.which("taskset"):
        return []
    return ["taskset", "-c", str(cpu)]


def _ms(text: str) -> float:
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    number = re.match(r"([\d.]+)(\w+)", text)
    if number is None:
        raise SystemExit(f"unexpected wrk latency {text!r}")
    return float(number.group(1)) * scale[number.group(2)]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise SystemExit(f"{url} did not answer")


def wrk(
    url: str,
    seconds: int,
    connections: int,
    *,
    header: str | None = None,
    script: Path | None,
) -> tuple[float, str, str, int]:
    command = [*_pin(WRK_CPU), "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency"]
    if header:
        command += ["-H", header]
    if script:
        command += ["-s", str(script)]
    command.append(url)
    if script:
        command += ["--", str(script.with_suffix(".txt"))]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    failures = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if failures:
        raise SystemExit(f"{url}: {failures.group(1)} answers were not 200\n{out}")
    rps = float(_find(r"Requests/sec:\s+([\d.]+)", out))
    p50, p99 = _find(r"\s50%\s+(\S+)", out), _find(r"\s99%\s+(\S+)", out)
    total = int(_find(r"(\d+) requests in", out))
    return rps, p50, p99, total


def _find(pattern: str, text: str) -> str:
    match = re.search(pattern, text)
    if match is None:
        raise SystemExit(f"unexpected wrk output:\n{text}")
    return match.group(1)


def run_http(
    config: Path,
    repeated: str,
    unique: list[str],
    *,
    seconds: int,
    connections: int,
    rounds: int,
) -> list[HttpResult]:
    """``rounds`` interleaved rounds of the four cases; medians are taken by the caller."""
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    command = [
        *_pin(SERVER_CPU),
        str(BIN / "realmgate"),
        "serve",
        "--config",
        str(config),
        "--port",
        str(port),
    ]
    trivial_port = _free_port()
    trivial_base = f"http://127.0.0.1:{trivial_port}"
    trivial_command = [
        *_pin(SERVER_CPU),
        str(BIN / "python"),
        "-m",
        "uvicorn",
        "bench_trivial:app",
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--no-access-log",
        "--log-level",
        "warning",
        "--port",
        str(trivial_port),
    ]
    bearer = f"Authorization: Bearer {repeated}"
    results = [
        HttpResult("/healthz (HTTP floor: realmgate's, answer in one write like /auth)"),
        HttpResult("trivial ASGI endpoint on plain uvicorn (two messages; the issue's wording)"),
        HttpResult("/healthz with the same Authorization header (not a floor: for comparison)"),
        HttpResult("/auth, repeated token (cache hits)"),
        HttpResult("/auth, a new RS256 token per request"),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        warm = Path(tmp) / "warm.lua"
        warm.write_text(LUA)
        share = len(unique) // (rounds + 1)
        warm.with_suffix(".txt").write_text("\n".join(unique[:share]) + "\n")
        scripts = []
        for n in range(rounds):  # every round its own tokens, never sent before
            script = Path(tmp) / f"round{n}.lua"
            script.write_text(LUA)
            chunk = unique[share * (n + 1) : share * (n + 2)]
            script.with_suffix(".txt").write_text("\n".join(chunk) + "\n")
            scripts.append(script)
        server = subprocess.Popen(
            command, env=dict(os.environ), cwd=config.parent, stdout=subprocess.DEVNULL
        )
        trivial = subprocess.Popen(trivial_command, env=dict(os.environ), cwd=Path(__file__).parent)
        try:
            _wait(base + "/healthz")
            _wait(trivial_base + "/")
            wrk(trivial_base + "/", 2, connections, script=None)
            wrk(base + "/healthz", 2, connections, script=None)
            wrk(base + "/auth", 2, connections, header=bearer, script=None)
            wrk(base + "/auth", 2, connections, script=warm)
            order = random.Random(11)
            for n in range(rounds):
                cases: list[Callable[[], tuple[float, str, str, int]]] = [
                    partial(wrk, base + "/healthz", seconds, connections, script=None),
                    partial(wrk, trivial_base + "/", seconds, connections, script=None),
                    partial(
                        wrk, base + "/healthz", seconds, connections, header=bearer, script=None
                    ),
                    partial(wrk, base + "/auth", seconds, connections, header=bearer, script=None),
                    partial(wrk, base + "/auth", seconds, connections, script=scripts[n]),
                ]
                # A shuffled order each round: a drift within the round favours no case.
                turns = list(range(len(cases)))
                order.shuffle(turns)
                done = {i: cases[i]() for i in turns}
                runs = [done[i] for i in range(len(cases))]
                if runs[4][3] > share:
                    results[4].case = f"/auth, a new RS256 token per request (reused after {share})"
                for result, (rps, p50, p99, total) in zip(results, runs, strict=True):
                    result.rps.append(rps)
                    result.ratios.append(rps / runs[0][0])
                    result.trivial_ratios.append(rps / runs[1][0])
                    result.p50.append(_ms(p50))
                    result.p99.append(_ms(p99))
                    result.requests += total
        finally:
            for process in (server, trivial):
                process.send_signal(signal.SIGINT)
                try:
                    process.wait(15)
                except subprocess.TimeoutExpired:
                    process.kill()
    return results


def median(values: list[float]) -> float:
    return statistics.median(values)
