"""The self-contained demo on embedded defaults: a local issuer key, a configuration that
trusts it, and a registry with a sample mapping, created once under a data directory."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from realmgate.builder import TokenBuilder
from realmgate.keys.signing import (
    generate_private_key,
    load_signing_key,
    private_key_pem,
    self_signed_certificate,
)
from realmgate.registry import MappingRule, SQLiteRegistry

ISSUER = "DEMO-ISSUER"
REALM = "DEMO"
SUBJECT = "alice"
LOCAL_USER = "ALICE01"
KID = "demo-issuer"

CONFIG_TEMPLATE = """\
# realmgate demo configuration (created by `realmgate demo`; safe to edit).
[registry]
path = "registry.db"

[[issuer]]
id = "demo"
issuer = "{issuer}"
key = "issuer-key.pem"
algorithm = "RS256"
kid = "{kid}"
ttl = 600

[[client]]
id = "demo-client"
issuers = ["{issuer}"]
algorithms = ["RS256"]
trust_store = "truststore"
audiences = "any"
realm = "{realm}"
clock_skew = 60
"""


@dataclass(frozen=True)
class DemoFiles:
    data_dir: Path
    config: Path
    key: Path
    created: bool


def prepare_demo(data_dir: Path) -> DemoFiles:
    """Create the demo files under ``data_dir`` unless they already exist."""
    data_dir.mkdir(parents=True, exist_ok=True)
    config = data_dir / "realmgate.toml"
    key_path = data_dir / "issuer-key.pem"
    if config.exists() and key_path.exists():
        return DemoFiles(data_dir, config, key_path, created=False)
    key = generate_private_key("rsa", size=2048)
    key_path.write_bytes(private_key_pem(key))
    os.chmod(key_path, 0o600)
    trust = data_dir / "truststore"
    trust.mkdir(exist_ok=True)
    cert = self_signed_certificate(key, ISSUER, days=3650)
    from cryptography.hazmat.primitives.serialization import Encoding

    (trust / f"{KID}.pem").write_bytes(cert.public_bytes(Encoding.PEM))
    config.write_text(CONFIG_TEMPLATE.format(issuer=ISSUER, kid=KID, realm=REALM))
    registry = SQLiteRegistry(data_dir / "registry.db")
    try:
        if not any(r.user == SUBJECT and r.realm == REALM for r in registry.rules()):
            registry.add(MappingRule(SUBJECT, REALM, LOCAL_USER, "demo mapping"))
    finally:
        registry.close()
    return DemoFiles(data_dir, config, key_path, created=True)


def demo_builder(files: DemoFiles) -> TokenBuilder:
    key = load_signing_key(files.key.read_bytes(), source=str(files.key))
    return TokenBuilder(key, "RS256", ISSUER, kid=KID)


def demo_tokens(files: DemoFiles) -> tuple[str, str]:
    """A fresh token for the mapped subject, and one that expired an hour ago."""
    builder = demo_builder(files)
    good = builder.build(SUBJECT, ttl=600, jti=True)
    expired_claims = builder.claims(SUBJECT, ttl=600, jti=True)
    expired_claims["iat"] = int(time.time()) - 4200
    expired_claims["exp"] = int(time.time()) - 3600
    return good, builder.sign(expired_claims)
