"""Shared fixtures: real keys (made once per session), trust stores, config files, CLI runner."""

from __future__ import annotations

import io
import textwrap
from collections.abc import Callable, Iterator
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from hypothesis import settings

SHARED = Path(__file__).resolve().parents[2] / "shared"


@pytest.fixture(scope="session")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def other_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="session")
def ed_key() -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.generate()


def pem_private(key: Any) -> bytes:
    return bytes(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))


def pem_certificate(key: Any, cn: str) -> bytes:
    from realmgate.keys.signing import self_signed_certificate

    return bytes(self_signed_certificate(key, cn, days=30).public_bytes(Encoding.PEM))


@dataclass
class Setup:
    """A directory with a configuration, a trust store and a registry."""

    dir: Path
    config: Path

    def write_config(self, text: str) -> Path:
        self.config.write_text(textwrap.dedent(text))
        return self.config


@pytest.fixture
def setup(tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> Setup:
    """Trust store dir ``truststore/`` holding ``linux.pem`` (certificate of ``rsa_key``)."""
    trust = tmp_path / "truststore"
    trust.mkdir()
    (trust / "linux.pem").write_bytes(pem_certificate(rsa_key, "LINUX"))
    (tmp_path / "linux-key.pem").write_bytes(pem_private(rsa_key))
    return Setup(tmp_path, tmp_path / "realmgate.toml")


@dataclass
class CliResult:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch) -> Callable[..., CliResult]:
    """Run ``realmgate`` in-process; ``stdin`` text optional."""
    from realmgate.cli.main import main

    def run(*argv: str, stdin: str | None = None) -> CliResult:
        out, err = io.StringIO(), io.StringIO()
        if stdin is not None:
            fake = io.TextIOWrapper(io.BytesIO(stdin.encode()))
            monkeypatch.setattr("sys.stdin", fake)
        with redirect_stdout(out), redirect_stderr(err):
            code = main(list(argv))
        return CliResult(code, out.getvalue(), err.getvalue())

    return run


@pytest.fixture
def no_env_config(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("REALMGATE_CONFIG", raising=False)
    yield


# Hypothesis: `--hypothesis-profile=long` runs the property tests (tests/test_fuzz_properties.py)
# with many more examples than the default run, which is sized to finish in seconds.
settings.register_profile("long", max_examples=20_000, deadline=None)
