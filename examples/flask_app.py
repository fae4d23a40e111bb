"""A Flask application protected by realmgate's WSGI middleware.

Everything under /api needs a token; /api/ping and / do not (/ greets a known user anyway).

    REALMGATE_CONFIG=.realmgate/demo/realmgate.toml .venv/bin/flask --app examples.flask_app run

Django is the same: wrap ``application`` in ``wsgi.py`` and read ``request.META``.
"""

from __future__ import annotations

import os

from flask import Flask, jsonify, request

from realmgate.middleware import WSGIMiddleware


def create_app(config: str) -> Flask:
    app = Flask(__name__)

    @app.get("/")
    def home() -> str:
        identity = request.environ.get("realmgate.identity")
        return f"hello, {identity.local_user if identity else 'stranger'}\n"

    @app.get("/api/ping")
    def ping() -> str:
        return "pong\n"

    @app.get("/api/whoami")
    def whoami() -> object:
        identity = request.environ["realmgate.identity"]  # always set: /api needs a token
        return jsonify(
            local_user=identity.local_user,
            subject=identity.subject,
            realm=identity.realm,
            client=identity.client_id,
        )

    app.wsgi_app = WSGIMiddleware(  # type: ignore[method-assign]
        app.wsgi_app, config, require=["/api"], exempt=["=/api/ping"]
    )
    return app


if os.environ.get("REALMGATE_CONFIG"):
    app = create_app(os.environ["REALMGATE_CONFIG"])
