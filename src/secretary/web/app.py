"""The FastAPI application: composed once in the lifespan (settings, engine, sessions)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import Any

import structlog
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from sqlalchemy import text

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

    @app.middleware("http")
    async def correlation_middleware(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        cid = request.headers.get("x-correlation-id") or new_correlation_id()
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(correlation_id=cid)
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        route_path = getattr(route, "path", "unmatched")
        HTTP_REQUESTS.labels(request.method, route_path, str(response.status_code)).inc()
        HTTP_LATENCY.labels(route_path).observe(time.perf_counter() - started)
        response.headers["x-correlation-id"] = cid
        return response

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
