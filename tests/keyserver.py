"""A loopback HTTP server for remote-key tests: it serves JWK Sets and discovery documents
with controllable status, delay, body and headers, and records every request it gets.

Real sockets and a real HTTP exchange (``http.server`` on 127.0.0.1, an OS-chosen port), so
the fetch code under test runs exactly as it would against an issuer.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from realmgate.builder import TokenBuilder
from realmgate.jws_sign import sign_compact
from realmgate.keys.jwk import public_jwk
from realmgate.keys.signing import signing_key_from_private


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    at: float


class KeyServer:
    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.log: list[Request] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                try:
                    self._answer()
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up first (timeout tests): nothing to tell it

            def _answer(self) -> None:
                with server._lock:
                    server.log.append(
                        Request(
                            self.path,
                            {k.lower(): v for k, v in self.headers.items()},
                            time.monotonic(),
                        )
                    )
                    route = server.routes.get(self.path)
                if route is None:
                    route = Route(b'{"error": "not found"}', 404)
                if route.delay:
                    time.sleep(route.delay)
                etag = route.headers.get("ETag")
                if etag is not None and self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(route.status)
                for name, value in route.headers.items():
                    self.send_header(name, value)
                if "Content-Type" not in route.headers:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(route.body)))
                self.end_headers()
                self.wfile.write(route.body)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # the request log above is the record; keep test output clean

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                # A client that gave up (the timeout tests) resets its connection; that is
                # the test's point, not an error worth a traceback in the output.
                if not isinstance(sys.exc_info()[1], ConnectionError):
                    super().handle_error(request, client_address)

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.base + path

    def set(
        self, path: str, body: Any, status: int = 200, delay: float = 0.0, **headers: str
    ) -> None:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        fixed = {k.replace("_", "-"): v for k, v in headers.items()}
        with self._lock:
            self.routes[path] = Route(raw, status, fixed, delay)

    def requests(self, path: str | None = None) -> list[Request]:
        with self._lock:
            return [r for r in self.log if path is None or r.path == path]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@contextmanager
def key_server() -> Iterator[KeyServer]:
    server = KeyServer()
    try:
        yield server
    finally:
        server.close()


class Issuer:
    """An issuer with RSA signing keys; publishes a JWK Set and signs tokens."""

    def __init__(self, iss: str, keys: dict[str, rsa.RSAPrivateKey]) -> None:
        self.iss = iss
        self.keys = dict(keys)

    def jwks(self, *kids: str) -> dict[str, Any]:
        chosen = kids or tuple(self.keys)
        return {"keys": [public_jwk(self.keys[k], kid=k, alg="RS256") for k in chosen]}

    def sign(self, kid: str, claims: dict[str, Any]) -> str:
        key = signing_key_from_private(self.keys[kid], source="test", kid=kid)
        return sign_compact(claims, key, "RS256", kid=kid)

    def token(self, kid: str, subject: str = "alice", ttl: int = 600, **extra: Any) -> str:
        key = signing_key_from_private(self.keys[kid], source="test", kid=kid)
        builder = TokenBuilder(key, "RS256", self.iss, kid=kid)
        return builder.build(subject, ttl=ttl, audience="api", extra=extra or None)
