"""Coverage-guided fuzzing (atheris / libFuzzer) of the token parser and the verifier.

Not part of CI: it runs until stopped or for ``-max_total_time`` seconds. ::

    .venv/bin/pip install atheris            # a wheel for CPython 3.11 on Linux x86-64
    .venv/bin/python fuzz/atheris_parser.py --seed fuzz/corpus     # write seed tokens once
    .venv/bin/python fuzz/atheris_parser.py fuzz/corpus -max_total_time=300 -rss_limit_mb=2048

Any libFuzzer option works (``-runs=N``, ``-jobs=N -workers=N``, ``-dict=…``). A finding is
written as ``crash-<sha1>`` in the working directory; replay it with
``.venv/bin/python fuzz/atheris_parser.py crash-<sha1>``.

Each input is used two ways, chosen by its first byte:

* **raw** (even): the rest, decoded as Latin-1 (every byte is one character), is the token
  text. ``parse_compact`` must return a token or raise ``InvalidToken``; ``Verifier.verify``
  must return a refusal whose id is in the catalogue and is not RG9001S (the id the verifier
  gives an unexpected exception). It may accept only a token whose third segment is exactly
  the canonical base64url HS256 MAC of the first two as written (a seed given back
  unchanged): checked here independently of realmgate's parser.
* **signed** (odd): the rest is split into a header and a payload, which are base64url-
  encoded as they are and signed with the HS256 secret of the configured definition, so the
  fuzzer gets past the signature into the header rules, the JSON parser and the claim
  checks. An accepted token must then really satisfy the definition's rules.

A violation raises ``AssertionError``, which libFuzzer reports as a crash with its input.
"""

from __future__ import annotations

import base64
import hmac
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import atheris

with atheris.instrument_imports(include=["realmgate"]):
    from realmgate import jws
    from realmgate.config import load_config
    from realmgate.errors import InvalidToken
    from realmgate.jsonparse import loads_object
    from realmgate.messages import CATALOGUE
    from realmgate.verifier import Verifier

SECRET = b"atheris-fuzzing-secret-0123456789abcdef0123"
ISS = "https://fuzz.example"
CONFIG = f"""
[[client]]
id = "hs"
issuers = ["{ISS}"]
algorithms = ["HS256"]
shared_secret_env = "RG_ATHERIS_SECRET"
audiences = ["api"]
map_to_registry_user = true
clock_skew = 60
required_claims = ["sub"]

[limits]
max_token_bytes = 16384
"""


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def sign(header: bytes, payload: bytes) -> str:
    signing_input = f"{b64(header)}.{b64(payload)}"
    mac = hmac.new(SECRET, signing_input.encode(), "sha256").digest()
    return f"{signing_input}.{b64(mac)}"


def seed_tokens() -> list[bytes]:
    now = int(time.time())
    claims = {"iss": ISS, "sub": "alice", "aud": "api", "iat": now, "exp": now + 10**8}
    header = b'{"alg":"HS256","typ":"JWT"}'
    payload = json.dumps(claims).encode()
    raw = sign(header, payload).encode()
    return [
        b"\x00" + raw,
        b"\x01" + header + b"\x00" + payload,
        b'\x01{"alg":"HS256","crit":["b64"],"b64":false}\x00' + payload,
        b'\x01{"alg":"HS256","kid":"k"}\x00{"iss":"' + ISS.encode() + b'","exp":1e400}',
        b"\x00eyJhbGciOiJub25lIn0.e30.",
    ]


def _setup() -> Verifier:
    directory = Path(tempfile.mkdtemp(prefix="realmgate-atheris-"))
    config = directory / "realmgate.toml"
    config.write_text(CONFIG)
    os.environ["RG_ATHERIS_SECRET"] = SECRET.decode()
    return Verifier(load_config(config))


VERIFIER: Verifier | None = None


def check_accepted(token: str, decision: Any) -> None:
    """An accepted token is exactly signed and passed every rule of the definition."""
    head, payload_part, signature = token.split(".")
    mac = hmac.new(SECRET, f"{head}.{payload_part}".encode(), "sha256").digest()
    assert signature == b64(mac), "accepted without the exact canonical MAC"
    parsed = jws.parse_compact(token)
    claims = loads_object(parsed.payload, "payload")
    assert parsed.alg == "HS256", parsed.alg
    assert "crit" not in parsed.header and "b64" not in parsed.header
    assert str(parsed.header.get("cty", "")).upper() != "JWT"
    assert claims.get("iss") == ISS
    aud = claims.get("aud")
    assert aud == "api" or (isinstance(aud, list) and "api" in aud), aud
    exp = claims.get("exp")
    assert type(exp) in (int, float) and exp > time.time() - 61, exp
    for name in ("nbf", "iat"):
        value = claims.get(name)
        assert value is None or (type(value) in (int, float) and value >= 0), (name, value)
    assert isinstance(claims.get("sub"), str) and claims["sub"], claims.get("sub")
    assert decision.local_user == claims["sub"]


def TestOneInput(data: bytes) -> None:
    assert VERIFIER is not None
    if not data:
        return
    if data[0] & 1:
        header, _, payload = data[1:].partition(b"\x00")
        token = sign(header, payload)
    else:
        token = data[1:].decode("latin-1")
    try:
        jws.parse_compact(token)
    except InvalidToken as exc:
        assert exc.message_id in CATALOGUE, exc.message_id
    decision = VERIFIER.verify(token)
    if decision.accepted:
        check_accepted(token, decision)
        return
    assert decision.message_id in CATALOGUE, decision.message_id
    assert decision.message_id != "RG9001S", decision.reason


def main(argv: list[str]) -> None:
    global VERIFIER
    if len(argv) == 3 and argv[1] == "--seed":
        corpus = Path(argv[2])
        corpus.mkdir(parents=True, exist_ok=True)
        for index, seed in enumerate(seed_tokens()):
            (corpus / f"seed-{index}").write_bytes(seed)
        print(f"wrote {len(seed_tokens())} seeds to {corpus}")
        return
    VERIFIER = _setup()
    atheris.Setup(argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
