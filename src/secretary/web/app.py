"""The FastAPI application: composed once in the lifespan (settings, engine, sessions)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import Any

import structlog
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from sqlalchemy import text
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from secretary import __version__
from secretary.config import Settings, get_settings
from secretary.db import migrate
from secretary.kit.logging import get_logger, new_correlation_id
from secretary.web.deps import AppState
from secretary.web.errors import install_error_handlers
from secretary.web.limits import BodyLimitMiddleware
from secretary.web.security import install_security

log = get_logger(__name__)

HTTP_REQUESTS = Counter(
    "secretary_http_requests_total", "HTTP requests", ["method", "route", "status"]
)
HTTP_LATENCY = Histogram("secretary_http_request_seconds", "HTTP request latency", ["route"])

RouterHook = Callable[[FastAPI], None]
_router_hooks: list[RouterHook] = []


def register_routes(hook: RouterHook) -> RouterHook:
    """Domains' web modules register their routers here (imported in ``_load_routes``)."""
    _router_hooks.append(hook)
    return hook


LifespanHook = Callable[[FastAPI], AbstractAsyncContextManager[None]]
_lifespan_hooks: list[LifespanHook] = []


def register_lifespan(hook: LifespanHook) -> LifespanHook:
    """Mounted sub-apps (the MCP server) run their own start-up and shut-down here: Starlette
    does not run a mounted app's lifespan."""
    _lifespan_hooks.append(hook)
    return hook


def _load_routes() -> None:
    import importlib
    import pkgutil

    import secretary.web.api as api_pkg

    for mod in pkgutil.iter_modules(api_pkg.__path__):
        importlib.import_module(f"secretary.web.api.{mod.name}")
    importlib.import_module("secretary.web.ui.pages")  # the browser UI (/, /triage, /drafts)


class CorrelationMiddleware:
    """Binds the request's correlation id (``X-Correlation-Id``, or a new one) to its log
    lines, echoes it on the response and counts the request in the HTTP metrics.

    A pure ASGI middleware, like the app's others (``web.security``, ``web.limits``):
    Starlette's ``BaseHTTPMiddleware`` runs each request in a task group of its own with
    memory streams, which cost more than the push webhook's whole handler (issue 14)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cid = ""
        for key, value in scope["headers"]:
            if key == b"x-correlation-id":
                cid = value.decode("latin-1")
                break
        cid = cid or new_correlation_id()
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(correlation_id=cid)
        started = time.perf_counter()
        raw_cid = cid.encode("latin-1")

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                # Counted when the response starts, as before: a stream's length is not
                # the request's latency.
                route_path = getattr(scope.get("route"), "path", "unmatched")
                HTTP_REQUESTS.labels(scope["method"], route_path, str(message["status"])).inc()
                HTTP_LATENCY.labels(route_path).observe(time.perf_counter() - started)
                headers = [
                    (k, v)
                    for k, v in message.get("headers", ())
                    if k.lower() != b"x-correlation-id"
                ]
                headers.append((b"x-correlation-id", raw_cid))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_id)


def create_app(settings: Settings | None = None, *, state: AppState | None = None) -> FastAPI:
    """The app. ``state`` carries a composition built by the caller (``secretary serve``,
    the demo, tests); without one the lifespan composes this process itself."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from secretary.bootstrap import compose

        current = state if state is not None else AppState(root=compose(settings))
        app.state.secretary = current
        if current.run_background:
            current.background = await current.root.start_background()
        try:
            async with AsyncExitStack() as stack:
                for hook in _lifespan_hooks:
                    await stack.enter_async_context(hook(app))
                yield
        finally:
            if current.background is not None:
                await current.background.stop()
                current.background = None
            if state is None:
                current.root.close()

    app = FastAPI(
        title="Secretary",
        version=__version__,
        description=(
            "A self-hostable AI secretary for Google Workspace.\n\n"
            "Every `/api/v1` route needs a user: send a personal API token as "
            "`Authorization: Bearer sec_...` (create one under Settings -> API tokens, or "
            "with `secretary tokens create NAME --scope read`), or sign in to the web UI "
            "with Google. See docs/how-to/api-tokens.md."
        ),
        lifespan=lifespan,
        # /docs is served by the UI from vendored Swagger UI assets (no CDN, no inline script).
        docs_url=None,
        redoc_url=None,
    )
    install_error_handlers(app)
    # Bodies are limited while they are read: 1 MiB for the API, 64 KiB for the webhook.
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=settings.http.max_body_bytes,
        path_limits=[("/webhooks/", settings.http.max_webhook_body_bytes)],
    )
    install_security(app, settings)  # trusted hosts, security headers, 401/429 answers

    app.add_middleware(CorrelationMiddleware)

    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict[str, str]:
        """Liveness: the process is up."""
        return {"status": "ok", "version": __version__}

    @app.get("/readyz", tags=["ops"])
    def readyz(request: Request) -> Response:
        """Readiness: the database answers and the schema is at the newest migration."""
        st: AppState = request.app.state.secretary
        checks: dict[str, Any] = {}
        try:
            with st.engine.connect() as conn:
                conn.execute(text("select 1"))
            checks["database"] = "ok"
        except Exception as exc:
            checks["database"] = f"unreachable: {type(exc).__name__}"
        try:
            current = migrate.current_revision(st.engine)
            head = migrate.head_revision()
            checks["migrations"] = "ok" if current == head else f"at {current}, head is {head}"
        except Exception as exc:
            checks["migrations"] = f"unknown: {type(exc).__name__}"
        ready = all(v == "ok" for v in checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "not_ready", "checks": checks},
            status_code=200 if ready else 503,
        )

    @app.get("/metrics", tags=["ops"], include_in_schema=True)
    def metrics() -> Response:
        """Prometheus metrics."""
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    _load_routes()
    for hook in _router_hooks:
        hook(app)
    return app
