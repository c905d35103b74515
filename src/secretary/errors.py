"""The one error base. Every expected failure is a ``SecretaryError`` subclass.

Edges render it: the API as JSON ``{"error": {"code", "message"}}`` with ``status_code``,
the CLI as a red message with exit code 1. Services never raise HTTP exceptions.
"""

from __future__ import annotations


class SecretaryError(Exception):
    status_code: int = 500
    code: str = "internal_error"

    def __init__(self, message: str, *, code: str | None = None, status_code: int | None = None):
        super().__init__(message)
        self.message = message
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
