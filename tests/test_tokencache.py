"""The verified-token cache (issue 5): every rule of ``realmgate.tokencache``, and the
compiled claim checks and lazy trace records the fast path relies on."""

from __future__ import annotations

import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from realmgate.claims import check_claims, compile_claims
from realmgate.config import load_config, parse_config
from realmgate.configmodel import ClientDefinition, Location
from realmgate.errors import ClaimRefused
from realmgate.jws_sign import sign_compact
from realmgate.keys.signing import signing_key_from_private
from realmgate.registry import MappingRule, Revocation, SQLiteRegistry
from realmgate.request import RequestInfo
from realmgate.revocation import checker_for
from realmgate.tokencache import VerifiedTokenCache
from realmgate.trace import Trace, TraceLevel
from realmgate.verifier import Verifier
from tests.conftest import Setup, pem_certificate
from tests.keyserver import Issuer, key_server

T0 = 1_900_000_000.0
ISS = "https://idp.example"
CONFIG = """\
[registry]
path = "registry.db"
{limits}
[[client]]
id = "main"
issuers = ["{iss}"]
algorithms = ["RS256"]
trust_store = "truststore"
audiences = ["api"]
realm = "R"
clock_skew = 60
{extra}
[[client]]
id = "once"
issuers = ["https://once.example"]
algorithms = ["RS256"]
trust_store = "truststore"
audiences = ["api"]
realm = "R"
token_reuse = false
"""


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


class World:
    def __init__(self, setup: Setup, key: rsa.RSAPrivateKey, limits: str = "", extra: str = ""):
        self.setup = setup
        self.key = key
        self.clock = Clock()
        self.registry = SQLiteRegistry(setup.dir / "registry.db")
        if not self.registry.rules():
            self.registry.add(MappingRule("alice", "R", "ALICE01"))
            self.registry.add(MappingRule("bob", "R", "BOB01"))
        self.write(limits, extra)
        self.verifier = Verifier(setup.config, registry=self.registry, clock=self.clock)
        self.signer = signing_key_from_private(key, source="test", kid="linux")
        self.serial = 0

    def write(self, limits: str = "", extra: str = "") -> None:
        text = CONFIG.format(iss=ISS, limits=limits, extra=textwrap.dedent(extra))
        self.setup.config.write_text(text)

    def token(self, sub: str = "alice", iss: str = ISS, **claims: Any) -> str:
        self.serial += 1
        body = {
            "iss": iss,
            "sub": sub,
            "aud": "api",
            "iat": int(T0),
            "exp": int(T0) + 600,
            "jti": f"j{self.serial}",
            **claims,
        }
        return sign_compact(body, self.signer, "RS256", kid="linux")

    def cached(self, token: str, request: RequestInfo | None = None) -> Any:
        """Accept ``token`` twice (the cache admits on the second acceptance)."""
        for _ in range(2):
            decision = self.verifier.verify(token, request)
            assert decision.accepted, decision.reason
            assert not decision.from_cache
        return decision


@pytest.fixture
def world(setup: Setup, rsa_key: rsa.RSAPrivateKey) -> Iterator[World]:
    w = World(setup, rsa_key)
    yield w
    w.registry.close()


def test_a_hit_serves_the_same_answer_marked_from_cache(world: World) -> None:
    token = world.token()
    first = world.cached(token)
    hit = world.verifier.verify(token)
    assert hit.accepted and hit.from_cache
    assert (hit.local_user, hit.client_id, hit.token_hash) == ("ALICE01", "main", first.token_hash)
    assert world.verifier.verify(token) is hit  # one immutable Decision for every hit
    steps = [(s.stage, s.check, s.outcome) for s in hit.trace]
    assert steps[-1] == ("cache", "verified_token", "pass")
    assert ("jws", "signature", "pass") in steps and ("claims", "exp", "pass") in steps
    assert hit.to_dict()["from_cache"] is True
    with pytest.raises(TypeError):
        hit.claims["sub"] = "mallory"  # type: ignore[index]


def test_first_acceptance_is_not_stored(world: World) -> None:
    token = world.token()
    assert world.verifier.verify(token).accepted
    assert token not in world.verifier.token_cache
    assert world.verifier.verify(token).accepted
    assert token in world.verifier.token_cache


def test_exp_is_enforced_on_a_hit(world: World) -> None:
    token = world.token()
    world.cached(token)
    world.clock.now = T0 + 600 + 59.9  # inside the 60 s skew
    assert world.verifier.verify(token).from_cache
    world.clock.now = T0 + 600 + 60  # now - skew == exp: expired
    late = world.verifier.verify(token)
    assert not late.accepted and late.message_id == "RG4001E" and not late.from_cache


def test_nbf_and_max_age_are_enforced_on_a_hit(setup: Setup, rsa_key: rsa.RSAPrivateKey) -> None:
    w = World(setup, rsa_key, extra="max_age = 100")
    token = w.token(nbf=int(T0) + 30)
    w.clock.now = T0 + 10
    w.cached(token)
    w.clock.now = T0 - 40  # a clock that went back: nbf is in the future again
    assert w.verifier.verify(token).message_id == "RG4003E"
    w.clock.now = T0 + 161  # iat + max_age + skew passed
    assert w.verifier.verify(token).message_id == "RG4005E"
    w.registry.close()


def test_a_reload_invalidates(world: World) -> None:
    token = world.token()
    world.cached(token)
    world.write(extra='required_claims = ["tenant"]')
    world.verifier.reload(world.setup.config)
    decision = world.verifier.verify(token)
    assert not decision.accepted and decision.message_id == "RG4011E"


def test_an_entry_of_an_older_snapshot_is_not_served(world: World) -> None:
    """A verification still running on the old snapshot may store its entry after a reload
    emptied the cache: the entry's snapshot stamp keeps it from answering."""
    token = world.token()
    world.cached(token)
    entry = world.verifier.token_cache.get(token)
    world.write(extra='required_claims = ["tenant"]')
    world.verifier.reload(world.setup.config)
    assert entry is not None and token not in world.verifier.token_cache
    world.verifier.token_cache.put(token, entry)
    decision = world.verifier.verify(token)
    assert not decision.accepted and decision.message_id == "RG4011E"


def test_a_key_change_invalidates(world: World, other_rsa_key: rsa.RSAPrivateKey) -> None:
    token = world.token()
    world.cached(token)
    trust = world.setup.dir / "truststore" / "linux.pem"
    trust.write_bytes(pem_certificate(other_rsa_key, "LINUX"))
    world.verifier.reload(load_config(world.setup.config))
    decision = world.verifier.verify(token)
    assert not decision.accepted and decision.message_id == "RG3004E"


def test_a_mapping_change_invalidates(world: World) -> None:
    token = world.token()
    world.cached(token)
    generation = world.verifier.mapper.generation
    world.registry.remove("alice", "R")
    world.verifier.mapper.refresh(force=True)
    assert world.verifier.mapper.generation != generation
    decision = world.verifier.verify(token)
    assert not decision.accepted and decision.message_id == "RG5001E"


def test_a_revocation_stops_hits(world: World) -> None:
    token = world.token()
    world.cached(token)
    world.registry.revoke(Revocation("jti", "j1"))
    checker_for(world.registry).refresh(force=True)
    decision = world.verifier.verify(token)
    assert not decision.accepted and decision.message_id == "RG8510E"


def test_replay_protected_definitions_never_use_the_cache(world: World) -> None:
    world.verifier.token_cache.admit = lambda token: True  # type: ignore[method-assign]
    token = world.token(iss="https://once.example")
    assert world.verifier.verify(token).accepted
    for _ in range(3):
        again = world.verifier.verify(token)
        assert not again.accepted and again.message_id == "RG4012E"
    assert token not in world.verifier.token_cache


def test_refusals_are_never_cached(world: World) -> None:
    token = world.token(sub="carol")  # valid, but not mapped
    for _ in range(3):
        decision = world.verifier.verify(token)
        assert decision.message_id == "RG5001E" and not decision.from_cache
    assert token not in world.verifier.token_cache
    world.registry.add(MappingRule("carol", "R", "CAROL01"))
    world.verifier.mapper.refresh(force=True)
    assert world.verifier.verify(token).local_user == "CAROL01"


def test_a_request_that_selects_another_definition_is_not_served(
    setup: Setup, rsa_key: rsa.RSAPrivateKey
) -> None:
    extra = """\
        auth_filter = "internal"

        [[auth_filter]]
        id = "internal"
        [[auth_filter.condition]]
        kind = "remote_address"
        match = "equals"
        value = "10.0.0.0/8"

        [[client]]
        id = "outside"
        issuers = ["https://idp.example"]
        algorithms = ["RS256"]
        trust_store = "truststore"
        audiences = ["api"]
        realm = "R"
        map_to_registry_user = true
    """
    w = World(setup, rsa_key, extra=extra)
    token = w.token()
    inside = RequestInfo.build({"authorization": f"Bearer {token}"}, remote_addr="10.1.2.3")
    outside = RequestInfo.build({"authorization": f"Bearer {token}"}, remote_addr="192.0.2.7")
    w.cached(token, inside)
    assert w.verifier.verify_request(inside).from_cache
    other = w.verifier.verify_request(outside)
    assert other.accepted and other.client_id == "outside" and not other.from_cache
    assert other.local_user == "alice"  # map_to_registry_user: a different answer
    assert w.verifier.verify(token, inside).client_id == "main"
    w.registry.close()


def test_explain_is_never_answered_from_the_cache(world: World) -> None:
    token = world.token()
    world.cached(token)
    explained = world.verifier.verify(token, explain=True)
    assert explained.accepted and not explained.from_cache
    assert any(s.check == "claims" and s.stage == "jws" for s in explained.trace)


def test_bounded_by_entries(setup: Setup, rsa_key: rsa.RSAPrivateKey) -> None:
    w = World(setup, rsa_key, limits="[limits]\nverified_cache_entries = 3\n")
    tokens = [w.token() for _ in range(5)]
    for token in tokens:
        w.cached(token)
    cache = w.verifier.token_cache
    assert len(cache) == 3 and all(t in cache for t in tokens[2:])
    w.registry.close()


def test_bounded_by_bytes() -> None:
    cache = VerifiedTokenCache(max_entries=100, max_bytes=10_000)
    entry: Any = type("E", (), {"size": 4_000})()
    for n in range(5):
        cache.put(f"t{n}", entry)
    assert len(cache) == 2 and cache.bytes == 8_000 and "t4" in cache and "t2" not in cache
    big: Any = type("E", (), {"size": 20_000})()
    cache.put("huge", big)  # larger than the whole cache: never stored
    assert "huge" not in cache and cache.bytes == 8_000
    cache.discard("t4")
    assert cache.bytes == 4_000


def test_doorkeeper_admits_on_the_second_sighting() -> None:
    cache = VerifiedTokenCache(10, 10_000)
    assert not cache.admit("a") and cache.admit("a")
    assert not cache.admit("b")
    cache.clear()
    assert not cache.admit("a")


# --- the compiled claim checks are never more lenient than the reference -------------------

_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-10, max_value=3_000_000_000),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["api", "other", "", "1900000000"]),
    st.lists(st.sampled_from(["api", "other", 3]), max_size=3),
)
_claim_sets = st.dictionaries(
    st.sampled_from(["iss", "sub", "jti", "exp", "nbf", "iat", "aud", "tenant"]), _values
)


def _definition(**fields: Any) -> ClientDefinition:
    return ClientDefinition("d", ("i",), ("RS256",), Location("t", 1), **fields)


_definitions = st.builds(
    _definition,
    audiences=st.sampled_from([None, ("api",), ("api", "x")]),
    audiences_any=st.booleans(),
    clock_skew=st.sampled_from([0, 60, 300]),
    max_age=st.sampled_from([None, 100, 10**12]),
    required_claims=st.sampled_from([(), ("tenant",)]),
)


@settings(max_examples=3000, deadline=None)
@given(_definitions, _claim_sets, st.sampled_from([T0, 0.0, 253402300799.0 + 5]))
def test_compiled_claims_agree_with_the_reference(
    definition: ClientDefinition, claims: dict[str, Any], now: float
) -> None:
    fast = compile_claims(definition)(claims, now)
    try:
        reference: float | None = check_claims(definition, claims, now, Trace(TraceLevel.OFF))
    except ClaimRefused:
        reference = None
    if fast is not None:  # "certainly passes" must be true, with the same exp
        assert reference == fast


def test_lazy_records_expand_to_the_reference_steps(world: World) -> None:
    token = world.token()
    decision = world.verifier.verify(token)
    reference = Trace()
    check_claims(world.verifier.config.clients[0], dict(decision.claims), T0, reference)
    claim_steps = [s for s in decision.trace if s.stage == "claims"]
    assert claim_steps == list(reference.steps())
    assert [(s.stage, s.check) for s in decision.trace] == [
        ("select", "definition"),
        ("keys", "algorithm"),
        ("jws", "signature"),
        ("claims", "exp"),
        ("claims", "iat"),
        ("claims", "aud"),
        ("revocation", "list"),
        ("mapping", "realm"),
        ("mapping", "filter"),
        ("decision", "accepted"),
    ]
    assert decision.trace is decision.trace  # materialised once


def test_a_kid_gone_from_the_jwks_stops_hits(tmp_path: Path) -> None:
    """Remote keys rotate without a reload: a hit asks the source again and is served only
    while the key that verified the token is still the one its kid names."""
    keys = {k: rsa.generate_private_key(public_exponent=65537, key_size=2048) for k in "AB"}
    issuer = Issuer("https://jwks.example", keys)
    with key_server() as server:
        server.set("/jwks", issuer.jwks("A", "B"), cache_control="max-age=0")
        text = f"""
[[client]]
id = "remote"
issuers = ["{issuer.iss}"]
algorithms = ["RS256"]
jwks_uri = "{server.url("/jwks")}"
allow_insecure_http = true
audiences = ["api"]
map_to_registry_user = true
jwks_cache_min = 0.05
jwks_unknown_kid_cooldown = 0
"""
        verifier = Verifier(parse_config(text, str(tmp_path / "realmgate.toml")))
        token = issuer.token("A")
        for _ in range(2):
            assert verifier.verify(token).accepted
        assert verifier.verify(token).from_cache
        server.set("/jwks", issuer.jwks("B"), cache_control="max-age=0")
        deadline = time.monotonic() + 5
        while (decision := verifier.verify(token)).accepted:
            assert time.monotonic() < deadline, "the rotated-out key kept answering"
            time.sleep(0.02)
        assert decision.message_id == "RG7012E" and not decision.from_cache
