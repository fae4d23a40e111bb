"""``_speedups.RuleIndex``, the fast lane's table of mapping rules, must find exactly the
rule the snapshot's dict holds for every (user filter, realm filter), and the lane must map
every subject exactly as :meth:`IdentityMapper.match` does."""

from __future__ import annotations

import os
import random
from typing import Any

import pytest

from realmgate.lane import LaneRecord
from realmgate.mapping import IdentityMapper
from realmgate.registry import MappingRule, SQLiteRegistry
from realmgate.verifier import Verifier
from tests import services
from tests.conftest import Setup

try:
    from realmgate._speedups import RuleIndex
except ImportError:  # not built: skipped, or failed under CI=true
    RuleIndex = None  # type: ignore[assignment,misc]

pytestmark = pytest.mark.skipif(
    RuleIndex is None and os.environ.get("CI") != "true",
    reason="realmgate._speedups not built",
)

_TEXTS = ["*", "alice", "Alice", "alice ", "bob", "R", "r", "PROD", "é", "ü" * 3, "𝔘", "日本",
          "CN=Carol,O=Corp", "cn=carol,o=corp", "O=Corp", "a" * 300, ""]  # fmt: skip


def _rules(pairs: list[tuple[str, str]]) -> dict[tuple[str, str], MappingRule]:
    return {(u, r): MappingRule(u, r, f"L{i}", "test") for i, (u, r) in enumerate(pairs)}


def _copy(text: str) -> str:
    """Equal text, another object: the index must compare text, not identity."""
    return (text + "!")[:-1]


def test_every_pair_finds_the_dicts_rule_and_nothing_else() -> None:
    rng = random.Random(5)
    pairs = sorted({(rng.choice(_TEXTS), rng.choice(_TEXTS)) for _ in range(60)})
    rules = _rules(pairs)
    index = RuleIndex(rules)
    assert len(index) == len(rules)
    for user in [*_TEXTS, "nobody", "alic", "alicee"]:
        for realm in [*_TEXTS, "X"]:
            expected = rules.get((user, realm))
            assert index.get(_copy(user), _copy(realm)) is expected, (user, realm)


def test_many_rules_with_colliding_slots() -> None:
    rules = _rules([(f"user{i:05d}", realm) for i in range(3000) for realm in ("A", "B")])
    index = RuleIndex(rules)
    for (user, realm), rule in rules.items():
        assert index.get(_copy(user), _copy(realm)) is rule
    assert index.get("user03000", "A") is None and index.get("user00001", "C") is None


def test_an_empty_table_and_bad_input() -> None:
    assert RuleIndex({}).get("alice", "R") is None and len(RuleIndex({})) == 0
    with pytest.raises(TypeError):
        RuleIndex({("alice", 1): MappingRule("alice", "R", "A", "t")})
    with pytest.raises(TypeError):
        RuleIndex({"alice": MappingRule("alice", "R", "A", "t")})
    with pytest.raises(AttributeError):
        RuleIndex({("alice", "R"): object()})
    with pytest.raises(TypeError):
        RuleIndex({}).get(b"alice", "R")


@pytest.fixture
def world(setup: Setup) -> Any:
    config = services.write_config(setup.dir, '[registry]\npath = "registry.db"\n')
    registry = SQLiteRegistry(setup.dir / "registry.db")
    yield config, registry
    registry.close()


@pytest.mark.parametrize(
    "rules",
    [
        [("alice", "R", "ALICE"), ("*", "R", "ANY_R"), ("bob", "*", "BOB")],
        [("*", "*", "EVERYONE"), ("carol", "R", "CAROL")],
        [("O=Corp", "R", "CORP"), ("CN=Dave,O=Corp", "*", "DAVE")],
        [("élodie", "R", "ELODIE")],
    ],
)
def test_the_lane_maps_every_subject_as_the_mapper_does(
    world: Any, rsa_key: Any, rules: list[tuple[str, str, str]]
) -> None:
    config, registry = world
    for user, realm, local in rules:
        registry.add(MappingRule(user, realm, local))
    engine = Verifier(config, registry=registry)
    assert engine.verify(services.token(rsa_key, "warm")) is not None
    assert engine.verify(services.token(rsa_key, "warm")) is not None  # the lane, made
    mapper = IdentityMapper(registry)
    subjects = ["alice", "bob", "carol", "zed", "élodie", "CN=Dave,O=Corp", "CN=Eve,O=Corp",
                "cn=dave,o=corp", "ALICE"]  # fmt: skip
    lane_decided = 0
    for subject in subjects:
        decision = engine.verify(services.token(rsa_key, subject))
        expected, _ = mapper.match(subject, "R")
        if expected is None:
            assert decision.message_id == "RG5001E", subject
        else:
            assert decision.accepted and decision.local_user == expected.local_user, subject
            assert decision.rule == expected, subject
            lane_decided += isinstance(decision.recorded, LaneRecord)
    assert lane_decided > 0


def test_a_registry_change_reaches_the_index(world: Any, rsa_key: Any) -> None:
    config, registry = world
    registry.add(MappingRule("alice", "R", "OLD"))
    engine = Verifier(config, registry=registry)
    for _ in range(2):
        engine.verify(services.token(rsa_key, "alice"))
    assert engine.verify(services.token(rsa_key, "alice")).local_user == "OLD"
    registry.remove("alice", "R")
    registry.add(MappingRule("alice", "R", "NEW"))
    engine.mapper.refresh()
    decision = engine.verify(services.token(rsa_key, "alice"))
    assert decision.local_user == "NEW" and isinstance(decision.recorded, LaneRecord)
