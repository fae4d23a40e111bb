"""The request a token arrived with, as the pipeline sees it (independent of any framework)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


@dataclass(frozen=True, slots=True)
class RequestInfo:
    """What the filters and the extractor may look at.

    ``headers`` keys are lower-case; when a header occurs several times the values are
    joined with ``", "`` (RFC 9110 5.3), except ``cookie`` which is joined with ``"; "``.
    ``url`` is the full URL including the query string, as Liberty's requestUrl filter sees it.
    """

    headers: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    remote_addr: str | None = None
    url: str | None = None
    method: str = "GET"

    @classmethod
    def build(
        cls,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] = (),
        *,
        remote_addr: str | None = None,
        url: str | None = None,
        method: str = "GET",
    ) -> RequestInfo:
        pairs = headers.items() if isinstance(headers, Mapping) else headers
        merged: dict[str, str] = {}
        for name, value in pairs:
            key = name.lower()
            if key in merged:
                sep = "; " if key == "cookie" else ", "
                merged[key] = merged[key] + sep + value
            else:
                merged[key] = value
        return cls(MappingProxyType(merged), remote_addr, url, method.upper())

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    @property
    def host(self) -> str | None:
        return self.headers.get("host")

    @property
    def user_agent(self) -> str | None:
        return self.headers.get("user-agent")
