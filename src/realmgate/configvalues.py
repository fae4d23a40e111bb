"""Reading typed values out of parsed TOML tables while collecting every problem.

``config`` never stops at the first mistake: each getter records a catalogue problem
(with file and line) and returns a usable stand-in, so one run reports everything.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from realmgate.configlines import LineMap
from realmgate.errors import RealmgateError

# Liberty attribute (lower case) → our key, so a migrated server.xml name gets a pointed hint.
LIBERTY_NAMES = {
    "issueridentifier": "issuers",
    "signaturealgorithm": "algorithms",
    "truststoreref": "trust_store",
    "trustaliasname": "trust_alias",
    "jwkendpointurl": "jwks_uri",
    "jwksuri": "jwks_uri",
    "discoveryendpointurl": "discovery",
    "clientsecret": "shared_secret_env",
    "sharedkey": "shared_secret_env",
    "clockskew": "clock_skew",
    "tokenreuse": "token_reuse",
    "useridentifier": "user_claim",
    "useridentitytocreatesubject": "user_claim",
    "usernameattribute": "user_claim",
    "realmname": "realm",
    "realmidentifier": "realm_claim",
    "mapidentitytoregistryuser": "map_to_registry_user",
    "maptouserregistry": "map_to_registry_user",
    "headername": "header",
    "tokenheader": "header",
    "authfilterref": "auth_filter",
    "matchtype": "match",
    "urlpattern": "value",
    "ip": "value",
    "agent": "value",
    "tokenage": "max_age",
    "keyname": "trust_alias",
    "openidconnectclient": "client",
    "mpjwt": "client",
    "authfilter": "auth_filter",
    "jwtbuilder": "issuer",
}


def did_you_mean(key: str, known: Iterable[str]) -> str:
    """`` (did you mean 'issuers'?)`` or an empty string."""
    choices = list(known)
    liberty = LIBERTY_NAMES.get(key.lower().replace("_", "").replace("-", ""))
    if liberty in choices:
        return f" (did you mean {liberty!r}? Liberty's {key} is {liberty!r} here)"
    lowered = {c.lower(): c for c in choices}
    close = difflib.get_close_matches(key.lower(), list(lowered), n=1, cutoff=0.6)
    return f" (did you mean {lowered[close[0]]!r}?)" if close else ""


@dataclass(frozen=True, slots=True)
class Source:
    """One file being read: its name in messages, the directory its relative paths start
    from, its line map, and its rank (so problems sort in reading order)."""

    file: str
    base: Path
    lines: LineMap
    rank: int


class Problems:
    """Every problem found so far, sortable into file order then line order."""

    def __init__(self) -> None:
        self._items: list[tuple[int, int, int, RealmgateError]] = []

    def add(self, source: Source, line: int, message_id: str, **values: Any) -> None:
        error = RealmgateError(message_id, file=source.file, line=line, **values)
        # A value read twice (validated, then stored) must not be reported twice.
        if all(item[3].text != error.text for item in self._items):
            self._items.append((source.rank, line, len(self._items), error))

    def add_error(self, rank: int, error: RealmgateError) -> None:
        line = error.values.get("line", 0)
        self._items.append((rank, line if isinstance(line, int) else 0, len(self._items), error))

    def __len__(self) -> int:
        return len(self._items)

    def sorted(self) -> list[RealmgateError]:
        return [item[3] for item in sorted(self._items, key=lambda i: i[:3])]


Locate = Callable[[str | None], tuple[Source, int]]
"""``locate(key)`` → (file, line) of a key; ``locate(None)`` → the table's own line."""

_MISSING = object()


class TableReader:
    """Typed access to one TOML table. Getters record problems instead of raising."""

    def __init__(
        self,
        data: Mapping[str, Any],
        label: str,
        problems: Problems,
        locate: Locate,
        known: Iterable[str] | None = None,
    ) -> None:
        self.data = data
        self.label = label
        self.problems = problems
        self.locate = locate
        self._start = len(problems)
        if known is not None:
            allowed = tuple(known)
            for key in data:
                if key not in allowed:
                    source, line = locate(key)
                    problems.add(
                        source,
                        line,
                        "RG6003E",
                        key=key,
                        table=label,
                        hint=did_you_mean(key, allowed),
                    )

    @property
    def failed(self) -> bool:
        """True once any problem was recorded while reading this table."""
        return len(self.problems) > self._start

    def has(self, key: str) -> bool:
        return key in self.data

    def line(self, key: str | None = None) -> int:
        return self.locate(key)[1]

    def problem(self, message_id: str, at: str | None, **values: Any) -> None:
        """Record a problem located at setting ``at`` (None: the table's header)."""
        source, line = self.locate(at)
        self.problems.add(source, line, message_id, **values)

    def bad(self, key: str, detail: str) -> None:
        self.problem("RG6004E", key, key=key, table=self.label, detail=detail)

    def missing(self, key: str) -> None:
        self.problem("RG6009E", None, key=key, table=self.label)

    def _get(self, key: str, required: bool) -> Any:
        value = self.data.get(key, _MISSING)
        if value is _MISSING and required:
            self.missing(key)
        return value

    def string(self, key: str, default: str | None = None, *, required: bool = False) -> str | None:
        value = self._get(key, required)
        if value is _MISSING:
            return default
        if not isinstance(value, str):
            self.bad(key, f"expected a string, found {_kind(value)}")
            return default
        if not value.strip():
            self.bad(key, "must not be empty")
            return default
        return value

    def boolean(self, key: str, default: bool) -> bool:
        value = self._get(key, False)
        if value is _MISSING:
            return default
        if not isinstance(value, bool):
            self.bad(key, f"expected true or false, found {_kind(value)}")
            return default
        return value

    def optional_boolean(self, key: str) -> bool | None:
        return self.boolean(key, False) if key in self.data else None

    def integer(self, key: str, default: int | None, *, minimum: int = 0) -> int | None:
        value = self._get(key, False)
        if value is _MISSING:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            self.bad(key, f"expected a whole number, found {_kind(value)}")
            return default
        if value < minimum:
            self.bad(key, f"must be at least {minimum}, found {value}")
            return default
        return value

    def number(self, key: str, default: float, *, positive: bool = True) -> float:
        value = self._get(key, False)
        if value is _MISSING:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
            self.bad(key, f"expected a number of seconds, found {_kind(value)}")
            return default
        if value < 0 or (positive and value == 0) or value == float("inf"):
            self.bad(key, f"must be {'over' if positive else 'at least'} 0, found {value}")
            return default
        return float(value)

    def strings(self, key: str, *, required: bool = False) -> tuple[str, ...] | None:
        """A non-empty list of non-empty strings; a single string is wrapped."""
        value = self._get(key, required)
        if value is _MISSING:
            return None
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            self.bad(key, f"expected a list of strings, found {_kind(value)}")
            return None
        if not value:
            self.bad(key, "must not be an empty list")
            return None
        wrong = [v for v in value if not isinstance(v, str) or not v.strip()]
        if wrong:
            self.bad(key, f"every entry must be a non-empty string, found {_kind(wrong[0])}")
            return None
        return tuple(value)

    def path(self, key: str, *, required: bool = False) -> Path | None:
        """A path, relative paths being relative to the file that names them."""
        text = self.string(key, required=required)
        if text is None:
            return None
        return self.locate(key)[0].base / Path(text).expanduser()


def _kind(value: Any) -> str:
    if isinstance(value, str):
        return "an empty string" if not value.strip() else f"the string {value!r}"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    return type(value).__name__
