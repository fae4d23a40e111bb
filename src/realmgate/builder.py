"""The client side: issue a signed JWT, as Liberty's jwtBuilder or the blog's PyJWT call does."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from realmgate.errors import UsageError
from realmgate.jws_sign import sign_compact
from realmgate.keys.signing import SigningKey

RESERVED = frozenset({"iss", "sub", "iat", "exp", "jti"})


class TokenBuilder:
    """Build compact JWTs for one issuer and signing key.

    Sets ``iss``, ``sub``, ``iat``, ``exp`` (iat + ttl) and ``token_type: "Bearer"``
    (as Liberty's builder does); ``jti`` (16 random URL-safe characters) on request.
    """

    def __init__(
        self,
        key: SigningKey,
        algorithm: str,
        issuer: str,
        *,
        kid: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if algorithm not in key.algorithms:
            raise UsageError(
                "RG0001E",
                detail=f"a {key.kty} key cannot sign {algorithm}; it can sign "
                f"{', '.join(sorted(key.algorithms))}",
            )
        self.key = key
        self.algorithm = algorithm
        self.issuer = issuer
        self.kid = kid if kid is not None else key.kid
        self._clock = clock

    def claims(
        self,
        subject: str,
        *,
        realm: str | None = None,
        audience: str | Sequence[str] | None = None,
        ttl: int = 600,
        jti: bool = False,
        extra: Mapping[str, Any] | None = None,
        not_before: int | None = None,
    ) -> dict[str, Any]:
        if ttl <= 0:
            raise UsageError("RG0001E", detail=f"ttl must be positive, got {ttl}")
        now = int(self._clock())
        claims: dict[str, Any] = {"token_type": "Bearer", "iss": self.issuer, "sub": subject}
        if realm is not None:
            claims["realm"] = realm
        if audience is not None:
            claims["aud"] = audience if isinstance(audience, str) else list(audience)
        claims["iat"] = now
        claims["exp"] = now + ttl
        if not_before is not None:
            claims["nbf"] = not_before
        if jti:
            claims["jti"] = secrets.token_urlsafe(12)
        for name, value in (extra or {}).items():
            if name in RESERVED:
                raise UsageError(
                    "RG0001E", detail=f"claim {name!r} is set by the builder; use its option"
                )
            claims[name] = value
        return claims

    def build(self, subject: str, **options: Any) -> str:
        """A signed compact JWT for ``subject``; options as for :meth:`claims`."""
        return self.sign(self.claims(subject, **options))

    def sign(self, claims: Mapping[str, Any]) -> str:
        return sign_compact(claims, self.key, self.algorithm, kid=self.kid)
