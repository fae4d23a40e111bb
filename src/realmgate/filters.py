"""Request filters after Liberty's ``<authFilter>``: which requests a definition handles.

Semantics follow Liberty's ``com.ibm.ws.security.authentication.filter`` code:

* every condition must hold (AND); the first that does not rejects the request;
* ``contains`` splits the value on ``|`` and holds when any piece is a substring (for
  addresses: when the address is in any listed range);
* ``not_contains`` is its negation and passes when the header is absent;
* ``equals`` is exact equality, not split (for addresses: "in the range");
* ``greater_than`` / ``less_than`` (addresses only) compare against the range's upper /
  lower bound;
* any other condition on an absent header rejects.

One deliberate difference: Liberty's 2019 code compared a ``cookie`` condition with the raw
``Cookie`` header. Here ``name`` names a cookie and the value is matched against that
cookie's value (the first one sent, as the most specific path comes first); without
``name`` the raw header is used, as Liberty did.

Patterns are compiled once into integer ranges (:mod:`realmgate.ipmatch`) and tuples so
that evaluating a filter on the request path costs a few comparisons. A failure reason never
echoes header or cookie values, nor URL query values: they can carry credentials.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from realmgate.configmodel import AuthFilterSpec, FilterCondition
from realmgate.errors import RealmgateError
from realmgate.ipmatch import AddressRange, parse_address_pattern, parse_request_address
from realmgate.request import RequestInfo

KINDS = ("remote_address", "request_url", "host", "user_agent", "request_header", "cookie")
MATCH_TYPES = ("equals", "contains", "not_contains", "greater_than", "less_than")
_MATCH_ALIASES = {
    "equals": "equals",
    "contains": "contains",
    "not_contains": "not_contains",
    "notcontains": "not_contains",
    "notcontain": "not_contains",
    "not_contain": "not_contains",
    "greater_than": "greater_than",
    "greaterthan": "greater_than",
    "less_than": "less_than",
    "lessthan": "less_than",
}
_IP_ONLY = frozenset({"greater_than", "less_than"})
_NAMED_KINDS = frozenset({"request_header", "cookie"})
_SHOWN_CHARS = 120


def canonical_match(word: str) -> str | None:
    """``notContain`` → ``not_contains`` etc. (case-insensitive, Liberty spellings accepted);
    None if the word names no match type."""
    return _MATCH_ALIASES.get(word.strip().lower())


# --- compiled conditions --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FilterResult:
    accepted: bool
    reason: str
    """Why the filter refused (or ``"accepted"``): names the kind, the value seen and the
    pattern, e.g. ``remote_address 10.2.0.1 is not in 10.1.*.* (equals)``."""
    condition_index: int | None = None
    """Index of the condition that refused, None when accepted."""


_ACCEPTED = FilterResult(True, "accepted", None)


@dataclass(frozen=True, slots=True)
class CompiledCondition:
    kind: str
    match: str
    value: str | None
    name: str | None
    alternatives: tuple[str, ...]
    ranges: tuple[AddressRange, ...]

    def check(self, request: RequestInfo) -> str | None:
        """None when the condition holds, else the reason it does not."""
        if self.kind == "remote_address":
            return self._check_address(request.remote_addr)
        observed = self._observed(request)
        if observed is None:
            if self.match == "not_contains":
                return None
            return f"{self._subject()} is absent ({self.match} {self.value!r})"
        if self.value is None:  # presence-only test on a header or cookie
            if self.match == "not_contains":
                return f"{self._subject()} is present (not_contains: must be absent)"
            return None
        if self.match == "equals":
            if observed == self.value:
                return None
            return f"{self._show(observed)} does not equal {self.value!r}"
        hit = next((alt for alt in self.alternatives if alt in observed), None)
        if self.match == "contains":
            if hit is not None:
                return None
            return f"{self._show(observed)} contains none of {self.value!r} (contains)"
        if hit is None:
            return None
        return f"{self._show(observed)} contains {hit!r} (not_contains)"

    def _observed(self, request: RequestInfo) -> str | None:
        kind = self.kind
        if kind == "request_url":
            return request.url
        if kind == "host":
            return request.host
        if kind == "user_agent":
            return request.user_agent
        if kind == "request_header":
            return request.header(self.name or "")
        raw = request.header("cookie")
        if raw is None or self.name is None:
            return raw
        return cookie_value(raw, self.name)

    def _subject(self) -> str:
        if self.kind == "request_header":
            return f"header {self.name}"
        if self.kind == "cookie":
            return f"cookie {self.name}" if self.name else "Cookie header"
        return self.kind

    def _show(self, observed: str) -> str:
        """The subject and the value seen, for a reason; header and cookie values and URL
        query values may be credentials, so they are never shown."""
        if self.kind in _NAMED_KINDS:
            digest = hashlib.sha256(observed.encode("utf-8", "surrogatepass")).hexdigest()[:12]
            return f"{self._subject()} <{len(observed)} chars, sha256 {digest}>"
        if self.kind == "request_url":
            observed = _redact_query(observed)
        if len(observed) > _SHOWN_CHARS:
            observed = observed[:_SHOWN_CHARS] + "…"
        return f"{self.kind} {observed!r}"

    def _check_address(self, remote: str | None) -> str | None:
        pattern = self.value
        if remote is None:
            if self.match == "not_contains":
                return None
            return f"remote_address is unknown ({self.match} {pattern})"
        address = parse_request_address(remote)
        if address is None:
            shown = remote[:64]
            return f"remote_address {shown!r} is not an IP address ({self.match} {pattern})"
        shown = remote.strip()
        match = self.match
        if match in ("equals", "contains"):
            if any(address in r for r in self.ranges):
                return None
            return f"remote_address {shown} is not in {pattern} ({match})"
        if match == "not_contains":
            inside = next((r for r in self.ranges if address in r), None)
            if inside is None:
                return None
            return f"remote_address {shown} is in {inside.text} (not_contains)"
        bounds = self.ranges[0]
        if address[0] != bounds.version:
            return f"remote_address {shown} is not IPv{bounds.version} ({match} {pattern})"
        if match == "greater_than":
            if address[1] > bounds.high:
                return None
            return f"remote_address {shown} is not above {pattern} (greater_than)"
        if address[1] < bounds.low:
            return None
        return f"remote_address {shown} is not below {pattern} (less_than)"


def cookie_value(header: str, name: str) -> str | None:
    """The value of the first cookie called ``name`` in a ``Cookie`` header (RFC 6265
    section 5.4), without surrounding double quotes; None if absent."""
    for piece in header.split(";"):
        key, sep, value = piece.partition("=")
        if sep and key.strip() == name:
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
            return value
    return None


def _redact_query(url: str) -> str:
    base, sep, query = url.partition("?")
    if not sep:
        return url
    names = [p.partition("=")[0] + ("=…" if "=" in p else "") for p in query.split("&")]
    return base + "?" + "&".join(names)


def compile_condition(
    condition: FilterCondition, filter_id: str, file: str = "<config>"
) -> CompiledCondition:
    """Check one condition and precompile it; raises ``RealmgateError("RG6012E")``."""
    location = condition.location
    where = {"file": location.file if location else file, "line": location.line if location else 0}

    def refuse(detail: str) -> RealmgateError:
        return RealmgateError("RG6012E", filter=filter_id, detail=detail, **where)

    kind = condition.kind
    if kind not in KINDS:
        raise refuse(f"kind {kind!r} is not one of {', '.join(KINDS)}")
    match = canonical_match(condition.match)
    if match is None:
        raise refuse(f"match {condition.match!r} is not one of {', '.join(MATCH_TYPES)}")
    if match in _IP_ONLY and kind != "remote_address":
        raise refuse(f"match {match} applies only to remote_address, not {kind}")
    name = condition.name
    if kind == "request_header" and not name:
        raise refuse("request_header needs 'name' (the header name)")
    if name is not None and kind not in _NAMED_KINDS:
        raise refuse(f"'name' applies only to request_header and cookie, not {kind}")
    if name is not None and not _TOKEN.match(name):
        raise refuse(f"name {name!r} is not a valid {kind.replace('_', ' ')} name")
    value = condition.value
    if value is None:
        if kind not in _NAMED_KINDS or (kind == "cookie" and not name):
            raise refuse(f"{kind} needs a 'value'")
        return CompiledCondition(kind, match, None, name, (), ())
    if match in ("contains", "not_contains"):
        alternatives = tuple(value.split("|"))
        if any(not alt for alt in alternatives):
            raise refuse(
                f"value {value!r} has an empty '|' alternative, which would match every request"
            )
    else:
        alternatives = (value,)
    ranges: tuple[AddressRange, ...] = ()
    if kind == "remote_address":
        if match not in ("contains", "not_contains") and "|" in value:
            raise refuse(f"'|' alternatives are only for contains and not_contains, not {match}")
        try:
            ranges = tuple(parse_address_pattern(alt) for alt in alternatives)
        except ValueError as exc:
            raise refuse(str(exc)) from None
    elif not value:
        raise refuse(f"{kind} {match} needs a non-empty value")
    return CompiledCondition(kind, match, value, name, alternatives, ranges)


_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")


class CompiledFilter:
    """A ready-to-evaluate auth filter. Build with :func:`compile_filter`."""

    __slots__ = ("conditions", "id")

    def __init__(self, filter_id: str, conditions: tuple[CompiledCondition, ...]) -> None:
        self.id = filter_id
        self.conditions = conditions

    @classmethod
    def compile(cls, spec: AuthFilterSpec) -> CompiledFilter:
        return compile_filter(spec)

    def evaluate(self, request: RequestInfo) -> FilterResult:
        for index, condition in enumerate(self.conditions):
            reason = condition.check(request)
            if reason is not None:
                return FilterResult(False, reason, index)
        return _ACCEPTED

    def __repr__(self) -> str:
        return f"CompiledFilter({self.id!r}, {len(self.conditions)} conditions)"


def compile_filter(spec: AuthFilterSpec) -> CompiledFilter:
    """Compile every condition; the first bad one raises ``RealmgateError("RG6012E")``."""
    file = spec.location.file if spec.location else "<config>"
    return CompiledFilter(
        spec.id, tuple(compile_condition(c, spec.id, file) for c in spec.conditions)
    )
