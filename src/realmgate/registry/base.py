"""The registry's contract: mapping rules, the revocation list, and their validation.

A rule maps a (user filter, realm filter) pair to a local user, like a RACF ``RACMAP MAP``
profile in the IDIDMAP class. Each filter is an exact value, an RFC 4514 distinguished
name (:mod:`realmgate.registry.dn`), or ``*``. Rules are validated and the user filter
normalised here, once, so every backend stores the same form and :mod:`realmgate.mapping`
compares like with like.
"""

from __future__ import annotations

import time
import unicodedata
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from realmgate.errors import RegistryError
from realmgate.registry.dn import KNOWN_TYPES, normalize_user_filter, parse_dn

ANY = "*"
"""The wildcard filter: any user, or any realm."""

MAX_USER_BYTES = 246
"""RACMAP USERDIDFILTER limit (UTF-8 bytes), applied to the normalised filter."""
MAX_REALM_BYTES = 252
"""RACMAP REGISTRY limit (UTF-8 bytes)."""
MAX_LOCAL_USER_BYTES = 255
MAX_LABEL_BYTES = 255


@dataclass(frozen=True, slots=True)
class MappingRule:
    """One mapping: tokens whose (user, realm) match the filters run as ``local_user``."""

    user: str
    """Plain user name, distinguished name, or ``*``."""
    realm: str
    """Exact realm (compared case-sensitively), or ``*``."""
    local_user: str
    label: str | None = None
    created_at: float | None = field(default=None, compare=False)
    """Seconds since the epoch when the backend stored the rule; None before that."""

    def filter_text(self) -> str:
        """The filter as shown in decisions and traces: ``user='X' realm='*'``."""
        return f"user={self.user!r} realm={self.realm!r}"

    def to_dict(self) -> dict[str, object]:
        return {
            "user": self.user,
            "realm": self.realm,
            "local_user": self.local_user,
            "label": self.label,
            "created_at": self.created_at,
        }


@runtime_checkable
class IdentityRegistry(Protocol):
    """Persistent store of mapping rules. Implementations raise only :class:`RegistryError`."""

    def add(self, rule: MappingRule) -> None:
        """Store ``rule`` (validated, user filter normalised).

        RG5003E if the rule is not acceptable; RG5005E if a rule with the same normalised
        (user, realm) filter exists: filters are never modified in place (as with RACMAP,
        delete and re-add)."""
        ...

    def remove(self, user: str, realm: str) -> MappingRule:
        """Delete and return the rule for this filter; RG5004E if there is none."""
        ...

    def rules(self) -> list[MappingRule]:
        """Every rule, ordered by realm filter then user filter."""
        ...

    def generation(self) -> int:
        """A value that changes whenever the stored rules change, whoever changed them.
        Cheap enough to call on every lookup."""
        ...

    def close(self) -> None: ...


def _bad_char(value: str) -> str | None:
    for index, char in enumerate(value):
        if unicodedata.category(char) in ("Cc", "Cf", "Cs", "Zl", "Zp"):
            return f"control or format character U+{ord(char):04X} at position {index}"
    return None


def _check_text(what: str, value: object, limit: int | None) -> str:
    if not isinstance(value, str) or not value.strip():
        raise RegistryError("RG5003E", detail=f"the {what} is empty")
    problem = _bad_char(value)
    if problem:
        raise RegistryError("RG5003E", detail=f"the {what} {value!r} contains a {problem}")
    if limit is None:
        return value
    size = len(value.encode("utf-8"))
    if size > limit:
        raise RegistryError(
            "RG5003E", detail=f"the {what} is {size} bytes in UTF-8, over the limit of {limit}"
        )
    return value


def validate_rule(rule: MappingRule) -> MappingRule:
    """Return ``rule`` with its user filter normalised, or raise RegistryError RG5003E.

    Every backend calls this before storing, so limits and normal forms are the same
    whatever the store."""
    # The byte limit applies to the normalised form: that is what is stored.
    user = normalize_user_filter(_check_text("user filter", rule.user, None))
    if user == rule.user and "=" in user and user.split("=", 1)[0].strip().upper() in (KNOWN_TYPES):
        # Looks like a DN the administrator meant (CN=…, OU=…) but did not parse: storing it
        # as a plain name would silently never match a DN subject.
        try:
            parse_dn(user)
        except ValueError as exc:
            raise RegistryError("RG5003E", detail=f"the user filter {exc}") from None
    _check_text("user filter", user, MAX_USER_BYTES)
    realm = _check_text("realm filter", rule.realm, MAX_REALM_BYTES)
    local_user = _check_text("local user", rule.local_user, MAX_LOCAL_USER_BYTES)
    if local_user == ANY:
        raise RegistryError("RG5003E", detail="the local user cannot be '*'")
    if local_user != local_user.strip():
        raise RegistryError(
            "RG5003E", detail=f"the local user {local_user!r} has leading or trailing spaces"
        )
    label = rule.label
    if label is not None:
        label = _check_text("label", label, MAX_LABEL_BYTES)
    return MappingRule(user, realm, local_user, label, rule.created_at)


# --- revocation list (issue 8) -----------------------------------------------------------

REVOCATION_KINDS = ("jti", "subject", "kid")
"""What a revocation names: one token (``jti``), every token of a subject (the definition's
user claim), or every token signed by a key (its ``kid``)."""
MAX_REVOKED_VALUE_BYTES = 1024
MAX_REASON_BYTES = 255


@dataclass(frozen=True, slots=True)
class Revocation:
    """One entry of the revocation list. ``issuer`` ``*`` applies to every issuer; an exact
    issuer limits the entry to tokens whose ``iss`` is that value (a ``kid`` or a subject
    name is only unique within its issuer)."""

    kind: str
    value: str
    issuer: str = ANY
    reason: str | None = None
    revoked_at: float | None = field(default=None, compare=False)
    """Seconds since the epoch when the backend stored it; None before that."""

    def scope_text(self) -> str:
        """`` for issuer 'X'`` or an empty string (for messages)."""
        return "" if self.issuer == ANY else f" for issuer {self.issuer!r}"

    def to_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "value": self.value,
            "issuer": self.issuer,
            "reason": self.reason,
            "revoked_at": self.revoked_at,
        }


@runtime_checkable
class RevocationList(Protocol):
    """The revocation list, kept by the registry backends next to the mapping rules; a change
    moves :meth:`IdentityRegistry.generation` like a rule change does."""

    def revoke(self, entry: Revocation) -> Revocation:
        """Store ``entry`` (validated) and return it as stored (``revoked_at`` set).
        RG8513E if not acceptable; RG8511E if the same (kind, value, issuer) exists."""
        ...

    def unrevoke(self, kind: str, value: str, issuer: str = ANY) -> Revocation:
        """Delete and return the entry; RG8512E if there is none."""
        ...

    def revocations(self) -> list[Revocation]:
        """Every entry, ordered by kind, value, issuer."""
        ...


def revocation_value(kind: str, value: str) -> str:
    """The stored and compared form: subjects like user filters (DNs normalised), so a
    revocation of ``cn=Ann, o=Corp`` applies to a token whose subject is ``CN=Ann,O=Corp``."""
    return normalize_user_filter(value) if kind == "subject" else value


def validate_revocation(entry: Revocation) -> Revocation:
    """Return ``entry`` in stored form or raise RegistryError RG8513E."""

    def check(what: str, value: object, limit: int) -> str:
        try:
            return _check_text(what, value, limit)
        except RegistryError as exc:
            raise RegistryError("RG8513E", detail=exc.values.get("detail", exc.text)) from None

    if entry.kind not in REVOCATION_KINDS:
        raise RegistryError(
            "RG8513E",
            detail=f"the kind {entry.kind!r} is not one of {', '.join(REVOCATION_KINDS)}",
        )
    value = check(f"revoked {entry.kind}", entry.value, MAX_REVOKED_VALUE_BYTES)
    value = revocation_value(entry.kind, value)
    if value == ANY:
        raise RegistryError("RG8513E", detail=f"a {entry.kind} cannot be '*'")
    issuer = check("issuer", entry.issuer, MAX_REALM_BYTES)
    reason = entry.reason
    if reason is not None:
        reason = check("reason", reason, MAX_REASON_BYTES)
    return Revocation(entry.kind, value, issuer, reason, entry.revoked_at)


def utc_text(seconds: float | None) -> str:
    """``2026-01-31T12:00:00Z`` for messages and listings."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds or 0))


def already_revoked(existing: Revocation) -> RegistryError:
    """RG8511E for an attempt to revoke what ``existing`` already revokes."""
    return RegistryError(
        "RG8511E",
        kind=existing.kind,
        value=existing.value,
        scope=existing.scope_text(),
        when=utc_text(existing.revoked_at),
    )


def no_revocation(kind: str, value: str, issuer: str) -> RegistryError:
    """RG8512E for an attempt to remove a revocation that does not exist."""
    scope = Revocation(kind, value, issuer).scope_text()
    return RegistryError("RG8512E", kind=kind, value=value, scope=scope)
