"""The README's main job: `realmgate demo` starts the server and its printed curls work."""

from __future__ import annotations

import shlex
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from tests.serverkit import REALMGATE, ROOT, free_port


def _wait_for_curls(proc: subprocess.Popen[str], timeout: float = 30.0) -> list[str]:
    """Read the demo's output (in a thread: readline blocks) until both curls are printed."""
    assert proc.stdout is not None
    stream = proc.stdout
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(stream.readline, "")), daemon=True)
    reader.start()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        curls = [line.strip() for line in list(lines) if line.strip().startswith("curl -si")]
        if len(curls) == 2:
            return curls
        if proc.poll() is not None and not reader.is_alive():
            break
        time.sleep(0.05)
    raise AssertionError(f"demo printed no curl commands in {timeout}s:\n{''.join(lines)}")


def _run_curl(command: str) -> httpx.Response:
    """Run a printed command exactly as a user would paste it (with curl when installed)."""
    args = shlex.split(command)
    assert args[:2] == ["curl", "-si"]
    header = args[args.index("-H") + 1]
    name, _, value = header.partition(": ")
    return httpx.get(args[-1], headers={name: value}, timeout=10)


def test_demo_serves_and_its_curls_work(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [REALMGATE, "demo", "--data-dir", str(tmp_path / "demo"), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=tmp_path,
    )
    try:
        fresh, expired = _wait_for_curls(proc)
        assert f"http://127.0.0.1:{port}/auth" in fresh
        good = _run_curl(fresh)
        assert good.status_code == 200
        assert good.headers["x-realmgate-user"] == "ALICE01"
        bad = _run_curl(expired)
        assert bad.status_code == 401
        assert bad.headers["x-realmgate-message"] == "RG4001E"
        assert "RG4001E The token expired" in bad.text
        if _has_curl():  # and literally, as pasted into a shell
            out = subprocess.run(fresh, shell=True, capture_output=True, text=True, timeout=10)
            assert "x-realmgate-user: ALICE01" in out.stdout.replace("\r", "")
    finally:
        proc.send_signal(signal.SIGINT)  # Ctrl-C
        try:
            code = proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert code == 0


def test_demo_reuses_its_files(tmp_path: Path, cli: Any) -> None:
    data = tmp_path / "demo"
    first = cli("demo", "--data-dir", str(data), "--no-serve")
    assert first.code == 0, first.err
    assert "created" in first.out and "ALICE01" in first.out and "RG4001E" in first.out
    key = (data / "issuer-key.pem").read_bytes()
    second = cli("demo", "--data-dir", str(data), "--no-serve")
    assert second.code == 0 and "reused" in second.out
    assert (data / "issuer-key.pem").read_bytes() == key


def test_readme_first_command_is_the_demo() -> None:
    readme = (ROOT / "README.md").read_text()
    assert (
        "python3 -m venv .venv && .venv/bin/pip install -q -e . && .venv/bin/realmgate demo"
        in readme
    )


def _has_curl() -> bool:
    from shutil import which

    return which("curl") is not None
