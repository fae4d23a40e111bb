"""realmgate's performance benchmark (issue 5): one command, one Markdown report.

    .venv/bin/python benchmarks/run.py            # everything (about 6 minutes)
    .venv/bin/python benchmarks/run.py --quick    # fewer rounds, 200 000-token RSS run
    .venv/bin/python benchmarks/run.py --only lib,cache --out report.md

Needs the ``bench`` extra (``pip install -e '.[bench]'``: PyJWT, joserfc, authlib) and wrk
for the HTTP part. Sections:

* ``lib``: ``Verifier.verify`` on unique tokens, full claim checks, identity mapping and the
  trace at its default level, against the ``cryptography`` floor and PyJWT, joserfc and
  authlib (``bench_lib.py``: interleaved rounds, medians, spread);
* ``cache``: a verified-token cache hit, and the anchors' bare dict lookup beside it;
* ``http``: ``/auth`` against ``/healthz`` on one ``realmgate serve`` (``bench_http.py``);
* ``rss``: resident memory over a stream of distinct tokens (``bench_rss.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_fixtures import ALGORITHMS, make_keys, make_tokens, write_config
from bench_lib import FLOOR, REALMGATE, SLICE, cache_hits, dict_lookup_anchor, library_path
from bench_libs import LIBRARIES, versions

HERE = Path(__file__).resolve().parent
SECTIONS = ("lib", "cache", "http", "rss")


def machine() -> list[str]:
    import cryptography
    from cryptography.hazmat.backends.openssl import backend

    model = "?"
    for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
        if line.startswith("Model name:"):
            model = line.split(":", 1)[1].strip()
    with open("/proc/meminfo") as handle:
        mem_kb = int(handle.readline().split()[1])
    libs = ", ".join(f"{k} {v}" for k, v in versions().items())
    return [
        f"- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        f"- machine: {os.cpu_count()} CPUs (`nproc`), {model}, {mem_kb / 1024 / 1024:.1f} GiB",
        f"- Python {platform.python_version()}, cryptography {cryptography.__version__} "
        f"({backend.openssl_version_text()}), {libs}",
        f"- load average at start: {os.getloadavg()[0]:.2f} (other jobs share this machine)",
    ]


def lib_section(keys: dict, verify, rounds: int, batch: int, log) -> list[str]:  # type: ignore[no-untyped-def]
    results = library_path(keys, verify, rounds=rounds, batch=batch, progress=log)
    names = [REALMGATE, *LIBRARIES]
    out = [
        f"### Library path: unique tokens ({rounds} rounds of {batch} tokens, the cases "
        f"taking turns every {SLICE} tokens)",
        "",
        "µs per token: median (spread); × = median of per-round ratios to the floor. "
        "Floor = `cryptography` verify on the split signing input with a preloaded key.",
        "",
        "| alg | floor µs | " + " | ".join(f"{n} µs | {n} ×" for n in names) + " |",
        "|---|--:|" + "--:|--:|" * len(names),
    ]
    for alg in ALGORITHMS:
        cases = results[alg]
        floor = cases[FLOOR]
        row = [alg, f"{floor.median:.2f} ({floor.spread:.0%})"]
        for name in names:
            case = cases.get(name)
            if case is None or case.error:
                row += [case.error if case else "—", "—"]
            else:
                row += [f"{case.median:.2f} ({case.spread:.0%})", f"**{case.ratio:.2f}**"]
        out.append("| " + " | ".join(row) + " |")
    out += ["", "Best round (interference only ever adds time), µs and × floor:", ""]
    for alg in ALGORITHMS:
        cases = results[alg]
        best = cases[FLOOR].best
        parts = [
            f"{n} {c.best:.2f} ({c.best / best:.2f}×)" for n, c in cases.items() if not c.error
        ]
        out.append(f"- {alg}: " + ", ".join(parts))
    return out


def cache_section(verify, tokens: list[str], rounds: int) -> list[str]:  # type: ignore[no-untyped-def]
    hit = cache_hits(verify, tokens, rounds=rounds, repeat=50)
    anchor = dict_lookup_anchor(tokens, rounds=rounds, repeat=50)
    return [
        "### Verified-token cache",
        "",
        "| case | µs per call, median (spread) | best |",
        "|---|--:|--:|",
        f"| realmgate cache hit (RS256 token, all checks of a hit) | "
        f"**{hit.median:.2f}** ({hit.spread:.0%}) | {hit.best:.2f} |",
        f"| bare dict lookup: sha256 + get + exp check (the anchors' 1.2 µs) | "
        f"{anchor.median:.2f} ({anchor.spread:.0%}) | {anchor.best:.2f} |",
    ]


def http_section(
    config: Path, repeated: str, unique: list[str], seconds: int, rounds: int
) -> list[str]:
    from bench_http import median, run_http

    results = run_http(config, repeated, unique, seconds=seconds, connections=32, rounds=rounds)
    out = [
        f"### HTTP (`realmgate serve`: uvicorn + uvloop + httptools, 1 worker; "
        f"wrk -t1 -c32, {rounds} interleaved rounds of {seconds} s on loopback, server and wrk "
        "pinned to a CPU each)",
        "",
        "Medians over the rounds; % = median of per-round ratios to /healthz (the strict "
        "floor), and to the trivial endpoint on plain uvicorn.",
        "",
        "| endpoint | requests/s | % of /healthz | % of trivial | p50 ms | p99 ms |",
        "|---|--:|--:|--:|--:|--:|",
    ]
    for result in results:
        out.append(
            f"| {result.case} | {median(result.rps):,.0f} | **{median(result.ratios):.0%}** "
            f"({min(result.ratios):.0%}-{max(result.ratios):.0%}) | "
            f"{median(result.trivial_ratios):.0%} | {median(result.p50):.2f} | "
            f"{median(result.p99):.2f} |"
        )
    return out


def rss_section(config_dir: Path, count: int, log) -> list[str]:  # type: ignore[no-untyped-def]
    command = [sys.executable, str(HERE / "bench_rss.py"), str(config_dir), str(count)]
    samples = []
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=os.environ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            samples.append(json.loads(line))
            log(f"rss {samples[-1]}")
    if proc.returncode:
        raise SystemExit("bench_rss.py failed")
    warm = samples[1]  # after 10 %: the cache is full by then
    top = max(s["rss"] for s in samples[1:])
    low = min(s["rss"] for s in samples[1:])
    mib = 1024 * 1024
    return [
        f"### Memory: {count:,} distinct tokens, each verified twice (HS256)",
        "",
        f"RSS after {warm['tokens']:,} tokens {warm['rss'] / mib:.1f} MiB; from there to the end "
        f"min {low / mib:.1f} MiB, max {top / mib:.1f} MiB: "
        f"**{(top - warm['rss']) / warm['rss']:+.1%}** (target ±10 %). "
        f"Cache at the end: {samples[-1]['cache_entries']:,} entries, "
        f"{samples[-1]['cache_bytes'] / mib:.1f} MiB counted; "
        f"{samples[-1]['seconds']:.0f} s for the run.",
        "",
        "| tokens | RSS MiB | cache entries |",
        "|--:|--:|--:|",
        *(f"| {s['tokens']:,} | {s['rss'] / mib:.1f} | {s['cache_entries']:,} |" for s in samples),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds, shorter runs")
    parser.add_argument("--only", default=",".join(SECTIONS), help="sections, comma-separated")
    parser.add_argument("--out", type=Path, help="also write the report to this file")
    args = parser.parse_args()
    only = set(args.only.split(","))
    rounds, batch = (7, 150) if args.quick else (15, 300)
    rss_tokens = 200_000 if args.quick else 1_000_000

    def log(text: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)

    report = ["## realmgate benchmark", "", *machine(), ""]
    from realmgate.verifier import Verifier

    with tempfile.TemporaryDirectory() as tmp:
        keys = make_keys()
        config = write_config(Path(tmp), keys)
        verifier = Verifier(config)
        if "lib" in only:
            report += [*lib_section(keys, verifier.verify, rounds, batch, log), ""]
        if "cache" in only:
            log("cache hits")
            hot = make_tokens(keys["RS256"], 100, seed=99)
            report += [*cache_section(Verifier(config).verify, hot, rounds), ""]
        if "http" in only:
            log("signing tokens for the HTTP run")
            # Short rounds, many of them: this machine's speed drifts within seconds, and a
            # ratio is only as good as the two runs it compares being under the same load.
            http_rounds, http_seconds = (4, 2) if args.quick else (9, 3)
            unique = make_tokens(keys["RS256"], 4_000 * (http_rounds + 1), seed=7)
            report += [
                *http_section(config, unique[0], unique[1:], http_seconds, http_rounds),
                "",
            ]
        if "rss" in only:
            log(f"RSS over {rss_tokens} tokens")
            report += [*rss_section(Path(tmp), rss_tokens, log), ""]
    text = "\n".join(report)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
