"""The revocation list: its storage on both registry backends (the same contract), the
SQLite schema migration to version 2, the verifier's check after the signature, and the
``revoke`` / ``unrevoke`` / ``registry migrate`` commands."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from realmgate.errors import RegistryError
from realmgate.registry import MappingRule, Revocation, SQLiteRegistry
from realmgate.registry.sqlite import _MIGRATIONS
from realmgate.verifier import Verifier
from tests import services
from tests.conftest import CliResult, Setup

Factory = Callable[[], Any]


@pytest.fixture(params=services.BACKENDS)
def factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Factory]:
    with services.registry_backend(request.param, tmp_path) as make:
        yield make


def _eventually(condition: Callable[[], bool], timeout: float = 1.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.002)
    return True


# --- storage: the same on every backend ----------------------------------------------------


def test_revoke_list_unrevoke(factory: Factory) -> None:
    registry = factory()
    stored = registry.revoke(Revocation("jti", "j-1", reason="leaked in a log"))
    assert stored.revoked_at is not None and stored.revoked_at <= time.time()
    registry.revoke(Revocation("subject", "cn=Ann, o=Corp", "https://idp"))
    registry.revoke(Revocation("kid", "k-2019"))
    assert [(e.kind, e.value, e.issuer, e.reason) for e in registry.revocations()] == [
        ("jti", "j-1", "*", "leaked in a log"),
        ("kid", "k-2019", "*", None),
        ("subject", "CN=Ann,O=Corp", "https://idp", None),
    ]
    removed = registry.unrevoke("subject", "CN=Ann,   O=Corp", "https://idp")
    assert (removed.kind, removed.value) == ("subject", "CN=Ann,O=Corp")
    assert [e.kind for e in registry.revocations()] == ["jti", "kid"]


def test_duplicate_and_missing_entries(factory: Factory) -> None:
    registry = factory()
    registry.revoke(Revocation("jti", "j-1"))
    registry.revoke(Revocation("jti", "j-1", "https://idp"))  # another scope: another entry
    before = registry.generation()
    with pytest.raises(RegistryError) as excinfo:
        registry.revoke(Revocation("jti", "j-1", reason="again"))
    assert excinfo.value.message_id == "RG8511E"
    assert "jti 'j-1' is already revoked (since 20" in excinfo.value.text
    with pytest.raises(RegistryError) as excinfo:
        registry.unrevoke("jti", "j-1", "https://elsewhere")
    assert excinfo.value.message_id == "RG8512E"
    assert "for issuer 'https://elsewhere'" in excinfo.value.text
    with pytest.raises(RegistryError, match="RG8512E"):
        registry.unrevoke("jti", "a\x00b")
    assert registry.generation() == before
    assert len(registry.revocations()) == 2


@pytest.mark.parametrize(
    ("entry", "fragment"),
    [
        (Revocation("token", "x"), "kind 'token' is not one of jti, subject, kid"),
        (Revocation("jti", ""), "revoked jti is empty"),
        (Revocation("jti", "*"), "a jti cannot be '*'"),
        (Revocation("kid", "k\n1"), "U+000A"),
        (Revocation("subject", "s", "bad\x00iss"), "U+0000"),
        (Revocation("jti", "x" * 1025), "over the limit of 1024"),
        (Revocation("jti", "j", reason="r" * 256), "over the limit of 255"),
    ],
)
def test_invalid_revocations(factory: Factory, entry: Revocation, fragment: str) -> None:
    registry = factory()
    with pytest.raises(RegistryError) as excinfo:
        registry.revoke(entry)
    assert excinfo.value.message_id == "RG8513E"
    assert fragment in excinfo.value.text
    assert registry.revocations() == []


def test_revocations_move_the_generation_seen_by_other_handles(factory: Factory) -> None:
    reader, writer = factory(), factory()
    start = reader.generation()
    writer.revoke(Revocation("kid", "k1"))
    assert _eventually(lambda: reader.generation() != start)
    after = reader.generation()
    writer.unrevoke("kid", "k1")
    assert _eventually(lambda: reader.generation() not in (start, after))
    assert reader.revocations() == []


def test_sqlite_version_1_file_is_migrated_keeping_its_rules(tmp_path: Path) -> None:
    path = tmp_path / "v1.db"
    raw = sqlite3.connect(path, isolation_level=None)
    for statement in _MIGRATIONS[1]:
        raw.execute(statement)
    raw.execute("INSERT INTO rules VALUES ('old', 'r', 'u', NULL, 0)")
    raw.close()
    with SQLiteRegistry(path) as registry:
        assert registry.migrated == (1, 2)
        assert [r.user for r in registry.rules()] == ["old"]
        registry.revoke(Revocation("jti", "j"))
    with SQLiteRegistry(path) as registry:
        assert registry.migrated == (2, 2)
        assert len(registry.revocations()) == 1


# --- the verifier ---------------------------------------------------------------------------


@pytest.fixture
def verifier(setup: Setup) -> Iterator[tuple[Verifier, SQLiteRegistry]]:
    config = services.write_config(setup.dir, '[registry]\npath = "registry.db"\n')
    registry = SQLiteRegistry(setup.dir / "registry.db")
    registry.add(MappingRule("*", "R", "ANYONE"))
    yield Verifier(config, registry=registry), registry
    registry.close()


def _refreshed(verifier: Verifier) -> None:
    time.sleep(0.3)  # past the checker's refresh interval (0.25 s)


def test_revoked_token_is_refused_naming_what_and_when(
    verifier: tuple[Verifier, SQLiteRegistry], rsa_key: Any
) -> None:
    engine, registry = verifier
    tok = services.token(rsa_key, "alice")
    jti = engine.verify(tok).claims["jti"]
    assert engine.verify(tok).accepted
    registry.revoke(Revocation("jti", jti, reason="stolen laptop"))
    _refreshed(engine)
    decision = engine.verify(tok)
    assert not decision.accepted and decision.status == 401
    assert decision.message_id == "RG8510E"
    assert f"its jti {jti!r} was revoked at 20" in (decision.reason or "")
    assert "(reason: stolen laptop)" in (decision.reason or "")
    steps = [(s.stage, s.check, s.outcome) for s in decision.trace]
    assert ("jws", "signature", "pass") in steps and ("revocation", "jti", "fail") in steps
    assert engine.verify(services.token(rsa_key, "alice")).accepted  # another jti
    registry.unrevoke("jti", jti)
    _refreshed(engine)
    assert engine.verify(tok).accepted


def test_subject_and_kid_revocations_and_issuer_scope(
    verifier: tuple[Verifier, SQLiteRegistry], rsa_key: Any
) -> None:
    engine, registry = verifier
    registry.revoke(Revocation("subject", "CN=Ann, O=Corp", services.ISSUER))
    _refreshed(engine)
    refused = engine.verify(services.token(rsa_key, "cn=Ann,o=Corp"))
    assert refused.message_id == "RG8510E"
    assert "subject 'CN=Ann,O=Corp' was revoked" in (refused.reason or "")
    assert f"for issuer {services.ISSUER!r}" in (refused.reason or "")
    other = services.token(rsa_key, "cn=Ann,o=Corp", issuer=services.OTHER_ISSUER)
    assert engine.verify(other).accepted  # the entry is scoped to one issuer
    registry.revoke(Revocation("kid", "linux"))
    _refreshed(engine)
    for issuer in (services.ISSUER, services.OTHER_ISSUER):
        decision = engine.verify(services.token(rsa_key, "bob", issuer=issuer))
        assert decision.message_id == "RG8510E" and "kid 'linux'" in (decision.reason or "")


def test_unreadable_revocation_list_fails_closed(
    verifier: tuple[Verifier, SQLiteRegistry], rsa_key: Any
) -> None:
    engine, registry = verifier
    assert engine.verify(services.token(rsa_key)).accepted
    registry.close()
    _refreshed(engine)
    decision = engine.verify(services.token(rsa_key))
    assert decision.message_id == "RG5002E" and decision.status == 503


def test_definitions_without_a_registry_do_not_need_one(setup: Setup, rsa_key: Any) -> None:
    config = services.write_config(setup.dir)
    text = config.read_text().replace('realm = "R"', "map_to_registry_user = true")
    config.write_text(text)
    decision = Verifier(config).verify(services.token(rsa_key))
    assert decision.accepted and decision.local_user == "alice"
    assert not list(setup.dir.glob("*.db"))


# --- the commands ---------------------------------------------------------------------------


def test_revoke_commands(cli: Callable[..., CliResult], setup: Setup, rsa_key: Any) -> None:
    config = str(services.write_config(setup.dir, '[registry]\npath = "registry.db"\n'))
    done = cli("revoke", "--config", config, "--kid", "linux", "--reason", "rotated")
    assert done.code == 0 and "Revoked kid 'linux' at 20" in done.out
    assert "(reason: rotated)" in done.out
    again = cli("revoke", "--config", config, "--kid", "linux")
    assert again.code == 2 and "RG8511E" in again.err
    cli("revoke", "--config", config, "--subject", "cn=Bob", "--issuer", services.ISSUER)
    listed = cli("revoke", "list", "--config", config)
    assert listed.code == 0 and "2 revocation(s)." in listed.out
    assert "'CN=Bob'" in listed.out and repr(services.ISSUER) in listed.out
    as_json = json.loads(cli("revoke", "--config", config, "list", "--json").out)
    assert [e["kind"] for e in as_json] == ["kid", "subject"]
    assert cli("revoke", "--config", config).code == 2  # no target
    both = cli("revoke", "--config", config, "--jti", "a", "--kid", "b")
    assert both.code == 2 and "exactly one of" in both.err
    assert cli("unrevoke", "--config", config, "--kid", "linux").code == 0
    missing = cli("unrevoke", "--config", config, "--kid", "linux")
    assert missing.code == 2 and "RG8512E" in missing.err
    with SQLiteRegistry(setup.dir / "registry.db") as registry:
        assert [e.value for e in registry.revocations()] == ["CN=Bob"]


def test_revoke_against_a_shared_postgresql_registry(cli: Callable[..., CliResult]) -> None:
    with services.shared_services(), services.pg_schema() as url:
        assert cli("registry", "migrate", "--registry", url).out.endswith(
            "schema created at version 2.\n"
        )
        again = cli("registry", "migrate", "--registry", url)
        assert "schema version 2, already current" in again.out
        assert cli("revoke", "--registry", url, "--jti", "j-9").code == 0
        listed = cli("revoke", "list", "--registry", url)
        assert "'j-9'" in listed.out and "1 revocation(s)." in listed.out


def test_registry_migrate_sqlite(cli: Callable[..., CliResult], tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    raw = sqlite3.connect(path, isolation_level=None)
    for statement in _MIGRATIONS[1]:
        raw.execute(statement)
    raw.close()
    done = cli("registry", "migrate", "--registry", str(path))
    assert done.code == 0 and "schema migrated from version 1 to 2" in done.out


def test_checker_generation_moves_with_a_revocation(factory: Factory) -> None:
    """The verified-token cache keeps the generation with each entry: a revocation must
    move it, or a revoked token would keep being answered from the cache."""
    from realmgate.revocation import RevocationChecker

    registry = factory()
    checker = RevocationChecker(registry, refresh_interval=0)
    start = checker.generation()
    registry.revoke(Revocation("jti", "j"))
    assert _eventually(lambda: checker.generation() != start)
    assert checker.find("iss", jti="j") is not None and len(checker) == 1
