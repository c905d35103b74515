"""The one error base. Every expected failure is a ``SecretaryError`` subclass.

Edges render it: the API as JSON ``{"error": {"code", "message", "request_id", "details"?}}``
with ``status_code``, the CLI as a red message with exit code 1. Services never raise HTTP
exceptions. ``details`` carries machine-readable context (e.g. what changed in a draft).
"""

from __future__ import annotations

from typing import Any


class SecretaryError(Exception):
    status_code: int = 500
    code: str = "internal_error"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status_code: int | None = None,
        details: dict[str, Any] | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.details = details
        if code is not None:
            self.code = code
        if status_code is not None:
            self.status_code = status_code


class NotFound(SecretaryError):
    status_code = 404
    code = "not_found"


class BadRequest(SecretaryError):
    status_code = 400
    code = "bad_request"


class Conflict(SecretaryError):
    status_code = 409
    code = "conflict"


class ConfigurationError(SecretaryError):
    status_code = 500
    code = "configuration_error"


class DatabaseError(SecretaryError):
    status_code = 503
    code = "database_unavailable"
