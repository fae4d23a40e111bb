"""The fast lane's accept path (realmgate.lane, ``_speedups.fast_verify``): what it decides
itself must be exactly what the reference pipeline decides, and every state that lives
outside the token (revocations, mappings, the registry's health, the cache's doorkeeper)
must reach it as promptly as it reaches the reference."""

from __future__ import annotations

import inspect
import logging
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from realmgate import verifier as verifier_module
from realmgate.decision import Decision
from realmgate.lane import UNHANDLED, LaneRecord, fast_verify, lane_entry
from realmgate.registry import MappingRule, Revocation, SQLiteRegistry
from realmgate.trace import TraceLevel
from realmgate.tracespec import FINE
from realmgate.verifier import Verifier
from tests import services
from tests.conftest import Setup, pem_certificate

# Under CI=true the extension must be built: the tests then run (and fail) without it.
pytestmark = pytest.mark.skipif(
    fast_verify is None and os.environ.get("CI") != "true",
    reason="realmgate._speedups not built",
)


@pytest.fixture
def world(setup: Setup) -> Iterator[tuple[Path, SQLiteRegistry]]:
    config = services.write_config(setup.dir, '[registry]\npath = "registry.db"\n')
    registry = SQLiteRegistry(setup.dir / "registry.db")
    registry.add(MappingRule("alice", "R", "ALICE01"))
    registry.add(MappingRule("*", "R", "ANYONE"))
    yield config, registry
    registry.close()


_NOW = time.time() + 1.5  # one instant for both pipelines: the trace shows "now"


def _clock() -> float:
    return _NOW


def _lane_decided(decision: Decision) -> bool:
    return isinstance(decision.recorded, LaneRecord) or (
        decision.recorded == () and decision.accepted and not decision.from_cache
    )


def _warm(engine: Verifier, rsa_key: Any) -> None:
    """The lane reads parsed header segments the reference cached: one token first."""
    assert engine.verify(services.token(rsa_key, "warm")).accepted


def _on_the_lane(config: Path, registry: SQLiteRegistry, rsa_key: Any) -> Verifier:
    """A verifier whose lane is made with the mapper: the next new token takes it."""
    engine = Verifier(config, registry=registry)
    _warm(engine, rsa_key)
    assert engine.verify(services.token(rsa_key)).accepted
    return engine


def _reference(config: Path, registry: SQLiteRegistry, monkeypatch: pytest.MonkeyPatch) -> Any:
    def verify(token: str) -> Decision:
        with monkeypatch.context() as patch:
            patch.setattr(verifier_module, "fast_verify", None)
            return Verifier(config, registry=registry, clock=_clock).verify(token)

    return verify


@pytest.mark.parametrize("subject", ["alice", "bob", "CN=Carol,O=Corp"])
def test_lane_decision_equals_the_reference(
    world: tuple[Path, SQLiteRegistry],
    rsa_key: Any,
    monkeypatch: pytest.MonkeyPatch,
    subject: str,
) -> None:
    config, registry = world
    engine = Verifier(config, registry=registry, clock=_clock)
    _warm(engine, rsa_key)
    token = services.token(rsa_key, subject)
    fast = engine.verify(token)
    assert isinstance(fast.recorded, LaneRecord), "the lane did not decide"
    reference = _reference(config, registry, monkeypatch)(token)
    assert not isinstance(reference.recorded, LaneRecord)
    for name in Decision._fields:
        if name not in ("recorded", "token_ref", "rule"):
            assert getattr(fast, name) == getattr(reference, name), name
    assert fast.token_hash == reference.token_hash == verifier_module.token_hash(token)
    assert fast.mapping_rule == reference.mapping_rule
    assert [s.describe() for s in fast.trace] == [s.describe() for s in reference.trace]
    assert fast.trace is fast.trace  # made once


def test_trace_off_records_nothing(world: tuple[Path, SQLiteRegistry], rsa_key: Any) -> None:
    config, registry = world
    engine = Verifier(config, registry=registry, trace_level=TraceLevel.OFF)
    _warm(engine, rsa_key)
    decision = engine.verify(services.token(rsa_key))
    assert decision.accepted and decision.local_user == "ALICE01" and decision.trace == ()


def test_decision_never_shows_the_token(world: tuple[Path, SQLiteRegistry], rsa_key: Any) -> None:
    config, registry = world
    engine = Verifier(config, registry=registry)
    _warm(engine, rsa_key)
    token = services.token(rsa_key)
    decision = engine.verify(token)
    signature = token.rsplit(".", 1)[1]
    assert signature not in repr(decision) and signature not in str(decision._asdict())
    assert signature not in str(decision.to_dict())
    assert decision._asdict()["token_hash"] == decision.token_hash


def test_a_token_is_stored_on_its_second_acceptance(
    world: tuple[Path, SQLiteRegistry], rsa_key: Any
) -> None:
    config, registry = world
    engine = Verifier(config, registry=registry)
    _warm(engine, rsa_key)
    token = services.token(rsa_key)
    first, second, third = (engine.verify(token) for _ in range(3))
    assert isinstance(first.recorded, LaneRecord)  # the lane, nothing stored
    assert not isinstance(second.recorded, LaneRecord) and not second.from_cache  # stored
    assert third.from_cache and third.local_user == first.local_user == "ALICE01"


def test_revocation_reaches_the_lane_within_the_refresh_interval(
    world: tuple[Path, SQLiteRegistry], rsa_key: Any
) -> None:
    config, registry = world
    engine = Verifier(config, registry=registry)
    _warm(engine, rsa_key)
    assert _lane_decided(engine.verify(services.token(rsa_key, "alice")))
    registry.revoke(Revocation("subject", "alice", reason="left"))
    time.sleep(0.3)  # the checker's refresh interval is 0.25 s
    refused = engine.verify(services.token(rsa_key, "alice"))
    assert refused.message_id == "RG8510E" and "subject 'alice'" in (refused.reason or "")
    other = engine.verify(services.token(rsa_key, "bob"))  # a non-empty list: find() asked
    assert other.accepted and other.local_user == "ANYONE"
    registry.unrevoke("subject", "alice")
    time.sleep(0.3)
    assert engine.verify(services.token(rsa_key, "alice")).local_user == "ALICE01"


def test_mapping_changes_reach_the_lane(world: tuple[Path, SQLiteRegistry], rsa_key: Any) -> None:
    config, registry = world
    engine = Verifier(config, registry=registry)
    _warm(engine, rsa_key)
    assert engine.verify(services.token(rsa_key, "alice")).local_user == "ALICE01"
    registry.remove("alice", "R")
    engine.mapper.refresh()
    assert engine.verify(services.token(rsa_key, "alice")).local_user == "ANYONE"
    registry.remove("*", "R")
    engine.mapper.refresh()
    unmapped = engine.verify(services.token(rsa_key, "alice"))
    assert unmapped.message_id == "RG5001E" and unmapped.status == 403
    assert not isinstance(unmapped.recorded, LaneRecord)  # the reference explained it
    assert ("mapping", "realm") in [(step.stage, step.check) for step in unmapped.trace]


def test_an_unreadable_registry_fails_closed(
    world: tuple[Path, SQLiteRegistry], rsa_key: Any
) -> None:
    config, registry = world
    engine = Verifier(config, registry=registry)
    _warm(engine, rsa_key)
    assert engine.verify(services.token(rsa_key)).accepted
    registry.close()
    time.sleep(0.3)
    for _ in range(3):  # not once: the lane must not answer from a stale view meanwhile
        decision = engine.verify(services.token(rsa_key))
        assert decision.message_id == "RG5002E" and decision.status == 503


# -- Verifier.verify's entry (lane_entry) and what the lane remembers between tokens --------


def test_tokens_taking_turns_between_issuers_and_keys_each_get_their_own(
    world: tuple[Path, SQLiteRegistry], rsa_key: Any, other_rsa_key: Any
) -> None:
    """The lane remembers the last header, issuer and key answer: tokens that alternate
    between two keys and two issuers must each be checked against their own."""
    config, registry = world
    (config.parent / "truststore" / "zos.pem").write_bytes(pem_certificate(other_rsa_key, "ZOS"))
    engine = Verifier(config, registry=registry)
    _warm(engine, rsa_key)
    assert engine.verify(services.token(other_rsa_key, "warm", kid="zos")).accepted
    for round_no in range(3):
        for key, kid in ((rsa_key, "linux"), (other_rsa_key, "zos")):
            for issuer, client in ((services.ISSUER, "main"), (services.OTHER_ISSUER, "other")):
                decision = engine.verify(services.token(key, "alice", kid=kid, issuer=issuer))
                assert decision.accepted and decision.client_id == client, decision.reason
                assert decision.key_id == kid and _lane_decided(decision)
        # The right header with the other key's signature: refused, not remembered as fine.
        forged = services.token(other_rsa_key, "alice", kid="linux")
        refused = engine.verify(forged)
        assert refused.message_id == "RG3004E" and "linux" in (refused.reason or "")


def test_a_header_one_character_off_the_remembered_one_is_not_taken_for_it(
    world: tuple[Path, SQLiteRegistry], rsa_key: Any
) -> None:
    config, registry = world
    engine = Verifier(config, registry=registry)
    _warm(engine, rsa_key)
    token = services.token(rsa_key)
    assert engine.verify(token).accepted
    header, rest = token.split(".", 1)
    for i in range(len(header)):
        for replacement in "AQw_-":
            if header[i] == replacement:
                continue
            changed = header[:i] + replacement + header[i + 1 :] + "." + rest
            decision = engine.verify(changed)
            assert not decision.accepted, (i, replacement)
            assert decision.message_id is not None and decision.message_id.startswith("RG")


def test_verify_takes_its_usual_way_whenever_the_entry_cannot_decide(
    world: tuple[Path, SQLiteRegistry], rsa_key: Any
) -> None:
    config, registry = world
    engine = _on_the_lane(config, registry, rsa_key)
    token = services.token(rsa_key)
    assert lane_entry(engine, token.encode()) is UNHANDLED  # not a str
    first = lane_entry(engine, token)
    assert type(first) is Decision and first.accepted
    assert lane_entry(engine, token) is UNHANDLED  # seen: the cache is asked first
    engine.reload(config)  # a new snapshot: the lane is remade by verify, not by the entry
    assert lane_entry(engine, services.token(rsa_key)) is UNHANDLED
    assert engine.verify(services.token(rsa_key)).accepted
    assert type(lane_entry(engine, services.token(rsa_key))) is Decision
    engine.token_cache = type(engine.token_cache)(10, 100_000)  # another cache: remade too
    assert lane_entry(engine, services.token(rsa_key)) is UNHANDLED
    explained = engine.verify(services.token(rsa_key), explain=True)
    assert explained.accepted and not isinstance(explained.recorded, LaneRecord)


def test_the_entry_hands_what_it_cannot_finish_to_the_python_stages(
    world: tuple[Path, SQLiteRegistry], rsa_key: Any
) -> None:
    config, registry = world
    engine = _on_the_lane(config, registry, rsa_key)
    registry.remove("alice", "R")
    registry.remove("*", "R")
    engine.mapper.refresh()
    token = services.token(rsa_key, "alice")
    handed = lane_entry(engine, token)  # signature and claims done: (snapshot, front)
    assert type(handed) is tuple and len(handed) == 2 and handed[0] is engine.snapshot
    unmapped = engine.verify(services.token(rsa_key, "alice"))
    assert unmapped.message_id == "RG5001E"
    unknown = services.token(rsa_key, "alice", issuer="https://nobody.test")
    assert lane_entry(engine, unknown) is None  # the reference decides and explains
    assert engine.verify(unknown).message_id is not None


def test_an_accepted_token_is_logged_when_fine_logging_is_on(
    world: tuple[Path, SQLiteRegistry], rsa_key: Any
) -> None:
    config, registry = world
    engine = Verifier(config, registry=registry)
    _warm(engine, rsa_key)
    records: list[logging.LogRecord] = []
    handler = logging.Handler(FINE)
    handler.emit = records.append  # type: ignore[method-assign]
    logger = logging.getLogger("realmgate.decision")
    old_level, old_disabled = logger.level, logger.disabled  # whatever earlier tests left
    logger.addHandler(handler)
    logger.disabled = False
    try:
        logger.setLevel(logging.INFO)
        quiet = engine.verify(services.token(rsa_key))
        assert quiet.accepted and not records
        logger.setLevel(FINE)
        assert type(lane_entry(engine, services.token(rsa_key))) is tuple  # (decision,)
        token = services.token(rsa_key)
        decision = engine.verify(token)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
        logger.disabled = old_disabled
    assert decision.accepted and _lane_decided(decision)
    assert [r.getMessage() for r in records] == ["accepted as 'ALICE01' via main"]  # once
    assert token.rsplit(".", 1)[1] not in str([vars(r) for r in records])


def test_verify_answers_the_same_whatever_the_call_shape(
    world: tuple[Path, SQLiteRegistry], rsa_key: Any
) -> None:
    """Verifier.verify is a C wrapper (FastMethod) for calls of exactly (verifier, token):
    every other shape reaches the Python method, and the answers agree."""
    config, registry = world
    engine = Verifier(config, registry=registry)
    _warm(engine, rsa_key)
    calls = [
        lambda t: engine.verify(t),
        lambda t: Verifier.verify(engine, t),
        lambda t: engine.verify(t, None),
        lambda t: engine.verify(token=t),
        lambda t: engine.verify(t, default_issuer=None),
        lambda t: engine.verify(t, explain=False),
    ]
    for call in calls:
        for subject, local in (("alice", "ALICE01"), ("zed", "ANYONE")):
            token = services.token(rsa_key, subject)
            first, again = call(token), call(token)
            assert first.accepted and first.local_user == local, first.reason
            assert again.accepted and again.local_user == local
        assert call(services.token(rsa_key, issuer="https://nobody.test")).message_id
        assert call("not.a.token").message_id is not None
        assert call(b"bytes".decode() + ".x.y").message_id is not None
    explained = engine.verify(services.token(rsa_key), explain=True)
    assert explained.accepted and len(explained.trace) > 3
    with pytest.raises(TypeError):
        engine.verify()  # type: ignore[call-arg]
    signature = inspect.signature(Verifier.verify)
    assert list(signature.parameters) == ["self", "token", "request", "explain", "default_issuer"]
    assert Verifier.verify.__doc__ and "Verify ``token``" in Verifier.verify.__doc__
    assert Verifier.verify.__name__ == "verify"


def test_a_lane_made_while_the_configuration_changes_is_not_kept(
    world: tuple[Path, SQLiteRegistry], rsa_key: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """lane_entry trusts the lane it finds (only the cache is compared): a lane made from
    the old snapshot while reload() ran must not stay."""
    config, registry = world
    engine = Verifier(config, registry=registry)
    _warm(engine, rsa_key)
    made = verifier_module.state_for
    reloaded: list[bool] = []

    def state_for_during_reload(*args: Any) -> Any:
        state = made(*args)
        if not reloaded:
            reloaded.append(True)
            engine.reload(config)  # another thread's reload, between reading and writing
        return state

    engine.reload(config)
    monkeypatch.setattr(verifier_module, "state_for", state_for_during_reload)
    old_snapshot = engine.snapshot
    assert engine.verify(services.token(rsa_key)).accepted
    assert reloaded and engine.snapshot is not old_snapshot
    assert engine._lane[0] is not old_snapshot  # reset, not the lane of the old snapshot
    monkeypatch.setattr(verifier_module, "state_for", made)
    assert engine.verify(services.token(rsa_key)).accepted
    assert engine._lane[0] is engine.snapshot


def test_threads_taking_turns_between_issuers_and_keys_each_get_their_own(
    world: tuple[Path, SQLiteRegistry], rsa_key: Any, other_rsa_key: Any
) -> None:
    """What the lane remembers between tokens is shared by every thread of a verifier."""
    config, registry = world
    (config.parent / "truststore" / "zos.pem").write_bytes(pem_certificate(other_rsa_key, "ZOS"))
    engine = Verifier(config, registry=registry)
    _warm(engine, rsa_key)
    assert engine.verify(services.token(other_rsa_key, "warm", kid="zos")).accepted
    cases = [
        (key, kid, issuer, client)
        for key, kid in ((rsa_key, "linux"), (other_rsa_key, "zos"))
        for issuer, client in ((services.ISSUER, "main"), (services.OTHER_ISSUER, "other"))
    ]
    forged = services.token(other_rsa_key, "alice", kid="linux")
    problems: list[str] = []

    def run(offset: int) -> None:
        for i in range(40):
            key, kid, issuer, client = cases[(i + offset) % len(cases)]
            decision = engine.verify(services.token(key, "alice", kid=kid, issuer=issuer))
            if not (decision.accepted and decision.client_id == client and decision.key_id == kid):
                problems.append(f"{kid} {client}: {decision.reason}")
            if engine.verify(forged).accepted:
                problems.append("a forged token was accepted")

    threads = [threading.Thread(target=run, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not problems, problems[:3]
