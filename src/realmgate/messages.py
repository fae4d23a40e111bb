"""The message catalogue: every refusal, warning and configuration problem has an id here.

An id is ``RG`` + four digits + a severity letter (``E`` error, ``W`` warning, ``I`` info,
``S`` severe: an internal fault). The first digit names the pipeline stage, so an operator
can tell from the id alone where to look:

==========  ===============================================================
``RG0xxx``  command line and HTTP input (usage)
``RG1xxx``  finding and parsing the token (extract, jws)
``RG2xxx``  choosing the trusted-client definition (select)
``RG3xxx``  keys and signature (keys, jws)
``RG4xxx``  claims: time, issuer, audience, replay (claims)
``RG5xxx``  identity mapping and the registry (mapping, registry)
``RG6xxx``  configuration (config, check, liberty import, trace spec)
``RG7xxx``  remote keys: JWKS and OIDC discovery
``RG8xxx``  the HTTP service, reload and shared state across nodes
``RG9xxx``  internal faults
==========  ===============================================================

Templates name their values (``{exp}``); :func:`render` fills them and shows a missing one
as ``<?>`` rather than failing, because a message about a failure must never fail itself.
"""

from __future__ import annotations

from realmgate import messages_config, messages_service, messages_token
from realmgate.catalogue import CATALOGUE, SEVERITIES, MessageDef, render

__all__ = ["CATALOGUE", "SEVERITIES", "MessageDef", "render"]

_LOADED = (messages_token, messages_config, messages_service)
"""Importing them fills CATALOGUE (each file defines one range of ids)."""
