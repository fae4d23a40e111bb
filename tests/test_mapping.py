"""RACMAP-style resolution: every step of the search order, DN handling, the tried list,
and how the in-memory snapshot follows the registry."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from realmgate.errors import IdentityNotMapped, RegistryError
from realmgate.mapping import IdentityMapper, MappingResult, candidate_filters
from realmgate.registry import (
    MappingRule,
    SQLiteRegistry,
    is_dn,
    normalize_user_filter,
    split_dn,
)

REALM = "https://idp.example.com"
DN = "CN=Ann Lee,OU=Payroll,OU=Eng,O=Corp,C=US"


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[SQLiteRegistry]:
    with SQLiteRegistry(tmp_path / "reg.db") as registry:
        yield registry


MapperFactory = Callable[..., IdentityMapper]


@pytest.fixture
def mapper_with(registry: SQLiteRegistry) -> MapperFactory:
    def make(*rules: tuple[str, str, str]) -> IdentityMapper:
        for user, realm, local in rules:
            registry.add(MappingRule(user, realm, local))
        return IdentityMapper(registry, refresh_interval=0)

    return make


def _steps(result: MappingResult) -> list[tuple[str, str, bool]]:
    return [(a.user_filter, a.realm_filter, a.matched) for a in result.tried]


# --- DN helpers ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "normal"),
    [
        ("cn=Ann Lee,ou=Eng,o=Corp", "CN=Ann Lee,OU=Eng,O=Corp"),
        ("CN = Ann Lee , OU= Eng ,O =Corp ", "CN=Ann Lee,OU=Eng,O=Corp"),
        ("Cn=Ann Lee,Ou=Eng,O=Corp", "CN=Ann Lee,OU=Eng,O=Corp"),
        ("cn=Lee\\, Ann, o=Corp", "CN=Lee\\, Ann,O=Corp"),
        ('cn="Lee, Ann" , o=Corp', 'CN="Lee, Ann",O=Corp'),
        ("cn=trailing\\ ,o=Corp", "CN=trailing\\ ,O=Corp"),
        ("cn=a + uid=b, o=Corp", "CN=a+UID=b,O=Corp"),
        ("cn=\\41nn,o=Corp", "CN=\\41nn,O=Corp"),
        ("2.5.4.3=Ann", "2.5.4.3=Ann"),
        ("alice", "alice"),
        (" alice ", " alice "),
        ("Alice@Example.COM", "Alice@Example.COM"),
        ("dXNlcg==", "dXNlcg=="),
        ("*", "*"),
    ],
)
def test_normalize_user_filter(value: str, normal: str) -> None:
    assert normalize_user_filter(value) == normal
    assert normalize_user_filter(normal) == normal


def test_is_dn_and_split_dn() -> None:
    assert is_dn("cn=x") and is_dn("uid=x,dc=example,dc=com") and is_dn("foo=1,bar=2")
    assert not any(is_dn(v) for v in ["alice", "*", "dXNlcg==", "ab=c", "CN=x;O=y", "CN=a,"])
    assert split_dn('CN="a,b",OU=x\\,y , O=Corp') == ['CN="a,b"', "OU=x\\,y", "O=Corp"]
    for value in ["alice", "dXNlcg==", "CN=a,", "CN=a\\"]:
        with pytest.raises(ValueError, match="not a distinguished name"):
            split_dn(value)


def test_candidate_order_for_dn_and_plain_user() -> None:
    assert candidate_filters("cn=A, ou=B, o=C", "r") == [
        ("CN=A,OU=B,O=C", "r"),
        ("OU=B,O=C", "r"),
        ("O=C", "r"),
        ("CN=A,OU=B,O=C", "*"),
        ("OU=B,O=C", "*"),
        ("O=C", "*"),
        ("*", "r"),
        ("*", "*"),
    ]
    assert candidate_filters("alice", "r") == [
        ("alice", "r"),
        ("alice", "*"),
        ("*", "r"),
        ("*", "*"),
    ]
    assert candidate_filters("alice", "*") == [("alice", "*"), ("*", "*")]


# --- plain user names --------------------------------------------------------------------


ALL_PLAIN = [
    ("ann", REALM, "exact"),
    ("ann", "*", "user-any"),
    ("*", REALM, "any-realm"),
    ("*", "*", "default"),
]


@pytest.mark.parametrize("dropped", range(4))
def test_plain_user_search_order(mapper_with: MapperFactory, dropped: int) -> None:
    """With the first ``dropped`` rules of the order absent, the next one wins."""
    mapper = mapper_with(*ALL_PLAIN[dropped:])
    result = mapper.resolve("ann", REALM)
    assert result.local_user == ALL_PLAIN[dropped][2]
    assert result.rule is not None and result.rule.local_user == result.local_user
    assert _steps(result) == [
        (u, r, i == dropped) for i, (u, r, _) in enumerate(ALL_PLAIN[: dropped + 1])
    ]


def test_plain_user_compares_exactly(mapper_with: MapperFactory) -> None:
    mapper = mapper_with(("ann", REALM, "exact"))
    for user, realm in [
        ("Ann", REALM),
        ("ann ", REALM),
        ("ann", REALM + "/"),
        ("ann", REALM.upper()),
    ]:
        assert mapper.resolve(user, realm).local_user is None


def test_base64_subject_is_not_case_folded(mapper_with: MapperFactory) -> None:
    mapper = mapper_with(("dXNlcg==", REALM, "u1"))
    assert mapper.resolve("dXNlcg==", REALM).local_user == "u1"
    assert mapper.resolve("DXNLCG==", REALM).local_user is None


# --- distinguished names -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule_user", "position"),
    [
        ("CN=Ann Lee,OU=Payroll,OU=Eng,O=Corp,C=US", 0),
        ("OU=Payroll,OU=Eng,O=Corp,C=US", 1),
        ("OU=Eng,O=Corp,C=US", 2),
        ("O=Corp,C=US", 3),
        ("C=US", 4),
    ],
)
def test_dn_partial_match_at_every_depth(
    mapper_with: MapperFactory, rule_user: str, position: int
) -> None:
    mapper = mapper_with((rule_user, REALM, "mapped"), ("*", "*", "default"))
    result = mapper.resolve(DN, REALM)
    assert result.local_user == "mapped"
    assert len(result.tried) == position + 1
    assert result.tried[-1].user_filter == rule_user
    assert [a.matched for a in result.tried] == [False] * position + [True]
    assert all(a.why == "no rule for this filter" for a in result.tried[:-1])


def test_more_specific_dn_wins(mapper_with: MapperFactory) -> None:
    mapper = mapper_with(("O=Corp,C=US", REALM, "corp"), ("OU=Eng,O=Corp,C=US", REALM, "eng"))
    assert mapper.resolve(DN, REALM).local_user == "eng"
    assert mapper.resolve("CN=Bo,OU=Sales,O=Corp,C=US", REALM).local_user == "corp"
    assert mapper.resolve("CN=Bo,OU=Eng,O=Other,C=US", REALM).local_user is None


def test_dn_with_exact_realm_beats_full_dn_with_any_realm(mapper_with: MapperFactory) -> None:
    mapper = mapper_with((DN, "*", "any-realm"), ("C=US", REALM, "country"))
    result = mapper.resolve(DN, REALM)
    assert result.local_user == "country"
    assert [a.realm_filter for a in result.tried] == [REALM] * 5


def test_dn_full_order_down_to_default(mapper_with: MapperFactory) -> None:
    mapper = mapper_with(("*", "*", "default"))
    result = mapper.resolve("cn=Ann, o=Corp", REALM)
    assert _steps(result) == [
        ("CN=Ann,O=Corp", REALM, False),
        ("O=Corp", REALM, False),
        ("CN=Ann,O=Corp", "*", False),
        ("O=Corp", "*", False),
        ("*", REALM, False),
        ("*", "*", True),
    ]
    assert result.tried[-1].why == "matched: maps to local user 'default'"


def test_dn_any_realm_then_any_user(mapper_with: MapperFactory) -> None:
    mapper = mapper_with(("O=Corp", "*", "corp-anywhere"), ("*", REALM, "realm-default"))
    assert mapper.resolve("CN=Ann,O=Corp", REALM).local_user == "corp-anywhere"
    assert mapper.resolve("CN=Ann,O=Other", REALM).local_user == "realm-default"
    assert mapper.resolve("CN=Ann,O=Other", "elsewhere").local_user is None


@pytest.mark.parametrize(
    "subject",
    [
        "CN=Ann Lee,OU=Eng,O=Corp",
        "cn=Ann Lee,ou=Eng,o=Corp",
        "CN = Ann Lee , OU = Eng , O = Corp",
        " cN=Ann Lee,Ou=Eng,o=Corp ",
    ],
)
def test_dn_normalisation_variants_match(mapper_with: MapperFactory, subject: str) -> None:
    mapper = mapper_with(("cn=Ann Lee, ou=Eng, o=Corp", REALM, "ann"))
    assert mapper.resolve(subject, REALM).local_user == "ann"


def test_long_subjects_resolve_the_same_way(mapper_with: MapperFactory) -> None:
    # Over the candidate cache's size limit: computed each time, same order.
    mapper = mapper_with(("O=Corp", REALM, "corp"), ("*", REALM, "anyone"))
    result = mapper.resolve("CN=" + "a" * 1500 + ",O=Corp", REALM)
    assert result.local_user == "corp" and len(result.tried) == 2
    assert _steps(mapper.resolve("x" * 2000, REALM)) == [
        ("x" * 2000, REALM, False),
        ("x" * 2000, "*", False),
        ("*", REALM, True),
    ]


def test_dn_values_keep_their_case_and_hint_says_so(mapper_with: MapperFactory) -> None:
    mapper = mapper_with(("CN=Ann,O=Corp", REALM, "ann"))
    result = mapper.resolve("CN=ANN,O=Corp", REALM)
    assert result.local_user is None
    first = result.tried[0]
    assert first.user_filter == "CN=ANN,O=Corp"
    assert "user='CN=Ann,O=Corp'" in first.why and "differs only in case" in first.why


def test_escaped_comma_is_not_an_rdn_boundary(mapper_with: MapperFactory) -> None:
    mapper = mapper_with(("CN=Lee\\, Ann,O=Corp", REALM, "ann"), ("O=Corp", REALM, "corp"))
    assert mapper.resolve("cn=Lee\\, Ann, o=Corp", REALM).local_user == "ann"
    result = mapper.resolve("CN=Lee\\, Bo,O=Corp", REALM)
    assert [a.user_filter for a in result.tried] == ["CN=Lee\\, Bo,O=Corp", "O=Corp"]


def test_realm_is_case_sensitive_and_the_near_miss_is_explained(
    mapper_with: MapperFactory,
) -> None:
    mapper = mapper_with(("ann", "https://IdP.example.com/", "ann"))
    result = mapper.resolve("ann", REALM)
    assert result.local_user is None
    assert result.tried[0].why.startswith("no rule for this filter; a rule for ")
    assert "realm='https://IdP.example.com/'" in result.tried[0].why
    assert [a.why for a in result.tried[1:]] == ["no rule for this filter"] * 3


def test_unmapped_result_and_refusal_show_compared_values(mapper_with: MapperFactory) -> None:
    mapper = mapper_with(("bob", REALM, "bob"))
    result = mapper.resolve("cn=Ann,o=Corp", "realm 'q'")
    assert (result.local_user, result.rule, result.mapped) == (None, None, False)
    refusal = result.refusal("cn=Ann,o=Corp", "realm 'q'", "claim:realm")
    assert isinstance(refusal, IdentityNotMapped)
    assert refusal.message_id == "RG5001E"
    assert "user 'cn=Ann,o=Corp'" in refusal.text
    assert "realm \"realm 'q'\"" in refusal.text
    assert "('CN=Ann,O=Corp', \"realm 'q'\"), ('O=Corp', \"realm 'q'\")" in refusal.text
    assert "('*', '*')" in refusal.text
    assert refusal.values["realm_source"] == "claim:realm"


# --- the snapshot ------------------------------------------------------------------------


def test_change_through_another_registry_is_seen_within_refresh_interval(
    registry: SQLiteRegistry,
) -> None:
    interval = 0.05
    mapper = IdentityMapper(registry, refresh_interval=interval)
    assert mapper.resolve("ann", REALM).local_user is None
    with SQLiteRegistry(registry.path) as other:
        other.add(MappingRule("ann", REALM, "ann"))
        changed_at = time.monotonic()
        while mapper.resolve("ann", REALM).local_user is None:
            assert time.monotonic() - changed_at < interval + 0.5
            time.sleep(0.005)
        assert time.monotonic() - changed_at <= interval + 0.25
        other.remove("ann", REALM)
    time.sleep(interval)
    assert mapper.resolve("ann", REALM).local_user is None


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_registry_is_checked_at_most_once_per_interval(registry: SQLiteRegistry) -> None:
    clock = _Clock()
    mapper = IdentityMapper(registry, refresh_interval=1.0, clock=clock)
    start_generation = mapper.generation
    with SQLiteRegistry(registry.path) as other:
        other.add(MappingRule("ann", REALM, "ann"))
    clock.now += 0.99
    assert mapper.resolve("ann", REALM).local_user is None  # still the old snapshot
    assert mapper.generation == start_generation
    clock.now += 0.01
    assert mapper.resolve("ann", REALM).local_user == "ann"
    assert mapper.generation != start_generation
    assert [r.user for r in mapper.snapshot_rules()] == ["ann"]


def test_generation_is_stable_without_changes_and_unique_per_mapper(
    registry: SQLiteRegistry,
) -> None:
    registry.add(MappingRule("ann", REALM, "ann"))
    first = IdentityMapper(registry, refresh_interval=0)
    second = IdentityMapper(registry, refresh_interval=0)
    assert first.generation != second.generation
    generation = first.generation
    assert first.refresh() is False
    assert first.generation == generation
    # Same content after a remove and re-add: cached decisions stay valid.
    registry.remove("ann", REALM)
    registry.add(MappingRule("ann", REALM, "ann"))
    assert first.refresh() is False
    assert first.generation == generation
    registry.remove("ann", REALM)
    registry.add(MappingRule("ann", REALM, "someone-else"))
    assert first.refresh() is True
    assert first.generation != generation
    assert first.resolve("ann", REALM).local_user == "someone-else"


def test_unavailable_registry_fails_closed(registry: SQLiteRegistry) -> None:
    registry.add(MappingRule("ann", REALM, "ann"))
    clock = _Clock()
    mapper = IdentityMapper(registry, refresh_interval=1.0, clock=clock)
    assert mapper.resolve("ann", REALM).local_user == "ann"
    registry.close()
    assert mapper.resolve("ann", REALM).local_user == "ann"  # not yet checked
    clock.now += 1.0
    for _ in range(2):
        with pytest.raises(RegistryError, match="RG5002E"):
            mapper.resolve("ann", REALM)
    with pytest.raises(RegistryError, match="RG5002E"):
        _ = mapper.generation


def test_lookups_from_many_threads_while_rules_change(registry: SQLiteRegistry) -> None:
    mapper = IdentityMapper(registry, refresh_interval=0.001)
    errors: list[BaseException] = []
    stop = threading.Event()

    def lookups() -> None:
        try:
            while not stop.is_set():
                result = mapper.resolve("CN=Ann,O=Corp", REALM)
                assert result.local_user in (None, "ann", "corp")
                time.sleep(0)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=lookups) for _ in range(3)]
    for t in threads:
        t.start()
    with SQLiteRegistry(registry.path) as writer:
        for _ in range(4):
            writer.add(MappingRule("O=Corp", REALM, "corp"))
            writer.add(MappingRule("CN=Ann,O=Corp", REALM, "ann"))
            writer.remove("O=Corp", REALM)
            writer.remove("CN=Ann,O=Corp", REALM)
        writer.add(MappingRule("CN=Ann,O=Corp", REALM, "ann"))
    deadline = time.monotonic() + 2
    while mapper.resolve("CN=Ann,O=Corp", REALM).local_user != "ann":
        assert time.monotonic() < deadline
        time.sleep(0.002)
    stop.set()
    for t in threads:
        t.join()
    assert errors == []
