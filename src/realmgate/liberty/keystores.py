"""``<keyStore>`` (and the ``<ssl>``/``<sslDefault>`` chain that leads to one) → a trust store
or signing key path and the environment variable holding its password.

* A file keystore: ``location`` relative to ``${server.output.dir}/resources/security``
  (Liberty's rule), default ``key.p12`` there. PKCS#12 is read directly, also when
  ``type="JKS"`` names a file that is really PKCS#12 (Java 9+ keytool writes PKCS#12 by
  default). A real JKS or JCEKS file cannot be read: the report says how to convert it.
* The password is never written. The TOML names an environment variable: the one the
  XML already used (``password="${env.KS_PW}"`` or a variable set from the environment),
  else ``REALMGATE_KEYSTORE_<ID>_PASSWORD``, which the report asks the user to set.
* A SAF key ring (``safkeyring://OWNER/RING``, types ``JCERACFKS``/``JCECCARACFKS``/
  ``JCEHYBRIDRACFKS``) cannot be read off z/OS: a clearly marked placeholder path is
  written (a directory of exported PEM certificates named after their labels, or a PKCS#12
  file for a signing key) and the report gives the RACDCERT export. ``--keystore ID=PATH``
  names the exported file instead.
* Without ``trustStoreRef``, Liberty uses the trust store of ``sslRef``, else of the default
  SSL configuration (``<sslDefault sslRef>``, default ``defaultSSLConfig``), whose
  ``trustStoreRef`` defaults to its ``keyStoreRef``, itself defaulting to ``defaultKeyStore``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from realmgate.liberty.context import Definition, ImportContext
from realmgate.liberty.serverxml import Element
from realmgate.liberty.values import decode_password, env_name

SAF_TYPES = frozenset({"JCERACFKS", "JCECCARACFKS", "JCEHYBRIDRACFKS"})
_SAF = re.compile(r"^safkeyring(?:hw|hybrid)?://(?P<owner>[^/]*)/(?P<ring>.+)$", re.IGNORECASE)
_JKS_MAGIC = {b"\xfe\xed\xfe\xed": "JKS", b"\xce\xce\xce\xce": "JCEKS"}
PLACEHOLDER_DIR = "saf-keyring-export"
_NOTES = {
    "fileBased": "whether the store is a file; realmgate reads files only",
    "readOnly": "realmgate never writes key stores",
    "provider": "the Java security provider; not applicable",
    "pollingRate": "realmgate re-reads trust stores on configuration reload",
    "updateTrigger": "realmgate re-reads trust stores on configuration reload",
}


@dataclass
class Store:
    """A keystore as the TOML will name it."""

    keystore_id: str
    path: str | None
    """TOML path text (relative to the output when possible), or None when unusable."""
    password_env: str | None = None
    placeholder: bool = False
    notes: list[str] = field(default_factory=list)
    saf_ring: str | None = None


def keystore_id_for(
    d: Definition,
    ref: str,
    ssl_attr: str = "sslRef",
    ssl_fields: tuple[str, ...] = ("trustStoreRef", "keyStoreRef"),
) -> str | None:
    """The id of the keystore a definition uses (see the module docstring): ``ref`` if set,
    else the first of ``ssl_fields`` of its SSL configuration; None after an
    unknown-reference problem."""
    xml = d.ctx.xml
    if d.has(ref):
        return d.value(ref)
    ssl_id = d.value(ssl_attr) if d.has(ssl_attr) else None
    how = f"{ssl_attr} {ssl_id!r}"
    if ssl_id is None:
        default = xml.of("sslDefault")
        ssl_id = "defaultSSLConfig"
        if default and "sslRef" in default[0].attrs:
            ssl_id = xml.resolve(default[0].attrs["sslRef"]).text
        how = f"the default SSL configuration {ssl_id!r}"
    ssl = xml.find("ssl", ssl_id)
    if ssl is None:
        if d.has(ssl_attr):
            unknown_reference(d, ssl_attr, "ssl", ssl_id)
            return None
        return "defaultKeyStore"
    d.ctx.used.add(("ssl", ssl_id))
    for name in ssl_fields:
        if name in ssl.attrs:
            d.table.notes.append(f"key store taken from {how} ({ssl.where}), {name}")
            return xml.resolve(ssl.attrs[name]).text
    return "defaultKeyStore"


def unknown_reference(d: Definition, attribute: str, target: str, ref: str) -> None:
    attr = d.attr(attribute)
    known = ", ".join(repr(e.id) for e in d.ctx.xml.of(target) if e.id) or "none"
    d.ctx.problem(
        "RG6107E",
        file=attr.file if attr else d.element.file,
        line=attr.line if attr else d.element.line,
        element=d.element.tag,
        id=d.table_id,
        attribute=attribute,
        target=target,
        ref=ref,
        known=known,
    )
    d.failed = True


def load_store(ctx: ImportContext, keystore_id: str, purpose: str, alias: str | None) -> Store:
    """The keystore ``keystore_id`` for ``purpose`` ("trust" or "sign"); its attributes are
    reported once, under the keyStore element, however many definitions use it."""
    key = (keystore_id, purpose, alias)
    cached = ctx.stores.get(key)
    if isinstance(cached, Store):
        return cached
    ctx.used.add(("keyStore", keystore_id))
    element = ctx.xml.find("keyStore", keystore_id)
    if element is None:  # only defaultKeyStore gets here undefined: Liberty's implicit one
        element = Element("keyStore", keystore_id, str(ctx.xml.path), 0)
        element.sources.append("Liberty's implicit default")
    mark = len(ctx.entries)
    d = Definition(ctx, element, "keystore", keystore_id, keep_id="what the references name")
    store = _convert(ctx, d, purpose, alias)
    if keystore_id in ctx.reported_stores:
        del ctx.entries[mark:]
    ctx.reported_stores.add(keystore_id)
    ctx.stores[key] = store
    return store


def _convert(ctx: ImportContext, d: Definition, purpose: str, alias: str | None) -> Store:
    keystore_id = d.table_id
    override = ctx.keystore_files.get(keystore_id)
    location = d.value("location")
    kind = (d.value("type") or "").strip().upper()
    saf = _SAF.match(location.strip()) if location else None
    store = Store(keystore_id, None)
    if override is not None:
        store.path = ctx.path_text(override)
        d.mapped("location", None, None, f"replaced by --keystore {keystore_id}={override}")
        d.set("path", store.path, "--keystore")
    elif saf is not None or kind in SAF_TYPES:
        _saf_placeholder(ctx, d, store, saf, purpose, alias)
    else:
        _file_store(ctx, d, store, location, kind)
    if d.has("type") and "type" not in d.handled:
        d.mapped("type", None, None, "the format is recognised from the file's content")
    is_saf = saf is not None or kind in SAF_TYPES
    if not is_saf:
        _password(ctx, d, store)
    elif d.has("password"):
        # A key ring's password attribute is a dummy; exported PEM files need none.
        d.no_equivalent("password", "a SAF key ring needs none; nor do exported PEM files")
    d.finish(_NOTES, ("location", "type", "password"))
    return store


def _file_store(
    ctx: ImportContext, d: Definition, store: Store, location: str | None, kind: str
) -> None:
    security = ctx.xml.base / "resources" / "security"
    if location is None:
        path = security / "key.p12"
    else:
        path = Path(location).expanduser()
        if not path.is_absolute():
            path = security / path
    store.path = ctx.path_text(path)
    if location is None:
        d.defaulted(
            "location", "${server.output.dir}/resources/security/key.p12", "trust_store", store.path
        )
    else:
        d.mapped("location", None, None, f"→ {store.path}")
    if not path.is_file():
        d.warn(
            "location",
            f"the key store file {path} does not exist; the generated "
            "configuration will not load until it does",
        )
        return
    try:
        with path.open("rb") as handle:
            magic = handle.read(4)
    except OSError as exc:
        d.warn("location", f"cannot read {path}: {exc.strerror}")
        return
    real = _JKS_MAGIC.get(magic)
    if real is not None:
        d.warn(
            "location",
            f"{path} is a {real} key store, which realmgate cannot read; "
            f"convert it: keytool -importkeystore -srckeystore {path.name} -srcstoretype "
            f"{real} -destkeystore {path.stem}.p12 -deststoretype PKCS12, then import "
            "again",
        )
    elif kind in ("JKS", "JCEKS"):
        d.mapped("type", None, None, f"type {kind}, but the file is PKCS#12 (read as such)")


def _password(ctx: ImportContext, d: Definition, store: Store) -> None:
    attr = d.attr("password")
    if attr is None:
        return
    resolved = ctx.xml.resolve(attr)
    env = None
    if re.fullmatch(r"\$\{[^${}]+\}", attr.raw.strip()) and len(resolved.used) == 1:
        _, definition = resolved.used[0]
        if definition.source == "env":
            env = definition.where  # the XML already takes it from this variable
    clear, encoding = decode_password(resolved.text)
    name = env or env_name("REALMGATE_KEYSTORE", store.keystore_id, "PASSWORD")
    store.password_env = name
    purpose = f"password of <keyStore> {store.keystore_id!r} ({attr.where})"
    ctx.need_env(name, purpose, attr.where, None if env else clear)
    note = "the password itself is never written"
    if env:
        note = f"read from the environment variable {env}, as in the XML"
    elif clear is None:
        note = f"it is {encoding}-encoded and cannot be decoded: set {name} to the clear password"
    else:
        note = f"set {name} to it ({encoding} in the XML); the password itself is never written"
    d.mapped("password", None, None, note)
    d.set("password_env", name, "password")


def _saf_placeholder(
    ctx: ImportContext,
    d: Definition,
    store: Store,
    saf: re.Match[str] | None,
    purpose: str,
    alias: str | None,
) -> None:
    ring = saf.group("ring") if saf else (d.value("location") or store.keystore_id)
    owner = (saf.group("owner") if saf else "") or "<server user>"
    safe_ring = re.sub(r"[^A-Za-z0-9.#@$_-]", "_", ring)
    label = alias or "<label>"
    if purpose == "sign":
        store.path = (
            f"{PLACEHOLDER_DIR}/{safe_ring}/{re.sub(r'[^A-Za-z0-9.#@$_-]', '_', label)}.p12"
        )
        how = (
            f"export the certificate {label!r} with its private key: RACDCERT ID({owner}) "
            f"EXPORT(LABEL('{label}')) DSN('…P12') FORMAT(PKCS12DER) PASSWORD('…'), copy "
            f"it in binary to {store.path}, and set key_password_env"
        )
    else:
        store.path = f"{PLACEHOLDER_DIR}/{safe_ring}"
        how = (
            f"export each trusted certificate (label {label!r}): RACDCERT ID({owner}) "
            f"EXPORT(LABEL('{label}')) DSN('…PEM') FORMAT(CERTB64), and copy it as text "
            f"to {store.path}/{label}.pem (the file name is the alias)"
        )
    store.placeholder = True
    store.saf_ring = ring
    store.notes.append(
        f"PLACEHOLDER: <keyStore> {store.keystore_id!r} is the SAF key ring "
        f"{ring!r} (owner {owner}), which cannot be read off z/OS; {how}"
    )
    location = d.attr("location")
    where = location.where if location is not None else d.element.where
    ctx.problem(
        "RG6112W",
        file=d.element.file,
        line=d.element.line,
        id=store.keystore_id,
        ring=ring,
        path=store.path,
        detail=how,
    )
    if d.has("location"):
        d.mapped("location", None, None, f"SAF key ring: placeholder {store.path} ({where})")
    if d.has("type"):
        d.mapped("type", None, None, "a SAF key ring type")
