"""ASGI and WSGI middleware, through the example applications in examples/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from realmgate.errors import UsageError
from realmgate.middleware import PathRules
from tests.serverkit import Env, make_env

starlette_testclient = pytest.importorskip("starlette.testclient")
flask = pytest.importorskip("flask")


@pytest.fixture
def env(tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> Env:
    return make_env(tmp_path, rsa_key)


@pytest.fixture(params=["starlette", "flask"])
def client(request: pytest.FixtureRequest, env: Env) -> Any:
    if request.param == "starlette":
        from examples.starlette_app import create_app

        return starlette_testclient.TestClient(create_app(str(env.config)))
    from examples.flask_app import create_app as create_flask

    return create_flask(str(env.config)).test_client()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def body(response: Any) -> str:
    return response.text if hasattr(response, "text") else response.get_data(as_text=True)


def test_protected_route_gets_the_identity(client: Any, env: Env) -> None:
    response = client.get("/api/whoami", headers=bearer(env.token()))
    assert response.status_code == 200
    # Starlette's response.json is a method, Flask's a property.
    data = response.json() if callable(response.json) else response.json
    assert data == {"local_user": "ALICE01", "subject": "alice", "realm": "DEMO",
                    "client": "test-client"}  # fmt: skip


def test_protected_route_refuses_like_forward_auth(client: Any, env: Env) -> None:
    missing = client.get("/api/whoami")
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"] == "Bearer"
    expired = client.get("/api/whoami", headers=bearer(env.expired()))
    assert expired.status_code == 401
    assert expired.headers["X-Realmgate-Message"] == "RG4001E"
    assert expired.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token"')
    unmapped = client.get("/api/whoami", headers=bearer(env.token("mallory")))
    assert unmapped.status_code == 403
    assert unmapped.headers["X-Realmgate-Message"] == "RG5001E"


def test_exempt_and_open_routes(client: Any, env: Env) -> None:
    assert client.get("/api/ping").status_code == 200
    assert body(client.get("/")) == "hello, stranger\n"
    assert body(client.get("/", headers=bearer(env.token()))) == "hello, ALICE01\n"
    # A bad token on an open route is not an error; there is just no identity.
    response = client.get("/", headers=bearer(env.expired()))
    assert response.status_code == 200 and body(response) == "hello, stranger\n"


def test_path_rules() -> None:
    rules = PathRules(require=["/api", "=/admin"], exempt=["/api/public", "=/api/ping"])
    assert rules.requires_token("/api") and rules.requires_token("/api/x")
    assert not rules.requires_token("/apix")
    assert rules.requires_token("/admin") and not rules.requires_token("/admin/x")
    assert not rules.requires_token("/api/public/doc") and not rules.requires_token("/api/ping")
    assert rules.requires_token("/api/ping/x")
    assert PathRules().requires_token("/anything")
    with pytest.raises(UsageError) as info:
        PathRules(require=["api"])
    assert info.value.message_id == "RG8050E"
