"""Choose the trusted-client definition for a token: issuer first, then the request filter.

A definition handles a token when its ``issuers`` contain the token's ``iss`` exactly, its
``auth_filter`` (if any) accepts the request, and the token came from the header the
definition reads. Several may qualify: the first in file order wins (``realmgate check``
warns about such overlaps). Every candidate's fate is written to the trace, so "which
definition, and why not the other one" always has an answer.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping

from realmgate.configmodel import ClientDefinition
from realmgate.errors import NoDefinition
from realmgate.extract import location_name
from realmgate.filters import CompiledFilter, FilterResult
from realmgate.request import RequestInfo
from realmgate.trace import Trace


def _fold(value: str) -> str:
    return unicodedata.normalize("NFKC", value).casefold().strip()


class Selector:
    def __init__(
        self, clients: tuple[ClientDefinition, ...], filters: Mapping[str, CompiledFilter]
    ) -> None:
        self.clients = clients
        self.filters = filters
        self.by_issuer: dict[str, list[ClientDefinition]] = {}
        for definition in clients:
            for issuer in definition.issuers:
                self.by_issuer.setdefault(issuer, []).append(definition)
        self._folded = {_fold(i): i for i in self.by_issuer}

    def filter_result(self, definition: ClientDefinition, request: RequestInfo) -> FilterResult:
        assert definition.auth_filter is not None
        return self.filters[definition.auth_filter].evaluate(request)

    def accepting(self, request: RequestInfo) -> tuple[list[ClientDefinition], list[str]]:
        """Definitions whose filter accepts the request (to know where to look for a token),
        and the reasons the others refused."""
        accepted: list[ClientDefinition] = []
        reasons: list[str] = []
        for definition in self.clients:
            if definition.auth_filter is None:
                accepted.append(definition)
                continue
            result = self.filter_result(definition, request)
            if result.accepted:
                accepted.append(definition)
            else:
                reasons.append(f"{definition.id}: {result.reason}")
        return accepted, reasons

    def select(
        self,
        iss: str,
        request: RequestInfo | None,
        location: str | None,
        trace: Trace,
        candidates: list[ClientDefinition] | None = None,
    ) -> ClientDefinition:
        """The definition for issuer ``iss``; raises NoDefinition (RG2001E/RG2003E)."""
        if candidates is None:
            candidates = self.by_issuer.get(iss, [])
        if not candidates:
            considered = [f"{d.id} (issuers {list(d.issuers)})" for d in self.clients]
            trace.add("select", "issuer", "fail", iss=iss, considered=considered)
            text = ", ".join(considered) if considered else "none configured"
            raise NoDefinition("RG2001E", iss=iss, considered=text + self.hint(iss))
        if trace.full:
            for definition in self.clients:
                if definition not in candidates:
                    trace.add(
                        "select",
                        "issuer",
                        "skip",
                        client=definition.id,
                        reason=f"issuers {list(definition.issuers)} do not include {iss!r}",
                    )
        reasons: list[str] = []
        for definition in candidates:
            if location is not None and location_name(definition.header) != location:
                reason = (
                    f"token was in header {location!r}, definition reads "
                    f"{location_name(definition.header)!r}"
                )
                trace.add("select", "definition", "skip", client=definition.id, reason=reason)
                reasons.append(f"{definition.id}: {reason}")
                continue
            if definition.auth_filter is not None:
                if request is None:
                    trace.add(
                        "select",
                        "filter",
                        "skip",
                        client=definition.id,
                        filter=definition.auth_filter,
                        reason="no request information: filter not evaluated",
                    )
                else:
                    result = self.filter_result(definition, request)
                    if not result.accepted:
                        trace.add(
                            "select",
                            "filter",
                            "fail",
                            client=definition.id,
                            filter=definition.auth_filter,
                            reason=result.reason,
                        )
                        reasons.append(f"{definition.id}: {result.reason}")
                        continue
                    trace.add(
                        "select",
                        "filter",
                        "pass",
                        client=definition.id,
                        filter=definition.auth_filter,
                    )
            trace.add(
                "select",
                "definition",
                "pass",
                client=definition.id,
                iss=iss,
                position=self.clients.index(definition) + 1,
            )
            return definition
        raise NoDefinition(
            "RG2003E", clients=[d.id for d in candidates], iss=iss, reasons="; ".join(reasons)
        )

    def hint(self, iss: str) -> str:
        """Name a configured issuer that the token's issuer only resembles (case, width,
        look-alike letters): a common mistake, and a common spoofing attempt."""
        match = self._folded.get(_fold(iss))
        if match is not None and match != iss:
            return f" (note: {iss!r} resembles the configured issuer {match!r} but is not equal)"
        if not iss.isascii():
            return f" (note: the issuer contains non-ASCII characters: {iss!a})"
        return ""
