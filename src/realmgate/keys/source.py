"""Where a definition's verification keys come from, behind one small interface.

The verifier asks a :class:`KeySource` for the keys that may verify a token with a given
``kid``/``x5t`` and ``alg``; remote sources (JWKS, discovery) implement the same protocol.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from realmgate.keys.material import VerificationKey


@dataclass(frozen=True, slots=True)
class KeyLookup:
    keys: tuple[VerificationKey, ...]
    """Keys whose identity matches the token (kid/x5t), in the order to try them."""
    available: tuple[str, ...]
    """Labels of every key the source holds, for the refusal message."""
    source: str
    stale: bool = False
    """True when a remote source served keys past their freshness (degraded)."""
    note: str | None = None
    """How the keys were chosen (for the trace)."""


class KeySource(Protocol):
    description: str

    def lookup(self, kid: str | None, alg: str, x5t: str | None = None) -> KeyLookup: ...


class StaticKeySource:
    """Keys fixed at configuration time: a trust store (all of it, or one alias) and/or a
    shared secret.

    With ``pinned`` (trust_alias set) the token's ``kid`` does not choose the key: the
    configuration already did, as Liberty's trustAliasName does. Otherwise a ``kid`` must
    name a key (by kid, alias, RFC 7638 thumbprint or x5t); a token without ``kid`` may be
    verified by any key of the right family.
    """

    def __init__(self, keys: Iterable[VerificationKey], description: str, *, pinned: bool = False):
        self.keys = tuple(keys)
        self.description = description
        self.pinned = pinned
        self._available = tuple(k.label() for k in self.keys)
        self._by_name: dict[str, list[VerificationKey]] = {}
        for key in self.keys:
            for name in {key.kid, key.alias, key.fingerprint, key.x5t, key.x5t_s256}:
                if name:
                    self._by_name.setdefault(name, []).append(key)

    def lookup(self, kid: str | None, alg: str, x5t: str | None = None) -> KeyLookup:
        if self.pinned or (kid is None and x5t is None):
            note = "trust_alias pins the key" if self.pinned else "token has no kid"
            return KeyLookup(self.keys, self._available, self.description, note=note)
        matched: list[VerificationKey] = []
        for name in (kid, x5t):
            if name:
                for key in self._by_name.get(name, ()):
                    if key not in matched:
                        matched.append(key)
        return KeyLookup(tuple(matched), self._available, self.description, note="by kid/x5t")
