"""The engine through the CLI: the blog's PyJWT token end to end, and every failure of the
reference's message table provoked and checked for its message id and concrete values."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt  # PyJWT: the exact call from the seed blog post
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from realmgate.builder import TokenBuilder
from realmgate.keys.signing import load_signing_key
from tests.conftest import CliResult, Setup, pem_private

BASE_CONFIG = """
[registry]
path = "registry.db"

[[client]]
id = "COLINCOO2"
issuers = ["PYTHON"]
algorithms = ["RS256"]
trust_store = "truststore"
trust_alias = "linux"
audiences = "any"
"""

Run = Callable[..., CliResult]


def blog_token(rsa_key: rsa.RSAPrivateKey, **overrides: Any) -> str:
    """The token exactly as the practitioner's blog creates it with PyJWT."""
    keystring = pem_private(rsa_key).decode()
    now = datetime.now(UTC)
    payload: dict[str, Any] = {
        "token_type": "Bearer",
        "sub": "ADCDC",  # userid
        "upn": "ADCDC",
        "realm": "PYTHON",
        "iss": "PYTHON",  # issuer
        "iat": now,
        "exp": now + timedelta(seconds=6000),  # valid for 6000 seconds
    }
    payload.update(overrides)
    payload = {k: v for k, v in payload.items() if v is not None}
    return jwt.encode(payload, keystring, algorithm="RS256")


def builder(rsa_key: rsa.RSAPrivateKey, alg: str = "RS256", iss: str = "PYTHON") -> TokenBuilder:
    return TokenBuilder(load_signing_key(pem_private(rsa_key), source="test"), alg, iss)


@pytest.fixture
def seeded(setup: Setup, cli: Run) -> Setup:
    setup.write_config(BASE_CONFIG)
    result = cli(
        "map",
        "add",
        "--config",
        str(setup.config),
        "--user",
        "ADCDC",
        "--realm",
        "PYTHON",
        "--local-user",
        "IBMUSER",
    )
    assert result.code == 0, result.err
    return setup


def verify(cli: Run, setup: Setup, token: str, *extra: str) -> CliResult:
    return cli("verify", "--config", str(setup.config), "--token", token, *extra)


def test_blog_pyjwt_token_verifies_and_maps(seeded: Setup, cli: Run, rsa_key: Any) -> None:
    result = verify(cli, seeded, blog_token(rsa_key))
    assert result.code == 0, result.out + result.err
    assert "IBMUSER" in result.out
    assert "PYTHON" in result.out and "COLINCOO2" in result.out


def test_json_output_carries_the_trace(seeded: Setup, cli: Run, rsa_key: Any) -> None:
    result = verify(cli, seeded, blog_token(rsa_key), "--json")
    decision = json.loads(result.out)
    assert decision["accepted"] is True
    assert decision["local_user"] == "IBMUSER"
    assert decision["realm_source"] == "claim:realm"
    checks = {(s["stage"], s["check"], s["outcome"]) for s in decision["trace"]}
    assert ("jws", "signature", "pass") in checks
    assert ("claims", "exp", "pass") in checks
    assert ("select", "definition", "pass") in checks


def test_token_from_stdin(seeded: Setup, cli: Run, rsa_key: Any) -> None:
    result = cli(
        "verify", "--config", str(seeded.config), "--token", "-", stdin=blog_token(rsa_key) + "\n"
    )
    assert result.code == 0, result.out + result.err


def refused(result: CliResult, message_id: str, *values: str) -> None:
    assert result.code == 1, result.out + result.err
    assert f"refused: {message_id}" in result.out, result.out
    for value in values:
        assert value in result.out, (value, result.out)


def test_unknown_issuer_names_definitions_considered(seeded: Setup, cli: Run, rsa_key: Any) -> None:
    refused(
        verify(cli, seeded, blog_token(rsa_key, iss="zOSMF")),
        "RG2001E",
        "'zOSMF'",
        "COLINCOO2",
        "['PYTHON']",
    )


def test_lookalike_issuer_is_pointed_out(seeded: Setup, cli: Run, rsa_key: Any) -> None:
    spoof = "PYTHОN"  # Cyrillic O
    refused(verify(cli, seeded, blog_token(rsa_key, iss=spoof)), "RG2001E", "non-ASCII")
    refused(
        verify(cli, seeded, blog_token(rsa_key, iss="python")),
        "RG2001E",
        "resembles the configured issuer 'PYTHON'",
    )


def test_expired_token_shows_the_times(seeded: Setup, cli: Run, rsa_key: Any) -> None:
    now = int(time.time())
    token = blog_token(rsa_key, iat=now - 7200, exp=now - 3600)
    exp_iso = datetime.fromtimestamp(now - 3600, UTC).isoformat(timespec="milliseconds")
    refused(
        verify(cli, seeded, token),
        "RG4001E",
        exp_iso.replace("+00:00", "Z"),
        f"exp {now - 3600}",
        "clock skew 300s",
    )


def test_issued_in_the_future(seeded: Setup, cli: Run, rsa_key: Any) -> None:
    now = int(time.time())
    refused(
        verify(cli, seeded, blog_token(rsa_key, iat=now + 3600, exp=now + 7200)),
        "RG4004E",
        f"({now + 3600})",
    )


def test_not_before(seeded: Setup, cli: Run, rsa_key: Any) -> None:
    now = int(time.time())
    token = blog_token(rsa_key, nbf=now + 1000)
    refused(verify(cli, seeded, token), "RG4003E", f"nbf {now + 1000}")


def test_iat_after_exp(seeded: Setup, cli: Run, rsa_key: Any) -> None:
    now = int(time.time())
    refused(verify(cli, seeded, blog_token(rsa_key, iat=now + 100, exp=now + 50)), "RG4006E")


def test_missing_exp(seeded: Setup, cli: Run, rsa_key: Any) -> None:
    refused(verify(cli, seeded, blog_token(rsa_key, exp=None)), "RG4002E", "COLINCOO2")


def test_bad_signature_names_key_and_algorithm(
    seeded: Setup, cli: Run, rsa_key: Any, other_rsa_key: Any
) -> None:
    refused(
        verify(cli, seeded, blog_token(other_rsa_key)), "RG3004E", "RS256", "COLINCOO2", "'linux'"
    )


def test_algorithm_not_allowed(seeded: Setup, cli: Run, rsa_key: Any) -> None:
    token = builder(rsa_key, "RS384").build("ADCDC")
    refused(verify(cli, seeded, token), "RG3001E", "RS384", "['RS256']")


def test_alg_none_is_never_accepted(seeded: Setup, cli: Run, rsa_key: Any) -> None:
    token = blog_token(rsa_key)
    header = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0"  # {"alg":"none","typ":"JWT"}
    forged = header + "." + token.split(".")[1] + "."
    result = verify(cli, seeded, forged)
    refused(result, "RG1009E", "'none'")


def test_unknown_kid(seeded: Setup, cli: Run, rsa_key: Any) -> None:
    seeded.write_config(BASE_CONFIG.replace('trust_alias = "linux"\n', ""))
    token = jwt.encode(
        {"iss": "PYTHON", "sub": "ADCDC", "exp": int(time.time()) + 60},
        pem_private(rsa_key).decode(),
        algorithm="RS256",
        headers={"kid": "CONN9.IZUDFLT"},
    )
    refused(verify(cli, seeded, token), "RG3002E", "'CONN9.IZUDFLT'", "linux")


def test_audience_checks(seeded: Setup, cli: Run, rsa_key: Any) -> None:
    seeded.write_config(BASE_CONFIG.replace('audiences = "any"', 'audiences = ["mqweb"]'))
    refused(verify(cli, seeded, blog_token(rsa_key)), "RG4010E", "['mqweb']")
    refused(
        verify(cli, seeded, blog_token(rsa_key, aud="zosmf")), "RG4009E", "'zosmf'", "['mqweb']"
    )
    assert verify(cli, seeded, blog_token(rsa_key, aud=["x", "mqweb"])).code == 0


def test_no_issuer(seeded: Setup, cli: Run, rsa_key: Any) -> None:
    refused(verify(cli, seeded, blog_token(rsa_key, iss=None)), "RG2002E")
    result = verify(cli, seeded, blog_token(rsa_key, iss=None), "--default-issuer", "PYTHON")
    assert result.code == 0, result.out


def test_replay_of_jti_is_refused(seeded: Setup, cli: Run, rsa_key: Any) -> None:
    from realmgate.verifier import Verifier

    seeded.write_config(BASE_CONFIG + "token_reuse = false\n")
    verifier = Verifier(seeded.config)
    token = blog_token(rsa_key, jti="abc123")
    assert verifier.verify(token).accepted
    again = verifier.verify(token)
    assert again.message_id == "RG4012E" and "'abc123'" in (again.reason or "")
    refused(verify(cli, seeded, blog_token(rsa_key)), "RG4013E")


def test_missing_user_claim(seeded: Setup, cli: Run, rsa_key: Any) -> None:
    refused(verify(cli, seeded, blog_token(rsa_key, sub=None)), "RG4014E", "'sub'")


def test_unmapped_identity_names_the_pair(seeded: Setup, cli: Run, rsa_key: Any) -> None:
    result = verify(cli, seeded, blog_token(rsa_key, sub="COLIN", realm="ADCDPL"))
    refused(result, "RG5001E", "'COLIN'", "'ADCDPL'")


def test_jwe_is_refused(seeded: Setup, cli: Run) -> None:
    refused(verify(cli, seeded, "eyJhbGciOiJSU0EtT0FFUCJ9.a.b.c.d"), "RG1003E")


def test_max_age_and_required_claims(seeded: Setup, cli: Run, rsa_key: Any) -> None:
    seeded.write_config(BASE_CONFIG + 'max_age = 60\nrequired_claims = ["upn", "groups"]\n')
    now = int(time.time())
    refused(verify(cli, seeded, blog_token(rsa_key, iat=now - 1000)), "RG4005E", "max_age 60s")
    refused(verify(cli, seeded, blog_token(rsa_key)), "RG4011E", "groups")


def test_filter_refuses_request(seeded: Setup, cli: Run, rsa_key: Any) -> None:
    seeded.write_config(
        BASE_CONFIG
        + 'auth_filter = "lan"\n'
        + """
[[auth_filter]]
id = "lan"
[[auth_filter.condition]]
kind = "remote_address"
match = "equals"
value = "10.1.*.*"
"""
    )
    token = blog_token(rsa_key)
    refused(verify(cli, seeded, token, "--remote-addr", "10.2.0.1"), "RG2003E", "10.2.0.1")
    assert verify(cli, seeded, token, "--remote-addr", "10.1.9.9").code == 0


def test_custom_header_like_the_blog(seeded: Setup, cli: Run, rsa_key: Any) -> None:
    seeded.write_config(BASE_CONFIG + 'header = "colin"\n')
    token = blog_token(rsa_key)
    ok = cli("verify", "--config", str(seeded.config), "-H", f"colin: {token}")
    assert ok.code == 0, ok.out
    wrong_place = cli(
        "verify", "--config", str(seeded.config), "-H", f"Authorization: Bearer {token}"
    )
    refused(wrong_place, "RG1001E", "colin")


def test_explain_report(seeded: Setup, cli: Run, rsa_key: Any) -> None:
    now = int(time.time())
    result = cli(
        "explain",
        "--config",
        str(seeded.config),
        "--token",
        blog_token(rsa_key, iat=now - 7200, exp=now - 3600),
    )
    assert result.code == 1
    assert "REFUSED" in result.out and "RG4001E" in result.out
    assert "1.0 h ago" in result.out  # exp shown relative to now
    assert "Fix:" in result.out


def test_messages_catalogue(cli: Run) -> None:
    one = cli("messages", "RG5001E")
    assert one.code == 0 and "User action:" in one.out and "ICH408I" in one.out
    everything = json.loads(cli("messages", "--json").out)
    ids = [entry["id"] for entry in everything]
    assert len(ids) == len(set(ids)) > 40
    assert all(len(i) == 7 and i.startswith("RG") and i[-1] in "EWIS" for i in ids)
    assert cli("messages", "RG0000X").code == 2


def test_config_errors_exit_2_with_all_problems(setup: Setup, cli: Run, rsa_key: Any) -> None:
    setup.write_config("""
[[client]]
id = "a"
issuers = ["X"]
algorithms = ["none", "RS999"]
trust_store = "missing.pem"
clock_skw = 10
""")
    result = cli("verify", "--config", str(setup.config), "--token", "x.y.z")
    assert result.code == 2
    for message_id in ("RG6005E", "RG6006E", "RG6003E", "RG6020E"):
        assert message_id in result.err, result.err
    assert "clock_skew" in result.err  # the did-you-mean hint


def test_trust_alias_not_in_store(setup: Setup, cli: Run) -> None:
    setup.write_config(BASE_CONFIG.replace('"linux"', '"CONN1.IZUDFLT"'))
    result = cli("check", "--config", str(setup.config))
    assert result.code == 2 and "RG6008E" in result.err and "linux" in result.err


def test_garbage_tokens_never_crash(seeded: Setup, cli: Run) -> None:
    for garbage in ("", "a", "a.b", "a.b.c", "....", "e" * 20000, "eyJ.eyJ.", "\x00.\x01.\x02"):
        result = verify(cli, seeded, garbage)
        assert result.code in (1, 2), (garbage[:20], result.out, result.err)
        assert "Traceback" not in result.out + result.err


def test_token_create_round_trip(seeded: Setup, cli: Run) -> None:
    key_file = str(seeded.dir / "linux-key.pem")
    created = cli(
        "token",
        "create",
        "--key",
        key_file,
        "--alg",
        "RS256",
        "--iss",
        "PYTHON",
        "--sub",
        "ADCDC",
        "--realm",
        "PYTHON",
        "--jti",
        "--claim",
        'groups=["a"]',
    )
    assert created.code == 0, created.err
    token = created.out.strip()
    decision = json.loads(verify(cli, seeded, token, "--json").out)
    assert decision["accepted"] and decision["claims"]["groups"] == ["a"]
    assert decision["claims"]["token_type"] == "Bearer"
    assert decision["claims"]["exp"] - decision["claims"]["iat"] == 600


def test_token_create_key_from_env(
    seeded: Setup, cli: Run, rsa_key: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIGNING_KEY", pem_private(rsa_key).decode())
    created = cli(
        "token",
        "create",
        "--key",
        "env:SIGNING_KEY",
        "--alg",
        "RS256",
        "--iss",
        "PYTHON",
        "--sub",
        "ADCDC",
        "--realm",
        "PYTHON",
    )
    assert created.code == 0, created.err
    assert verify(cli, seeded, created.out.strip()).code == 0


def test_usage_errors_are_messages(cli: Run, tmp_path: Path) -> None:
    result = cli(
        "token",
        "create",
        "--key",
        str(tmp_path / "nope.pem"),
        "--alg",
        "RS256",
        "--iss",
        "x",
        "--sub",
        "y",
    )
    assert result.code == 2 and "RG0002E" in result.err
    assert cli("verify", "--bogus").code == 2
    bad_alg = cli("token", "create", "--key", "x", "--alg", "none", "--iss", "x", "--sub", "y")
    assert bad_alg.code == 2 and "RG0001E" in bad_alg.err


def test_trace_option_logs_decisions_without_the_token(
    seeded: Setup, cli: Run, rsa_key: Any
) -> None:
    token = blog_token(rsa_key)
    fine = verify(
        cli, seeded, token, "--trace", "*=info:realmgate.decision=fine", "--log-format", "json"
    )
    assert fine.code == 0, fine.err
    records = [json.loads(line) for line in fine.err.splitlines() if line.startswith("{")]
    assert len(records) == 1 and records[0]["local_user"] == "IBMUSER"
    finest = verify(cli, seeded, token, "--trace", "realmgate.decision=finest")
    assert "[jws] signature: pass" in finest.err
    assert token not in fine.err + finest.err
    assert token.split(".")[2] not in finest.err
    bad = verify(cli, seeded, token, "--trace", "realmgate.keys=loud")
    assert bad.code == 0 and "RG6201W" in bad.err
