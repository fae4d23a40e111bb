"""``realmgate liberty check``: would this Liberty configuration accept this token, as which
user, and if not, why?

The definitions are imported in memory and the generated TOML is loaded with
:func:`realmgate.config.parse_config` under a name in server.xml's directory, so relative
paths resolve as they would next to it; nothing is written. ``[[issuer]]`` tables are left
out: checking a token never signs one, and their key files need not be present.

Key store passwords known from the XML (clear text or ``{xor}``) are handed to the loader
through the environment variables the TOML names, set for the duration of the load only
and only when the user has not set them; the process starts no other program meanwhile.

Identity mapping: with ``--registry PATH`` the SQLite registry there is used (read only).
Without it, a definition with ``map_to_registry_user`` (Liberty's
``mapIdentityToRegistryUser="true"``) runs as the user claim, and any other refuses with
RG5001E, since nothing maps the (user, realm) pair.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from realmgate.decision import Decision
from realmgate.errors import ConfigError, RealmgateError, RegistryError
from realmgate.liberty.importer import LibertyImport, import_server_xml
from realmgate.registry import IdentityRegistry, MappingRule, SQLiteRegistry
from realmgate.request import RequestInfo

_ENV_LOCK = threading.Lock()
_COMMENT_SOURCE = re.compile(r"#\s*(.+)$")


class EmptyRegistry:
    """A registry with no rule: every mapping is refused (RG5001E). Read only."""

    def add(self, rule: MappingRule) -> None:
        raise RegistryError("RG5002E", detail="no registry given (--registry PATH)")

    def remove(self, user: str, realm: str) -> MappingRule:
        raise RegistryError("RG5004E", user=user, realm=realm)

    def rules(self) -> list[MappingRule]:
        return []

    def generation(self) -> int:
        return 0

    def close(self) -> None:
        return None


@dataclass
class CheckResult:
    imported: LibertyImport
    toml: str
    decision: Decision | None = None
    config_problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)
    """Definition id → the Liberty element it came from."""


def check_token(
    path: str | Path,
    token: str | None,
    request: RequestInfo | None = None,
    *,
    registry_path: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
    variables: Mapping[str, str] | None = None,
    keystore_files: Mapping[str, Path] | None = None,
    clock: Callable[[], float] = time.time,
) -> CheckResult:
    """Import ``path`` in memory and verify ``token`` (or the token in ``request``'s
    headers when ``token`` is None). ``decision`` stays None when the imported definitions
    cannot be loaded (``config_problems`` says why)."""
    from realmgate.config import parse_config
    from realmgate.verifier import Verifier

    source = Path(path)
    imported = import_server_xml(
        source,
        out_dir=source.parent,
        environ=environ,
        variables=variables,
        keystore_files=keystore_files,
    )
    text = imported.toml(include_issuers=False)
    result = CheckResult(imported, text)
    result.sources = {str(t.get("id")): t.header for t in imported.tables if t.kind == "client"}
    if not imported.files:
        return result
    name = str(source.with_name(source.name + ".imported.toml"))
    try:
        with _secrets(imported, os.environ if environ is None else environ):
            config = parse_config(text, name)
    except ConfigError as exc:
        result.config_problems = [_with_source(p, text) for p in exc.problems]
        return result
    if not config.clients:
        result.notes.append("no definition was imported, so no token can be accepted")
    registry: IdentityRegistry
    if registry_path is not None:
        registry = SQLiteRegistry(registry_path, create=False)
    else:
        registry = EmptyRegistry()
        if any(not c.map_to_registry_user for c in config.clients):
            result.notes.append(
                'no --registry given: a definition without mapIdentityToRegistryUser="true" '
                "refuses every token with RG5001E; pass --registry PATH to test the mapping"
            )
    try:
        verifier = Verifier(config, registry=registry, clock=clock)
        if token is None and request is not None:
            result.decision = verifier.verify_request(request, explain=True)
        else:
            result.decision = verifier.verify(token or "", request, explain=True)
    finally:
        registry.close()
    chosen = config.client(result.decision.client_id or "")
    if request is None and chosen is not None and chosen.auth_filter is not None:
        result.notes.append(
            f"no request details given (--remote-addr, --url, -H): the auth filter "
            f"{chosen.auth_filter!r} of {chosen.id!r} was not evaluated"
        )
    _liberty_notes(result)
    return result


@contextmanager
def _secrets(imported: LibertyImport, environ: Mapping[str, str]) -> Iterator[None]:
    """Set the variables the TOML reads for the duration of the load: the user's value
    (from ``environ``) when there is one, else the password known from the XML."""
    values: dict[str, str] = {}
    for need in imported.env:
        if need.name in environ:
            values[need.name] = environ[need.name]
        elif need.name in imported.secrets:
            values[need.name] = imported.secrets[need.name]
    with _ENV_LOCK:
        saved = {k: os.environ.get(k) for k in values}
        os.environ.update(values)
        try:
            yield
        finally:
            for key, old in saved.items():
                if old is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = old


def _with_source(problem: RealmgateError, text: str) -> str:
    """The load problem, with the Liberty attribute its TOML line came from."""
    line = problem.values.get("line")
    lines = text.splitlines()
    if isinstance(line, int) and 0 < line <= len(lines):
        found = _COMMENT_SOURCE.search(lines[line - 1])
        if found:
            return f"{problem.text} [from {found.group(1).strip()}]"
    return problem.text


def _liberty_notes(result: CheckResult) -> None:
    decision = result.decision
    if decision is None or decision.accepted:
        return
    if decision.message_id == "RG4013E":
        result.notes.append(
            'Liberty accepts tokens without jti even with tokenReuse="false"; realmgate '
            "refuses them so that replay protection cannot be bypassed. Set "
            'tokenReuse="true" (token_reuse = true) if the issuer sets no jti.'
        )
    if decision.message_id and decision.message_id.startswith("RG2"):
        issuers = sorted({i for t in result.imported.clients() for i in _strings(t.get("issuers"))})
        result.notes.append(f"imported issuers: {', '.join(issuers) or '(none)'}")


def _strings(value: object) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []
