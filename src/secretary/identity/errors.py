"""Identity errors. Unknown, expired and revoked credentials all look the same (401)."""

from __future__ import annotations

from secretary.errors import NotFound, SecretaryError


class NotAuthenticated(SecretaryError):
    status_code = 401
    code = "not_authenticated"


class InsufficientScope(SecretaryError):
    status_code = 403
    code = "insufficient_scope"


class TokenNotFound(NotFound):
    code = "token_not_found"


class SignInFailed(SecretaryError):
    status_code = 400
    code = "sign_in_failed"
