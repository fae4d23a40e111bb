"""TOML → Config: a full valid file, every problem id at its line, includes, trust stores."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, Encoding, pkcs12
from cryptography.x509.oid import NameOID

from realmgate.config import load_config, parse_config
from realmgate.configmodel import Config, Secret
from realmgate.errors import ConfigError

SECRET = "0123456789abcdef0123456789abcdef-long-enough"


def write(directory: Path, text: str, name: str = "realmgate.toml") -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text))
    return path


def marker_line(path: Path, marker: str) -> int:
    """Line of the line carrying the comment ``# <marker>`` (so tests do not count lines)."""
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if line.rstrip().endswith(f"# {marker}"):
            return number
    raise AssertionError(f"marker {marker} not in {path}")


def refused(path: Path) -> list[tuple[str, str, int]]:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    error = caught.value
    assert error.message_id == "RG6020E"
    assert error.values["count"] == len(error.problems)
    return [
        (p.message_id, Path(p.values["file"]).name, p.values.get("line")) for p in error.problems
    ]


def problem_texts(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return [p.text for p in caught.value.problems]


def certificate(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, cn: str) -> x509.Certificate:
    import datetime

    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )


@pytest.fixture(scope="module")
def rsa_pair() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ec_pair() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.setenv("RG_TEST_SECRET", SECRET)
    monkeypatch.delenv("RG_TEST_UNSET", raising=False)
    return monkeypatch


FULL = """\
    [[client]]
    id = "payroll"
    issuers = ["https://idp.example.com", "https://idp2.example.com"]
    algorithms = ["HS256", "HS512"]
    shared_secret_env = "RG_TEST_SECRET"
    audiences = ["payroll-api"]
    clock_skew = 60
    max_age = 3600
    required_claims = ["jti", "email"]
    user_claim = "upn"
    realm = "CORP"
    map_to_registry_user = true
    header = "X-Payroll-Token"
    token_reuse = false
    auth_filter = "intranet"  # L-filter-ref
    use_issuer = true
    replay_unavailable = "allow"

    [[client]]
    id = "remote"
    issuers = "https://login.example.org"
    algorithms = ["RS256", "ES256"]
    jwks_uri = "https://login.example.org/jwks"
    audiences = "any"
    jwks_cache_min = 30
    jwks_cache_max = 7200
    jwks_default_ttl = 900
    jwks_unknown_kid_cooldown = 0
    jwks_max_stale = 3600
    http_timeout = 2.5
    max_response_bytes = 100000

    [[client]]
    id = "discovered"
    issuers = ["https://accounts.example.net"]
    algorithms = ["PS256", "EdDSA"]
    discovery = true
    realm_claim = "tenant"

    [[auth_filter]]
    id = "intranet"
    [[auth_filter.condition]]
    kind = "remote_address"
    match = "equals"
    value = "10.1.[0-7].*"
    [[auth_filter.condition]]
    kind = "request_header"
    name = "X-Env"
    match = "notContain"
    value = "test|dev"

    [[issuer]]
    id = "local"
    issuer = "https://realmgate.local"
    key = "keys/signing.pem"
    algorithm = "ES256"
    kid = "k1"
    ttl = 120
    audiences = ["payroll-api"]

    [registry]
    path = "registry.db"

    [limits]
    max_token_bytes = 8192

    [discovery]
    allow = ["https://accounts.example.net", "*.example.com"]

    [trace]
    spec = "*=info:select=finest"

    [server]
    listen = "127.0.0.1:8443"
    [server.tls]
    cert = "server.pem"

    [replay]
    backend = "memory"
"""


def test_full_configuration(tmp_path: Path, env: pytest.MonkeyPatch) -> None:
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "signing.pem").write_text("not read at load time")
    path = write(tmp_path, FULL)
    config = load_config(path)
    assert isinstance(config, Config)
    assert config.path == str(path)
    assert config.files == (str(path.resolve()),)
    payroll, remote, discovered = config.clients
    assert payroll.id == "payroll"
    assert payroll.issuers == ("https://idp.example.com", "https://idp2.example.com")
    assert payroll.algorithms == ("HS256", "HS512")
    assert payroll.audiences == ("payroll-api",) and not payroll.audiences_any
    assert (payroll.clock_skew, payroll.max_age) == (60, 3600)
    assert payroll.required_claims == ("jti", "email")
    assert (payroll.user_claim, payroll.realm, payroll.realm_claim) == ("upn", "CORP", "realm")
    assert payroll.map_to_registry_user is True
    assert payroll.header == "X-Payroll-Token"
    assert payroll.token_reuse is False
    assert payroll.auth_filter == "intranet"
    assert payroll.use_issuer is True
    assert payroll.replay_unavailable == "allow"
    assert isinstance(payroll.shared_secret, Secret)
    assert payroll.shared_secret.reveal() == SECRET.encode()
    assert SECRET not in repr(payroll)
    assert payroll.static_keys == ()
    assert payroll.location.line == 1
    assert payroll.line_of("auth_filter") == marker_line(path, "L-filter-ref")
    assert payroll.line_of("no_such_key") == 1

    assert remote.issuers == ("https://login.example.org",)
    assert remote.audiences is None and remote.audiences_any
    assert remote.jwks_uri == "https://login.example.org/jwks"
    assert remote.use_issuer is None and remote.token_reuse is True
    assert remote.clock_skew == 300 and remote.max_age is None
    settings = remote.remote
    assert (settings.cache_min, settings.cache_max, settings.default_ttl) == (30, 7200, 900)
    assert (settings.unknown_kid_cooldown, settings.max_stale, settings.timeout) == (0, 3600, 2.5)
    assert settings.max_response_bytes == 100000 and not settings.allow_insecure_http

    assert discovered.discovery is True
    assert discovered.realm_claim == "tenant" and discovered.realm is None

    spec = config.filters["intranet"]
    assert [c.kind for c in spec.conditions] == ["remote_address", "request_header"]
    assert spec.conditions[1].match == "not_contains"
    assert spec.conditions[1].name == "X-Env"
    assert spec.conditions[0].match == "equals"

    (issuer,) = config.issuers
    assert issuer.key == str(tmp_path / "keys" / "signing.pem")
    assert (issuer.algorithm, issuer.kid, issuer.ttl) == ("ES256", "k1", 120)
    assert config.registry.path == "registry.db"
    assert config.limits.max_token_bytes == 8192
    assert config.limits.max_body_bytes == 64 * 1024
    assert config.discovery_allow == ("https://accounts.example.net", "*.example.com")
    assert config.trace_spec == "*=info:select=finest"
    assert config.sections["server"]["listen"] == "127.0.0.1:8443"
    assert config.sections["server"]["tls"] == {"cert": "server.pem"}
    assert config.sections["replay"]["backend"] == "memory"
    assert "admin" not in config.sections


def test_parse_config_from_text(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    text = """
        [[client]]
        id = "a"
        issuers = "https://i"
        algorithms = "HS384"
        shared_secret_env = "RG_TEST_SECRET"
    """
    config = parse_config(textwrap.dedent(text), str(tmp_path / "inline.toml"))
    assert config.clients[0].algorithms == ("HS384",)
    assert config.trace_spec == "*=info"
    assert dict(config.filters) == {}


def test_empty_file_is_an_empty_configuration(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, ""))
    assert config.clients == () and config.issuers == ()


# --- each problem id at its line -----------------------------------------------------


def test_rg6001e_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "missing.toml")
    (problem,) = caught.value.problems
    assert problem.message_id == "RG6001E"
    assert "missing.toml" in problem.text


def test_rg6002e_toml_syntax_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        [[client]]
        id = "a"
        issuers = ["x"  # L-bad
        algorithms = ["RS256"]
    """,
    )
    assert refused(path) == [("RG6002E", "realmgate.toml", marker_line(path, "L-bad") + 1)]


def test_rg6002e_reports_the_tomllib_line(tmp_path: Path) -> None:
    path = write(tmp_path, "a = 1\nb = = 2\n")
    assert refused(path) == [("RG6002E", "realmgate.toml", 2)]


def test_rg6003e_unknown_keys_with_hints(tmp_path: Path, env: pytest.MonkeyPatch) -> None:
    path = write(
        tmp_path,
        """\
        [[client]]
        id = "a"
        issuers = ["https://i"]
        algorithms = ["HS256"]
        shared_secret_env = "RG_TEST_SECRET"
        clockSkew = 10  # L-liberty
        audiencs = ["x"]  # L-typo
        [[auth_filter]]
        id = "f"
        [[auth_filter.condition]]
        kind = "host"
        value = "h"
        matchType = "equals"  # L-cond
        [srever]  # L-table
        port = 1
        [limits]
        max_tokn_bytes = 1  # L-limits
    """,
    )
    texts = problem_texts(path)
    assert [t.split(":")[1] for t in texts] == [
        str(marker_line(path, m)) for m in ("L-liberty", "L-typo", "L-cond", "L-table", "L-limits")
    ]
    assert (
        "unknown setting 'clockSkew' in [[client]] 'a' (did you mean 'clock_skew'? Liberty's"
        in texts[0]
    )
    assert "did you mean 'audiences'?" in texts[1]
    assert "did you mean 'match'?" in texts[2]
    assert "'srever' in the top level (did you mean 'server'?)" in texts[3]
    assert "did you mean 'max_token_bytes'?" in texts[4]
    assert all(t.startswith("RG6003E") for t in texts)


def test_rg6004e_wrong_types_and_ranges(tmp_path: Path, env: pytest.MonkeyPatch) -> None:
    path = write(
        tmp_path,
        """\
        [[client]]
        id = "a"
        issuers = ["https://i", 3]  # L-iss
        algorithms = ["HS256"]
        shared_secret_env = "RG_TEST_SECRET"
        clock_skew = -5  # L-skew
        max_age = 0  # L-age
        header = "X Token"  # L-header
        token_reuse = "no"  # L-reuse
        audiences = "ANY"  # L-aud
        replay_unavailable = "ignore"  # L-replay
    """,
    )
    texts = problem_texts(path)
    lines = [int(t.split(":")[1]) for t in texts]
    assert lines == [
        marker_line(path, m)
        for m in ("L-iss", "L-skew", "L-age", "L-header", "L-reuse", "L-aud", "L-replay")
    ]
    assert all(t.startswith("RG6004E") for t in texts)
    assert "must be at least 0, found -5" in texts[1]
    assert "not a valid HTTP header name" in texts[3]
    assert "expected true or false" in texts[4]
    assert 'write audiences = "any"' in texts[5]


def test_rg6004e_urls_and_remote_knobs(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        [[client]]
        id = "a"
        issuers = ["http://plain.example"]
        algorithms = ["RS256"]
        jwks_uri = "http://plain.example/jwks"  # L-jwks
        jwks_cache_min = 100  # L-min
        jwks_cache_max = 10
        http_timeout = 0  # L-timeout
        [[client]]
        id = "b"
        issuers = ["http://plain.example"]
        algorithms = ["ES256"]
        discovery = true  # L-disc
        [[client]]
        id = "c"
        issuers = ["http://plain.example"]
        algorithms = ["ES256"]
        discovery = "http://plain.example/.well-known/openid-configuration"
        allow_insecure_http = true
    """,
    )
    texts = problem_texts(path)
    assert [int(t.split(":")[1]) for t in texts] == [
        marker_line(path, m) for m in ("L-jwks", "L-min", "L-timeout", "L-disc")
    ]
    assert "is not an https URL" in texts[0]
    assert "over jwks_cache_max" in texts[1]
    assert "derives the discovery URL from issuer 'http://plain.example'" in texts[3]


def test_rg6004e_include_cycle(tmp_path: Path) -> None:
    write(tmp_path, 'include = ["b.toml"]\n', "a.toml")
    b = write(tmp_path, 'include = ["a.toml"]  # L-inc\n', "b.toml")
    problems = refused(tmp_path / "a.toml")
    assert problems == [("RG6004E", "b.toml", marker_line(b, "L-inc"))]
    assert "a.toml → b.toml → a.toml" in problem_texts(tmp_path / "a.toml")[0]


def test_rg6005e_algorithms(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        [[client]]
        id = "a"
        issuers = ["https://i"]
        jwks_uri = "https://i/jwks"
        algorithms = ["RS256", "None", "rs512", "XYZ9"]  # L-algs
    """,
    )
    texts = problem_texts(path)
    line = marker_line(path, "L-algs")
    assert [int(t.split(":")[1]) for t in texts] == [line, line, line]
    assert "'None' in [[client]] 'a' is not accepted: 'none' means unsigned" in texts[0]
    assert "did you mean 'RS512'?" in texts[1]
    assert "(supported: RS256, RS384, RS512, PS256" in texts[2]


def test_rg6006e_missing_files(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        [[client]]
        id = "a"
        issuers = ["https://i"]
        algorithms = ["RS256"]
        trust_store = "nowhere.pem"  # L-store
        [[issuer]]
        id = "me"
        issuer = "https://me"
        key = "nokey.pem"  # L-key
        algorithm = "RS256"
    """,
    )
    assert refused(path) == [
        ("RG6006E", "realmgate.toml", marker_line(path, "L-store")),
        ("RG6006E", "realmgate.toml", marker_line(path, "L-key")),
    ]
    assert str(tmp_path / "nowhere.pem") in problem_texts(path)[0]


def test_rg6007e_duplicate_ids(tmp_path: Path, env: pytest.MonkeyPatch) -> None:
    client = """
        [[client]]
        id = "same"  # L-{n}
        issuers = ["https://i"]
        algorithms = ["HS256"]
        shared_secret_env = "RG_TEST_SECRET"
    """
    path = write(tmp_path, client.format(n=1) + client.format(n=2))
    assert refused(path) == [("RG6007E", "realmgate.toml", marker_line(path, "L-2"))]
    assert f"first defined at line {marker_line(path, 'L-1')}" in problem_texts(path)[0]


def test_rg6009e_missing_settings(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        [[client]]  # L-c1
        id = "a"
        algorithms = ["RS256"]
        jwks_uri = "https://i/jwks"
        [[client]]  # L-c2
        id = "b"
        issuers = ["https://i"]
        algorithms = ["HS256"]
        [[client]]  # L-c3
        id = "c"
        issuers = ["https://i"]
        algorithms = ["ES256"]
        [[auth_filter]]  # L-f
        id = "f"
        [[auth_filter]]  # L-g
        id = "g"
        condition = []
    """,
    )
    texts = problem_texts(path)
    assert [int(t.split(":")[1]) for t in texts] == [
        marker_line(path, m) for m in ("L-c1", "L-c2", "L-c3", "L-f", "L-g")
    ]
    assert "missing the required setting 'issuers'" in texts[0]
    assert "missing the required setting 'shared_secret_env'" in texts[1]
    assert "'trust_store, jwks_uri or discovery'" in texts[2]
    assert "'condition'" in texts[3]


def test_rg6010e_unknown_filter(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        [[client]]
        id = "a"
        issuers = ["https://i"]
        algorithms = ["RS256"]
        jwks_uri = "https://i/jwks"
        auth_filter = "missing"  # L-ref
    """,
    )
    assert refused(path) == [("RG6010E", "realmgate.toml", marker_line(path, "L-ref"))]


def test_rg6011e_secret_variable_not_set(tmp_path: Path, env: pytest.MonkeyPatch) -> None:
    env.setenv("RG_TEST_EMPTY", "")
    path = write(
        tmp_path,
        """\
        [[client]]
        id = "a"
        issuers = ["https://i"]
        algorithms = ["HS256"]
        shared_secret_env = "RG_TEST_UNSET"  # L-unset
        [[client]]
        id = "b"
        issuers = ["https://j"]
        algorithms = ["HS512"]
        shared_secret_env = "RG_TEST_EMPTY"  # L-empty
    """,
    )
    assert refused(path) == [
        ("RG6011E", "realmgate.toml", marker_line(path, "L-unset")),
        ("RG6011E", "realmgate.toml", marker_line(path, "L-empty")),
    ]
    assert "RG_TEST_UNSET is not set or empty" in problem_texts(path)[0]


def test_rg6012e_bad_filter_conditions(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        [[auth_filter]]
        id = "f"
        [[auth_filter.condition]]
        kind = "host"
        value = "ok"
        [[auth_filter.condition]]  # L-ip
        kind = "remote_address"
        match = "equals"
        value = "10.*.1.*"
        [[auth_filter.condition]]  # L-kind
        kind = "webApp"
        value = "x"
        [[auth_filter]]
        id = "g"
        [[auth_filter.condition]]  # L-match
        kind = "user_agent"
        match = "greaterThan"
        value = "x"
    """,
    )
    assert refused(path) == [
        ("RG6012E", "realmgate.toml", marker_line(path, m)) for m in ("L-ip", "L-kind", "L-match")
    ]
    texts = problem_texts(path)
    assert "auth_filter 'f'" in texts[0] and "every later part must be '*'" in texts[0]
    assert "auth_filter 'g'" in texts[2]


def test_rg6013e_use_issuer_twice(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        [[client]]
        id = "a"
        issuers = ["https://i"]
        algorithms = ["RS256"]
        jwks_uri = "https://i/jwks"
        use_issuer = true
        [[client]]
        id = "b"
        issuers = ["https://i"]
        algorithms = ["RS256"]
        jwks_uri = "https://i/jwks"
        use_issuer = true  # L-second
        [[client]]
        id = "c"
        issuers = ["https://i"]
        algorithms = ["RS256"]
        jwks_uri = "https://i/jwks"
        use_issuer = false
    """,
    )
    assert refused(path) == [("RG6013E", "realmgate.toml", marker_line(path, "L-second"))]
    assert "definitions 'a', 'b' share issuer 'https://i'" in problem_texts(path)[0]


def test_rg6013e_allow_issuer_selection_also_claims_the_issuer(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        [[client]]
        id = "a"
        issuers = ["https://i"]
        algorithms = ["RS256"]
        jwks_uri = "https://i/jwks"
        use_issuer = true
        [[client]]
        id = "b"
        issuers = ["https://i"]
        algorithms = ["RS256"]
        jwks_uri = "https://i/jwks"
        allow_issuer_selection = true
    """,
    )
    assert [p[0] for p in refused(path)] == ["RG6013E"]


def test_discovery_allow_entries_are_validated(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        [discovery]
        allow = ["https://idp.example.com", "ftp://x", "*.example.org", "not a host"]  # L-allow
    """,
    )
    problems = refused(path)
    assert [p[0] for p in problems] == ["RG6004E", "RG6004E"]
    assert {p[2] for p in problems} == {marker_line(path, "L-allow")}


def test_rg6014e_exclusive_settings(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        [[client]]
        id = "a"
        issuers = ["https://i"]
        algorithms = ["RS256"]
        jwks_uri = "https://i/jwks"
        discovery = true  # L-disc
        realm = "R"
        realm_claim = "tenant"  # L-realm
        [registry]
        path = "r.db"
        url = "sqlite:///r.db"  # L-registry
    """,
    )
    assert refused(path) == [
        ("RG6014E", "realmgate.toml", marker_line(path, "L-disc")),
        ("RG6014E", "realmgate.toml", marker_line(path, "L-realm")),
        ("RG6014E", "realmgate.toml", marker_line(path, "L-registry")),
    ]
    texts = problem_texts(path)
    assert "[[client]] 'a' sets jwks_uri and discovery together" in texts[0]
    assert "[[client]] 'a' sets realm and realm_claim together" in texts[1]
    assert "[registry] sets path and url together" in texts[2]


def test_key_sources_that_no_algorithm_uses(tmp_path: Path, env: pytest.MonkeyPatch) -> None:
    path = write(
        tmp_path,
        """\
        [[client]]
        id = "a"
        issuers = ["https://i"]
        algorithms = ["RS256"]
        jwks_uri = "https://i/jwks"
        shared_secret_env = "RG_TEST_SECRET"  # L-secret
        [[client]]
        id = "b"
        issuers = ["https://i"]
        algorithms = ["HS256"]
        shared_secret_env = "RG_TEST_SECRET"
        jwks_uri = "https://i/jwks"  # L-jwks
    """,
    )
    assert refused(path) == [
        ("RG6004E", "realmgate.toml", marker_line(path, "L-secret")),
        ("RG6004E", "realmgate.toml", marker_line(path, "L-jwks")),
    ]


def test_many_problems_reported_at_once_in_line_order(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        [[client]]
        id = "a"
        issuers = []
        algorithms = ["none"]
        bogus = 1
        [[client]]
        id = "a"
        issuers = ["https://i"]
        algorithms = ["RS256"]
        jwks_uri = "https://i/jwks"
        auth_filter = "nope"
        [limits]
        max_token_bytes = 0
    """,
    )
    ids = [p[0] for p in refused(path)]
    assert ids == ["RG6004E", "RG6005E", "RG6003E", "RG6007E", "RG6010E", "RG6004E"]
    lines = [p[2] for p in refused(path)]
    assert lines == sorted(lines)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    report = caught.value.report().splitlines()
    assert len(report) == 7 and report[-1].startswith("RG6020E")


# --- includes ------------------------------------------------------------------------


def test_includes_append_tables_and_merge_sections(tmp_path: Path, env: pytest.MonkeyPatch) -> None:
    (tmp_path / "conf.d").mkdir()
    write(
        tmp_path / "conf.d",
        """\
        [[client]]
        id = "included"
        issuers = ["https://inc"]
        algorithms = ["HS256"]
        shared_secret_env = "RG_TEST_SECRET"
        auth_filter = "main-filter"
        [[auth_filter]]
        id = "inc-filter"
        [[auth_filter.condition]]
        kind = "host"
        value = "inc"
        [registry]
        path = "from-include.db"
        [limits]
        max_body_bytes = 1000
        max_token_bytes = 1000
        [server]
        listen = "include"
        workers = 4
    """,
        "extra.toml",
    )
    main = write(
        tmp_path,
        """\
        include = ["conf.d/extra.toml"]
        [[client]]
        id = "main"
        issuers = ["https://main"]
        algorithms = ["HS256"]
        shared_secret_env = "RG_TEST_SECRET"
        auth_filter = "inc-filter"
        [[auth_filter]]
        id = "main-filter"
        [[auth_filter.condition]]
        kind = "host"
        value = "main"
        [registry]
        path = "main.db"
        [limits]
        max_token_bytes = 2000
        [server]
        listen = "main"
    """,
    )
    config = load_config(main)
    assert [c.id for c in config.clients] == ["main", "included"]
    assert list(config.filters) == ["main-filter", "inc-filter"]
    assert config.registry.path == "main.db"
    assert (config.limits.max_token_bytes, config.limits.max_body_bytes) == (2000, 1000)
    assert dict(config.sections["server"]) == {"listen": "main", "workers": 4}
    assert config.clients[1].location.file == str(tmp_path / "conf.d" / "extra.toml")
    assert config.files == (
        str(main.resolve()),
        str((tmp_path / "conf.d" / "extra.toml").resolve()),
    )


def test_problems_in_included_files_cite_them(tmp_path: Path) -> None:
    inc = write(
        tmp_path,
        """\
        [[client]]
        id = "x"
        issuers = ["https://i"]
        algorithms = ["RS256"]
        jwks_uri = "https://i/jwks"
        colck_skew = 5  # L-inc
        [registry]
        pth = "x"  # L-reg
    """,
        "inc.toml",
    )
    main = write(
        tmp_path,
        """\
        include = ["inc.toml", "missing.toml"]  # L-include
        [[client]]
        id = "x"  # L-main
        issuers = ["https://i"]
        algorithms = ["RS256"]
        jwks_uri = "https://i/jwks"
    """,
    )
    assert refused(main) == [
        ("RG6004E", "realmgate.toml", marker_line(main, "L-include")),
        ("RG6007E", "inc.toml", 2),
        ("RG6003E", "inc.toml", marker_line(inc, "L-inc")),
        ("RG6003E", "inc.toml", marker_line(inc, "L-reg")),
    ]
    texts = problem_texts(main)
    assert "cannot read" in texts[0] and "missing.toml" in texts[0]
    assert f"first defined at line {main}:{marker_line(main, 'L-main')}" in texts[1]


def test_included_syntax_error_cites_included_file(tmp_path: Path) -> None:
    write(tmp_path, "[[client]\n", "broken.toml")
    main = write(tmp_path, 'include = "broken.toml"\n')
    assert refused(main) == [("RG6002E", "broken.toml", 1)]


# --- trust stores --------------------------------------------------------------------


def trust_client(store: str, algorithms: str = '["RS256"]', extra: str = "") -> str:
    return textwrap.dedent(f"""\
        [[client]]
        id = "ts"
        issuers = ["https://i"]
        algorithms = {algorithms}
        trust_store = "{store}"  # L-store
    """) + textwrap.dedent(extra)


def test_pem_trust_store_all_keys(tmp_path: Path, rsa_pair, ec_pair) -> None:
    store = tmp_path / "trust"
    store.mkdir()
    (store / "alpha.pem").write_bytes(certificate(rsa_pair, "alpha").public_bytes(Encoding.PEM))
    (store / "beta.pem").write_bytes(certificate(ec_pair, "beta").public_bytes(Encoding.PEM))
    path = write(tmp_path, trust_client("trust", '["RS256", "ES256"]'))
    config = load_config(path)
    (client,) = config.clients
    assert {k.kty for k in client.static_keys} == {"RSA", "EC"}
    assert client.trust_store == str(tmp_path / "trust")
    assert str(store.resolve()) in config.files


def test_pem_trust_store_with_alias(tmp_path: Path, rsa_pair, ec_pair) -> None:
    store = tmp_path / "trust"
    store.mkdir()
    (store / "alpha.pem").write_bytes(certificate(rsa_pair, "alpha").public_bytes(Encoding.PEM))
    (store / "beta.pem").write_bytes(certificate(ec_pair, "beta").public_bytes(Encoding.PEM))
    path = write(tmp_path, trust_client("trust", extra='trust_alias = "alpha"\n'))
    (client,) = load_config(path).clients
    assert [k.kty for k in client.static_keys] == ["RSA"]
    assert client.trust_alias == "alpha"


def test_rg6008e_alias_missing_lists_aliases(tmp_path: Path, rsa_pair) -> None:
    store = tmp_path / "trust"
    store.mkdir()
    (store / "alpha.pem").write_bytes(certificate(rsa_pair, "alpha").public_bytes(Encoding.PEM))
    path = write(tmp_path, trust_client("trust", extra='trust_alias = "gamma"  # L-alias\n'))
    assert refused(path) == [("RG6008E", "realmgate.toml", marker_line(path, "L-alias"))]
    assert "aliases there: alpha" in problem_texts(path)[0]


def test_rg6004e_trust_store_keys_fit_no_algorithm(tmp_path: Path, ec_pair) -> None:
    (tmp_path / "ec.pem").write_bytes(certificate(ec_pair, "ec").public_bytes(Encoding.PEM))
    path = write(tmp_path, trust_client("ec.pem", '["RS256"]'))
    assert refused(path) == [("RG6004E", "realmgate.toml", marker_line(path, "L-store"))]
    assert "fit none of the algorithms RS256" in problem_texts(path)[0]


def test_pkcs12_trust_store_with_password_and_alias(
    tmp_path: Path, rsa_pair, ec_pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    certs = [
        pkcs12.PKCS12Certificate(certificate(rsa_pair, "signer"), b"signer"),
        pkcs12.PKCS12Certificate(certificate(ec_pair, "other"), b"other"),
    ]
    blob = pkcs12.serialize_key_and_certificates(
        None, None, None, certs, BestAvailableEncryption(b"s3cret")
    )
    (tmp_path / "trust.p12").write_bytes(blob)
    monkeypatch.setenv("RG_TEST_P12", "s3cret")
    extra = 'trust_store_password_env = "RG_TEST_P12"\ntrust_alias = "signer"\n'
    (client,) = load_config(write(tmp_path, trust_client("trust.p12", extra=extra))).clients
    assert [k.kty for k in client.static_keys] == ["RSA"]

    everything = trust_client(
        "trust.p12", '["RS256", "ES256"]', 'trust_store_password_env = "RG_TEST_P12"\n'
    )
    (client,) = load_config(write(tmp_path, everything)).clients
    assert sorted(k.kty for k in client.static_keys) == ["EC", "RSA"]

    monkeypatch.delenv("RG_TEST_P12")
    path = write(
        tmp_path,
        trust_client("trust.p12", extra='trust_store_password_env = "RG_TEST_P12"  # L-pw\n'),
    )
    assert refused(path) == [("RG6011E", "realmgate.toml", marker_line(path, "L-pw"))]

    monkeypatch.setenv("RG_TEST_P12", "Guess-7f3a")
    path = write(
        tmp_path, trust_client("trust.p12", extra='trust_store_password_env = "RG_TEST_P12"\n')
    )
    assert refused(path) == [("RG6006E", "realmgate.toml", marker_line(path, "L-store"))]
    text = problem_texts(path)[0]
    assert "password is wrong" in text
    assert "Guess-7f3a" not in text
