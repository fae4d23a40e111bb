"""Property tests (Hypothesis): realmgate never crashes on garbage and never accepts a token
that was changed in any way.

* any text or bytes → ``parse_compact`` returns a token or raises ``InvalidToken``;
  ``Verifier.verify`` returns a refusal Decision with a catalogue id, and never the
  internal-fault id RG9001S (which is how the verifier reports an unexpected exception);
* structured tokens (random headers, random claim values of every JSON type) signed by the
  trusted key → a Decision, never RG9001S; an accepted one really satisfies the claim rules;
* mutated valid tokens (bit flips, segment swaps, truncation, re-encoding, duplication) are
  never accepted unless the mutation gave back the original text;
* mutated TOML → ``parse_config`` gives a Config or a ``ConfigError``, nothing else;
* random requests → every auth filter gives a FilterResult;
* random argv → ``realmgate`` returns an exit code (0, 1 or 2), never 3 (internal fault).

Run time is bounded: each property has a small ``max_examples`` so the file takes seconds.
For a longer run use the ``long`` profile (registered in ``tests/conftest.py``)::

    .venv/bin/python -m pytest tests/test_fuzz_properties.py --hypothesis-profile=long

which raises every property here to the profile's ``max_examples`` (20,000).
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from realmgate import jws
from realmgate.config import load_config, parse_config
from realmgate.configmodel import Config
from realmgate.errors import ConfigError, InvalidToken
from realmgate.filters import compile_filter
from realmgate.jws import parse_compact
from realmgate.jws_sign import sign_compact
from realmgate.messages import CATALOGUE
from realmgate.request import RequestInfo
from realmgate.verifier import Verifier
from tests.conftest import pem_certificate

SECRET_ENV = "RG_FUZZ_SECRET"
SECRET = "fuzz-shared-secret-0123456789abcdef0123456789"
ISS = "https://fuzz.example"
ISS_HS = "https://fuzz-hs.example"
ISS_ES = "https://fuzz-es.example"


def examples(n: int) -> int:
    """``n`` examples normally; the profile's count when a larger profile is loaded."""
    loaded = settings.default.max_examples
    return loaded if loaded > 100 else n


def fast(n: int) -> settings:
    return settings(
        max_examples=examples(n),
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )


CONFIG = f"""
[[client]]
id = "rsa"
issuers = ["{ISS}"]
algorithms = ["RS256", "PS256"]
trust_store = "trust"
audiences = ["api", "other"]
map_to_registry_user = true
clock_skew = 30
max_age = 3600
required_claims = ["sub"]
auth_filter = "internal"

[[client]]
id = "hs"
issuers = ["{ISS_HS}"]
algorithms = ["HS256"]
shared_secret_env = "{SECRET_ENV}"
audiences = "any"
map_to_registry_user = true
token_reuse = false

[[client]]
id = "es"
issuers = ["{ISS_ES}"]
algorithms = ["ES256"]
trust_store = "trust-ec"
audiences = ["api"]
map_to_registry_user = true
header = "X-Token"

[[auth_filter]]
id = "internal"
[[auth_filter.condition]]
kind = "remote_address"
match = "contains"
value = "10.1.[0-7].*|192.0.2.0/24"
[[auth_filter.condition]]
kind = "request_url"
match = "not_contains"
value = "/admin/|/private"

[[auth_filter]]
id = "everything"
[[auth_filter.condition]]
kind = "host"
match = "contains"
value = "example.com|example.org"
[[auth_filter.condition]]
kind = "user_agent"
match = "not_contains"
value = "curl"
[[auth_filter.condition]]
kind = "request_header"
name = "X-Tenant"
match = "equals"
value = "blue"
[[auth_filter.condition]]
kind = "cookie"
name = "session"
match = "contains"
value = "abc"
[[auth_filter.condition]]
kind = "remote_address"
match = "greater_than"
value = "2001:db8::[0-f]"

[[auth_filter]]
id = "below"
[[auth_filter.condition]]
kind = "remote_address"
match = "less_than"
value = "10.0.0.0/8"
[[auth_filter.condition]]
kind = "cookie"
match = "equals"
value = "a=b"

[limits]
max_token_bytes = 8192
"""


@dataclass
class World:
    dir: Path
    config: Path
    verifier: Verifier
    rsa: Any
    ec: Any
    tokens: dict[str, str]

    def fresh(self) -> Verifier:
        return Verifier(load_config(self.config))


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory,
    rsa_key: rsa.RSAPrivateKey,
    ec_key: ec.EllipticCurvePrivateKey,
) -> Iterator[World]:
    directory = tmp_path_factory.mktemp("fuzz")
    (directory / "trust").mkdir()
    (directory / "trust" / "fuzz.pem").write_bytes(pem_certificate(rsa_key, "fuzz"))
    (directory / "trust-ec").mkdir()
    (directory / "trust-ec" / "fuzz-ec.pem").write_bytes(pem_certificate(ec_key, "fuzz-ec"))
    config = directory / "realmgate.toml"
    config.write_text(CONFIG)
    previous = os.environ.get(SECRET_ENV)
    os.environ[SECRET_ENV] = SECRET
    from realmgate.keys.signing import signing_key_from_private

    now = int(time.time())
    base = {"sub": "alice", "aud": "api", "iat": now, "exp": now + 3000}
    tokens = {
        "rsa": sign_compact(
            {"iss": ISS, **base},
            signing_key_from_private(rsa_key, source="t"),
            "RS256",
            kid="fuzz",
        ),
        "ps": sign_compact(
            {"iss": ISS, **base}, signing_key_from_private(rsa_key, source="t"), "PS256"
        ),
        "es": sign_compact(
            {"iss": ISS_ES, **base}, signing_key_from_private(ec_key, source="t"), "ES256"
        ),
    }
    try:
        yield World(directory, config, Verifier(load_config(config)), rsa_key, ec_key, dict(tokens))
    finally:
        if previous is None:
            os.environ.pop(SECRET_ENV, None)
        else:
            os.environ[SECRET_ENV] = previous


def check_refusal_decision(decision: Any) -> None:
    assert decision.message_id in CATALOGUE, decision.message_id
    assert decision.message_id != "RG9001S", decision.reason
    assert decision.status in (401, 403, 503)


# --- the parser ---------------------------------------------------------------------------

b64_alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
segment_text = st.text(alphabet=b64_alphabet + "=+/. \n\t*\u00e9", max_size=60)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=12,
)


@st.composite
def json_bytes(draw: st.DrawFn) -> bytes:
    """JSON-ish bytes: valid JSON of any type, or a valid object with raw edits."""
    value = draw(json_values | st.dictionaries(st.text(max_size=8), json_values, max_size=6))
    text = json.dumps(value).encode()  # NaN and Infinity included (not JSON: refused)
    if draw(st.booleans()):
        position = draw(st.integers(0, len(text)))
        text = text[:position] + draw(st.binary(max_size=4)) + text[position:]
    return text


tokenish = st.one_of(
    st.text(max_size=200),
    st.binary(max_size=200).map(lambda b: b.decode("latin-1")),
    st.lists(segment_text, min_size=1, max_size=6).map(".".join),
    st.tuples(json_bytes(), json_bytes(), st.binary(max_size=80)).map(
        lambda parts: ".".join(b64(p) for p in parts)
    ),
)


@fast(400)
@given(tokenish)
@example("..")
@example("e30.e30.")
@example("eyJhbGciOiJub25lIn0.e30.")
@example(".".join([b64(b'{"alg":"RS256","crit":5}'), "e30", "c2ln"]))
@example(".".join([b64(b'{"alg":"RS256","kid":"\\ud800"}'), "e30", "c2ln"]))
def test_parse_compact_returns_a_token_or_a_typed_refusal(text: str) -> None:
    try:
        parsed = parse_compact(text)
    except InvalidToken as exc:
        assert exc.message_id in CATALOGUE and exc.message_id.startswith("RG1")
        return
    assert isinstance(parsed.alg, str) and parsed.alg.lower() != "none"
    assert isinstance(parsed.claims, dict)
    assert "crit" not in parsed.header and "b64" not in parsed.header


@fast(400)
@given(tokenish)
def test_verify_returns_a_refusal_for_garbage(world: World, text: str) -> None:
    decision = world.verifier.verify(text)
    assert not decision.accepted
    check_refusal_decision(decision)


@fast(200)
@given(st.binary(max_size=300))
def test_verify_random_bytes_as_latin1_and_utf8(world: World, data: bytes) -> None:
    for text in (data.decode("latin-1"), data.decode("utf-8", "replace")):
        decision = world.verifier.verify(text)
        assert not decision.accepted
        check_refusal_decision(decision)


# --- structured tokens signed by the trusted key ------------------------------------------

claim_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0, 1, 2**31, 2**63 - 1, 253402300799, 253402300800, -0.0, 1e300]),
    st.text(max_size=10),
    st.lists(st.text(max_size=6) | st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
)
header_values = st.fixed_dictionaries(
    {"alg": st.sampled_from(["RS256", "PS256", "RS384", "HS256", "none", "ES256", "EdDSA"])},
    optional={
        "kid": st.one_of(st.text(max_size=20), st.integers(), st.just("fuzz")),
        "typ": st.sampled_from(["JWT", "jwt", "at+jwt", 1]),
        "cty": st.sampled_from(["JWT", "json", None, 3]),
        "x5t": st.one_of(st.text(max_size=10), st.none()),
        "jku": st.just("http://127.0.0.1:1/keys"),
        "jwk": st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=2),
    },
)


@st.composite
def claim_sets(draw: st.DrawFn) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": draw(st.sampled_from([ISS, ISS + "/", "", ISS_ES])),
        "sub": "alice",
        "aud": "api",
        "iat": now,
        "exp": now + 600,
    }
    for name in draw(st.sets(st.sampled_from(["iss", "sub", "aud", "iat", "exp", "nbf", "jti"]))):
        value = draw(claim_values | st.sampled_from([now, now + 10**6, now - 10**6]))
        if value is None and draw(st.booleans()):
            claims.pop(name, None)
        else:
            claims[name] = value
    return claims


def signed(header: dict[str, Any], claims: dict[str, Any], key: Any, alg: str) -> str:
    from tests.test_attacks import raw_sign

    head = b64(json.dumps(header).encode())
    body = b64(json.dumps(claims).encode())
    return f"{head}.{body}.{b64(raw_sign(alg, key, f'{head}.{body}'.encode()))}"


@fast(300)
@given(header_values, claim_sets())
def test_structured_tokens_signed_by_the_trusted_key(
    world: World, header: dict[str, Any], claims: dict[str, Any]
) -> None:
    """Whatever the header and claims, a Decision; and an accepted token really passed."""
    token = signed(header, claims, world.rsa, "RS256")
    request = RequestInfo.build(remote_addr="10.1.2.3", url="https://api.example.com/x")
    decision = world.verifier.verify(token, request)
    if not decision.accepted:
        check_refusal_decision(decision)
        return
    now = time.time()
    assert header["alg"] == "RS256" and header.get("kid", "fuzz") == "fuzz"
    assert "cty" not in header or header["cty"] in ("json", None)
    assert claims["iss"] == ISS
    aud = claims["aud"]
    audiences = [aud] if isinstance(aud, str) else aud
    assert all(isinstance(a, str) for a in audiences) and {"api", "other"} & set(audiences)
    for name in ("exp", "iat", "nbf"):
        if name in claims:
            assert type(claims[name]) in (int, float) and claims[name] >= 0
    assert claims["exp"] > now - 30
    assert decision.local_user == claims["sub"]


# --- mutations of valid tokens -------------------------------------------------------------


def _flip_bit(token: str, index: int, bit: int) -> str:
    raw = bytearray(token.encode("ascii"))
    raw[index % len(raw)] ^= 1 << (bit % 7)
    return raw.decode("ascii")


def _segments(token: str) -> list[str]:
    return token.split(".")


@st.composite
def mutated(draw: st.DrawFn, token: str) -> str:
    parts = _segments(token)
    kind = draw(
        st.sampled_from(
            [
                "flip-text-bit",
                "flip-decoded-bit",
                "swap-segments",
                "truncate",
                "reencode",
                "duplicate-segment",
                "insert",
                "delete",
                "replace-segment",
                "case",
            ]
        )
    )
    if kind == "flip-text-bit":
        return _flip_bit(token, draw(st.integers(0, len(token) - 1)), draw(st.integers(0, 6)))
    if kind == "flip-decoded-bit":
        which = draw(st.integers(0, 2))
        data = bytearray(base64.urlsafe_b64decode(parts[which] + "=="))
        if not data:
            return token[:-1]
        data[draw(st.integers(0, len(data) - 1))] ^= 1 << draw(st.integers(0, 7))
        parts[which] = b64(bytes(data))
        return ".".join(parts)
    if kind == "swap-segments":
        i, j = draw(st.permutations([0, 1, 2]))[:2]
        parts[i], parts[j] = parts[j], parts[i]
        return ".".join(parts)
    if kind == "truncate":
        return token[: draw(st.integers(0, len(token) - 1))]
    if kind == "reencode":
        which = draw(st.integers(0, 2))
        data = base64.urlsafe_b64decode(parts[which] + "==")
        form = draw(st.sampled_from(["padded", "standard", "spaced", "json"]))
        if form == "padded":
            parts[which] = base64.urlsafe_b64encode(data).decode() + "="
        elif form == "standard":
            parts[which] = base64.b64encode(data).decode().rstrip("=")
        elif form == "spaced":
            parts[which] = parts[which][:3] + " " + parts[which][3:]
        elif which < 2:  # the same JSON value written differently
            value = json.loads(data)
            parts[which] = b64(json.dumps(value, indent=draw(st.sampled_from([None, 1]))).encode())
            if draw(st.booleans()):
                parts[which] = b64(json.dumps(value, sort_keys=True).encode())
        return ".".join(parts)
    if kind == "duplicate-segment":
        which = draw(st.integers(0, 2))
        return ".".join([*parts[: which + 1], parts[which], *parts[which + 1 :]])
    if kind == "insert":
        position = draw(st.integers(0, len(token)))
        return token[:position] + draw(st.text(min_size=1, max_size=3)) + token[position:]
    if kind == "delete":
        position = draw(st.integers(0, len(token) - 1))
        return token[:position] + token[position + draw(st.integers(1, 4)) :]
    if kind == "replace-segment":
        which = draw(st.integers(0, 2))
        parts[which] = draw(st.sampled_from(["", "e30", "bnVsbA", "W10", parts[(which + 1) % 3]]))
        return ".".join(parts)
    return token.swapcase() if draw(st.booleans()) else token.upper()


@fast(500)
@given(st.data())
def test_mutated_valid_tokens_are_never_accepted_unless_unchanged(
    world: World, data: st.DataObject
) -> None:
    name = data.draw(st.sampled_from(sorted(world.tokens)))
    token = world.tokens[name]
    request = RequestInfo.build(remote_addr="10.1.2.3", url="https://api.example.com/x")
    assert world.verifier.verify(token, request).accepted, name
    changed = data.draw(mutated(token))
    decision = world.verifier.verify(changed, request)
    if changed == token:
        assert decision.accepted
        return
    assert not decision.accepted, (name, changed)
    check_refusal_decision(decision)


@fast(200)
@given(st.data())
def test_mutated_hmac_tokens_are_never_accepted_unless_unchanged(
    world: World, data: st.DataObject
) -> None:
    now = int(time.time())
    claims = {"iss": ISS_HS, "sub": "bob", "exp": now + 600, "jti": f"j{time.monotonic_ns()}"}
    token = signed({"alg": "HS256"}, claims, SECRET.encode(), "HS256")
    verifier = world.verifier
    changed = data.draw(mutated(token))
    assume(changed != token)
    decision = verifier.verify(changed)
    assert not decision.accepted, changed
    check_refusal_decision(decision)


# --- configuration --------------------------------------------------------------------------

TOML_FRAGMENTS = [
    "[[client]]",
    "[[auth_filter]]",
    "[[auth_filter.condition]]",
    "[limits]",
    "[server]",
    'algorithms = ["none"]',
    'algorithms = "RS256"',
    "algorithms = []",
    "clock_skew = -1",
    "clock_skew = 1e400",
    "max_token_bytes = 0",
    'trust_store = "/nonexistent"',
    'trust_store = "trust/fuzz.pem"',
    'shared_secret_env = "NOT_SET_ANYWHERE"',
    'include = ["realmgate.toml"]',
    'include = ["nowhere.toml"]',
    'audiences = "ANY"',
    'value = "10.*.1.*"',
    'value = "::ffff:1.2.3.4/200"',
    'match = "regex"',
    'kind = "webApp"',
    'id = "rsa"',
    'jwks_uri = "ftp://x"',
    "token_reuse = 1",
    'issuers = [" spaced "]',
    'header = "Bad Header"',
    "x = { a = 1, a = 2 }",
    '"\\ud800" = 1',
    "[[client]]\nid = 1",
    "port = 99999",
]


@st.composite
def mutated_toml(draw: st.DrawFn) -> str:
    lines = CONFIG.splitlines()
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["delete", "insert", "replace", "duplicate", "chars", "cut"]))
        index = draw(st.integers(0, len(lines) - 1))
        if kind == "delete":
            del lines[index]
        elif kind == "insert":
            lines.insert(index, draw(st.sampled_from(TOML_FRAGMENTS) | st.text(max_size=30)))
        elif kind == "replace":
            line = lines[index]
            if "=" in line:
                key = line.split("=", 1)[0]
                value = draw(
                    st.sampled_from(['""', "[]", "{}", "0", "-5", "true", '"x"', "1979-05-27"])
                    | st.text(max_size=10).map(json.dumps)
                )
                lines[index] = f"{key}= {value}"
        elif kind == "duplicate":
            lines.insert(index, lines[index])
        elif kind == "chars":
            line = lines[index]
            position = draw(st.integers(0, len(line)))
            lines[index] = line[:position] + draw(st.text(max_size=3)) + line[position:]
        else:
            lines = lines[:index]
        if not lines:
            lines = [""]
    return "\n".join(lines)


@fast(300)
@given(mutated_toml())
def test_mutated_configuration_loads_or_lists_its_problems(world: World, text: str) -> None:
    try:
        config = parse_config(text, str(world.config))
    except ConfigError as exc:
        assert exc.problems, "a refused configuration names at least one problem"
        for problem in exc.problems:
            assert problem.message_id in CATALOGUE, problem.message_id
            assert problem.message_id != "RG9001S"
        return
    assert isinstance(config, Config)
    Verifier(config)  # a configuration that loads can be put in service


@fast(200)
@given(st.text(max_size=300) | st.binary(max_size=300).map(lambda b: b.decode("latin-1")))
def test_random_text_as_configuration(world: World, text: str) -> None:
    try:
        parse_config(text, str(world.config))
    except ConfigError as exc:
        assert all(p.message_id in CATALOGUE for p in exc.problems)


@fast(40)
@given(st.binary(max_size=200))
def test_load_config_of_random_file_bytes(world: World, data: bytes) -> None:
    path = world.dir / "random.toml"
    path.write_bytes(data)
    with contextlib.suppress(ConfigError):
        load_config(path)


# --- filters --------------------------------------------------------------------------------

addresses = st.one_of(
    st.none(),
    st.ip_addresses().map(str),
    st.sampled_from(
        ["10.1.2.3", "::ffff:10.1.2.3", "10.1.8.0", "fe80::1%eth0", "[::1]", "1.2.3", "", " "]
    ),
    st.text(max_size=20),
)
header_names = st.sampled_from(
    ["host", "user-agent", "x-tenant", "cookie", "authorization", "x-forwarded-for"]
) | st.text(min_size=1, max_size=8)


@fast(400)
@given(
    st.lists(st.tuples(header_names, st.text(max_size=40)), max_size=6),
    addresses,
    st.one_of(st.none(), st.text(max_size=60), st.just("https://api.example.com/admin/?a=1")),
    st.text(max_size=8),
)
def test_filters_on_random_requests(
    world: World, headers: list[tuple[str, str]], remote: str | None, url: str | None, method: str
) -> None:
    request = RequestInfo.build(headers, remote_addr=remote, url=url, method=method)
    config = world.verifier.config
    for spec in config.filters.values():
        result = compile_filter(spec).evaluate(request)
        assert isinstance(result.accepted, bool)
        assert result.accepted or result.reason
    decision = world.verifier.verify_request(request)
    assert not decision.accepted
    check_refusal_decision(decision)
    decision = world.verifier.verify(world.tokens["rsa"], request)
    if not decision.accepted:
        check_refusal_decision(decision)


@pytest.mark.parametrize("remote", ["\x00", "10.1.2.3\x00", "\ud800", "::1\x00"])
def test_filter_address_with_nul_or_surrogate_is_refused_not_a_crash(
    world: World, remote: str
) -> None:
    """Found by test_filters_on_random_requests: inet_pton raised ValueError on a NUL."""
    request = RequestInfo.build(remote_addr=remote, url="https://api.example.com/x")
    result = compile_filter(world.verifier.config.filters["internal"]).evaluate(request)
    assert not result.accepted and result.reason
    decision = world.verifier.verify(world.tokens["rsa"], request)
    assert decision.message_id == "RG2003E", decision.reason


# --- the command line -----------------------------------------------------------------------

FLAGS = [
    "--token",
    "-t",
    "--remote-addr",
    "--url",
    "--method",
    "--header",
    "-H",
    "--default-issuer",
    "--mode",
    "--json",
    "--strict",
    "--config",
    "--discovery-url",
]


@st.composite
def argv(draw: st.DrawFn, world: World) -> list[str]:
    command = draw(
        st.sampled_from(["verify", "explain", "check", "messages", "--version"])
        | st.text(max_size=8)
    )
    args = [command]
    configs = [str(world.config), str(world.dir / "missing.toml"), str(world.dir)]
    tokens = [*world.tokens.values(), "", "-", "env:RG_FUZZ_NOT_SET", "a.b.c"]
    for _ in range(draw(st.integers(0, 6))):
        flag = draw(st.sampled_from(FLAGS) | st.text(max_size=6))
        args.append(flag)
        if flag == "--config":
            args.append(draw(st.sampled_from(configs)))
        elif flag == "--discovery-url":
            args.append(draw(st.sampled_from(["https://127.0.0.1:1/d", "ftp://x", ""])))
        elif flag in ("--token", "-t"):
            args.append(draw(st.sampled_from(tokens) | st.text(max_size=40)))
        elif flag == "--mode":
            args.append(draw(st.sampled_from(["config", "auto", "discovery", "x"])))
        elif draw(st.booleans()):
            args.append(draw(st.text(max_size=20)))
    return args


@fast(150)
@given(data=st.data())
def test_cli_main_on_random_argv(
    world: World, data: st.DataObject, monkeypatch_module: pytest.MonkeyPatch
) -> None:
    from realmgate.cli.main import main

    args = data.draw(argv(world))
    out, err = io.StringIO(), io.StringIO()
    monkeypatch_module.setattr("sys.stdin", io.StringIO(""))
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(args)
        except SystemExit as exc:  # argparse's own --help / --version
            code = exc.code if isinstance(exc.code, int) else 0
            assert code == 0, (args, err.getvalue())
    assert code in (0, 1, 2), (args, code, err.getvalue())
    assert not err.getvalue().startswith("RG9001S"), (args, err.getvalue())
    assert "refused: RG9001S" not in out.getvalue(), args
    assert "Traceback" not in err.getvalue()


@pytest.fixture(scope="module")
def monkeypatch_module(world: World) -> Iterator[pytest.MonkeyPatch]:
    """Patches for the CLI runs, which also run in the world's directory (a relative path
    in a random argument names nothing outside it)."""
    patcher = pytest.MonkeyPatch()
    previous = Path.cwd()
    os.chdir(world.dir)
    try:
        yield patcher
    finally:
        patcher.undo()
        os.chdir(previous)


@pytest.fixture(autouse=True)
def _clean_header_cache() -> Iterator[None]:
    jws.header_cache_clear()
    yield
    jws.header_cache_clear()


def test_v1_verify_with_a_nul_in_remote_addr_is_a_decision_not_a_500(world: World) -> None:
    """The same bug through HTTP: the body's request.remote_addr reached the filter."""
    import asyncio

    import httpx

    from realmgate.server.app import RealmgateApp
    from realmgate.server.service import Service

    app = RealmgateApp(Service(world.config), watch=False)
    body = {
        "token": world.tokens["rsa"],
        "request": {"remote_addr": "10.1.2.3\u0000", "url": "https://api.example.com/x"},
    }

    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://gate.test") as client:
            return await client.post("/v1/verify", json=body)

    response = asyncio.run(call())
    assert response.status_code == 200, response.text
    decision = response.json()
    assert decision["accepted"] is False and decision["message_id"] == "RG2003E"


@pytest.mark.parametrize("char", ["\x85", "\u2028", "\u2029"])
def test_unicode_line_separators_inside_toml_strings(world: World, char: str) -> None:
    """Found by the long run of test_mutated_configuration_loads_or_lists_its_problems: a
    U+0085 inside a string made the line scanner (str.splitlines) lose count, and loading
    crashed with ValueError instead of a ConfigError. Lines are now counted as TOML does."""
    text = CONFIG.replace(
        'issuers = ["https://fuzz-es.example"]',
        f'issuers = ["https://fuzz-es.example/a{char}b"]\nbogus_key = 1',
    )
    expected_line = text.split("\n").index("bogus_key = 1") + 1
    with pytest.raises(ConfigError) as caught:
        parse_config(text, str(world.config))
    problems = [p for p in caught.value.problems if p.message_id == "RG6003E"]
    assert problems and f"realmgate.toml:{expected_line}:" in problems[0].text
    assert len(caught.value.problems) == 1
