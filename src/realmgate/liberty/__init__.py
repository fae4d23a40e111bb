"""Bring IBM Liberty definitions to realmgate: ``realmgate liberty import`` and ``check``.

:func:`import_server_xml` reads a server.xml (with includes and variables) and returns a
:class:`LibertyImport`: the TOML text, a report of every attribute, and the problems.
:func:`check_token` answers whether the imported definitions would accept a token.
"""

from __future__ import annotations

from realmgate.liberty.importer import LibertyImport, import_server_xml

__all__ = ["LibertyImport", "import_server_xml"]
