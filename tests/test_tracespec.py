"""Trace specifications (Liberty grammar → Python logging) and the text/JSON log output."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import re
from collections.abc import Iterator

import pytest

from realmgate.logformat import configure_logging, format_timestamp, redact, redact_text
from realmgate.tracespec import (
    ALL,
    AUDIT,
    CONFIG,
    DETAIL,
    FATAL,
    FINE,
    FINER,
    FINEST,
    INFO,
    KNOWN_LOGGERS,
    OFF,
    SEVERE,
    WARNING,
    apply_trace_spec,
    current_trace_spec,
    level_for,
    parse_trace_spec,
)

TOKEN = (
    "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0"
    ".eyJpc3MiOiJodHRwczovL2lkcCIsInN1YiI6ImFsaWNlIn0"
    ".c2lnbmF0dXJlLWJ5dGVzLWhlcmUtYW5kLW1vcmU"
)


@pytest.fixture(autouse=True)
def clean_logging() -> Iterator[None]:
    """Leave the realmgate loggers as they were found (NOTSET, propagating, no handler)."""

    def reset() -> None:
        for name, obj in list(logging.Logger.manager.loggerDict.items()):
            if isinstance(obj, logging.Logger) and (
                name == "realmgate" or name.startswith("realmgate.")
            ):
                obj.setLevel(logging.NOTSET)
        root = logging.getLogger("realmgate")
        for handler in list(root.handlers):
            if getattr(handler, "_realmgate_handler", False):
                root.removeHandler(handler)
        root.propagate = True

    reset()
    yield
    reset()


def ids(spec_problems: object) -> list[str]:
    return [p.message_id for p in spec_problems]  # type: ignore[attr-defined]


# --- levels -------------------------------------------------------------------------------


def test_level_numbers_and_names() -> None:
    levels = [ALL, FINEST, FINER, FINE, DETAIL, CONFIG, INFO, AUDIT, WARNING, SEVERE, FATAL, OFF]
    assert levels == [1, 5, 7, 10, 15, 17, 20, 25, 30, 40, 50, 100]
    # Non-standard numbers get Liberty names; the standard ones keep Python's for the
    # whole process (realmgate is a library too).
    assert logging.getLevelName(FINEST) == "FINEST"
    assert logging.getLevelName(AUDIT) == "AUDIT"
    assert logging.getLevelName("FINER") == FINER
    assert logging.getLevelName(FINE) == "DEBUG"
    assert logging.getLevelName(INFO) == "INFO"
    assert logging.getLevelName(WARNING) == "WARNING"
    assert logging.getLevelName(SEVERE) == "ERROR"
    assert logging.getLevelName(FATAL) == "CRITICAL"


def test_own_output_shows_liberty_names_but_library_users_see_python_names() -> None:
    out = io.StringIO()
    configure_logging("*=fine", "text", out)
    logging.getLogger("realmgate.keys").debug("a fine record")
    logging.getLogger("realmgate.keys").error("a severe record")
    lines = out.getvalue().splitlines()
    assert lines[0].split(" ")[1:3] == ["FINE", "realmgate.keys"]
    assert lines[1].split(" ")[1:3] == ["SEVERE", "realmgate.keys"]
    # A host application's own formatter still prints the standard names.
    record = logging.LogRecord("app", logging.ERROR, __file__, 1, "boom", None, None)
    assert logging.Formatter("%(levelname)s %(message)s").format(record) == "ERROR boom"


@pytest.mark.parametrize(
    ("word", "level"),
    [
        ("all", ALL),
        ("dump", ALL),
        ("DUMP", ALL),
        ("finest", FINEST),
        ("debug", FINEST),
        ("Debug", FINEST),
        ("finer", FINER),
        ("entryExit", FINER),
        ("ENTRYEXIT", FINER),
        ("fine", FINE),
        ("event", FINE),
        ("EVENT", FINE),
        ("detail", DETAIL),
        ("config", CONFIG),
        ("info", INFO),
        ("INFO", INFO),
        ("audit", AUDIT),
        ("warning", WARNING),
        ("severe", SEVERE),
        ("error", SEVERE),
        ("Error", SEVERE),
        ("fatal", FATAL),
        ("off", OFF),
        ("OFF", OFF),
    ],
)
def test_level_names_and_aliases_case_insensitive(word: str, level: int) -> None:
    spec = parse_trace_spec(f"*=info:realmgate.keys={word}")
    assert not spec.problems
    assert level_for(spec, "realmgate.keys") == level


# --- grammar ------------------------------------------------------------------------------


def test_grammar_defaults_and_whitespace() -> None:
    spec = parse_trace_spec("  realmgate.keys = fine : realmgate.select=FINEST ")
    assert spec.default_added  # no * clause: *=info added
    assert str(spec) == "*=info:realmgate.keys=fine:realmgate.select=finest"
    assert level_for(spec, "realmgate.keys") == FINE
    assert level_for(spec, "realmgate.select") == FINEST
    assert level_for(spec, "realmgate.jws") == INFO


def test_missing_name_is_star_and_missing_level_is_info() -> None:
    spec = parse_trace_spec("=fine")
    assert not spec.default_added
    assert level_for(spec, "realmgate.anything") == FINE
    spec = parse_trace_spec("realmgate.keys")  # name only: info
    assert level_for(spec, "realmgate.keys") == INFO
    spec = parse_trace_spec("*=all:realmgate.keys=")  # empty level field: info
    assert level_for(spec, "realmgate.keys") == INFO
    assert level_for(spec, "realmgate.jws") == ALL


def test_empty_clauses_are_ignored() -> None:
    spec = parse_trace_spec("::*=fine:: :realmgate.keys=finest:")
    assert not spec.problems
    assert [str(c) for c in spec.clauses] == ["*=fine", "realmgate.keys=finest"]


def test_empty_spec_means_info() -> None:
    spec = parse_trace_spec("")
    assert spec.default_added
    assert level_for(spec, "realmgate.keys") == INFO


def test_third_field_enabled_disabled_on_off() -> None:
    for word in ("enabled", "ENABLED", "on", "On"):
        assert level_for(f"*=info:realmgate.jws=fine={word}", "realmgate.jws") == FINE
    for word in ("disabled", "off", "OFF"):
        assert level_for(f"*=info:realmgate.jws=info={word}", "realmgate.jws") == OFF


def test_bad_clauses_are_reported_and_skipped() -> None:
    spec = parse_trace_spec(
        "*=info:realmgate.keys=bogus:realmgate.jws=fine=maybe:realmgate.claims=fine=on=x"
        ":realmgate.select=finest"
    )
    assert ids(spec.problems) == ["RG6201W", "RG6202W", "RG6204W"]
    texts = [p.text for p in spec.problems]
    assert "'bogus'" in texts[0] and "realmgate.keys=bogus" in texts[0]
    assert "'maybe'" in texts[1]
    assert "4" in texts[2]
    assert all(p.message_id.endswith("W") for p in spec.problems)
    # the bad clauses have no effect, the good one does
    assert level_for(spec, "realmgate.keys") == INFO
    assert level_for(spec, "realmgate.jws") == INFO
    assert level_for(spec, "realmgate.claims") == INFO
    assert level_for(spec, "realmgate.select") == FINEST


def test_bad_star_clause_still_gets_default() -> None:
    spec = parse_trace_spec("*=loud:realmgate.keys=fine")
    assert ids(spec.problems) == ["RG6201W"]
    assert spec.default_added
    assert level_for(spec, "realmgate.jws") == INFO


def test_problem_messages_are_in_the_catalogue() -> None:
    from realmgate.messages import CATALOGUE

    for msg_id in ("RG6201W", "RG6202W", "RG6203I", "RG6204W"):
        entry = CATALOGUE[msg_id]
        assert entry.explanation and entry.action
        assert "{" not in entry.explanation


# --- matching and order -------------------------------------------------------------------


def test_alphabetical_order_more_specific_wins_whatever_the_written_order() -> None:
    # the documented example: applied as *=info, realmgate.*=warning, realmgate.keys=fine
    spec = parse_trace_spec("realmgate.*=warning:*=info:realmgate.keys=fine")
    assert [c.name for c in spec.clauses] == ["*", "realmgate.*", "realmgate.keys"]
    assert level_for(spec, "realmgate.keys") == FINE
    assert level_for(spec, "realmgate.keys.remote") == FINE
    assert level_for(spec, "realmgate.jws") == WARNING
    assert level_for(spec, "other.package") == INFO
    # the same clauses in another order give the same levels
    again = parse_trace_spec("realmgate.keys=fine:realmgate.*=warning:*=info")
    for name in ("realmgate.keys", "realmgate.jws", "realmgate"):
        assert level_for(again, name) == level_for(spec, name)


def test_parent_written_after_child_does_not_override_child() -> None:
    spec = parse_trace_spec("realmgate.keys=finest:realmgate=severe")
    assert level_for(spec, "realmgate.keys") == FINEST
    assert level_for(spec, "realmgate.jws") == SEVERE


def test_same_name_twice_last_written_wins() -> None:
    assert level_for("realmgate.keys=fine:realmgate.keys=finest", "realmgate.keys") == FINEST
    assert level_for("realmgate.keys=finest:realmgate.keys=fine", "realmgate.keys") == FINE


def test_star_prefix_and_dot_boundary() -> None:
    spec = parse_trace_spec("*=info:realmgate.k*=fine:realmgate.jws=finest")
    assert level_for(spec, "realmgate.keys") == FINE
    assert level_for(spec, "realmgate.keystore") == FINE  # * is a plain prefix
    assert level_for(spec, "realmgate.jws") == FINEST
    assert level_for(spec, "realmgate.jws.strict") == FINEST  # below, at a dot
    assert level_for(spec, "realmgate.jwsx") == INFO  # not at a dot boundary
    assert level_for(spec, "realmgate") == INFO


def test_dot_star_also_matches_the_module_logger_itself() -> None:
    spec = parse_trace_spec("*=info:realmgate.keys.*=finer")
    assert level_for(spec, "realmgate.keys") == FINER
    assert level_for(spec, "realmgate.keys.remote") == FINER
    assert level_for(spec, "realmgate.keysx") == INFO


def test_matching_is_case_insensitive() -> None:
    assert level_for("*=info:REALMGATE.Keys=fine", "realmgate.keys") == FINE
    assert level_for("*=info:Realmgate.*=fine", "realmgate.jws") == FINE


def test_liberty_apar_trace_string() -> None:
    apar = (
        "*=info:com.ibm.ws.security.*=all:com.ibm.ws.webcontainer.security.*=all:"
        "com.ibm.oauth.*=all:com.ibm.wsspi.security.oauth20.*=all:org.apache.http.client.*=all"
    )
    spec = parse_trace_spec(apar)
    assert not spec.problems
    assert level_for(spec, "com.ibm.ws.security.jwt.internal.JwtTokenConsumerImpl") == ALL
    assert level_for(spec, "com.ibm.ws.kernel.Foo") == INFO
    assert level_for(spec, "realmgate.keys") == INFO


def test_disabled_clears_levels() -> None:
    assert level_for("*=info:realmgate.jws=info=disabled", "realmgate.jws") == OFF
    # only fine and above cleared: the remaining (finer..all) do not reach up to fatal
    assert level_for("*=all:realmgate.jws=fine=disabled", "realmgate.jws") == OFF
    # a later, more specific clause enables again
    spec = "*=info:realmgate=info=disabled:realmgate.keys=fine"
    assert level_for(spec, "realmgate.keys") == FINE
    assert level_for(spec, "realmgate.jws") == OFF
    # =disabled at finest clears finest and every less verbose level: nothing is left
    assert level_for("*=warning:realmgate.jws=finest=disabled", "realmgate.jws") == OFF


def test_off_level() -> None:
    assert level_for("*=all:realmgate.keys=off", "realmgate.keys") == OFF
    assert level_for("*=all:realmgate.keys=off", "realmgate.jws") == ALL


# --- applying to Python loggers -----------------------------------------------------------


def test_apply_sets_known_loggers_and_root() -> None:
    result = apply_trace_spec("*=warning:realmgate.keys=fine:realmgate.select=finest")
    assert not result.problems
    assert logging.getLogger("realmgate").level == WARNING
    keys = logging.getLogger("realmgate.keys")
    assert keys.isEnabledFor(FINE) and not keys.isEnabledFor(FINER)
    assert logging.getLogger("realmgate.select").isEnabledFor(FINEST)
    jws = logging.getLogger("realmgate.jws")
    assert jws.isEnabledFor(WARNING) and not jws.isEnabledFor(INFO)
    for name in KNOWN_LOGGERS:
        assert logging.getLogger(name).level != logging.NOTSET
    assert current_trace_spec() is result


def test_loggers_created_later_follow_the_spec() -> None:
    apply_trace_spec("*=severe:realmgate.keys=fine:realmgate.keys.remote=finest")
    # created after the spec was applied
    child = logging.getLogger("realmgate.keys.cache")
    assert child.isEnabledFor(FINE) and not child.isEnabledFor(FINER)
    remote = logging.getLogger("realmgate.keys.remote")  # named by a clause
    assert remote.isEnabledFor(FINEST)
    other = logging.getLogger("realmgate.brand_new")
    assert other.isEnabledFor(SEVERE) and not other.isEnabledFor(WARNING)


def test_existing_loggers_under_root_are_configured() -> None:
    odd = logging.getLogger("realmgate.plugins.custom")
    apply_trace_spec("*=info:realmgate.plugins.c*=finer")
    assert odd.level == FINER


def test_clause_matching_nothing_is_reported_as_info() -> None:
    result = apply_trace_spec("*=info:com.ibm.ws.security.*=all:realmgate.kyes=fine")
    reported = [p for p in result.problems if p.message_id == "RG6203I"]
    assert len(reported) == 2
    assert "com.ibm.ws.security.*=all" in reported[0].text
    assert "realmgate.keys" in reported[0].text  # lists the known loggers
    assert "realmgate.kyes" in reported[1].text


def test_runtime_change_fully_replaces_previous_levels() -> None:
    apply_trace_spec("*=all:realmgate.keys.remote=finest:realmgate.select=finest")
    assert logging.getLogger("realmgate.keys.remote").isEnabledFor(FINEST)
    second = apply_trace_spec("*=warning")
    for name in (
        "realmgate",
        "realmgate.keys",
        "realmgate.keys.remote",
        "realmgate.select",
        *KNOWN_LOGGERS,
    ):
        logger = logging.getLogger(name)
        assert logger.isEnabledFor(WARNING), name
        assert not logger.isEnabledFor(INFO), name
    assert current_trace_spec() is second
    # and back again
    apply_trace_spec("*=info:realmgate.select=finest")
    assert logging.getLogger("realmgate.select").isEnabledFor(FINEST)
    assert not logging.getLogger("realmgate.keys.remote").isEnabledFor(FINE)


def test_apply_accepts_a_parsed_spec_and_keeps_parse_problems() -> None:
    parsed = parse_trace_spec("*=info:realmgate.keys=nope")
    result = apply_trace_spec(parsed)
    assert ids(result.problems) == ["RG6201W"]
    assert result.clauses == parsed.clauses


# --- output formats -----------------------------------------------------------------------

TEXT_LINE = re.compile(
    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (?P<level>[A-Z]+) (?P<logger>\S+) (?P<msg>.*)$"
)


def test_timestamp_format() -> None:
    assert format_timestamp(0.123) == "1970-01-01T00:00:00.123Z"
    assert format_timestamp(1795428000.5) == "2026-11-23T10:00:00.500Z"


def test_text_format() -> None:
    out = io.StringIO()
    configure_logging("*=info:realmgate.decision=fine", "text", out)
    log = logging.getLogger("realmgate.decision")
    log.log(
        FINE,
        "accepted as %r",
        "IBMUSER",
        extra={"rg": {"message_id": None, "client": "mq", "token_hash": "0123456789ab"}},
    )
    log.log(FINER, "not shown")
    logging.getLogger("realmgate.keys").log(FINE, "not shown either")
    logging.getLogger("realmgate.keys").error("key %s missing", "k1")
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    first = TEXT_LINE.match(lines[0])
    assert first is not None
    assert first["level"] == "FINE" and first["logger"] == "realmgate.decision"
    assert first["msg"].startswith("accepted as 'IBMUSER' {")
    assert json.loads(first["msg"][len("accepted as 'IBMUSER' ") :]) == {
        "message_id": None,
        "client": "mq",
        "token_hash": "0123456789ab",
    }
    second = TEXT_LINE.match(lines[1])
    assert second is not None and second["level"] == "SEVERE"
    assert second["msg"] == "key k1 missing"


def test_text_format_one_record_one_line() -> None:
    out = io.StringIO()
    configure_logging("*=info", "text", out)
    logging.getLogger("realmgate.server").warning(
        "user said %s", "x\n2026-01-01T00:00:00.000Z INFO realmgate.server forged\r\x1b[2J"
    )
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logging.getLogger("realmgate.server").exception("failed")
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    assert "\\n2026-01-01" in lines[0] and "\\r\\x1b[2J" in lines[0]
    assert "| Traceback" in lines[1] and "RuntimeError: boom" in lines[1]


def test_json_format() -> None:
    out = io.StringIO()
    configure_logging("*=info:realmgate.decision=finest", "json", out)
    log = logging.getLogger("realmgate.decision")
    log.log(
        FINE,
        "refused: %s",
        "expired",
        extra={
            "rg": {
                "message_id": "RG4001E",
                "client": "mq",
                "token_hash": "abc123abc123",
                "msg": "collides",
                "accepted": False,
            }
        },
    )
    log.log(
        FINEST,
        "[claims] exp: fail",
        extra={"rg": {"step": {"stage": "claims", "detail": {"exp": 5}}}},
    )
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(records) == 2
    first = records[0]
    assert list(first)[:4] == ["ts", "level", "logger", "msg"]
    assert first["level"] == "FINE"
    assert first["logger"] == "realmgate.decision"
    assert first["msg"] == "refused: expired"
    assert first["message_id"] == "RG4001E" and first["client"] == "mq"
    assert first["token_hash"] == "abc123abc123" and first["accepted"] is False
    assert first["rg.msg"] == "collides"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", first["ts"])
    assert records[1]["level"] == "FINEST"
    assert records[1]["step"] == {"stage": "claims", "detail": {"exp": 5}}


def test_configure_twice_replaces_the_handler() -> None:
    first, second = io.StringIO(), io.StringIO()
    configure_logging("*=info", "text", first)
    configure_logging("*=info", "json", second)
    logging.getLogger("realmgate.config").info("reloaded")
    assert first.getvalue() == ""
    assert len(second.getvalue().splitlines()) == 1
    root = logging.getLogger("realmgate")
    assert sum(getattr(h, "_realmgate_handler", False) for h in root.handlers) == 1


def test_configure_rejects_unknown_format() -> None:
    with pytest.raises(ValueError):
        configure_logging("*=info", "xml", io.StringIO())


def test_configure_returns_problems() -> None:
    result = configure_logging("*=info:realmgate.keys=chatty", "text", io.StringIO())
    assert ids(result.problems) == ["RG6201W"]


# --- redaction ----------------------------------------------------------------------------


def test_redact_is_sha256_prefix() -> None:
    assert redact(TOKEN) == "sha256:" + hashlib.sha256(TOKEN.encode()).hexdigest()[:12]
    assert re.fullmatch(r"sha256:[0-9a-f]{12}", redact("x"))


def test_redact_text_finds_compact_tokens() -> None:
    unsigned = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."
    jwe = "eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0..aXY.Y2lwaGVy.dGFn"
    spaced = "eyAiYWxnIjogIlJTMjU2In0.eyJzdWIiOiJ4In0.c2ln"  # '{ "alg"' header
    text = f"got {TOKEN}, then {unsigned} and {jwe}. Also {spaced}"
    cleaned = redact_text(text)
    for value in (TOKEN, unsigned, jwe, spaced):
        assert value not in cleaned
    assert redact(TOKEN) in cleaned and redact(jwe) in cleaned
    assert cleaned.endswith(redact(spaced))
    # ordinary dotted names are left alone
    assert (
        redact_text("realmgate.keys.remote v1.2.3 eyes.on.you")
        == "realmgate.keys.remote v1.2.3 eyes.on.you"
    )


def test_redact_text_bearer_values() -> None:
    assert (
        redact_text("Authorization: Bearer opaque-access-token-123")
        == f"Authorization: Bearer {redact('opaque-access-token-123')}"
    )


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_token_never_in_clear_at_any_level(fmt: str) -> None:
    out = io.StringIO()
    configure_logging("*=all", fmt, out)
    log = logging.getLogger("realmgate.decision")
    for level in (FINEST, FINER, FINE, DETAIL, CONFIG, INFO, AUDIT, WARNING, SEVERE, FATAL):
        log.log(level, "token %s", TOKEN)
        log.log(level, f"inline {TOKEN}")
        log.log(
            level,
            "extras",
            extra={
                "rg": {
                    "header": f"Bearer {TOKEN}",
                    "token": "not-a-jwt-but-secret",
                    "client_secret": "s3cr3t-value",
                    "list": [TOKEN, {"deep": TOKEN}],
                    "token_hash": redact(TOKEN),
                }
            },
        )
    try:
        raise ValueError(f"bad token {TOKEN}")
    except ValueError:
        log.exception("failure")
    written = out.getvalue()
    assert TOKEN not in written
    assert TOKEN.split(".")[1] not in written  # not even the payload
    assert "not-a-jwt-but-secret" not in written
    assert "s3cr3t-value" not in written
    assert redact(TOKEN) in written
    assert written.count("\n") == 31


def test_unencodable_output_does_not_fail() -> None:
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="ascii")
    configure_logging("*=info", "text", stream)
    logging.getLogger("realmgate.mapping").info("user %s", "Jürgen 世界")
    stream.flush()
    assert b"J\\xfcrgen \\u4e16\\u754c" in raw.getvalue()
