"""Liberty configuration variables: ``${name}`` in attribute values.

Where a value comes from, later sources overriding earlier ones (Liberty's order):

1. ``defaultValue`` of a ``<variable>`` in server.xml;
2. the environment: ``NAME`` as written, then upper-cased with every character that is
   not a letter or digit turned into ``_`` (``izu.https.port`` → ``IZU_HTTPS_PORT``,
   Liberty 19.0.0.3 and later);
3. ``bootstrap.properties`` next to server.xml;
4. (Java system properties: not available outside the JVM);
5. ``value`` of a ``<variable>`` in server.xml, the last one read winning;
6. variables given on the command line (``--var NAME=VALUE``).

``${env.NAME}`` reads only the environment. Liberty's predefined location variables
(``server.config.dir``, ``server.output.dir``) default to the directory of server.xml;
give ``wlp.user.dir`` and the like with ``--var`` when the configuration uses them.

A value may itself contain ``${…}``; such references are resolved too (a cycle is
reported). ``${list(name)}`` gives the value of ``name`` (a comma-separated list is written
the same way here), and ``${a+b}``, ``-``, ``*``, ``/`` do integer arithmetic on variables or
numbers, as Liberty does. A reference that cannot be resolved is kept as written, which is
also what Liberty does, and reported.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

_REFERENCE = re.compile(r"\$\{([^${}]*)\}")
_ARITHMETIC = re.compile(r"^\s*([\w.]+)\s*([+\-*/])\s*([\w.]+)\s*$")
_LIST = re.compile(r"^\s*list\(\s*([^()]+?)\s*\)\s*$")
_PROPERTY = re.compile(r"([^=:\s]+)\s*[=:]?\s*(.*)$")
MAX_DEPTH = 16


@dataclass(frozen=True, slots=True)
class Definition:
    """Where a variable got its value: ``source`` is ``variable``, ``default``, ``env``,
    ``bootstrap``, ``command line`` or ``built-in``; ``where`` is file:line or a name."""

    value: str
    source: str
    where: str


@dataclass
class Resolved:
    """An attribute value after substitution, with what was used to build it."""

    text: str
    used: list[tuple[str, Definition]] = field(default_factory=list)
    unresolved: list[str] = field(default_factory=list)
    cycles: list[str] = field(default_factory=list)

    @property
    def substituted(self) -> bool:
        return bool(self.used)


def env_name_variants(name: str) -> list[str]:
    """The environment variable names Liberty tries for ``${name}``."""
    upper = re.sub(r"[^A-Za-z0-9]", "_", name).upper()
    return [name] if upper == name else [name, upper]


class Variables:
    """The variable sources of one configuration; see the module docstring."""

    def __init__(
        self,
        environ: Mapping[str, str],
        *,
        command_line: Mapping[str, str] | None = None,
        bootstrap: Mapping[str, str] | None = None,
        built_in: Mapping[str, str] | None = None,
    ) -> None:
        self.environ = environ
        self.command_line = dict(command_line or {})
        self.bootstrap = dict(bootstrap or {})
        self.built_in = dict(built_in or {})
        self.values: dict[str, Definition] = {}
        self.defaults: dict[str, Definition] = {}

    def define(self, name: str, value: str | None, default: str | None, where: str) -> None:
        """A ``<variable>`` element; a later one replaces an earlier one's value/default."""
        if value is not None:
            self.values[name] = Definition(value, "variable", where)
        if default is not None:
            self.defaults[name] = Definition(default, "default", where)

    def lookup(self, name: str) -> Definition | None:
        if name.startswith("env."):
            found = self.environ.get(name[4:])
            return None if found is None else Definition(found, "env", name[4:])
        if name in self.command_line:
            return Definition(self.command_line[name], "command line", name)
        if name in self.values:
            return self.values[name]
        if name in self.bootstrap:
            return Definition(self.bootstrap[name], "bootstrap", "bootstrap.properties")
        for candidate in env_name_variants(name):
            if candidate in self.environ:
                return Definition(self.environ[candidate], "env", candidate)
        if name in self.built_in:
            return Definition(self.built_in[name], "built-in", name)
        return self.defaults.get(name)

    def resolve(self, text: str) -> Resolved:
        result = Resolved(text)
        result.text = self._expand(text, result, [])
        return result

    def _expand(self, text: str, result: Resolved, active: list[str]) -> str:
        if "${" not in text:
            return text

        def replace(match: re.Match[str]) -> str:
            expression = match.group(1)
            value = self._evaluate(expression, result, active)
            return match.group(0) if value is None else value

        return _REFERENCE.sub(replace, text)

    def _evaluate(self, expression: str, result: Resolved, active: list[str]) -> str | None:
        name = expression.strip()
        listed = _LIST.match(name)
        if listed:
            name = listed.group(1)
        definition = self.lookup(name)
        if definition is None:
            return self._arithmetic(name, result, active)
        if name in active or len(active) >= MAX_DEPTH:
            result.cycles.append(" → ".join([*active, name]))
            return None
        result.used.append((name, definition))
        return self._expand(definition.value, result, [*active, name])

    def _arithmetic(self, expression: str, result: Resolved, active: list[str]) -> str | None:
        parts = _ARITHMETIC.match(expression)
        if parts is None:
            result.unresolved.append(expression)
            return None
        operands: list[int] = []
        for operand in (parts.group(1), parts.group(3)):
            text = (
                operand
                if operand.lstrip("-").isdigit()
                else self._evaluate(operand, result, active)
            )
            if text is None or not text.strip().lstrip("-").isdigit():
                if text is not None:
                    result.unresolved.append(expression)
                return None
            operands.append(int(text))
        left, right = operands
        operator = parts.group(2)
        if operator == "/" and right == 0:
            result.unresolved.append(expression)
            return None
        value = {
            "+": left + right,
            "-": left - right,
            "*": left * right,
            "/": int(left / right),  # Java's integer division truncates toward zero
        }[operator]
        return str(value)


def read_bootstrap(path: Path) -> dict[str, str]:
    """``key=value`` pairs of a Java properties file (``#``/``!`` comments, ``\\``
    continuations, surrounding double quotes removed as Liberty does). Missing: empty."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return {}
    values: dict[str, str] = {}
    pending = ""
    for raw in text.splitlines():
        line = pending + raw.lstrip()
        pending = ""
        if line.endswith("\\") and not line.endswith("\\\\"):
            pending = line[:-1]
            continue
        if not line or line[0] in "#!":
            continue
        parts = _PROPERTY.match(line)
        if parts is None:
            continue
        key, value = parts.group(1), parts.group(2).strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        values[key] = value
    return values
