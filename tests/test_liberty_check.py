"""``realmgate liberty check``: real tokens against imported definitions, in memory.

Tokens are signed with ``realmgate.builder.TokenBuilder`` and keys loaded with
``realmgate.keys.signing.load_signing_key``; the trust store is a PKCS#12 file made with
``pkcs12_bytes``; mappings live in a real SQLite registry.
"""

from __future__ import annotations

import base64
import json
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from realmgate.builder import TokenBuilder
from realmgate.keys.signing import (
    load_signing_key,
    pkcs12_bytes,
    private_key_pem,
    self_signed_certificate,
)
from realmgate.liberty.check import check_token
from realmgate.registry import MappingRule, SQLiteRegistry
from realmgate.request import RequestInfo

from .conftest import CliResult, pem_certificate
from .test_tracespec import clean_logging  # noqa: F401  (autouse: --trace installs a handler)

PASSWORD = "Liberty-pw-1"
XOR = "{xor}" + base64.b64encode(bytes(b ^ 0x5F for b in PASSWORD.encode())).decode()

MQWEBUSER = f"""
<server>
  <openidConnectClient id="COLINCOO2" inboundPropagation="required"
      issuerIdentifier="zOSMF" signatureAlgorithm="RS384"
      trustAliasName="conn1.izudflt" trustStoreRef="trust"
      realmName="zOSMF" mapIdentityToRegistryUser="false" headerName="colin"
      tokenReuse="true" authFilterRef="linux"/>
  <openidConnectClient id="python" inboundPropagation="required"
      issuerIdentifier="PYTHON" signatureAlgorithm="RS256" trustStoreRef="trust"
      mapIdentityToRegistryUser="true" tokenReuse="true"/>
  <authFilter id="linux">
    <remoteAddress ip="10.1.*.*" matchType="contains"/>
  </authFilter>
  <keyStore id="trust" location="trust.p12" password="{XOR}"/>
</server>
"""


@pytest.fixture
def liberty(tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> Path:
    security = tmp_path / "resources" / "security"
    security.mkdir(parents=True)
    cert = self_signed_certificate(rsa_key, "CONN1", days=30)
    (security / "trust.p12").write_bytes(
        pkcs12_bytes(None, cert, "conn1.izudflt", PASSWORD.encode())
    )
    path = tmp_path / "mqwebuser.xml"
    path.write_text(textwrap.dedent(MQWEBUSER).lstrip())
    return path


@pytest.fixture
def registry(tmp_path: Path) -> Path:
    path = tmp_path / "registry.db"
    store = SQLiteRegistry(path)
    store.add(MappingRule("ADCDC", "zOSMF", "IBMUSER"))
    store.close()
    return path


def token_for(key: rsa.RSAPrivateKey, alg: str, issuer: str, subject: str, **opts: object) -> str:
    signing = load_signing_key(private_key_pem(key), source="test key")
    return TokenBuilder(signing, alg, issuer).build(subject, **opts)


def test_accepted_as_the_mapped_user(
    liberty: Path, registry: Path, rsa_key: rsa.RSAPrivateKey
) -> None:
    before = sorted(p.name for p in liberty.parent.iterdir())
    token = token_for(rsa_key, "RS384", "zOSMF", "ADCDC")
    request = RequestInfo.build({"colin": token}, remote_addr="10.1.2.3")
    result = check_token(liberty, None, request, registry_path=registry, environ={})
    assert result.decision is not None, result.config_problems
    assert result.decision.accepted, result.decision.reason
    assert result.decision.local_user == "IBMUSER"
    assert result.decision.realm == "zOSMF" and result.decision.realm_source == "definition"
    assert result.sources["COLINCOO2"].startswith("<openidConnectClient> 'COLINCOO2'")
    assert sorted(p.name for p in liberty.parent.iterdir()) == before  # nothing written


@pytest.mark.parametrize(
    ("change", "message_id"),
    [
        ({"remote_addr": "10.2.0.1"}, "RG2003E"),  # the authFilter refuses the address
        ({"alg": "RS256"}, "RG3001E"),  # signatureAlgorithm is RS384
        ({"issuer": "LINUX"}, "RG2001E"),  # no issuerIdentifier matches
        ({"subject": "NOBODY"}, "RG5001E"),  # no RACMAP-like rule for (NOBODY, zOSMF)
        ({"ttl": -1}, "RG4001E"),  # expired
    ],
)
def test_refused_with_the_right_message(
    liberty: Path,
    registry: Path,
    rsa_key: rsa.RSAPrivateKey,
    change: dict[str, object],
    message_id: str,
) -> None:
    alg = str(change.get("alg", "RS384"))
    issuer = str(change.get("issuer", "zOSMF"))
    subject = str(change.get("subject", "ADCDC"))
    now = time.time()
    clock = (lambda: now + 3600) if change.get("ttl") else time.time
    token = token_for(rsa_key, alg, issuer, subject)
    request = RequestInfo.build(remote_addr=str(change.get("remote_addr", "10.1.0.9")))
    result = check_token(liberty, token, request, registry_path=registry, environ={}, clock=clock)
    assert result.decision is not None
    assert not result.decision.accepted
    assert result.decision.message_id == message_id, result.decision.reason


def test_signature_by_another_key_is_refused(
    liberty: Path, registry: Path, other_rsa_key: rsa.RSAPrivateKey
) -> None:
    token = token_for(other_rsa_key, "RS384", "zOSMF", "ADCDC")
    request = RequestInfo.build(remote_addr="10.1.0.9")
    result = check_token(liberty, token, request, registry_path=registry, environ={})
    assert result.decision is not None and result.decision.message_id == "RG3004E"


def test_without_a_registry(liberty: Path, rsa_key: rsa.RSAPrivateKey) -> None:
    # mapIdentityToRegistryUser="true": the user claim is the user, no registry needed.
    token = token_for(rsa_key, "RS256", "PYTHON", "COLIN")
    result = check_token(liberty, token, environ={})
    assert result.decision is not None and result.decision.accepted
    assert result.decision.local_user == "COLIN"
    # "false": a mapping is needed and there is no registry → RG5001E, with a note.
    token = token_for(rsa_key, "RS384", "zOSMF", "ADCDC")
    result = check_token(liberty, token, RequestInfo.build(remote_addr="10.1.0.1"), environ={})
    assert result.decision is not None and result.decision.message_id == "RG5001E"
    assert any("--registry" in note for note in result.notes)


def test_token_reuse_default_needs_a_jti(tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> None:
    (tmp_path / "key.pem").write_bytes(pem_certificate(rsa_key, "k"))
    path = tmp_path / "server.xml"
    path.write_text(
        '<server><openidConnectClient id="c" inboundPropagation="required" '
        'issuerIdentifier="i" signatureAlgorithm="RS256" trustStoreRef="k" '
        'mapIdentityToRegistryUser="true"/>'
        '<keyStore id="k" location="${server.config.dir}/key.pem"/></server>'
    )
    plain = check_token(path, token_for(rsa_key, "RS256", "i", "u"), environ={})
    assert plain.decision is not None and plain.decision.message_id == "RG4013E"
    assert any("tokenReuse" in note for note in plain.notes)
    with_jti = check_token(path, token_for(rsa_key, "RS256", "i", "u", jti=True), environ={})
    assert with_jti.decision is not None and with_jti.decision.accepted


def test_saf_key_ring_needs_the_exported_certificate(
    tmp_path: Path, cli: Callable[..., CliResult], rsa_key: rsa.RSAPrivateKey
) -> None:
    path = tmp_path / "server.xml"
    path.write_text(
        '<server><openidConnectClient id="z" inboundPropagation="required" '
        'issuerIdentifier="zOSMF" signatureAlgorithm="RS384" trustStoreRef="ring" '
        'trustAliasName="CONN1.IZUDFLT" mapIdentityToRegistryUser="true" tokenReuse="true"/>'
        '<keyStore id="ring" location="safkeyring://IZUSVR/CONN1.KEYRING" type="JCERACFKS"'
        ' password="password"/></server>'
    )
    token = token_for(rsa_key, "RS384", "zOSMF", "ADCDC")
    placeholder = cli("liberty", "check", str(path), "--token", token)
    assert placeholder.code == 2
    assert "RG6112W" in placeholder.err and "RG6006E" in placeholder.err
    assert "trustStoreRef (server.xml:1)" in placeholder.err
    exported = tmp_path / "exported"
    exported.mkdir()
    (exported / "CONN1.IZUDFLT.pem").write_bytes(pem_certificate(rsa_key, "CONN1"))
    done = cli("liberty", "check", str(path), "--token", token, "--keystore", f"ring={exported}")
    assert done.code == 0, done.err
    assert "accepted: runs as local user 'ADCDC'" in done.out


def test_cli_round_trip(
    liberty: Path, registry: Path, cli: Callable[..., CliResult], rsa_key: rsa.RSAPrivateKey
) -> None:
    token = token_for(rsa_key, "RS384", "zOSMF", "ADCDC")
    common = ("liberty", "check", str(liberty), "--registry", str(registry))
    accepted = cli(*common, "-H", f"colin: Bearer {token}", "--remote-addr", "10.1.9.9")
    assert accepted.code == 0, accepted.err + accepted.out
    assert "local user 'IBMUSER'" in accepted.out and "mqwebuser.xml:2" in accepted.out
    refused = cli(*common, "--token", token, "--remote-addr", "192.168.1.1", "--json")
    assert refused.code == 1
    body = json.loads(refused.out)
    assert body["accepted"] is False and body["decision"]["message_id"] == "RG2003E"
    assert token not in refused.out  # the token itself is never echoed
    explained = cli(*common, "--token", token, "--explain")
    assert explained.code == 0 and "not evaluated" in explained.out
    traced = cli(*common, "--token", token, "--trace", "*=warning:realmgate.decision=fine")
    assert traced.code == 0 and " FINE realmgate.decision " in traced.err
    assert token not in traced.err  # a short hash, never the token
    bad = cli("liberty", "check", str(liberty.parent / "nope.xml"), "--token", token)
    assert bad.code == 2 and "RG6101E" in bad.err and "Traceback" not in bad.err
