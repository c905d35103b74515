"""The app's outer edge (issue 7): trusted hosts, security headers, and how authentication
failures are answered (401 JSON for the API, a redirect to /login for pages, 429 with
``Retry-After``).

``Host`` is checked against ``identity.trusted_hosts`` (by default the host of ``base_url``
plus localhost and 127.0.0.1), so a DNS-rebinding page at ``attacker.example`` that resolves
to 127.0.0.1 gets a 400 instead of the user's mail.
"""

from __future__ import annotations

from urllib.parse import quote, urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from secretary.config import Settings
from secretary.identity import service as identity
from secretary.identity.errors import NotAuthenticated
from secretary.web.auth import (
    SAFE_METHODS,
    SESSION_COOKIE,
    RequestUser,
    is_same_origin,
    request_user,
)
from secretary.web.ratelimit import RateLimited

# Our pages: no inline script or style, nothing from elsewhere, never framed.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
# FastAPI's /docs and /redoc pages boot with an inline script (and, unless vendored, load
# Swagger UI from a CDN); they hold no user data, so they get a looser policy of their own.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "img-src 'self' data: https://fastapi.tiangolo.com https://cdn.redoc.ly; "
    "worker-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
DOCS_PATHS = ("/docs", "/redoc")

# Reachable without signing in. Everything else that is not the API (which answers 401
# itself) is a page: a browser without a session is sent to /login.
PUBLIC_PREFIXES = (
    "/login",
    "/auth/",
    "/static/",
    "/healthz",
    "/readyz",
    "/metrics",
    "/webhooks/",
    "/docs",
    "/redoc",
    "/openapi.json",
    "/oauth/google/callback",
    "/favicon.ico",
)


def is_public(path: str) -> bool:
    return path.startswith(PUBLIC_PREFIXES)


def _session_user(request: Request) -> int | None:
    """The user of the request's session cookie (system role: before the user is known)."""
    secret = request.cookies.get(SESSION_COOKIE)
    if not secret:
        return None
    state = request.app.state.secretary
    with state.sessions() as session, session.begin():
        row = identity.resolve_session(session, secret)
        return row.user_id if row is not None else None


def trusted_hosts(settings: Settings) -> list[str]:
    configured = settings.identity.trusted_hosts
    if configured:
        return list(configured)
    hosts = ["localhost", "127.0.0.1", "[::1]"]
    base_host = urlsplit(settings.base_url).hostname
    if base_host and base_host not in hosts:
        hosts.append(base_host)
    if settings.env == "test":
        hosts.append("testserver")  # Starlette's TestClient
    return hosts


def _json_error(
    request: Request, status: int, code: str, message: str, headers: dict[str, str]
) -> Response:
    try:  # the one error body (web/errors.py), when it is there
        from secretary.web.errors import error_response

        return error_response(
            request, status_code=status, code=code, message=message, headers=headers
        )
    except ImportError:  # pragma: no cover - older error module
        return JSONResponse(
            {"error": {"code": code, "message": message}}, status_code=status, headers=headers
        )


class PageGuardMiddleware:
    """Pages need a signed-in browser, and every transaction opened while one is served runs
    as that user (``auth.request_user``), whichever code opens it, until the response is
    done. Pure ASGI (see ``web.app.CorrelationMiddleware``)."""

    def __init__(self, app: ASGIApp, *, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        holder = RequestUser()
        token = request_user.set(holder)
        try:
            path: str = scope["path"]
            if not path.startswith("/api/") and not is_public(path):
                refusal = await self._check_page(Request(scope, receive), holder)
                if refusal is not None:
                    await refusal(scope, receive, send)
                    return
            await self.app(scope, receive, send)
        finally:
            holder.user_id = None
            request_user.reset(token)

    async def _check_page(self, request: Request, holder: RequestUser) -> Response | None:
        path = request.url.path
        user_id = await run_in_threadpool(_session_user, request)
        if user_id is None:
            if request.method in ("GET", "HEAD"):
                target = path + (f"?{request.url.query}" if request.url.query else "")
                return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
            return _json_error(request, 401, "not_authenticated", "Sign in first.", {})
        holder.user_id = user_id
        if request.method not in SAFE_METHODS and not is_same_origin(request, self.settings):
            # Forms carry their CSRF token too; this refuses any cross-site post, with or
            # without a body, before a handler runs.
            return _json_error(request, 403, "csrf_failed", "Cross-site requests are refused.", {})
        return None


class SecurityHeadersMiddleware:
    """Our Content-Security-Policy and the other hardening headers, on every response that
    does not set its own. Pure ASGI (see ``web.app.CorrelationMiddleware``)."""

    def __init__(self, app: ASGIApp, *, https: bool) -> None:
        self.app = app
        common = [
            (b"x-content-type-options", b"nosniff"),
            # same-origin: our own Referer still reaches us (the CSRF check's fallback).
            (b"referrer-policy", b"same-origin"),
            (b"x-frame-options", b"DENY"),
        ]
        if https:
            common.append((b"strict-transport-security", b"max-age=31536000"))
        self.page_headers = [(b"content-security-policy", CSP.encode()), *common]
        self.docs_headers = [(b"content-security-policy", DOCS_CSP.encode()), *common]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        defaults = self.docs_headers if scope["path"].startswith(DOCS_PATHS) else self.page_headers

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {key.lower() for key, _ in headers}
                headers.extend(h for h in defaults if h[0] not in present)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def install_security(app: FastAPI, settings: Settings) -> None:
    @app.exception_handler(NotAuthenticated)
    async def _not_authenticated(request: Request, exc: NotAuthenticated) -> Response:
        path = request.url.path
        is_page = not path.startswith(("/api/", "/webhooks/", "/auth/"))
        if exc.status_code == 401 and is_page and request.method in ("GET", "HEAD"):
            target = path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
        headers = {"WWW-Authenticate": 'Bearer realm="secretary"'} if exc.status_code == 401 else {}
        return _json_error(request, exc.status_code, exc.code, exc.message, headers)

    @app.exception_handler(RateLimited)
    async def _rate_limited(request: Request, exc: RateLimited) -> Response:
        return _json_error(
            request, 429, exc.code, exc.message, {"Retry-After": str(exc.retry_after)}
        )

    app.add_middleware(PageGuardMiddleware, settings=settings)
    app.add_middleware(SecurityHeadersMiddleware, https=settings.base_url.startswith("https://"))

    # Added last, so it runs first: a foreign Host never reaches a handler.
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=trusted_hosts(settings))
