"""Log output for the ``realmgate`` loggers: plain text or JSON lines, tokens never in clear.

:func:`configure_logging` applies a trace specification (:mod:`realmgate.tracespec`) and
installs one handler on the ``realmgate`` logger:

text
    ``2026-11-23T10:00:00.123Z FINE realmgate.decision message {"message_id":"RG4001E",...}``
    — UTC time with milliseconds, the Liberty level name, the logger, the message, then
    the ``rg`` extras (if any) as compact JSON. One record is always one line: line breaks
    and other control characters in the message are escaped (``\\n``), so a value inside
    a message can never forge a second record, and ``realmgate logview`` counts records
    exactly.
json
    one JSON object per line with ``ts``, ``level``, ``logger``, ``msg``, ``exc`` (when an
    exception is attached) and every key of ``extra={"rg": {...}}`` at the top level. An
    ``rg`` key that collides with one of those names is written as ``rg.<key>``.

Redaction (both formats, every level): anything that looks like a compact JWS or JWE
(base64url segments separated by dots, the first being a JSON object, i.e. starting
``eyJ``/``eyA``/``ew…``), the value after ``Bearer``, and the values of ``rg`` keys named like
secrets (``token``, ``secret``, ``password``, ``authorization``, ``cookie``…) are replaced by
:func:`redact` — ``sha256:`` and the first 12 hex digits of the SHA-256 of the value, the
same 12 digits as the engine's ``token_hash``. This is a safety net: the engine itself logs
only the hash.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import sys
import time
import traceback
from collections.abc import Mapping
from typing import Any, Literal, TextIO

from realmgate.tracespec import ROOT, TraceSpec, apply_trace_spec, level_name

_B64 = r"[A-Za-z0-9_-]"
# A JSON object header base64url-encodes to "ey" + J/I ('{"'), A/B ('{ '), or "ew" ('{\n',
# '{\r', '{\t'). Three segments (JWS; the signature may be empty for alg none) or five (JWE).
_COMPACT_RE = re.compile(rf"e[wy]{_B64}{{8,}}\.{_B64}*\.{_B64}*(?:\.{_B64}*\.{_B64}+)?")
_BEARER_RE = re.compile(r"(?i)\b(bearer)(\s+)([A-Za-z0-9._~+/=-]{8,})")
_HASHED_RE = re.compile(r"sha256:[0-9a-f]{12}")
_SECRET_KEY_RE = re.compile(
    r"(?i)(?:^|[_.-])(?:token|jwt|secret|password|passwd|pwd|passphrase|authorization|"
    r"cookie|private_key|privatekey|client_secret|api_key|apikey|credentials?)$"
)
_CONTROL_RE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")
_CORE_KEYS = frozenset({"ts", "level", "logger", "msg", "exc"})

HANDLER_MARK = "_realmgate_handler"


def redact(value: str) -> str:
    """``sha256:`` + the first 12 hex digits of the SHA-256 of ``value`` (UTF-8)."""
    return "sha256:" + hashlib.sha256(value.encode("utf-8", "replace")).hexdigest()[:12]


def redact_text(text: str) -> str:
    """``text`` with every compact JWS/JWE and every bearer credential replaced by its hash."""
    text = _COMPACT_RE.sub(lambda m: redact(m.group(0)), text)

    def bearer(m: re.Match[str]) -> str:
        value = m.group(3)
        if _HASHED_RE.fullmatch(value):
            return m.group(0)
        return f"{m.group(1)}{m.group(2)}{redact(value)}"

    return _BEARER_RE.sub(bearer, text)


def _redact_value(value: Any, key: str | None = None, depth: int = 0) -> Any:
    if depth > 20:
        return "<nested too deep>"
    if isinstance(value, str):
        if key is not None and _SECRET_KEY_RE.search(key) and not _HASHED_RE.fullmatch(value):
            return redact(value)
        return redact_text(value)
    if isinstance(value, bytes | bytearray):
        return _redact_value(bytes(value).decode("utf-8", "replace"), key, depth + 1)
    if isinstance(value, Mapping):
        return {str(k): _redact_value(v, str(k), depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_redact_value(v, key, depth + 1) for v in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    return redact_text(str(value))


def _escape_controls(text: str) -> str:
    def esc(m: re.Match[str]) -> str:
        ch = m.group(0)
        return {"\n": "\\n", "\r": "\\r"}.get(
            ch, f"\\x{ord(ch):02x}" if ord(ch) < 256 else f"\\u{ord(ch):04x}"
        )

    return _CONTROL_RE.sub(esc, text)


def format_timestamp(created: float) -> str:
    """``2026-11-23T10:00:00.123Z`` (UTC, milliseconds) for a record's ``created`` time."""
    millis = int(created * 1000)
    seconds, ms = divmod(millis, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{ms:03d}Z"


def _level(record: logging.LogRecord) -> str:
    return level_name(record.levelno).upper()


class _RealmgateFormatter(logging.Formatter):
    def _message(self, record: logging.LogRecord) -> str:
        try:
            message = record.getMessage()
        except Exception as exc:  # a bad format string must not lose the record
            message = f"{record.msg!r} (unformattable with args: {exc!r})"
        return redact_text(message)

    def _exception(self, record: logging.LogRecord) -> str | None:
        if record.exc_info:
            text = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        elif record.exc_text:
            text = record.exc_text
        else:
            return None
        if record.stack_info:
            text += "\n" + record.stack_info
        return redact_text(text)

    @staticmethod
    def _extras(record: logging.LogRecord) -> dict[str, Any]:
        rg = getattr(record, "rg", None)
        if rg is None:
            return {}
        if not isinstance(rg, Mapping):
            return {"rg": _redact_value(rg)}
        redacted = _redact_value(rg)
        assert isinstance(redacted, dict)
        return redacted


class TextFormatter(_RealmgateFormatter):
    """``TS LEVEL logger message {extras}`` on one line."""

    def format(self, record: logging.LogRecord) -> str:
        parts = [
            format_timestamp(record.created),
            _level(record),
            record.name,
            _escape_controls(self._message(record)),
        ]
        extras = self._extras(record)
        if extras:
            parts.append(json.dumps(extras, ensure_ascii=False, separators=(",", ":"), default=str))
        exc = self._exception(record)
        if exc:
            parts.append("| " + _escape_controls(exc))
        return " ".join(parts)


class JsonFormatter(_RealmgateFormatter):
    """One JSON object per line (ASCII-only, so any output encoding can carry it)."""

    def format(self, record: logging.LogRecord) -> str:
        obj: dict[str, Any] = {
            "ts": format_timestamp(record.created),
            "level": _level(record),
            "logger": record.name,
            "msg": self._message(record),
        }
        exc = self._exception(record)
        if exc:
            obj["exc"] = exc
        for key, value in self._extras(record).items():
            obj[f"rg.{key}" if key in _CORE_KEYS else key] = value
        return json.dumps(obj, ensure_ascii=True, separators=(",", ":"), default=str)


class _SafeStreamHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A StreamHandler that never fails on characters its stream cannot encode."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        encoding = getattr(self.stream, "encoding", None)
        if encoding:
            try:
                text.encode(encoding)
            except UnicodeEncodeError:
                text = text.encode(encoding, "backslashreplace").decode(encoding)
            except LookupError:
                pass
        return text


def make_formatter(fmt: Literal["text", "json"] | str) -> logging.Formatter:
    if fmt == "text":
        return TextFormatter()
    if fmt == "json":
        return JsonFormatter()
    raise ValueError(f"log format must be 'text' or 'json', not {fmt!r}")


def configure_logging(
    spec: TraceSpec | str,
    fmt: Literal["text", "json"] | str = "text",
    stream: TextIO | None = None,
) -> TraceSpec:
    """Apply ``spec`` and send the ``realmgate`` records to ``stream`` in ``fmt``.

    Replaces the handler installed by an earlier call (so calling it again, e.g. after a
    configuration reload, never duplicates output) and stops propagation to the root
    logger, so records are not written twice when the application also logs. Returns the
    applied :class:`TraceSpec`; its ``problems`` are for the caller to report.
    """
    formatter = make_formatter(fmt)
    applied = apply_trace_spec(spec)
    logger = logging.getLogger(ROOT)
    for old in list(logger.handlers):
        if getattr(old, HANDLER_MARK, False):
            logger.removeHandler(old)
            old.close()
    handler = _SafeStreamHandler(stream if stream is not None else sys.stderr)
    setattr(handler, HANDLER_MARK, True)
    handler.setFormatter(formatter)
    logger.addHandler(handler)
    logger.propagate = False
    return applied
