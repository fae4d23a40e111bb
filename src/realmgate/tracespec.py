"""Liberty-style trace specifications mapped onto Python :mod:`logging`.

A specification such as ``*=info:realmgate.keys=fine:realmgate.select=finest`` is a
``:``-separated list of clauses ``name=level[=enabled|disabled|on|off]`` (whitespace around
each field is trimmed). This module parses it the way IBM Liberty's ``TraceSpecification``
does and sets the levels of the ``realmgate`` loggers so that
``logging.getLogger(name).isEnabledFor(level)`` answers as Liberty would.

Levels
    Liberty's level names become Python logging numbers (module constants)::

        ALL=1  FINEST=5  FINER=7  FINE=10  DETAIL=15  CONFIG=17  INFO=20
        AUDIT=25  WARNING=30  SEVERE=40  FATAL=50  OFF=100

    Aliases: dump=all, debug=finest, entryExit=finer, event=fine, error=severe. Names are
    case-insensitive.

    Only the numbers Python does not already name (1, 5, 7, 15, 17, 25, 100) are registered
    with :func:`logging.addLevelName`. The standard ones keep ``DEBUG``/``INFO``/``WARNING``/
    ``ERROR``/``CRITICAL`` process-wide, because realmgate is also a library and must not
    rename the levels in its host application's logs. realmgate's own output
    (:mod:`realmgate.logformat`) shows the Liberty names (``FINE``, ``SEVERE``) through
    :func:`level_name` instead.

Grammar
    * A missing name means ``*``; a missing level means ``info``; a missing third field
      means ``enabled``. Empty clauses (``a=fine::b=fine``) are ignored.
    * If the specification has no valid ``*`` clause, ``*=info`` is added.
    * A bad level (RG6201W), a bad third field (RG6202W) or more than three fields
      (RG6204W) is reported in :attr:`TraceSpec.problems` and the clause is skipped.

Matching
    * ``*`` alone matches every logger.
    * ``name*`` (trailing ``*``) matches every logger whose name starts with ``name``.
      A clause ``a.b.*`` also matches the logger ``a.b`` itself: a Python logger named
      after a module stands for everything in it (Liberty would need ``a.b*`` for that).
    * ``name`` without ``*`` matches the logger ``name`` and every logger below it at a dot
      boundary (``realmgate.keys`` matches ``realmgate.keys`` and ``realmgate.keys.remote``
      but not ``realmgate.keystore``). Liberty matches any string prefix of the package
      name here; the dot boundary is deliberate, so that a name never matches a sibling.
    * All matching is case-insensitive (Liberty compares ``*`` prefixes case-sensitively;
      Python logger names are lower case, so a user typing ``Realmgate.*`` means the same).

Order: which clause wins
    As in Liberty, the clauses are **sorted alphabetically by name** (here by the
    case-folded name; clauses with the same name keep their written order) and applied in
    that order; the **last matching clause in sorted order** sets the level. Sorting puts
    ``*`` first and a name before its longer, more specific extensions, so more specific
    clauses win whatever order they were written in. Example::

        realmgate.*=warning:*=info:realmgate.keys=fine

    is applied as ``*=info``, ``realmgate.*=warning``, ``realmgate.keys=fine``, so
    ``realmgate.keys`` (and ``realmgate.keys.remote``) log at ``fine``, the other
    ``realmgate`` loggers at ``warning``, even though ``realmgate.*=warning`` came first in
    the text. Only two clauses with the same name are decided by their written order (the
    later one wins).

Enabled and disabled
    Liberty keeps a set of enabled levels per logger: a matching clause ``=enabled`` adds
    its level and every less verbose level, ``=disabled`` removes them, and the last
    matching clause's level is the logger level. A Python logger has one threshold, so the
    level used is the most verbose level ``L`` at or above that logger level from which every
    less verbose level is enabled; if there is none the logger is ``OFF``. This never
    enables more than Liberty would. Example: ``*=info:realmgate.jws=info=disabled``
    switches ``realmgate.jws`` off entirely.

Run-time changes
    :func:`apply_trace_spec` sets an explicit level on the ``realmgate`` root logger (from
    the clauses that match it, ``*`` included), on every logger the engine uses
    (:data:`KNOWN_LOGGERS`), on every ``realmgate.*`` logger that already exists, and on the
    loggers a clause names (``realmgate.keys.remote=finest`` creates that logger so that a
    module importing it later gets the level). Loggers created later inherit from their
    nearest configured ancestor, which is exact unless a clause is a ``*`` prefix that ends
    inside a name segment (``realmgate.keys.re*``): such a clause only reaches loggers that
    existed when the specification was applied. Each call replaces every level set by the
    previous one.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from realmgate.errors import RealmgateError

ALL = 1
FINEST = 5
FINER = 7
FINE = 10
DETAIL = 15
CONFIG = 17
INFO = 20
AUDIT = 25
WARNING = 30
SEVERE = 40
FATAL = 50
OFF = 100

#: Liberty levels from most to least verbose (``off`` is not a message level).
LEVELS: tuple[tuple[str, int], ...] = (
    ("all", ALL),
    ("finest", FINEST),
    ("finer", FINER),
    ("fine", FINE),
    ("detail", DETAIL),
    ("config", CONFIG),
    ("info", INFO),
    ("audit", AUDIT),
    ("warning", WARNING),
    ("severe", SEVERE),
    ("fatal", FATAL),
)

ALIASES = {
    "dump": "all",
    "debug": "finest",
    "entryexit": "finer",
    "event": "fine",
    "error": "severe",
}

_BY_NAME: dict[str, int] = {name: number for name, number in LEVELS}
_BY_NAME["off"] = OFF
for _alias, _target in ALIASES.items():
    _BY_NAME[_alias] = _BY_NAME[_target]
_NAME_OF: dict[int, str] = {number: name for name, number in LEVELS}
_NAME_OF[OFF] = "off"
_MESSAGE_LEVELS: tuple[int, ...] = tuple(number for _, number in LEVELS)

# Standard numbers keep Python's names for every other user of logging in the process.
_STANDARD = frozenset(
    {logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR, logging.CRITICAL}
)
for _name, _number in (*LEVELS, ("off", OFF)):
    if _number not in _STANDARD:
        logging.addLevelName(_number, _name.upper())

_ENABLE = {"enabled": True, "on": True, "disabled": False, "off": False}

ROOT = "realmgate"

#: The loggers the engine uses; each gets an explicit level from :func:`apply_trace_spec`.
KNOWN_LOGGERS: tuple[str, ...] = (
    "realmgate.extract",
    "realmgate.select",
    "realmgate.keys",
    "realmgate.jws",
    "realmgate.claims",
    "realmgate.mapping",
    "realmgate.decision",
    "realmgate.registry",
    "realmgate.server",
    "realmgate.config",
)


def level_number(name: str) -> int | None:
    """The Python logging number of a Liberty level name or alias (any case), else None."""
    return _BY_NAME.get(name.strip().lower())


def level_name(number: int) -> str:
    """The Liberty name of a level number (``fine``); other numbers as ``level12``."""
    return _NAME_OF.get(number, f"level{number}")


@dataclass(frozen=True, slots=True)
class TraceClause:
    """One valid clause: ``name=level=enabled``."""

    name: str
    """The logger name or prefix as written (trimmed); ``*`` for all."""
    level: int
    """Python logging number of the level (``OFF`` = 100)."""
    enabled: bool
    """False for ``=disabled`` / ``=off``."""
    position: int
    """Index of the clause in the written specification (0-based)."""

    @property
    def level_name(self) -> str:
        return level_name(self.level)

    def __str__(self) -> str:
        return f"{self.name}={self.level_name}" + ("" if self.enabled else "=disabled")

    def matches(self, logger_name: str) -> bool:
        """Whether this clause applies to ``logger_name`` (see the module docstring)."""
        name = self.name.lower()
        target = logger_name.lower()
        if name == "*":
            return True
        if name.endswith("*"):
            prefix = name[:-1]
            if target.startswith(prefix):
                return True
            # ``a.b.*`` also stands for the module logger ``a.b`` itself.
            return prefix.endswith(".") and target == prefix[:-1]
        return target == name or target.startswith(name + ".")


@dataclass(frozen=True, slots=True)
class TraceSpec:
    """A parsed specification: the valid clauses in application order, and the problems."""

    text: str
    """The specification as given."""
    clauses: tuple[TraceClause, ...]
    """Valid clauses, sorted into the order they are applied (last match wins)."""
    problems: tuple[RealmgateError, ...] = ()
    """RG62xx warnings (and, after :func:`apply_trace_spec`, RG6203I infos)."""
    default_added: bool = False
    """True when ``*=info`` was added because no valid ``*`` clause was given."""

    def __str__(self) -> str:
        return ":".join(str(c) for c in self.clauses)

    def level_for(self, logger_name: str) -> int:
        return level_for(self, logger_name)


def _problem(message_id: str, **values: object) -> RealmgateError:
    return RealmgateError(message_id, **values)


def parse_trace_spec(spec: str) -> TraceSpec:
    """Parse a Liberty trace specification; bad clauses are reported and skipped."""
    clauses: list[TraceClause] = []
    problems: list[RealmgateError] = []
    has_star = False
    for position, raw in enumerate(spec.split(":")):
        clause_text = raw.strip()
        if not clause_text:
            continue
        fields = [f.strip() for f in clause_text.split("=")]
        if len(fields) > 3:
            problems.append(_problem("RG6204W", clause=clause_text, fields=len(fields)))
            continue
        name = fields[0] or "*"
        level_text = fields[1] if len(fields) > 1 and fields[1] else "info"
        action = fields[2] if len(fields) > 2 and fields[2] else "enabled"
        bad = False
        enabled = _ENABLE.get(action.lower())
        if enabled is None:
            problems.append(_problem("RG6202W", clause=clause_text, action=action))
            bad = True
        number = level_number(level_text)
        if number is None:
            problems.append(_problem("RG6201W", clause=clause_text, level=level_text))
            bad = True
        if bad or number is None or enabled is None:
            continue
        if name == "*":
            has_star = True
        clauses.append(TraceClause(name, number, enabled, position))
    default_added = not has_star
    if default_added:
        clauses.append(TraceClause("*", INFO, True, -1))
    # Liberty: Collections.sort by name (stable). Case-folded here because matching is.
    clauses.sort(key=lambda c: c.name.lower())
    return TraceSpec(spec, tuple(clauses), tuple(problems), default_added)


def _coerce(spec: TraceSpec | str) -> TraceSpec:
    return spec if isinstance(spec, TraceSpec) else parse_trace_spec(spec)


def level_for(spec: TraceSpec | str, logger_name: str) -> int:
    """The Python level the logger ``logger_name`` gets under ``spec``."""
    clauses = _coerce(spec).clauses
    logger_level = INFO
    enabled: set[int] = set()
    for clause in clauses:
        if not clause.matches(logger_name):
            continue
        logger_level = clause.level
        affected = {n for n in _MESSAGE_LEVELS if n >= clause.level}
        if clause.enabled:
            enabled |= affected
        else:
            enabled -= affected
    # The most verbose level >= logger_level from which every less verbose level is enabled.
    threshold = OFF
    for number in reversed(_MESSAGE_LEVELS):
        if number < logger_level or number not in enabled:
            break
        threshold = number
    return threshold


_lock = threading.Lock()
_current: TraceSpec | None = None


def current_trace_spec() -> TraceSpec | None:
    """The specification last applied by :func:`apply_trace_spec` (None before the first)."""
    return _current


def _under(name: str, root: str) -> bool:
    return name == root or name.startswith(root + ".")


def _existing_loggers(root: str) -> list[str]:
    manager = logging.Logger.manager
    names = [
        name
        for name, obj in list(manager.loggerDict.items())
        if isinstance(obj, logging.Logger) and _under(name, root)
    ]
    return sorted(names)


def _named_by(clause: TraceClause, root: str) -> str | None:
    """The logger a clause names exactly (to be created so later imports get its level)."""
    name = clause.name
    if name.endswith(".*"):
        name = name[:-2]
    elif name.endswith("*"):
        return None
    return name if _under(name, root) else None


def apply_trace_spec(spec: TraceSpec | str, root: str = ROOT) -> TraceSpec:
    """Set the levels of the loggers under ``root`` from ``spec``; return it with problems.

    The returned :class:`TraceSpec` carries the parse problems plus an RG6203I info for
    every clause that matches no logger under ``root`` (neither the root, nor a known
    engine logger, nor one that exists). Nothing is logged here: the caller reports the
    problems (the CLI prints them, the admin endpoint returns them).
    """
    global _current
    parsed = _coerce(spec)
    with _lock:
        existing = _existing_loggers(root)
        known = [n for n in KNOWN_LOGGERS if _under(n, root)]
        reachable = sorted({root, *known, *existing})
        infos: list[RealmgateError] = []
        for clause in parsed.clauses:
            if clause.position < 0 or clause.name == "*":
                continue
            if not any(clause.matches(name) for name in reachable):
                infos.append(
                    _problem(
                        "RG6203I", clause=str(clause), root=root, known=", ".join(known) or root
                    )
                )
        targets = set(reachable)
        folded = {name.lower() for name in reachable}
        for clause in parsed.clauses:
            named = _named_by(clause, root)
            if named is not None and named.lower() not in folded:
                targets.add(named)
        for name in sorted(targets):
            logging.getLogger(name).setLevel(level_for(parsed, name))
        result = dataclasses.replace(parsed, problems=parsed.problems + tuple(infos))
        _current = result
    return result


def describe_levels(spec: TraceSpec | str, names: Iterable[str] | None = None) -> list[str]:
    """``name=level`` lines for ``names`` (default: the root and the known loggers)."""
    parsed = _coerce(spec)
    chosen: Sequence[str] = list(names) if names is not None else [ROOT, *KNOWN_LOGGERS]
    return [f"{name}={level_name(level_for(parsed, name))}" for name in chosen]
