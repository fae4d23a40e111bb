"""``<jwtBuilder>`` → ``[[issuer]]`` (tokens this instance signs).

``issuer`` defaults in Liberty to ``https://<host>:<https port>/jwt/<id>``, which depends on
the running server: a clearly marked placeholder is written then. The signing key comes from
``keyStoreRef`` (else the default SSL configuration's key store) and ``keyAlias``; the
lifetime from ``expiresInSeconds``, else the deprecated ``expiry`` (default 2 h). Builders
signing with a shared key (HS*) are not imported: an ``[[issuer]]`` signs with a key file.
"""

from __future__ import annotations

from realmgate.configclient import SUPPORTED_ALGS
from realmgate.keys.material import HMAC_ALGS
from realmgate.liberty.context import Definition, ImportContext
from realmgate.liberty.keystores import keystore_id_for, load_store, unknown_reference
from realmgate.liberty.serverxml import Element
from realmgate.liberty.values import HOURS, SECONDS, BadValue, duration_seconds, split_list

_NOTES = {
    "jti": "realmgate's token API sets jti per token (the --jti option)",
    "scope": "not set by realmgate's issuer; pass it as an extra claim",
    "claims": "registry attributes are not copied into tokens",
    "amrInclude": "not supported",
    "nbfOffset": "nbf is set per token",
    "jwkRotationTime": "realmgate does not generate rotating keys",
    "jwkSigningKeySize": "realmgate does not generate rotating keys",
    "jwkMaxKeys": "realmgate does not generate rotating keys",
    "trustStoreRef": "not used for signing",
    "keyManagementKeyAlgorithm": "encrypted tokens (JWE) are not issued",
    "keyManagementKeyAlias": "encrypted tokens (JWE) are not issued",
    "contentEncryptionAlgorithm": "encrypted tokens (JWE) are not issued",
    "sharedKey": "HS* builders are not imported",
}


def convert_builder(ctx: ImportContext, element: Element) -> None:
    issuer_id = element.id or "defaultJWT"
    d = Definition(ctx, element, "issuer", issuer_id)
    issuer = d.value("issuer")
    if issuer is None:
        placeholder = f"https://HOST:PORT/jwt/{issuer_id}"
        d.defaulted(
            "issuer",
            "https://<host>:<https port>/jwt/<id>",
            "issuer",
            placeholder,
            "PLACEHOLDER: put the server's host name and HTTPS port",
        )
        d.table.notes.append("PLACEHOLDER: issuer is Liberty's derived default; replace HOST:PORT")
    else:
        d.mapped("issuer", "issuer", issuer)
    algorithm = (d.value("signatureAlgorithm") or "RS256").strip()
    if algorithm in HMAC_ALGS:
        d.ctx.problem(
            "RG6113W",
            file=element.file,
            line=element.line,
            element=element.tag,
            id=issuer_id,
            detail=f"it signs with a shared key ({algorithm}); an "
            "[[issuer]] signs with a private key file",
        )
        d.finish(_NOTES)
        ctx.element_entry(element, "skipped", f"{algorithm}: shared-key builders not imported")
        return
    if algorithm not in SUPPORTED_ALGS:
        d.bad("signatureAlgorithm", f"{algorithm!r} is not one of {', '.join(SUPPORTED_ALGS)}")
    elif d.has("signatureAlgorithm"):
        d.mapped("signatureAlgorithm", "algorithm", algorithm)
    else:
        d.defaulted("signatureAlgorithm", "RS256", "algorithm", "RS256")
    _signing_key(ctx, d)
    _lifetime(d)
    audiences = d.value("audiences")
    if audiences is not None:
        d.mapped("audiences", "audiences", split_list(audiences))
    if (d.value("jwkEnabled") or "false").strip().lower() == "true":
        d.no_equivalent(
            "jwkEnabled",
            "realmgate publishes the issuer key at /jwks.json; it does not generate rotating keys",
        )
        d.warn(
            "jwkEnabled",
            "generated, rotating signing keys are not supported; the key store key is used",
        )
    elif d.has("jwkEnabled"):
        d.mapped("jwkEnabled", None, None, "false: the key store key signs")
    d.finish(_NOTES)
    if d.failed:
        ctx.element_entry(element, "skipped", "not imported: see the problems above")
    else:
        ctx.tables.append(d.table)


def _signing_key(ctx: ImportContext, d: Definition) -> None:
    keystore_id = keystore_id_for(d, "keyStoreRef", ssl_fields=("keyStoreRef",))
    if keystore_id is None:
        return
    if ctx.xml.find("keyStore", keystore_id) is None and keystore_id != "defaultKeyStore":
        unknown_reference(d, "keyStoreRef", "keyStore", keystore_id)
        return
    alias = d.value("keyAlias")
    store = load_store(ctx, keystore_id, "sign", alias)
    if d.has("keyStoreRef"):
        d.mapped("keyStoreRef", "key", store.path or "")
    else:
        d.set("key", store.path or "", f"keyStore {keystore_id!r} (the default)")
    if store.password_env:
        d.set("key_password_env", store.password_env, f"password of keyStore {keystore_id!r}")
    if alias is not None:
        d.mapped("keyAlias", "key_alias", alias)
    d.table.notes.extend(store.notes)


def _lifetime(d: Definition) -> None:
    expires = d.value("expiresInSeconds")
    try:
        seconds, how = duration_seconds(expires, SECONDS) if expires is not None else (-1, "")
    except BadValue as exc:
        d.bad("expiresInSeconds", exc)
        return
    if seconds > 0:
        d.mapped("expiresInSeconds", "ttl", seconds, how)
        if d.has("expiry"):
            d.no_equivalent("expiry", "expiresInSeconds takes precedence, as in Liberty")
        return
    if expires is not None:
        d.mapped("expiresInSeconds", None, None, "not positive: expiry is used, as in Liberty")
    expiry = d.value("expiry")
    if expiry is None:
        d.defaulted("expiry", "2h", "ttl", 7200)
        return
    try:
        seconds, how = duration_seconds(expiry, HOURS)
    except BadValue as exc:
        d.bad("expiry", exc)
        return
    if seconds <= 0:
        d.bad("expiry", "the token lifetime must be positive")
        return
    d.mapped("expiry", "ttl", seconds, how)
