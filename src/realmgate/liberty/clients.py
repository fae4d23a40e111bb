"""``<openidConnectClient>`` and ``<mpJwt>`` → ``[[client]]``.

Liberty defaults that differ from realmgate's (or where realmgate has none) are written
explicitly and reported as *defaulted*: ``signatureAlgorithm`` (HS256 for
openidConnectClient, RS256 for mpJwt), ``clockSkew`` (300 s / 5 m), ``tokenReuse`` (false /
true), ``userIdentityToCreateSubject`` (sub) or ``userNameAttribute`` (upn),
``realmIdentifier`` (realmName), ``mapIdentityToRegistryUser`` (false).

An openidConnectClient whose ``inboundPropagation`` is ``none`` (the default) signs users in
through a browser and never accepts a propagated token, so it is not imported.
"""

from __future__ import annotations

import re

from realmgate.liberty.clientkeys import algorithms_of, key_sources
from realmgate.liberty.context import Definition, ImportContext
from realmgate.liberty.keystores import unknown_reference
from realmgate.liberty.serverxml import Element
from realmgate.liberty.values import MS, BadValue, boolean, duration_seconds, split_list

BROWSER = "browser sign-in flow only; realmgate verifies propagated tokens"
_BROWSER_ONLY = (
    "scope", "redirectToRPHostAndPort", "redirectJunctionPath", "isClientSideRedirectSupported",
    "nonceEnabled", "includeIdTokenInSubject", "accessTokenInLtpaCookie",
    "initialStateCacheCapacity", "authorizationEndpointUrl", "tokenEndpointUrl",
    "userInfoEndpointUrl", "userInfoEndpointEnabled", "grantType", "responseType",
    "tokenEndpointAuthMethod", "authzParameter", "tokenParameter", "authnSessionDisabled",
    "disableLtpaCookie", "reAuthnOnAccessTokenExpire", "reAuthnCushion", "createSession",
    "resource", "authenticationTimeLimit", "forwardLoginParameter", "prompt",
    "authContextClassReference", "clientId",
)  # fmt: skip
_OIDC_NOTES = dict.fromkeys(_BROWSER_ONLY, BROWSER)
_OIDC_NOTES.update(
    {
        "httpsRequired": "realmgate fetches keys over https unless allow_insecure_http is set",
        "hostNameVerificationEnabled": "realmgate always verifies host names on https",
        "useSystemPropertiesForHttpClientConnections": "not applicable",
        "jwkClientId": "HTTP Basic credentials on the JWK request are not supported",
        "jwkClientSecret": "HTTP Basic credentials on the JWK request are not supported",
        "groupIdentifier": "groups are not mapped: the registry maps (user, realm) to one user",
        "uniqueUserIdentifier": "the unique name is not used: the registry maps the user claim",
        "validationMethod": "JWTs are validated locally, as Liberty does for any token that "
        "parses as a JWT; opaque-token introspection is not supported",
        "validationEndpointUrl": "opaque-token introspection is not supported",
        "discoveryPollingRate": "see jwks_cache_min/jwks_unknown_kid_cooldown",
        "accessTokenCacheEnabled": "verified tokens are cached ([limits] verified_cache_*)",
        "accessTokenCacheTimeout": "verified tokens are cached until they expire",
        "allowCustomCacheKey": "not applicable",
        "sslRef": "TLS settings of outbound calls; realmgate uses the system CA certificates",
    }
)
_OIDC_READ = (
    "inboundPropagation", "issuerIdentifier", "signatureAlgorithm", "allowedSignatureAlgorithms",
    "trustStoreRef", "trustAliasName", "jwkEndpointUrl", "discoveryEndpointUrl", "clientSecret",
    "audiences", "clockSkew", "userIdentifier", "userIdentityToCreateSubject", "realmName",
    "realmIdentifier", "mapIdentityToRegistryUser", "tokenReuse", "headerName", "authFilterRef",
    "disableIssChecking", "keyManagementKeyAlias", "jwtAccessTokenRemoteValidation",
)  # fmt: skip
_MPJWT_READ = (
    "issuer", "signatureAlgorithm", "jwksUri", "sharedKey", "keyName", "audiences", "clockSkew",
    "userNameAttribute", "mapToUserRegistry", "tokenReuse", "authFilterRef", "tokenAge",
    "tokenHeader", "authorizationHeaderScheme", "keyManagementKeyAlias",
)  # fmt: skip
_MPJWT_NOTES = {
    "groupNameAttribute": _OIDC_NOTES["groupIdentifier"],
    "ignoreApplicationAuthMethod": "realmgate does not host applications",
    "hostNameVerificationEnabled": _OIDC_NOTES["hostNameVerificationEnabled"],
    "useSystemPropertiesForHttpClientConnections": "not applicable",
    "cookieName": "tokens are read from headers only",
    "sslRef": _OIDC_NOTES["sslRef"],
    "mpConfigProxy": "internal",
}


def convert_oidc_client(ctx: ImportContext, element: Element, filters: set[str]) -> None:
    client_id = element.id or f"openidConnectClient-{element.line}"
    d = Definition(ctx, element, "client", client_id)
    propagation = (d.value("inboundPropagation") or "none").strip().lower()
    if propagation not in ("required", "supported"):
        d.ctx.problem(
            "RG6113W",
            file=element.file,
            line=element.line,
            element=element.tag,
            id=client_id,
            detail="inboundPropagation is 'none' (Liberty's default), "
            "so Liberty never accepts a propagated token with it",
        )
        ctx.element_entry(element, "skipped", "inboundPropagation none: browser sign-in only")
        return
    d.mapped(
        "inboundPropagation",
        None,
        None,
        "realmgate always requires a valid token"
        + (
            "; Liberty's 'supported' fell back to browser sign-in"
            if propagation == "supported"
            else ""
        ),
    )
    _issuers(d, "issuerIdentifier", spaces=True)
    algorithms = algorithms_of(d, "HS256")
    key_sources(d, algorithms, jwks="jwkEndpointUrl", secret="clientSecret", alias="trustAliasName")
    _audiences(d)
    _clock_skew(d, "300s")
    _claim(d, "userIdentifier", "userIdentityToCreateSubject", "sub")
    if d.has("realmName"):
        d.mapped("realmName", "realm", d.value("realmName") or "")
        if d.has("realmIdentifier"):
            d.no_equivalent("realmIdentifier", "realmName wins, as in Liberty")
    elif d.has("realmIdentifier"):
        d.mapped("realmIdentifier", "realm_claim", d.value("realmIdentifier") or "")
    else:
        d.defaulted(
            "realmIdentifier",
            "realmName",
            "realm_claim",
            "realmName",
            "realmgate's own default claim is 'realm'",
        )
    _boolean(d, "mapIdentityToRegistryUser", "map_to_registry_user", False)
    _boolean(
        d,
        "tokenReuse",
        "token_reuse",
        False,
        "with false every token needs a jti: "
        "realmgate refuses tokens without one (RG4013E), where Liberty accepted them",
    )
    _header(d, "headerName")
    _filter(d, filters)
    for name in ("disableIssChecking",):
        if d.has(name) and (d.value(name) or "").strip().lower() == "true":
            d.bad(
                name,
                "tokens without iss are not supported: realmgate chooses the definition by issuer",
            )
        elif d.has(name):
            d.mapped(name, None, None, "false: iss is checked")
    _refuse_jwe(d, "keyManagementKeyAlias")
    remote = (d.value("jwtAccessTokenRemoteValidation") or "none").strip().lower()
    if remote == "require" or (d.value("requireJwtAccessTokenRemoteValidation") or "") == "true":
        name = (
            "jwtAccessTokenRemoteValidation"
            if remote == "require"
            else ("requireJwtAccessTokenRemoteValidation")
        )
        d.bad(name, "remote validation (introspection) of JWTs is not supported")
    for name in (
        "jwtAccessTokenRemoteValidation",
        "allowJwtAccessTokenRemoteValidation",
        "requireJwtAccessTokenRemoteValidation",
    ):
        if d.has(name) and name not in d.handled:
            d.no_equivalent(name, "realmgate validates JWTs locally only")
    _finish(ctx, d, _OIDC_NOTES, _OIDC_READ)


def convert_mpjwt(ctx: ImportContext, element: Element, filters: set[str]) -> None:
    client_id = element.id or f"mpJwt-{element.line}"
    d = Definition(ctx, element, "client", client_id)
    _issuers(d, "issuer", spaces=False)
    algorithms = algorithms_of(d, "RS256")
    key_sources(d, algorithms, jwks="jwksUri", secret="sharedKey", alias="keyName")
    _audiences(d)
    _clock_skew(d, "5m")
    _claim(d, "userNameAttribute", None, "upn")
    _boolean(d, "mapToUserRegistry", "map_to_registry_user", False)
    _boolean(d, "tokenReuse", "token_reuse", True)
    _filter(d, filters)
    if d.has("tokenAge"):
        try:
            seconds, how = duration_seconds(d.value("tokenAge") or "", MS)
        except BadValue as exc:
            d.bad("tokenAge", exc)
        else:
            if seconds > 0:
                d.mapped("tokenAge", "max_age", seconds, how)
            else:
                d.mapped("tokenAge", None, None, "0: no limit, as in Liberty")
    header = (d.value("tokenHeader") or "Authorization").strip()
    if header.lower() == "cookie":
        d.bad("tokenHeader", "tokens in a cookie are not supported; send them in a header")
    elif d.has("tokenHeader"):
        d.mapped("tokenHeader", None, None, "Authorization: Bearer is realmgate's default")
    scheme = d.value("authorizationHeaderScheme")
    if scheme is not None:
        if scheme.strip().lower() == "bearer":
            d.mapped("authorizationHeaderScheme", None, None, "Bearer is realmgate's default")
        else:
            d.bad("authorizationHeaderScheme", "only the Bearer scheme is supported")
    _refuse_jwe(d, "keyManagementKeyAlias")
    _refuse_jwe(d, "keyManagementKeyAlgorithm")
    _finish(ctx, d, _MPJWT_NOTES, _MPJWT_READ)


def _finish(
    ctx: ImportContext, d: Definition, notes: dict[str, str], known: tuple[str, ...]
) -> None:
    d.finish(notes, known)
    for child in d.element.children:
        if child.tag != "authFilter":
            d.warn(
                f"<{child.tag}>",
                f"the nested element at {child.where} is not supported; it is ignored",
            )
            ctx.element_entry(child, "skipped", f"nested in <{d.element.tag}>: not supported")
    if d.failed:
        ctx.element_entry(d.element, "skipped", "not imported: see the problems above")
    else:
        ctx.tables.append(d.table)


def _issuers(d: Definition, name: str, *, spaces: bool) -> None:
    value = d.value(name)
    issuers = split_list(value, spaces=spaces) if value is not None else []
    if not issuers:
        d.bad(
            name,
            "the issuer is required: realmgate chooses the definition by the "
            "token's iss" + ("" if spaces else " (mp.jwt.verify.issuer is not read)"),
        )
        return
    note = "split on spaces and commas, as Liberty's code does" if len(issuers) > 1 else ""
    d.mapped(name, "issuers", issuers, note)


def _audiences(d: Definition) -> None:
    value = d.value("audiences")
    if value is None:
        return
    pieces = split_list(value)
    if any(p == "ALL_AUDIENCES" for p in pieces):
        d.mapped("audiences", "audiences", "any", "ALL_AUDIENCES: the check is skipped on purpose")
    elif pieces:
        d.mapped("audiences", "audiences", pieces)
    else:
        d.bad("audiences", "an empty list")


def _clock_skew(d: Definition, liberty_default: str) -> None:
    value = d.value("clockSkew")
    if value is None:
        d.defaulted("clockSkew", liberty_default, "clock_skew", 300)
        return
    try:
        seconds, how = duration_seconds(value, MS)
    except BadValue as exc:
        d.bad("clockSkew", exc)
        return
    if seconds < 0:
        d.bad("clockSkew", "a negative clock skew")
        return
    d.mapped("clockSkew", "clock_skew", seconds, how)


def _claim(d: Definition, first: str, second: str | None, liberty_default: str) -> None:
    for name in (first, second):
        if name is not None and d.has(name):
            d.mapped(name, "user_claim", d.value(name) or "")
            if name == first and second is not None and d.has(second):
                d.no_equivalent(second, f"{first} takes precedence, as in Liberty")
            return
    d.defaulted(second or first, liberty_default, "user_claim", liberty_default)


def _boolean(d: Definition, name: str, key: str, liberty_default: bool, note: str = "") -> None:
    value = d.value(name)
    if value is None:
        d.defaulted(
            name,
            str(liberty_default).lower(),
            key,
            liberty_default,
            note if not liberty_default else "",
        )
        return
    try:
        flag = boolean(value)
    except BadValue as exc:
        d.bad(name, exc)
        return
    d.mapped(name, key, flag, note if not flag else "")


def _header(d: Definition, name: str) -> None:
    value = d.value(name)
    if value is None:
        return
    if not re.fullmatch(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+", value.strip()):
        d.bad(name, f"{value!r} is not a valid HTTP header name")
        return
    d.mapped(name, "header", value.strip(), "a leading 'Bearer ' is accepted, as in Liberty")


def _filter(d: Definition, filters: set[str]) -> None:
    nested = [c for c in d.element.children if c.tag == "authFilter"]
    ref = d.value("authFilterRef")
    if ref is not None:
        d.ctx.used.add(("authFilter", ref))
        if ref not in filters:
            known = d.ctx.xml.find("authFilter", ref) is not None
            if known:  # defined but not importable: already reported
                d.failed = True
                d.no_equivalent("authFilterRef", f"the filter {ref!r} could not be imported")
            else:
                unknown_reference(d, "authFilterRef", "authFilter", ref)
                d.no_equivalent("authFilterRef", "unknown filter")
            return
        d.mapped("authFilterRef", "auth_filter", ref)
    elif nested:
        ident = nested[0].id or f"{d.table_id}-filter"
        if ident in filters:
            d.set("auth_filter", ident, f"nested <authFilter> ({nested[0].where})")
        else:
            d.failed = True


def _refuse_jwe(d: Definition, name: str) -> None:
    if d.has(name) and (d.value(name) or "").strip():
        d.bad(name, "encrypted tokens (JWE) are not supported")
