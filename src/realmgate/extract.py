"""Find the token in a request: ``Authorization: Bearer`` or a definition's custom header."""

from __future__ import annotations

from realmgate.errors import InvalidToken
from realmgate.request import RequestInfo

AUTHORIZATION = "authorization"


def location_name(header: str | None) -> str:
    return header.lower() if header else AUTHORIZATION


def extract_token(request: RequestInfo, header: str | None) -> str | None:
    """The token from ``header`` (custom) or from ``Authorization: Bearer``; None if absent.

    A custom header may hold the bare token or ``Bearer <token>`` (Liberty strips the prefix
    too). The Authorization scheme is matched case-insensitively (RFC 9110 11.1).
    """
    name = location_name(header)
    raw = request.headers.get(name)
    if raw is None:
        return None
    value = raw.strip()
    scheme, _, rest = value.partition(" ")
    if name == AUTHORIZATION:
        if scheme.lower() != "bearer":
            raise InvalidToken(
                "RG1013E", header="Authorization", detail=f"the scheme is {scheme[:20]!r}"
            )
        value = rest.strip()
    elif scheme.lower() == "bearer" and rest:
        value = rest.strip()
    if not value:
        raise InvalidToken("RG1013E", header=name, detail="the value is empty")
    if " " in value or "," in value:
        raise InvalidToken(
            "RG1013E", header=name, detail="the value holds more than one token or spaces"
        )
    return value
