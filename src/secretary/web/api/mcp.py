"""The MCP server over streamable HTTP at ``/api/v1/mcp/``, behind a personal API token.

Mounted in the API process (the same host checks, headers and body limits apply). A request
without a live bearer token (``Authorization: Bearer sec_...``) gets 401 in the one error
body before the MCP transport sees it; with one, its user is the caller of every tool.
Stateless JSON responses: any worker process can answer any request.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from mcp.server.transport_security import TransportSecuritySettings
from starlette.types import ASGIApp, Receive, Scope, Send

from secretary.db import tenancy
from secretary.kit.logging import new_correlation_id
from secretary.mcp.server import build_server, current_user
from secretary.web.app import register_lifespan, register_routes
from secretary.web.deps import AppState

MCP_PATH = "/api/v1/mcp"


class _TokenGate:
    """Checks the bearer token, then runs the MCP app as that token's user."""

    def __init__(self, app: ASGIApp, fastapi_app: FastAPI) -> None:
        self._app = app
        self._fastapi_app = fastapi_app

    def _user_for(self, scope: Scope) -> tuple[int, frozenset[str]] | None:
        from secretary.identity import service as identity

        header = dict(scope.get("headers") or []).get(b"authorization", b"").decode("latin-1")
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != "bearer" or not secret:
            return None
        state: AppState = self._fastapi_app.state.secretary
        with state.sessions() as session, session.begin():
            tenancy.act_as_system(session)  # the token lookup spans users (by its hash)
            token = identity.resolve_token(session, secret.strip())
            if token is None:
                return None
            return token.user_id, frozenset(token.scopes or [])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        found = self._user_for(scope)
        if found is None or not ({"read", "draft", "admin"} & found[1]):
            await _deny(send)
            return
        token = current_user.set(found[0])
        try:
            await self._app(scope, receive, send)
        finally:
            current_user.reset(token)


async def _deny(send: Send) -> None:
    body = json.dumps(
        {
            "error": {
                "code": "not_authenticated",
                "message": "an API token is required: Authorization: Bearer <token>",
                "request_id": new_correlation_id(),
            }
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 401,
            "headers": [
                (b"content-type", b"application/json"),
                (b"www-authenticate", b'Bearer realm="secretary"'),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


@register_routes
def _routes(app: FastAPI) -> None:
    server = build_server(lambda: app.state.secretary.root)
    inner = server.streamable_http_app(
        streamable_http_path="/",
        stateless_http=True,
        json_response=True,
        # The API's TrustedHostMiddleware already refuses unknown hosts (DNS rebinding).
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )
    app.state.mcp_server = server
    app.mount(MCP_PATH, _TokenGate(inner, app))


@register_lifespan
@asynccontextmanager
async def _run_sessions(app: FastAPI) -> AsyncIterator[None]:
    server: Any = getattr(app.state, "mcp_server", None)
    if server is None:
        yield
        return
    async with server.session_manager.run():
        yield
