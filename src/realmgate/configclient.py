"""``[[client]]`` tables → :class:`ClientDefinition`, with their keys loaded.

A trusted-client definition is Liberty's ``<openidConnectClient>`` used for inbound
propagation. Key material is read here, at load time, so a missing trust store or an unset
secret stops the configuration instead of failing the first request.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from types import MappingProxyType
from urllib.parse import urlsplit

from realmgate.configmodel import (
    DEFAULT_CLOCK_SKEW,
    ClientDefinition,
    Location,
    RemoteKeySettings,
    Secret,
)
from realmgate.configvalues import TableReader, did_you_mean
from realmgate.keys.material import ALL_ALGS, HMAC_ALGS, KeyMaterialError, VerificationKey
from realmgate.keys.truststore import load_trust_store

CLIENT_KEYS = (
    "id", "issuers", "algorithms", "audiences", "clock_skew", "max_age", "required_claims",
    "user_claim", "realm", "realm_claim", "map_to_registry_user", "header", "token_reuse",
    "auth_filter", "use_issuer", "allow_issuer_selection", "trust_store",
    "trust_store_password_env", "trust_alias", "jwks_uri", "discovery", "shared_secret_env",
    "allow_insecure_http", "jwks_cache_min", "jwks_cache_max", "jwks_default_ttl",
    "jwks_unknown_kid_cooldown", "jwks_max_stale", "http_timeout", "max_response_bytes",
    "replay_unavailable",
)  # fmt: skip

# TOML key → RemoteKeySettings field, and whether zero is allowed.
_REMOTE_KNOBS = {
    "jwks_cache_min": ("cache_min", False),
    "jwks_cache_max": ("cache_max", False),
    "jwks_default_ttl": ("default_ttl", False),
    "jwks_unknown_kid_cooldown": ("unknown_kid_cooldown", True),
    "jwks_max_stale": ("max_stale", True),
    "http_timeout": ("timeout", False),
}
_HEADER_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
SUPPORTED_ALGS = (
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA",
    "HS256", "HS384", "HS512",
)  # fmt: skip


def build_client(reader: TableReader, index: int, files: list[str]) -> ClientDefinition | None:
    """One definition, or None when the table had problems (all of them recorded).
    Trust store paths read are appended to ``files``."""
    client_id = reader.string("id", required=True) or f"#{index + 1}"
    issuers = reader.strings("issuers", required=True) or ()
    for issuer in issuers:
        if issuer != issuer.strip():
            reader.bad(
                "issuers",
                f"issuer {issuer!r} has leading or trailing spaces; issuers are compared exactly",
            )
    algorithms = _algorithms(reader)
    audiences, audiences_any = _audiences(reader)
    header = reader.string("header")
    if header is not None and not _HEADER_NAME.match(header):
        reader.bad("header", f"{header!r} is not a valid HTTP header name")
    if reader.has("realm") and reader.has("realm_claim"):
        reader.problem("RG6014E", "realm_claim", table=reader.label, keys="realm and realm_claim")
    replay_unavailable = reader.string("replay_unavailable", "refuse") or "refuse"
    if replay_unavailable not in ("refuse", "allow"):
        reader.bad(
            "replay_unavailable", f'must be "refuse" or "allow", found {replay_unavailable!r}'
        )
    remote = _remote_settings(reader)
    jwks_uri = reader.string("jwks_uri")
    if jwks_uri is not None:
        _check_url(reader, "jwks_uri", jwks_uri, remote.allow_insecure_http)
    discovery = _discovery(reader, issuers, remote.allow_insecure_http)
    trust_store = reader.path("trust_store")
    static_keys, secret = _key_sources(reader, algorithms, trust_store, jwks_uri, discovery, files)
    definition = ClientDefinition(
        id=client_id,
        issuers=issuers,
        algorithms=algorithms,
        location=Location(reader.locate(None)[0].file, reader.line()),
        audiences=audiences,
        audiences_any=audiences_any,
        clock_skew=reader.integer("clock_skew", DEFAULT_CLOCK_SKEW) or 0,
        max_age=reader.integer("max_age", None, minimum=1),
        required_claims=reader.strings("required_claims") or (),
        user_claim=reader.string("user_claim", "sub") or "sub",
        realm=reader.string("realm"),
        realm_claim=reader.string("realm_claim", "realm") or "realm",
        map_to_registry_user=reader.boolean("map_to_registry_user", False),
        header=header,
        token_reuse=reader.boolean("token_reuse", True),
        auth_filter=reader.string("auth_filter"),
        use_issuer=reader.optional_boolean("use_issuer"),
        allow_issuer_selection=reader.boolean("allow_issuer_selection", False),
        trust_store=str(trust_store) if trust_store is not None else None,
        trust_store_password_env=reader.string("trust_store_password_env"),
        trust_alias=reader.string("trust_alias"),
        jwks_uri=jwks_uri,
        discovery=discovery,
        shared_secret_env=reader.string("shared_secret_env"),
        remote=remote,
        static_keys=static_keys,
        shared_secret=secret,
        replay_unavailable=replay_unavailable,
        lines=MappingProxyType({key: reader.line(key) for key in reader.data}),
    )
    return None if reader.failed else definition


def _algorithms(reader: TableReader) -> tuple[str, ...]:
    value = reader.strings("algorithms", required=True) or ()
    accepted: list[str] = []
    for alg in value:
        if alg.lower() == "none":
            reader.problem(
                "RG6005E",
                "algorithms",
                alg=alg,
                table=reader.label,
                detail="'none' means unsigned tokens, which are never accepted",
            )
        elif alg not in ALL_ALGS:
            hint = did_you_mean(alg, SUPPORTED_ALGS) or f" (supported: {', '.join(SUPPORTED_ALGS)})"
            reader.problem(
                "RG6005E",
                "algorithms",
                alg=alg,
                table=reader.label,
                detail=f"not a supported JWS algorithm{hint}",
            )
        elif alg not in accepted:
            accepted.append(alg)
    return tuple(accepted)


def _audiences(reader: TableReader) -> tuple[tuple[str, ...] | None, bool]:
    raw = reader.data.get("audiences")
    if raw == "any":
        return None, True
    if isinstance(raw, str) and raw.strip().lower() in ("any", "all_audiences", "*"):
        reader.bad(
            "audiences",
            f'{raw!r} is not a keyword; write audiences = "any" to skip '
            "the audience check on purpose",
        )
        return None, False
    return reader.strings("audiences"), False


def _remote_settings(reader: TableReader) -> RemoteKeySettings:
    defaults = RemoteKeySettings()
    values: dict[str, float] = {}
    for key, (name, zero_ok) in _REMOTE_KNOBS.items():
        values[name] = reader.number(key, getattr(defaults, name), positive=not zero_ok)
    if values["cache_min"] > values["cache_max"]:
        reader.bad(
            "jwks_cache_min",
            f"{values['cache_min']:g}s is over jwks_cache_max {values['cache_max']:g}s",
        )
    max_bytes = reader.integer("max_response_bytes", defaults.max_response_bytes, minimum=1)
    return RemoteKeySettings(
        cache_min=values["cache_min"],
        cache_max=values["cache_max"],
        default_ttl=values["default_ttl"],
        unknown_kid_cooldown=values["unknown_kid_cooldown"],
        max_stale=values["max_stale"],
        timeout=values["timeout"],
        max_response_bytes=max_bytes or defaults.max_response_bytes,
        allow_insecure_http=reader.boolean("allow_insecure_http", False),
    )


def _is_url(url: str, insecure_ok: bool) -> bool:
    parts = urlsplit(url)
    return parts.scheme in (("https", "http") if insecure_ok else ("https",)) and bool(
        parts.hostname
    )


def _url_need(insecure_ok: bool) -> str:
    return "an http(s) URL" if insecure_ok else "an https URL (or set allow_insecure_http)"


def _check_url(reader: TableReader, key: str, url: str, insecure_ok: bool) -> None:
    if not _is_url(url, insecure_ok):
        reader.bad(key, f"{url!r} is not {_url_need(insecure_ok)}")


def _discovery(
    reader: TableReader, issuers: tuple[str, ...], insecure_ok: bool
) -> str | bool | None:
    value = reader.data.get("discovery")
    if value is None or value is False:
        return None
    if value is True:
        for issuer in issuers:
            if not _is_url(issuer, insecure_ok):
                reader.bad(
                    "discovery",
                    f"true derives the discovery URL from issuer {issuer!r}, "
                    f"which is not {_url_need(insecure_ok)}; give the URL instead",
                )
                break  # one message is enough
        return True
    if isinstance(value, str) and value.strip():
        _check_url(reader, "discovery", value, insecure_ok)
        return value
    reader.bad("discovery", "expected true or the https URL of the discovery document")
    return None


def _key_sources(
    reader: TableReader,
    algorithms: tuple[str, ...],
    trust_store: Path | None,
    jwks_uri: str | None,
    discovery: str | bool | None,
    files: list[str],
) -> tuple[tuple[VerificationKey, ...], Secret | None]:
    sources = [
        k
        for k, v in (
            ("trust_store", reader.has("trust_store")),
            ("jwks_uri", jwks_uri is not None or reader.has("jwks_uri")),
            ("discovery", discovery is not None),
        )
        if v
    ]
    if len(sources) > 1:
        reader.problem("RG6014E", sources[1], table=reader.label, keys=" and ".join(sources))
    hmac = tuple(a for a in algorithms if a in HMAC_ALGS)
    public = tuple(a for a in algorithms if a not in HMAC_ALGS)
    if hmac and not reader.has("shared_secret_env"):
        reader.missing("shared_secret_env")
    if public and not sources:
        reader.missing("trust_store, jwks_uri or discovery")
    if reader.has("shared_secret_env") and algorithms and not hmac:
        reader.bad(
            "shared_secret_env",
            "a shared secret verifies only HS256/384/512, and algorithms lists none of them",
        )
    if algorithms and not public and sources:
        reader.bad(
            sources[0], f"a public-key source is set but algorithms lists only {', '.join(hmac)}"
        )
    keys: tuple[VerificationKey, ...] = ()
    if trust_store is not None:
        keys = _trust_store_keys(reader, trust_store, public, files)
    return keys, _shared_secret(reader, hmac)


def _shared_secret(reader: TableReader, hmac: tuple[str, ...]) -> Secret | None:
    env = reader.string("shared_secret_env")
    if env is None:
        return None
    value = os.environ.get(env)
    if not value:
        reader.problem(
            "RG6011E",
            "shared_secret_env",
            detail=f"{reader.label} uses {', '.join(hmac) or 'HS*'} but its shared "
            f"secret variable {env} is not set or empty",
        )
        return None
    return Secret(value.encode("utf-8"))


def _trust_store_keys(
    reader: TableReader, path: Path, public: tuple[str, ...], files: list[str]
) -> tuple[VerificationKey, ...]:
    table = reader.label
    if not path.exists():
        reader.problem(
            "RG6006E",
            "trust_store",
            path=str(path),
            table=table,
            detail="no such file or directory",
        )
        return ()
    readable, password = _password(reader)
    if not readable:
        return ()
    try:
        store = load_trust_store(path, password=password)
    except KeyMaterialError as exc:
        reader.problem("RG6006E", "trust_store", path=str(path), table=table, detail=str(exc))
        return ()
    files.append(str(path.resolve()))
    alias = reader.string("trust_alias")
    keys = store.keys if alias is None else store.select(alias)
    if alias is not None and not keys:
        reader.problem(
            "RG6008E",
            "trust_alias",
            alias=alias,
            path=str(path),
            available=", ".join(store.aliases()) or "(none)",
        )
        return ()
    # With no public-key algorithm listed the store is already refused; no misfit check.
    misfits = [k for k in keys if public and not (k.algorithms & set(public))]
    if misfits:
        described = "; ".join(
            f"{k.label()} ({k.kty}, verifies {', '.join(sorted(k.algorithms))})" for k in misfits
        )
        reader.bad(
            "trust_store", f"key(s) {described} fit none of the algorithms {', '.join(public)}"
        )
    return keys


def _password(reader: TableReader) -> tuple[bool, bytes | None]:
    """(usable, password) from trust_store_password_env; not usable when the variable is
    missing (problem recorded)."""
    env = reader.string("trust_store_password_env")
    if env is None:
        return True, None
    value = os.environ.get(env)
    if value is None:
        reader.problem(
            "RG6011E",
            "trust_store_password_env",
            detail=f"{reader.label}: the trust store password variable {env} is not set",
        )
        return False, None
    return True, value.encode("utf-8")
