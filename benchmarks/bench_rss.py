"""RSS over a stream of distinct tokens (run in its own process by run.py).

    python benchmarks/bench_rss.py CONFIG_DIR TOKENS

Each token is new, and each is verified twice in a row, so that it is also admitted to the
verified-token cache (the worst case for memory: the cache fills to its entry and byte
bounds and then churns). HS256 tokens, because signing a million RSA tokens would take
longer than the measurement; every other stage (parse, selection, claims, revocation,
mapping, trace, cache) is the same for every algorithm. Prints one JSON line per sample.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import sys
import time
from pathlib import Path

from realmgate.b64url import b64url_encode
from realmgate.verifier import Verifier

PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_bytes() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * PAGE


def main() -> int:
    config_dir, count = Path(sys.argv[1]), int(sys.argv[2])
    secret = os.environ["REALMGATE_BENCH_SECRET"].encode()
    verifier = Verifier(config_dir / "realmgate.toml")
    header = b64url_encode(b'{"alg":"HS256","typ":"JWT"}')
    now = int(time.time())
    step = max(count // 20, 1)
    start = time.monotonic()
    for n in range(count):
        claims = {
            "iss": "https://idp.example.com/hs256",
            "sub": f"user{n % 1000:04d}",
            "aud": "api://realmgate-bench",
            "iat": now,
            "nbf": now,
            "exp": now + 3600,
            "jti": f"{n:032x}",
            "scope": "orders:read orders:write profile email",
            "tenant": "acme-production-eu-west-1",
            "roles": ["reader", "writer", "auditor"],
        }
        body = b64url_encode(json.dumps(claims, separators=(",", ":")).encode())
        signing_input = f"{header}.{body}"
        mac = hmac.digest(secret, signing_input.encode(), hashlib.sha256)
        token = f"{signing_input}.{b64url_encode(mac)}"
        for _ in range(2):
            if not verifier.verify(token).accepted:
                raise SystemExit(f"token {n} refused: {verifier.verify(token).reason}")
        if (n + 1) % step == 0:
            sample = {
                "tokens": n + 1,
                "rss": rss_bytes(),
                "cache_entries": len(verifier.token_cache),
                "cache_bytes": verifier.token_cache.bytes,
                "seconds": round(time.monotonic() - start, 1),
            }
            print(json.dumps(sample), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
