"""realmgate: trust the signed JWTs of another system and run the work as the right local user.

The library surface::

    from realmgate import Verifier, RequestInfo
    verifier = Verifier("realmgate.toml")
    decision = verifier.verify(token, RequestInfo.build(headers, remote_addr="10.1.2.3"))
    if decision.accepted:
        run_as(decision.local_user)
    else:
        print(decision.message_id, decision.reason)
"""

from realmgate.builder import TokenBuilder
from realmgate.decision import Decision
from realmgate.errors import (
    ClaimRefused,
    ConfigError,
    IdentityNotMapped,
    InvalidToken,
    KeysUnavailable,
    NoDefinition,
    RealmgateError,
    TokenRefused,
)
from realmgate.request import RequestInfo
from realmgate.trace import TraceLevel
from realmgate.verifier import Verifier

__all__ = [
    "ClaimRefused",
    "ConfigError",
    "Decision",
    "IdentityNotMapped",
    "InvalidToken",
    "KeysUnavailable",
    "NoDefinition",
    "RealmgateError",
    "RequestInfo",
    "TokenBuilder",
    "TokenRefused",
    "TraceLevel",
    "Verifier",
]

__version__ = "0.1.0"
