"""Where a ``[[client]]``'s keys come from: algorithms, then a trust store (via
``<keyStore>``), a JWKS URL, OIDC discovery, or a shared secret held in an environment
variable (Liberty's ``clientSecret``/``sharedKey``, never written to the TOML).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from realmgate.configclient import SUPPORTED_ALGS
from realmgate.keys.material import HMAC_ALGS
from realmgate.liberty.context import Definition
from realmgate.liberty.keystores import keystore_id_for, load_store, unknown_reference
from realmgate.liberty.values import decode_password, env_name, split_list


def algorithms_of(d: Definition, liberty_default: str) -> list[str]:
    """``signatureAlgorithm`` (or, with ``FROM_HEADER``, ``allowedSignatureAlgorithms``);
    an empty list after a problem."""
    value = d.value("signatureAlgorithm")
    if value is None:
        d.defaulted(
            "signatureAlgorithm",
            liberty_default,
            "algorithms",
            [liberty_default],
            "realmgate has no default algorithm, so Liberty's is written",
        )
        return [liberty_default]
    alg = value.strip()
    if alg.upper() == "FROM_HEADER":
        allowed = split_list(d.value("allowedSignatureAlgorithms") or "RS256")
        d.mapped("signatureAlgorithm", None, None, "FROM_HEADER: the allowed list is used")
        if not d.has("allowedSignatureAlgorithms"):
            d.defaulted("allowedSignatureAlgorithms", "RS256", "algorithms", allowed)
        algorithms = allowed
    else:
        algorithms = [alg]
    for candidate in algorithms:
        if candidate.lower() == "none":
            d.bad(
                "signatureAlgorithm", "'none' means unsigned tokens, which realmgate never accepts"
            )
            return []
        if candidate not in SUPPORTED_ALGS:
            d.bad("signatureAlgorithm", f"{candidate!r} is not one of {', '.join(SUPPORTED_ALGS)}")
            return []
    if d.has("allowedSignatureAlgorithms") and alg.upper() == "FROM_HEADER":
        d.mapped("allowedSignatureAlgorithms", "algorithms", algorithms)
    elif alg.upper() != "FROM_HEADER":
        d.mapped("signatureAlgorithm", "algorithms", algorithms)
        if d.has("allowedSignatureAlgorithms"):
            d.no_equivalent("allowedSignatureAlgorithms", "applies only with FROM_HEADER")
    return algorithms


def key_sources(
    d: Definition, algorithms: list[str], *, jwks: str, secret: str, alias: str
) -> None:
    """Map the key attributes; with a public-key algorithm, discovery wins over a JWKS URL,
    which wins over a trust store (Liberty's precedence)."""
    hmac = [a for a in algorithms if a in HMAC_ALGS]
    public = [a for a in algorithms if a not in HMAC_ALGS]
    ctx = d.ctx
    discovery = d.value("discoveryEndpointUrl")
    jwks_url = d.value(jwks)
    uses_store = False
    if public and discovery:
        d.mapped("discoveryEndpointUrl", "discovery", discovery)
        _insecure(d, "discoveryEndpointUrl", discovery)
        if jwks_url:
            d.no_equivalent(jwks, "the discovery document's jwks_uri wins, as in Liberty")
    elif public and jwks_url:
        d.mapped(jwks, "jwks_uri", jwks_url)
        _insecure(d, jwks, jwks_url)
    elif public:
        uses_store = True
        keystore_id = keystore_id_for(d, "trustStoreRef")
        if keystore_id is not None:
            defined = ctx.xml.find("keyStore", keystore_id) is not None
            if not defined and keystore_id != "defaultKeyStore":
                blamed = "trustStoreRef" if d.has("trustStoreRef") else "sslRef"
                unknown_reference(d, blamed, "keyStore", keystore_id)
            else:
                store = load_store(ctx, keystore_id, "trust", d.value(alias))
                if d.has("trustStoreRef"):
                    d.mapped("trustStoreRef", "trust_store", store.path or "")
                else:
                    d.set("trust_store", store.path or "", f"keyStore {keystore_id!r}")
                if store.password_env:
                    d.set(
                        "trust_store_password_env",
                        store.password_env,
                        f"password of keyStore {keystore_id!r}",
                    )
                d.table.notes.extend(store.notes)
    for name in ("trustStoreRef", "discoveryEndpointUrl", jwks):
        if d.has(name) and name not in d.handled:
            why = "only HS* algorithms are allowed" if not public else "another key source wins"
            d.no_equivalent(name, f"not used: {why}")
    if d.has(alias):
        if uses_store:
            d.mapped(alias, "trust_alias", d.value(alias) or "")
        else:
            d.no_equivalent(alias, "used only with a trust store")
    if hmac:
        _shared_secret(d, secret, hmac)
    elif d.has(secret):
        d.no_equivalent(secret, f"not needed: no HS* algorithm ({', '.join(algorithms)})")


def _shared_secret(d: Definition, name: str, hmac: list[str]) -> None:
    attr = d.attr(name)
    if attr is None:
        d.bad(name, f"{', '.join(hmac)} needs the shared secret")
        return
    resolved = d.ctx.xml.resolve(attr)
    env = None
    single = re.fullmatch(r"\$\{[^${}]+\}", attr.raw.strip()) and len(resolved.used) == 1
    if single and resolved.used[0][1].source == "env":
        env = resolved.used[0][1].where
    clear, encoding = decode_password(resolved.text)
    variable = env or env_name("REALMGATE_CLIENT", d.table_id, "SECRET")
    d.ctx.need_env(
        variable,
        f"shared secret of {d.element.tag} {d.table_id!r}",
        attr.where,
        None if env else clear,
    )
    note = (
        f"read from {env}, as in the XML"
        if env
        else f"set {variable} to it ({encoding} in the XML); the secret itself is never written"
    )
    d.mapped(name, "shared_secret_env", variable, note)


def _insecure(d: Definition, name: str, url: str) -> None:
    if urlsplit(url).scheme.lower() == "http":
        d.set("allow_insecure_http", True, f"{name} is http")
        d.warn(name, "an http URL: allow_insecure_http = true is written; use https")
