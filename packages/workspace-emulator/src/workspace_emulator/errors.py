"""Google-shaped API errors for the emulator and the handlers that render them.

Every non-2xx answer of the Gmail/Calendar/Drive routes has Google's JSON error shape
(``{"error": {"code", "message", "errors": [{"domain", "reason", "message"}], "status"}}``)
so the official clients raise ``HttpError`` with the same ``reason`` they would in production.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "ALREADY_EXISTS",
    410: "FAILED_PRECONDITION",
    412: "FAILED_PRECONDITION",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    503: "UNAVAILABLE",
}
DEFAULT_REASONS = {
    400: "badRequest",
    401: "authError",
    403: "forbidden",
    404: "notFound",
    405: "badRequest",
    409: "duplicate",
    429: "rateLimitExceeded",
    500: "backendError",
    503: "backendError",
}


class GoogleApiError(Exception):
    """An expected API failure, rendered in Google's error shape with ``status_code``."""

    def __init__(
        self,
        status_code: int,
        message: str,
        *,
        reason: str | None = None,
        domain: str = "global",
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.reason = reason or DEFAULT_REASONS.get(status_code, "unknown")
        self.domain = domain
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return error_body(self.status_code, self.message, reason=self.reason, domain=self.domain)


def error_body(
    status_code: int, message: str, *, reason: str | None = None, domain: str = "global"
) -> dict[str, Any]:
    return {
        "error": {
            "code": status_code,
            "message": message,
            "errors": [
                {
                    "message": message,
                    "domain": domain,
                    "reason": reason or DEFAULT_REASONS.get(status_code, "unknown"),
                }
            ],
            "status": STATUS_NAMES.get(status_code, "UNKNOWN"),
        }
    }


def json_response(
    obj: Any, status_code: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """A JSON response without FastAPI's encoder pass (hot path: batch get of raw mail)."""
    return Response(
        content=json.dumps(obj, separators=(",", ":")).encode(),
        status_code=status_code,
        media_type="application/json; charset=UTF-8",
        headers=headers,
    )


def error_response(exc: GoogleApiError) -> Response:
    headers = dict(exc.headers)
    if exc.status_code == 401:
        headers.setdefault("WWW-Authenticate", 'Bearer realm="https://accounts.google.com/"')
    return json_response(exc.body(), exc.status_code, headers)


def install_error_handlers(app: FastAPI) -> None:
    """Render emulator errors, validation errors and unknown routes in Google's shape."""

    async def on_google(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, GoogleApiError)
        return error_response(exc)

    async def on_validation(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        message = f"Invalid value at '{where}': {first.get('msg', 'invalid')}"
        return error_response(GoogleApiError(400, message, reason="invalidArgument"))

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if isinstance(exc.detail, dict):  # a route chose its own body (OAuth endpoints)
            return json_response(exc.detail, exc.status_code, dict(exc.headers or {}))
        if exc.status_code in (404, 405):
            # No route: a documented method the emulator lacks must not look like a real
            # "not found" (Google answers 404 only for missing entities).
            from workspace_emulator.methods import method_for, not_implemented

            method_id = method_for(request.method, request.url.path)
            if method_id is not None:
                return error_response(not_implemented(method_id))
        message = "Requested entity was not found." if exc.status_code == 404 else str(exc.detail)
        return error_response(GoogleApiError(exc.status_code, message))

    app.add_exception_handler(GoogleApiError, on_google)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
