"""The admin endpoints, served only on their own listener (``[admin] listen`` or ``socket``).

Off by default. Every call needs ``Authorization: Bearer <token>`` where the token is the
value of the environment variable named by ``[admin] token_env`` (at least 16 characters,
compared in constant time). A unix socket is created mode 0600 as well, so only its owner can
connect at all. Endpoints::

    GET    /admin/mappings            every mapping rule
    POST   /admin/mappings            {"user", "realm", "local_user", "label"?}  → 201
    DELETE /admin/mappings            {"user", "realm"}                          → the rule
    POST   /admin/reload              reload the configuration (200, or 422 and the problems)
    GET    /admin/trace               the trace specification in force
    PUT    /admin/trace               {"spec": "*=info:realmgate.keys=fine"}
    GET    /admin/status              configuration file, generation, files watched

Mapping changes go to the registry and are in force at once in this process (and within the
mapper's refresh interval in every other process sharing the registry).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from typing import Any

from realmgate.errors import RealmgateError, RegistryError
from realmgate.registry import MappingRule
from realmgate.server.httpio import (
    HttpError,
    HttpRequest,
    Receive,
    Scope,
    Send,
    respond_error,
    respond_json,
)
from realmgate.server.service import Service

log = logging.getLogger("realmgate.server.admin")

MIN_TOKEN_CHARS = 16
_STATUS_BY_ID = {"RG5003E": 400, "RG5004E": 404, "RG5005E": 409}


def _text_field(body: dict[str, Any], name: str, *, required: bool = True) -> str | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise HttpError(400, "RG8023E", detail=f"the field {name!r} must be a non-empty string")
    return value


class AdminApp:
    """ASGI callable for the admin listener."""

    def __init__(self, service: Service, token: str) -> None:
        if len(token) < MIN_TOKEN_CHARS:
            raise ValueError("admin token too short")
        self.service = service
        self._token = token.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["type"] != "http":
            return
        try:
            request = HttpRequest(scope, receive, self.service.state.config.limits.max_header_bytes)
            self._authorize(request)
            status, value = await self._dispatch(request)
            await respond_json(send, status, value)
        except HttpError as exc:
            await respond_error(send, exc)
        except Exception:
            log.exception("admin request %s %s failed", scope.get("method"), scope.get("path"))
            error = HttpError(500, "RG9001S", during="an admin request", detail="see log")
            await respond_error(send, error)

    def _authorize(self, request: HttpRequest) -> None:
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise HttpError(401, "RG8020E", [("www-authenticate", "Bearer")], detail="no token")
        if not hmac.compare_digest(value.strip().encode(), self._token):
            log.warning("admin request with a wrong token from %s", request.peer or "unix socket")
            raise HttpError(
                401,
                "RG8020E",
                [("www-authenticate", 'Bearer error="invalid_token"')],
                detail="wrong token",
            )

    async def _body(self, request: HttpRequest) -> dict[str, Any]:
        state = self.service.state
        return await request.json_object(
            state.config.limits.max_body_bytes, state.settings.server.request_timeout
        )

    async def _dispatch(self, request: HttpRequest) -> tuple[int, Any]:
        key = (request.method, request.path.rstrip("/") or "/")
        if key == ("GET", "/admin/mappings"):
            mapper = self.service.state.verifier.mapper
            rules = await asyncio.to_thread(mapper.registry.rules)
            return 200, {"mappings": [r.to_dict() for r in rules]}
        if key == ("POST", "/admin/mappings"):
            return await self._add(await self._body(request))
        if key == ("DELETE", "/admin/mappings"):
            return await self._remove(await self._body(request))
        if key == ("POST", "/admin/reload"):
            outcome = await self.service.reload("admin endpoint")
            if outcome.ok and self.service.on_admin_reload is not None:
                self.service.on_admin_reload()
            return (200 if outcome.ok else 422), outcome.to_dict()
        if key == ("GET", "/admin/trace"):
            from realmgate.tracespec import current_trace_spec

            spec = current_trace_spec()
            return 200, {"spec": str(spec) if spec else self.service.state.config.trace_spec}
        if key == ("PUT", "/admin/trace"):
            return self._trace(await self._body(request))
        if key == ("GET", "/admin/status"):
            state = self.service.state
            return 200, {
                "config": state.config.path,
                "generation": state.generation,
                "mapper_generation": state.verifier.mapper.generation,
                "files": list(state.config.files),
                "loaded_at": state.loaded_at,
            }
        raise HttpError(404, "RG8003E", method=request.method, path=request.path[:200])

    async def _add(self, body: dict[str, Any]) -> tuple[int, Any]:
        rule = MappingRule(
            user=_text_field(body, "user") or "",
            realm=_text_field(body, "realm") or "",
            local_user=_text_field(body, "local_user") or "",
            label=_text_field(body, "label", required=False),
        )
        mapper = self.service.state.verifier.mapper
        try:
            await asyncio.to_thread(mapper.registry.add, rule)
            await asyncio.to_thread(mapper.refresh, force=True)
        except RegistryError as exc:
            raise HttpError(_STATUS_BY_ID.get(exc.message_id, 503), exc.message_id,
                            text=exc.text) from None  # fmt: skip
        log.info("admin: mapping %s -> %r added", rule.filter_text(), rule.local_user)
        return 201, {"added": rule.to_dict(), "mapper_generation": mapper.generation}

    async def _remove(self, body: dict[str, Any]) -> tuple[int, Any]:
        user = _text_field(body, "user") or ""
        realm = _text_field(body, "realm") or ""
        mapper = self.service.state.verifier.mapper
        try:
            rule = await asyncio.to_thread(mapper.registry.remove, user, realm)
            await asyncio.to_thread(mapper.refresh, force=True)
        except RegistryError as exc:
            raise HttpError(_STATUS_BY_ID.get(exc.message_id, 503), exc.message_id,
                            text=exc.text) from None  # fmt: skip
        log.info("admin: mapping %s removed", rule.filter_text())
        return 200, {"removed": rule.to_dict(), "mapper_generation": mapper.generation}

    def _trace(self, body: dict[str, Any]) -> tuple[int, Any]:
        from realmgate.tracespec import apply_trace_spec

        spec = _text_field(body, "spec") or ""
        try:
            applied = apply_trace_spec(spec)
        except RealmgateError as exc:
            raise HttpError(400, exc.message_id, text=exc.text) from None
        log.info("admin: trace specification set to %s", applied)
        return 200, {"spec": str(applied), "problems": [p.text for p in applied.problems]}
