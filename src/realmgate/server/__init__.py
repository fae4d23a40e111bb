"""The HTTP service: forward-auth, verify API, key publishing, health, metrics, admin.

``realmgate serve`` runs :class:`~realmgate.server.app.RealmgateApp` under uvicorn; see
docs/server.md.
"""

from realmgate.server.app import RealmgateApp, create_app
from realmgate.server.service import Service

__all__ = ["RealmgateApp", "Service", "create_app"]
