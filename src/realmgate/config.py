"""Load the TOML configuration into frozen :mod:`realmgate.configmodel` objects.

Every problem is collected, with its file and line, before anything fails: an operator
fixing a configuration should see the whole list at once, not one error per restart.
``tomllib`` gives no line numbers, so :mod:`realmgate.configlines` locates each table and
key in the text.

``include = ["other.toml"]`` reads further files (relative to the including one). Their
``[[client]]``, ``[[auth_filter]]`` and ``[[issuer]]`` tables come after the including
file's; in the single tables (``[registry]``, ``[server]``…) a key set by the including file
wins. A file is read once even if several files include it; a cycle is a problem.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from types import MappingProxyType
from typing import Any

from realmgate.configclient import CLIENT_KEYS, build_client
from realmgate.configlines import LineMap, TableSpan, toml_error_line
from realmgate.configmodel import (
    AuthFilterSpec,
    ClientDefinition,
    Config,
    FilterCondition,
    Limits,
    LocalIssuer,
    Location,
    RegistrySettings,
)
from realmgate.configvalues import Locate, Problems, Source, TableReader
from realmgate.errors import ConfigError, RealmgateError
from realmgate.filters import canonical_match, compile_condition
from realmgate.keys.discovery import allow_entry_problem
from realmgate.keys.material import ALL_ALGS

ARRAY_TABLES = ("client", "auth_filter", "issuer")
SINGLE_TABLES = ("registry", "limits", "discovery", "trace")
PASS_THROUGH = ("server", "admin", "replay", "demo")
TOP_LEVEL = ("include", *ARRAY_TABLES, *SINGLE_TABLES, *PASS_THROUGH)
FILTER_KEYS = ("id", "condition")
CONDITION_KEYS = ("kind", "match", "value", "name")
ISSUER_KEYS = ("id", "issuer", "key", "algorithm", "kid", "key_password_env", "key_alias",
               "ttl", "audiences")  # fmt: skip
SECTION_KEYS = {
    "registry": ("path", "url"),
    "limits": (
        "max_token_bytes",
        "max_header_bytes",
        "max_body_bytes",
        "verified_cache_entries",
        "verified_cache_bytes",
    ),
    "discovery": ("allow",),
    "trace": ("spec",),
}
_TOP = "the top level"


def load_config(path: str | Path) -> Config:
    """Read and check a configuration file; raises :class:`ConfigError` listing every
    problem (``RG6001E`` when the file itself cannot be read)."""
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError(file, [RealmgateError("RG6001E", file=file, detail=detail)]) from None
    return parse_config(text, file)


def parse_config(text: str, path: str) -> Config:
    """Build a :class:`Config` from TOML text; ``path`` names the file in messages and its
    directory anchors relative paths (includes, trust stores, keys)."""
    return _Loader(path).load(text)


class _Loader:
    def __init__(self, path: str) -> None:
        self.path = path
        self.problems = Problems()
        self.files: list[str] = []
        self.ranks = 0
        self.seen: set[Path] = set()
        self.arrays: dict[str, list[tuple[Source, TableSpan, Any]]] = {n: [] for n in ARRAY_TABLES}
        self.sections: dict[str, dict[str, tuple[Any, Source, int]]] = {}
        self.headers: dict[str, tuple[Source, int]] = {}

    def load(self, text: str) -> Config:
        main = Path(self.path)
        self._read(text, self.path, main.parent, [main.resolve()])
        filters = self._filters()
        clients = self._clients(set(self._ids("auth_filter")))
        issuers = self._issuers()
        registry, limits, allow, spec = self._single_tables()
        if len(self.problems):
            raise ConfigError(self.path, self.problems.sorted())
        return Config(
            path=self.path,
            clients=clients,
            filters=MappingProxyType(filters),
            issuers=issuers,
            registry=registry,
            limits=limits,
            discovery_allow=allow,
            trace_spec=spec,
            sections=MappingProxyType(
                {
                    name: MappingProxyType({k: v[0] for k, v in self.sections[name].items()})
                    for name in PASS_THROUGH
                    if name in self.sections
                }
            ),
            files=tuple(dict.fromkeys(self.files)),
        )

    # --- reading files ----------------------------------------------------------------

    def _read(self, text: str, file: str, base: Path, chain: list[Path]) -> None:
        self.files.append(str(chain[-1]))
        self.seen.add(chain[-1])
        lines = LineMap(text)
        source = Source(file, base, lines, self.ranks)
        self.ranks += 1
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            line = toml_error_line(str(exc), lines.last_line)
            self.problems.add(source, line, "RG6002E", detail=str(exc))
            return
        root = TableReader(
            data, _TOP, self.problems, lambda k: (source, _root_line(lines, k)), TOP_LEVEL
        )
        for name in ARRAY_TABLES:
            if name not in data:
                continue
            value = data[name]
            if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
                root.bad(name, f"write it as [[{name}]] tables")
                continue
            spans = lines.items(name)
            for index, item in enumerate(value):
                span = (
                    spans[index]
                    if index < len(spans)
                    else TableSpan((name,), True, _root_line(lines, name))
                )
                self.arrays[name].append((source, span, item))
        for name in (*SINGLE_TABLES, *PASS_THROUGH):
            if name not in data:
                continue
            if not isinstance(data[name], dict):
                root.bad(name, f"write it as a [{name}] table")
                continue
            span = lines.table(name)
            self.headers.setdefault(name, (source, span.line))
            merged = self.sections.setdefault(name, {})
            for key, value in data[name].items():
                merged.setdefault(key, (value, source, span.line_of(key)))
        includes = () if data.get("include") == [] else root.strings("include") or ()
        for include in includes:
            self._include(root, include, base, chain)

    def _include(self, root: TableReader, name: str, base: Path, chain: list[Path]) -> None:
        target = base / Path(name).expanduser()
        resolved = target.resolve()
        if resolved in chain:
            cycle = " → ".join(p.name for p in [*chain[chain.index(resolved) :], resolved])
            root.bad("include", f"include cycle: {cycle}")
            return
        if resolved in self.seen:
            return
        try:
            text = target.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            root.bad("include", f"cannot read {target}: {reason}")
            return
        self._read(text, str(target), target.parent, [*chain, resolved])

    # --- tables -----------------------------------------------------------------------

    def _reader(self, name: str, index: int, known: tuple[str, ...]) -> TableReader:
        source, span, data = self.arrays[name][index]
        ident = data.get("id")
        label = f"[[{name}]] {ident!r}" if isinstance(ident, str) else f"[[{name}]] #{index + 1}"
        return TableReader(data, label, self.problems, _span_locate(source, span), known)

    def _ids(self, name: str) -> list[str]:
        """The ids of an array table, reporting duplicates (RG6007E) once."""
        first: dict[str, tuple[Source, int]] = {}
        for source, span, data in self.arrays[name]:
            value = data.get("id")
            if not isinstance(value, str):
                continue
            line = span.line_of("id")
            if value in first:
                where, first_line = first[value]
                shown = first_line if where is source else f"{where.file}:{first_line}"
                self.problems.add(source, line, "RG6007E", id=value, first_line=shown)
            else:
                first[value] = (source, line)
        return list(first)

    def _filters(self) -> dict[str, AuthFilterSpec]:
        filters: dict[str, AuthFilterSpec] = {}
        for index, (source, span, _) in enumerate(self.arrays["auth_filter"]):
            reader = self._reader("auth_filter", index, FILTER_KEYS)
            filter_id = reader.string("id", required=True) or f"#{index + 1}"
            raw = reader.data.get("condition")
            if not raw:  # no conditions would accept every request while looking restrictive
                reader.missing("condition")
                continue
            if not isinstance(raw, list) or not all(isinstance(c, dict) for c in raw):
                reader.bad("condition", "write conditions as [[auth_filter.condition]] tables")
                continue
            spans = source.lines.children(span, "condition")
            conditions = []
            for number, data in enumerate(raw):
                cspan = (
                    spans[number]
                    if number < len(spans)
                    else TableSpan((*span.path, "condition"), True, span.line_of("condition"))
                )
                condition = self._condition(reader.label, source, cspan, data, filter_id)
                if condition is not None:
                    conditions.append(condition)
            if not reader.failed and filter_id not in filters:
                filters[filter_id] = AuthFilterSpec(
                    filter_id, tuple(conditions), Location(source.file, span.line)
                )
        return filters

    def _condition(
        self, label: str, source: Source, span: TableSpan, data: dict[str, Any], filter_id: str
    ) -> FilterCondition | None:
        reader = TableReader(
            data, f"condition of {label}", self.problems, _span_locate(source, span), CONDITION_KEYS
        )
        kind = reader.string("kind", required=True)
        match = reader.string("match", "contains") or "contains"
        value = reader.string("value")
        name = reader.string("name")
        if reader.failed or kind is None:
            return None
        condition = FilterCondition(
            kind, canonical_match(match) or match, value, name, Location(source.file, span.line)
        )
        try:
            compile_condition(condition, filter_id, source.file)
        except RealmgateError as problem:
            self.problems.add_error(source.rank, problem)
            return None
        return condition

    def _clients(self, filter_ids: set[str]) -> tuple[ClientDefinition, ...]:
        self._ids("client")
        clients: list[ClientDefinition] = []
        use_issuer: dict[str, list[tuple[str, Source, int]]] = {}
        for index, (source, span, data) in enumerate(self.arrays["client"]):
            reader = self._reader("client", index, CLIENT_KEYS)
            definition = build_client(reader, index, self.files)
            ref = data.get("auth_filter")
            if isinstance(ref, str) and ref not in filter_ids:
                reader.problem("RG6010E", "auth_filter", table=reader.label, ref=ref)
            # allow_issuer_selection forces use_issuer on, so it claims the issuer too.
            if data.get("use_issuer") is True or data.get("allow_issuer_selection") is True:
                for issuer in _issuer_list(data.get("issuers")):
                    use_issuer.setdefault(issuer, []).append(
                        (str(data.get("id")), source, span.line_of("use_issuer"))
                    )
            if definition is not None:
                clients.append(definition)
        for issuer, claims in use_issuer.items():
            if len(claims) > 1:
                _, source, line = claims[1]
                names = ", ".join(repr(c[0]) for c in claims)
                self.problems.add(source, line, "RG6013E", clients=names, iss=issuer)
        return tuple(clients)

    def _issuers(self) -> tuple[LocalIssuer, ...]:
        self._ids("issuer")
        issuers: list[LocalIssuer] = []
        for index in range(len(self.arrays["issuer"])):
            reader = self._reader("issuer", index, ISSUER_KEYS)
            issuer_id = reader.string("id", required=True) or f"#{index + 1}"
            issuer = reader.string("issuer", required=True) or ""
            key = reader.path("key", required=True)
            if key is not None and not key.exists():
                reader.problem(
                    "RG6006E", "key", path=str(key), table=reader.label, detail="no such file"
                )
            algorithm = reader.string("algorithm", required=True) or ""
            if algorithm and algorithm not in ALL_ALGS:
                detail = (
                    "'none' means unsigned tokens, which realmgate never issues"
                    if algorithm.lower() == "none"
                    else "not a supported JWS algorithm"
                )
                reader.problem(
                    "RG6005E", "algorithm", alg=algorithm, table=reader.label, detail=detail
                )
            local = LocalIssuer(
                id=issuer_id,
                issuer=issuer,
                key=str(key),
                algorithm=algorithm,
                location=Location(reader.locate(None)[0].file, reader.line()),
                kid=reader.string("kid"),
                key_password_env=reader.string("key_password_env"),
                key_alias=reader.string("key_alias"),
                ttl=reader.integer("ttl", 600, minimum=1) or 600,
                audiences=reader.strings("audiences") or (),
            )
            if not reader.failed:
                issuers.append(local)
        return tuple(issuers)

    def _single_tables(self) -> tuple[RegistrySettings, Limits, tuple[str, ...], str]:
        def reader(name: str) -> TableReader:
            origins = self.sections.get(name, {})
            header = self.headers.get(name)

            def locate(key: str | None) -> tuple[Source, int]:
                if key is not None and key in origins:
                    return origins[key][1], origins[key][2]
                assert header is not None  # only reached for keys present in the table
                return header

            data = {k: v[0] for k, v in origins.items()}
            return TableReader(data, f"[{name}]", self.problems, locate, SECTION_KEYS[name])

        registry = reader("registry")
        settings = RegistrySettings(path=registry.string("path"), url=registry.string("url"))
        if registry.has("path") and registry.has("url"):
            registry.problem("RG6014E", "url", table="[registry]", keys="path and url")
        limits_reader = reader("limits")
        defaults = Limits()
        sizes: dict[str, int] = {}
        for key in SECTION_KEYS["limits"]:
            default: int = getattr(defaults, key)
            sizes[key] = limits_reader.integer(key, default, minimum=1) or default
        limits = Limits(**sizes)
        discovery = reader("discovery")
        allow = () if discovery.data.get("allow") == [] else discovery.strings("allow") or ()
        for entry in allow:
            problem = allow_entry_problem(entry)
            if problem is not None:
                discovery.bad("allow", problem)
        spec = reader("trace").string("spec", "*=info") or "*=info"
        return settings, limits, allow, spec


def _span_locate(source: Source, span: TableSpan) -> Locate:
    return lambda key: (source, span.line_of(key) if key else span.line)


def _root_line(lines: LineMap, key: str | None) -> int:
    """A top-level key's line: its ``[key]``/``[[key]]`` header or its ``key =`` line."""
    return lines.table(key).line if key else 1


def _issuer_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []
