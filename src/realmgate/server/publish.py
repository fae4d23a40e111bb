"""The local issuers' public keys and discovery documents, and their signing keys.

Every ``[[issuer]]`` is loaded once per configuration generation. Asymmetric issuers are
*published*; an HMAC issuer can sign through ``/v1/token`` but its secret is never published.

Paths (``docs/server.md`` explains the choice):

* ``/jwks.json`` – every published key (kids are checked unique across issuers);
* ``/issuers/<id>/jwks.json`` and ``/issuers/<id>/.well-known/openid-configuration`` – one
  issuer, always available;
* ``/.well-known/openid-configuration`` – only when exactly one issuer is published, since a
  discovery document names one issuer (OpenID Connect Discovery 1.0 section 3);
* ``<path of the issuer URL>/.well-known/openid-configuration`` – when the issuer identifier
  is an ``http(s)`` URL with a path, its discovery document is where section 4 of that
  specification says a client will look for it (issuer + ``/.well-known/…``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from realmgate.builder import TokenBuilder
from realmgate.configmodel import Config, LocalIssuer
from realmgate.errors import ConfigError, RealmgateError
from realmgate.keys.jwk import public_jwk
from realmgate.keys.material import KeyMaterialError
from realmgate.keys.signing import SigningKey, load_signing_key

WELL_KNOWN = "/.well-known/openid-configuration"
ISSUERS_PREFIX = "/issuers/"


@dataclass(frozen=True, slots=True)
class PublishedIssuer:
    issuer: LocalIssuer
    key: SigningKey
    builder: TokenBuilder
    jwk: Mapping[str, Any] | None
    """The public JWK, or None for an HMAC issuer (never published)."""

    @property
    def kid(self) -> str | None:
        return self.builder.kid


def _problem(issuer: LocalIssuer, detail: str) -> RealmgateError:
    return RealmgateError(
        "RG8006E",
        file=issuer.location.file,
        line=issuer.location.line,
        issuer=issuer.id,
        detail=detail,
    )


def _load(issuer: LocalIssuer) -> SigningKey:
    password: bytes | None = None
    if issuer.key_password_env:
        value = os.environ.get(issuer.key_password_env)
        if value is None:
            raise KeyMaterialError(f"environment variable {issuer.key_password_env} is not set")
        password = value.encode()
    data = Path(issuer.key).read_bytes()
    return load_signing_key(data, source=issuer.key, password=password, alias=issuer.key_alias)


class Publisher:
    """Signing keys, JWKS and discovery documents of the configuration's local issuers."""

    def __init__(self, config: Config) -> None:
        problems: list[RealmgateError] = []
        self.issuers: dict[str, PublishedIssuer] = {}
        kids: dict[str, str] = {}
        for issuer in config.issuers:
            try:
                key = _load(issuer)
                builder = TokenBuilder(key, issuer.algorithm, issuer.issuer, kid=issuer.kid)
            except (OSError, KeyMaterialError, ValueError) as exc:
                problems.append(_problem(issuer, str(exc) or type(exc).__name__))
                continue
            except RealmgateError as exc:
                problems.append(_problem(issuer, exc.text))
                continue
            jwk = None
            if key.kty != "oct":
                jwk = public_jwk(key.key, kid=builder.kid, alg=issuer.algorithm)
                kid = builder.kid or ""
                if kid in kids:
                    problems.append(
                        _problem(issuer, f"kid {kid!r} is also used by issuer {kids[kid]!r}")
                    )
                    continue
                kids[kid] = issuer.id
            self.issuers[issuer.id] = PublishedIssuer(issuer, key, builder, jwk)
        if problems:
            raise ConfigError(config.path, problems)
        self.paths: dict[str, str] = {}
        """Discovery path → issuer id, for issuers whose identifier is a URL with a path."""
        for item in self.published():
            parts = urlsplit(item.issuer.issuer)
            path = parts.path.rstrip("/")
            if parts.scheme in ("http", "https") and path:
                self.paths[path + WELL_KNOWN] = item.issuer.id

    def published(self) -> list[PublishedIssuer]:
        return [p for p in self.issuers.values() if p.jwk is not None]

    def jwks(self, issuer_id: str | None = None) -> dict[str, Any]:
        items = self.published()
        if issuer_id is not None:
            items = [p for p in items if p.issuer.id == issuer_id]
        return {"keys": [dict(p.jwk) for p in items if p.jwk is not None]}

    def sole_issuer(self) -> PublishedIssuer | None:
        items = self.published()
        return items[0] if len(items) == 1 else None

    def discovery(
        self, item: PublishedIssuer, base_url: str, *, token_endpoint: bool, sole: bool
    ) -> dict[str, Any]:
        jwks_path = "/jwks.json" if sole else f"{ISSUERS_PREFIX}{item.issuer.id}/jwks.json"
        doc: dict[str, Any] = {
            "issuer": item.issuer.issuer,
            "jwks_uri": base_url + jwks_path,
            "id_token_signing_alg_values_supported": [item.issuer.algorithm],
            "token_endpoint_auth_signing_alg_values_supported": [item.issuer.algorithm],
            "subject_types_supported": ["public"],
            "response_types_supported": ["token"],
            "grant_types_supported": [],
        }
        if token_endpoint:
            doc["token_endpoint"] = base_url + "/v1/token"
            doc["grant_types_supported"] = ["urn:realmgate:token-issue"]
        return doc
