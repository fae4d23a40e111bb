"""Differential fuzzing (atheris / libFuzzer) of the C fast lane (``realmgate._speedups``):
it may decline (None) anything, but what it accepts the pure-Python reference must accept
with identical values. Not part of CI. Run (the built-in seeds are added)::

    .venv/bin/python fuzz/atheris_speedups.py -atheris_runs=200000 [CORPUS_DIR]
    .venv/bin/python fuzz/atheris_speedups.py crash-<sha1>           # replay a finding

The C code has no coverage instrumentation (that needs clang), so besides raw bytes the
harness builds JSON from the input (:func:`gen`: mostly valid, with tricky pieces). The
first byte picks a mode, ``% 6`` (``rest``: the input after it):
0/1. ``loads_strict`` on ``rest`` / on an object of generated members, against
   ``jsonparse._strict_loads`` and ``jsonparse.loads_object`` (the verifier's parser);
2. ``split_compact(rest[1:] as Latin-1, max_bytes from rest[0])`` against the reference
   split and base64url (``b64url_decode``, ``decode_segment``, ``parse_compact``);
3. ``rest`` (Latin-1) as a token: ``Verifier.verify`` (fast lane) twice against
   ``verify(explain=True)`` (the reference), the Decision fields compared exactly;
4. ``rest`` split at the first NUL into header and payload, HS256-signed, then as 3;
5. a valid claims set (definition ``rest[0] % 3``) less the members in bit mask ``rest[1]``,
   plus ``rest[0] >> 6`` generated members, signed, then as 3.
Values compare by type (int, float, bool differ), floats by bits, dicts with key order. A
disagreement raises ``AssertionError``: a libFuzzer crash (exit code != 0).
"""

from __future__ import annotations

import base64
import contextlib
import hmac
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import atheris  # type: ignore[import-untyped]

with atheris.instrument_imports(include=["realmgate"]):
    import realmgate.verifier as verifier_module
    from realmgate import _speedups
    from realmgate.b64url import B64Error, b64url_decode, decode_segment
    from realmgate.decision import Decision
    from realmgate.errors import InvalidToken
    from realmgate.jsonparse import _strict_loads, loads_object
    from realmgate.jws import parse_compact
    from realmgate.lane import LaneRecord
    from realmgate.registry import MappingRule, SQLiteRegistry
    from realmgate.verifier import Verifier

SECRET = b"atheris-speedups-secret-0123456789abcdef01"
NOW = 1_800_000_000.25  # a fixed clock: findings replay identically
RULES = {
    "hs": 'audiences = ["api"]\nrealm = "R"\nclock_skew = 60',
    "any": 'audiences = "any"\nclock_skew = 0\nmax_age = 600\nrequired_claims = ["jti", "tenant"]',
    "open": "clock_skew = 5\nmap_to_registry_user = true",
}
ISS = {name: f"https://fuzz.example/{name}" for name in RULES}
CONFIG = '[registry]\npath = "registry.db"\n' + "".join(
    f'[[client]]\nid = "{name}"\nissuers = ["{ISS[name]}"]\nalgorithms = ["HS256"]\n'
    f'shared_secret_env = "RG_SPEEDUPS_SECRET"\n{rules}\n'
    for name, rules in RULES.items()
)
HEADER = b'{"alg":"HS256","typ":"JWT"}'
# Pieces for gen(), "|"-separated; \udcXX is the raw byte XX (surrogateescape): bad UTF-8.
PIECES = {
    "names": '"exp"|"nbf"|"iat"|"aud"|"sub"|"iss"|"jti"|"realm"|"a"|"\\u0061"|"s\\u0075b"|"é"'
    f'|"\\u00e9"|"{"n" * 32}"|"{"n" * 33}"|"a\\u0000"|"\\ud83d\\ude00"|"😀"|"a\\\\"|"\\""',
    "chars": 'a|é|😀|\u2028|\\n|\\/|\\\\|\\"|\\u0061|\\u00e9|\\ud83d\\ude00|\\u0000|\x7f'
    f"|\\uD83D\\uDe00|{'x' * 40}|\\b\\f\\r\\t|\\u20AC|\U0010ffff|\\udbff\\udfff",
    "numbers": "0|-0|-0.0|1.5|1e-400|-1e-400|5e-324|9223372036854775807|9223372036854775808"
    "|-9223372036854775808|18446744073709551615|-9223372036854775809|18446744073709551616"
    "|1234567890123456789|0.1e1|1E+2|1e-7|253402300799|253402300800|1800003600|1799999940"
    "|1800000000.25|1799999940.25|1800000060.25|1799999400.25|1800000005.25|true|false|null",
    # Refused (or declined) pieces, one pick in 16 anywhere:
    "bad": "\\ud800|\\uDFFF|\\ud83d\\u0041|\\x|\\|\x01|\t|\udc80|\udced\udca0\udc80|\udcc3"
    "|\udcc0\udcaf|\udcf4\udc90\udc80\udc80|\udcef\udcbb\udcbf|\\ud83d\\|1e400|-1e400|01|1."
    "|.5|-|1e|NaN|-Infinity|Infinity|1" + "0" * 70 + '|tru|nul| |\n|\x0b|\xa0|,|]|}|:|[|{|"',
}
PIECE = {kind: [p.encode("utf-8", "surrogateescape") for p in v.split("|")] for kind, v in PIECES.items()}  # fmt: skip  # noqa: E501
FIELDS = "accepted status message_id client_id issuer subject realm local_user key_id algorithm"
FIELDS += " token_hash realm_source expires_at"
COUNTED = "inputs tokens ok C-json-ok lane-None lane-Decision lane-back"
STATS = dict.fromkeys(COUNTED.split(), 0)
DIRECTORY = Path(tempfile.mkdtemp(prefix="realmgate-speedups-"))
FAST: Verifier | None = None
REFERENCE: Verifier | None = None


def pick(it: Iterator[int], kind: str) -> bytes:
    byte = next(it, 0)
    choices = PIECE["bad" if byte & 15 == 15 else kind]
    return choices[(byte if choices is PIECE[kind] else next(it, 0)) % len(choices)]


def members(it: Iterator[int], count: int, depth: int = 1) -> list[bytes]:
    """``count`` members; names recur, so duplicates (also through escapes) happen."""
    space = b" \t\n\r"
    return [pick(it, "names") + space[: next(it, 0) & 3] + b":" + gen(it, depth + 1)
            for _ in range(count)]  # fmt: skip


def gen(it: Iterator[int], depth: int = 1) -> bytes:
    """A JSON value (mostly valid, some pieces not) chosen by the input's bytes."""
    byte = next(it, 2)
    kind, more = byte & 7, byte >> 3
    if kind == 0 and depth <= 33:
        return b"{" + b",".join(members(it, more & 3, depth)) + b"}"
    if kind == 1 and depth <= 33:
        return b"[" + b",".join(gen(it, depth + 1) for _ in range(more & 3)) + b"]"
    if kind in (2, 3):
        return b'"' + b"".join(pick(it, "chars") for _ in range(more & 3)) + b'"'
    if kind == 4:  # any length: the 19-character and 64-bit boundaries
        digits = str(int.from_bytes(bytes(next(it, 0) for _ in range(more & 15)), "big"))
        return (b"-" if more & 16 else b"") + digits.encode() + (b".5e-3" if byte > 200 else b"")
    return pick(it, "numbers")


def sign(header: bytes, payload: bytes) -> str:
    signing_input = b".".join(base64.urlsafe_b64encode(x).rstrip(b"=") for x in (header, payload))
    mac = base64.urlsafe_b64encode(hmac.digest(SECRET, signing_input, "sha256")).rstrip(b"=")
    return (signing_input + b"." + mac).decode()


def claims_of(name: str) -> dict[str, Any]:
    now = int(NOW)
    base = {"iss": ISS[name], "sub": "user0001" if name != "open" else "anyone", "aud": "api",
            "iat": now - 30, "nbf": now - 30, "exp": now + 3600, "jti": "j-1", "tenant": "acme",
            "realm": "R"}  # fmt: skip
    return base if name != "open" else {**base, "iat": NOW - 1.5, "exp": NOW + 99.5}


def diff(a: Any, b: Any, path: str = "$") -> str | None:
    """The first difference of two JSON values, types, float bits and key order included."""
    if type(a) is not type(b):
        return f"{path}: {type(a).__name__} {a!r} vs {type(b).__name__} {b!r}"
    if type(a) is float:
        return None if a.hex() == b.hex() else f"{path}: {a!r} vs {b!r}"
    if type(a) not in (dict, list):
        return None if a == b else f"{path}: {a!r} vs {b!r}"
    if (list(a) if type(a) is dict else len(a)) != (list(b) if type(b) is dict else len(b)):
        return f"{path}: keys or lengths {a!r} vs {b!r}"
    pairs = [(k, a[k], b[k]) for k in a] if type(a) is dict else list(zip(range(len(a)), a, b))  # noqa: B905
    return next((d for k, x, y in pairs if (d := diff(x, y, f"{path}[{k!r}]"))), None)


def check_json(data: bytes) -> None:
    got = _speedups.loads_strict(data)
    if got is None:
        return  # declined: always allowed
    STATS["C-json-ok"] += 1
    for name, reference in (("_strict_loads", _strict_loads), ("loads_object", loads_object)):
        try:
            value = reference(data, "payload")
        except InvalidToken as exc:
            raise AssertionError(f"C accepts {data!r} = {got!r}; {name} refuses: {exc}") from None
        found = diff(got, value)
        assert found is None, f"loads_strict({data!r}) differs from {name}: {found}"


def reference_b64(part: str) -> bytes | None:
    """The segment decoded, None if refused; empty segments are refused (by contract)."""
    decoded = other = None
    if not part:
        return None
    with contextlib.suppress(B64Error):
        decoded = b64url_decode(part)
    with contextlib.suppress(ValueError, IndexError):  # what parse_compact runs (SIMD)
        other = decode_segment(part.encode("ascii"))
    assert decoded == other, f"b64url_decode / decode_segment disagree on {part!r}"
    return decoded


def check_split(token: str, max_bytes: int) -> None:
    got = _speedups.split_compact(token, max_bytes)
    expected: tuple[bytes, ...] | None = None
    if len(token) <= max_bytes and token.isascii() and token.count(".") == 2:
        head, payload, signature = token.split(".")
        decoded, mac = reference_b64(payload), reference_b64(signature)
        if head and decoded is not None and mac is not None:
            expected = (head.encode(), f"{head}.{payload}".encode(), decoded, mac)
    assert got == expected and (got is None or type(got) is tuple), (
        f"split_compact({token!r}, {max_bytes}) = {got!r}, expected {expected!r}"
    )
    try:
        parsed = parse_compact(token, max_bytes, payload_json=False)
    except InvalidToken:
        return
    if parsed.payload:
        parts = (parsed.header_b64.encode(), parsed.signing_input, parsed.payload)
        assert got == (*parts, parsed.signature), f"parse_compact disagrees on {token!r}"


def view(decision: Decision) -> dict[str, Any]:
    out = {name: getattr(decision, name) for name in FIELDS.split()}
    return {**out, "claims": dict(decision.claims), "mapping_rule": decision.mapping_rule}


def check_token(token: str) -> None:
    global FAST
    assert REFERENCE is not None and FAST is not None
    # The reference first: it also puts the header in the cache the lane reads.
    reference = REFERENCE.verify(token, explain=True)
    STATS["ok"] += reference.accepted
    STATS["tokens"] += 1
    for attempt in (1, 2):  # a first sighting, then a second one (through the Python stages)
        fast = FAST.verify(token)
        # verify(token) reaches fast_verify from C (lane_entry), past the counting wrapper.
        STATS["lane-Decision"] += attempt == 1 and isinstance(fast.recorded, LaneRecord)
        found = diff(view(fast), view(reference))
        assert found is None, (
            f"fast lane (sighting {attempt}) and reference disagree on {token!r}: {found}\n"
            f"fast: {fast.message_id} {fast.reason}\n"
            f"reference: {reference.message_id} {reference.reason}"
        )
    if STATS["tokens"] % 10000 == 0:  # a fresh verified-token cache and doorkeeper
        FAST = make_verifier()


def counting_fast_verify(*args: Any) -> Any:
    result = _speedups.fast_verify(*args)
    kind = "None" if result is None else "Decision" if type(result) is Decision else "back"
    STATS[f"lane-{kind}"] += 1
    return result


def TestOneInput(data: bytes) -> None:
    STATS["inputs"] += 1
    if STATS["inputs"] & (STATS["inputs"] - 1) == 0:
        print(f"#{STATS['inputs']} {STATS}", file=sys.stderr)
    if len(data) < 3:
        return
    mode, rest = data[0] % 6, data[1:]
    if mode == 0:
        check_json(rest)
    elif mode == 1:
        check_json(b"{" + b",".join(members(iter(rest[1:]), rest[0] & 7)) + b"}")
    elif mode == 2:
        check_split(rest[1:].decode("latin-1"), 16384 if rest[0] > 96 else rest[0])
    elif mode == 3:
        check_token(rest.decode("latin-1"))
    elif mode == 4:
        header, _, payload = rest.partition(b"\x00")
        check_token(sign(header, payload))
    else:
        claims = claims_of(("hs", "any", "open")[rest[0] % 3])
        kept = {k: v for i, (k, v) in enumerate(claims.items()) if not rest[1] & (1 << i)}
        payload = json.dumps(kept, separators=(",", ":")).encode()
        more = members(iter(rest[2:]), rest[0] >> 6)
        check_token(sign(HEADER, payload[:-1] + b"".join(b"," + m for m in more) + b"}"))


def seeds() -> list[bytes]:
    rich = {**claims_of("hs"), "n": [1, 2.5, None, True, {"b": "c"}], "big": 2**63 - 1}
    rich |= {"neg": -(2**63), "u": 2**64 - 1, "z": -0.0, "t": 5e-324, "s": "Zoë 😀 \u2028"}
    compact = json.dumps(rich, separators=(",", ":")).encode()
    out = [b"\x00" + compact, b"\x00" + json.dumps(rich, indent=1).encode()]
    out += [b'\x00{"a":"\\ud83d\\ude00\\u00e9\\n","\\u0062":[[[{}]]],"c":1e-400,"d":-0}']
    out += [b'\x00{"d":' + b"[" * n + b"]" * n + b"}" for n in (31, 32)]
    out += [b"\x01\x07" + bytes(range(0, 250, 3)), b"\x02\xff" + sign(HEADER, compact).encode()]
    for index, name in enumerate(ISS):
        payload = json.dumps(claims_of(name), separators=(",", ":")).encode()
        out += [b"\x03" + sign(HEADER, payload).encode(), b"\x04" + HEADER + b"\x00" + payload]
        out += [b"\x05" + bytes([index, 0]), b"\x05" + bytes([index | 192, 16, 3, 3, 4, 5, 6])]
    return out


def make_verifier() -> Verifier:
    registry = SQLiteRegistry(DIRECTORY / "registry.db")
    return Verifier(DIRECTORY / "realmgate.toml", registry=registry, clock=lambda: NOW)


def main(argv: list[str]) -> None:
    global FAST, REFERENCE
    (DIRECTORY / "realmgate.toml").write_text(CONFIG)
    os.environ["RG_SPEEDUPS_SECRET"] = SECRET.decode()
    registry = SQLiteRegistry(DIRECTORY / "registry.db")
    for user in ("user0001", "user0002"):
        registry.add(MappingRule(user, "R", f"local-{user}", "fuzz"))
    registry.close()
    FAST, REFERENCE = make_verifier(), make_verifier()
    verifier_module.fast_verify = counting_fast_verify  # type: ignore[attr-defined]
    if not any(Path(arg).is_file() for arg in argv[1:]):  # not a replay: add the seeds
        corpus = DIRECTORY / "seeds"  # after a given corpus directory, which gets new inputs
        corpus.mkdir()
        for index, seed in enumerate(seeds()):
            (corpus / f"seed-{index}").write_bytes(seed)
        argv = [*argv, str(corpus)]
    atheris.Setup(argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
