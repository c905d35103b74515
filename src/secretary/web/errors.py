"""One handler per edge: JSON under /api (and the webhooks), HTML elsewhere.

Every error the API answers has the same body, validation errors included::

    {"error": {"code": "...", "message": "...", "request_id": "...", "details": {...}?}}

``request_id`` is the request's correlation id (also in the ``x-correlation-id`` header and
in every log line of the request), so a user's report can be matched to the logs.

Database errors that a caller can provoke with input (a foreign key to nothing, a number
past ``bigint``, a NUL character) are the caller's fault: 4xx with a generic message, never a
500 that resets the connection. The message never echoes the database's text, which may
quote the offending values.
"""

from __future__ import annotations

import html
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlalchemy.exc import DataError, IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from secretary.errors import SecretaryError
from secretary.kit.logging import get_logger, new_correlation_id

log = get_logger(__name__)

_JSON_PREFIXES = ("/api", "/webhooks", "/healthz", "/readyz", "/metrics", "/oauth")

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
}


def request_id(request: Request | None = None) -> str:
    """The current request's correlation id (bound by the app's middleware)."""
    bound = structlog.contextvars.get_contextvars().get("correlation_id")
    if bound:
        return str(bound)
    if request is not None and (header := request.headers.get("x-correlation-id")):
        return header[:64]
    return new_correlation_id()


def error_body(
    code: str, message: str, *, request_id: str, details: dict[str, Any] | None = None
) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message, "request_id": request_id}
    if details:
        error["details"] = details
    return {"error": error}


def wants_json(request: Request) -> bool:
    return request.url.path.startswith(_JSON_PREFIXES) or "application/json" in (
        request.headers.get("accept") or ""
    )


def error_response(
    request: Request,
    *,
    status_code: int,
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """The one error rendering: JSON for API clients, a small HTML page for browsers."""
    rid = request_id(request)
    if wants_json(request):
        return JSONResponse(
            error_body(code, message, request_id=rid, details=details),
            status_code=status_code,
            headers={**(headers or {}), "x-correlation-id": rid},
        )
    try:  # the UI's error page, in its layout (web/ui/render.py)
        from secretary.web.ui.render import error_page

        page = error_page(request, status_code=status_code, message=message, request_id=rid)
        page.headers.update(headers or {})
        return page
    except Exception:  # the template itself failed: plain HTML, never a second error
        log.warning("error_page_failed", status_code=status_code)
    body = (
        # No inline style: the Content-Security-Policy allows only our stylesheet.
        "<!doctype html><title>Secretary</title><link rel='stylesheet' href='/static/app.css'>"
        "<main id='main'><h1>Something needs your attention</h1>"
        f"<p>{html.escape(message)}</p><p class='muted'>Request {html.escape(rid)}</p>"
        "<p><a href='/'>Back to Secretary</a></p></main>"
    )
    return HTMLResponse(body, status_code=status_code, headers=headers)


def secretary_error_response(request: Request, exc: SecretaryError) -> Response:
    return error_response(
        request,
        status_code=exc.status_code,
        code=exc.code,
        message=exc.message,
        details=exc.details,
    )


def _validation_details(exc: RequestValidationError) -> dict[str, Any]:
    # Never echo the rejected input back: it may be a 100 kB body or someone's address.
    return {
        "errors": [
            {
                "loc": [str(p) for p in err.get("loc", ())],
                "type": str(err.get("type", "")),
                "msg": str(err.get("msg", "")),
            }
            for err in exc.errors()[:20]
        ]
    }


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(SecretaryError)
    async def _secretary(request: Request, exc: SecretaryError) -> Response:
        return secretary_error_response(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        return error_response(
            request,
            status_code=422,
            code="validation_error",
            message="the request is not valid",
            details=_validation_details(exc),
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        message = exc.detail if isinstance(exc.detail, str) else "the request failed"
        return error_response(
            request,
            status_code=exc.status_code,
            code=_HTTP_CODES.get(exc.status_code, "http_error"),
            message=message,
            headers=dict(exc.headers or {}),
        )

    @app.exception_handler(IntegrityError)
    async def _integrity(request: Request, exc: IntegrityError) -> Response:
        # A foreign key to a row that does not exist, or a duplicate of a unique value.
        sqlstate = getattr(getattr(exc, "orig", None), "sqlstate", None) or ""
        missing = sqlstate == "23503"
        log.info("request_integrity_error", sqlstate=sqlstate)
        return error_response(
            request,
            status_code=404 if missing else 409,
            code="referenced_object_not_found" if missing else "integrity_conflict",
            message=(
                "the request refers to an object that does not exist"
                if missing
                else "the request conflicts with existing data"
            ),
        )

    @app.exception_handler(DataError)
    async def _data(request: Request, exc: DataError) -> Response:
        # Out-of-range numbers, NUL characters, malformed values the database refused.
        sqlstate = getattr(getattr(exc, "orig", None), "sqlstate", None) or ""
        log.info("request_data_error", sqlstate=sqlstate)
        return error_response(
            request,
            status_code=422,
            code="invalid_value",
            message="a value in the request is out of range or not allowed",
        )

    # Unexpected exceptions are answered by ``UnhandledErrorMiddleware`` (below), inside
    # the app's other middlewares, not by an ``Exception`` handler: Starlette runs that one
    # in its outermost layer, where 500s got no security headers, no correlation id and no
    # count in the HTTP metrics.
    app.add_middleware(UnhandledErrorMiddleware)


def _unexpected_response(request: Request, exc: Exception) -> Response:
    # Logged through structlog (redacted), not by uvicorn's raw traceback printer.
    log.error("request_failed", error=type(exc).__name__, path=request.url.path)
    return error_response(
        request,
        status_code=500,
        code="internal_error",
        message="something went wrong on our side",
    )


class UnhandledErrorMiddleware:
    """Answers an exception no handler took with our 500 (JSON or an HTML page), then
    re-raises it as Starlette's own outer layer does (so servers and test clients still see
    it; that layer sends nothing more once a response has started). Pure ASGI, added first
    so the correlation, security-header and metrics middlewares all wrap its answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            if not started:
                response = _unexpected_response(Request(scope), exc)
                await response(scope, receive, send)
            raise
