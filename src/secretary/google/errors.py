"""Google's failures translated into our one error hierarchy (ADR 0004).

Everything below is a ``SecretaryError``; ``retryable`` tells the sync engine whether a
retry with backoff can help (429, 5xx, network) or not (400, 401, 403, 404)::

    SecretaryError
    └── GoogleError                      502 google_error          (base; retryable=False)
        ├── GoogleBadRequest             400 google_bad_request
        ├── GoogleNotFound               404 google_not_found
        │   └── HistoryExpired           404 history_expired       (history.list startHistoryId too old)
        ├── GoogleForbidden              403 google_forbidden      (scope or permission missing)
        ├── GoogleRateLimited            429 google_rate_limited   (retryable; .retry_after seconds)
        ├── GoogleUnavailable            503 google_unavailable    (retryable; 5xx and network errors)
        │   └── CircuitOpen              503 google_circuit_open   (our breaker refuses calls for now)
        ├── GoogleAuthError              401 google_unauthorized   (access token rejected)
        │   └── AccountNeedsReauth       409 account_needs_reauth  (refresh token revoked/expired,
        │                                                           or required scopes missing)
        └── OAuthError                   400 oauth_error           (the browser/CLI connect flow)
            ├── OAuthAccessDenied        403 oauth_access_denied   (the user declined consent)
            ├── OAuthStateInvalid        400 oauth_state_invalid   (CSRF state mismatch/expired)
            ├── OAuthInvalidGrant        400 oauth_invalid_grant   (code reused or expired)
            ├── OAuthWrongAccount        409 oauth_wrong_account   (re-auth signed in as someone else)
            └── OAuthUserinfoFailed      502 oauth_userinfo_failed

This module is the one translation: ``translate`` maps anything a Google call raises
(``HttpError``, network errors, our own ``GoogleError``) into the tree above, and
``google.resilience.classify`` (retry, refresh, or give up) reads its answer. Translators:
``from_http_error`` (googleapiclient ``HttpError``), ``from_refresh_error`` (google-auth
``RefreshError``) and ``from_transport_error`` (network). ``Retry-After`` is parsed by
``kit.retry_after``, the one parser. Every OAuth flow error
carries ``recovery_url``, the link the web page and the CLI show to start again.
Messages never contain addresses or tokens: they are logged and shown in the UI.
"""

from __future__ import annotations

import json
from typing import Any

from secretary.errors import SecretaryError
from secretary.kit.retry_after import parse_retry_after


class GoogleError(SecretaryError):
    status_code = 502
    code = "google_error"
    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status_code: int | None = None,
        reason: str | None = None,
        http_status: int | None = None,
    ):
        super().__init__(message, code=code, status_code=status_code)
        #: Google's machine reason (``rateLimitExceeded``, ``invalid_grant`` ...), if any.
        self.reason = reason
        #: The HTTP status Google answered with (may differ from ``status_code``).
        self.http_status = http_status


class GoogleBadRequest(GoogleError):
    status_code = 400
    code = "google_bad_request"


class GoogleNotFound(GoogleError):
    status_code = 404
    code = "google_not_found"


class HistoryExpired(GoogleNotFound):
    """``history.list`` answered 404: the stored ``startHistoryId`` is outside retention."""

    code = "history_expired"


class GoogleForbidden(GoogleError):
    status_code = 403
    code = "google_forbidden"


class GoogleRateLimited(GoogleError):
    status_code = 429
    code = "google_rate_limited"
    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any):
        super().__init__(message, **kwargs)
        #: Seconds from ``Retry-After`` when Google sent one; honour it before backoff.
        self.retry_after = retry_after


class GoogleUnavailable(GoogleError):
    status_code = 503
    code = "google_unavailable"
    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any):
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class CircuitOpen(GoogleUnavailable):
    """Our per-account breaker refuses calls to a failing Google service for a while."""

    code = "google_circuit_open"


class GoogleAuthError(GoogleError):
    status_code = 401
    code = "google_unauthorized"


class AccountNeedsReauth(GoogleAuthError):
    """The account cannot act until its owner connects it again.

    Raised by ``secretary.accounts.service.get_credentials`` when the account is (or has just
    been) marked ``needs_reauth``. Callers must not retry: sync skips such accounts until a
    successful re-authorization sets them ``active`` again, so there is no crash loop.
    """

    status_code = 409
    code = "account_needs_reauth"

    def __init__(self, message: str, *, account_id: int | None = None, **kwargs: Any):
        super().__init__(message, **kwargs)
        self.account_id = account_id
        self.recovery_url = (
            f"/oauth/google/start?account_id={account_id}"
            if account_id is not None
            else "/oauth/google/start"
        )


class OAuthError(GoogleError):
    status_code = 400
    code = "oauth_error"

    def __init__(self, message: str, *, recovery_url: str = "/oauth/google/start", **kwargs: Any):
        super().__init__(message, **kwargs)
        self.recovery_url = recovery_url


class OAuthAccessDenied(OAuthError):
    status_code = 403
    code = "oauth_access_denied"


class OAuthStateInvalid(OAuthError):
    status_code = 400
    code = "oauth_state_invalid"


class OAuthInvalidGrant(OAuthError):
    status_code = 400
    code = "oauth_invalid_grant"


class OAuthWrongAccount(OAuthError):
    status_code = 409
    code = "oauth_wrong_account"


class OAuthUserinfoFailed(OAuthError):
    status_code = 502
    code = "oauth_userinfo_failed"


# Google answers 403 (not 429) for several usage limits; those are rate limits, retryable.
_RATE_LIMIT_REASONS = frozenset(
    {"rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded", "dailyLimitExceeded"}
)


def _error_reason(content: bytes | str | None) -> tuple[str | None, str | None]:
    """``(reason, message)`` from Google's JSON error body, tolerant of anything else."""
    if not content:
        return None, None
    try:
        data = json.loads(content)
    except (ValueError, TypeError):
        return None, None
    if not isinstance(data, dict):
        return None, None
    err = data.get("error")
    if isinstance(err, str):  # OAuth endpoints: {"error": "invalid_grant", ...}
        return err, data.get("error_description")
    if not isinstance(err, dict):
        return None, None
    reason = None
    errors = err.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        reason = errors[0].get("reason")
    if reason is None and isinstance(err.get("status"), str):
        reason = err["status"]
    message = err.get("message")
    return reason, message if isinstance(message, str) else None


def from_status(
    status: int,
    *,
    content: bytes | str | None = None,
    retry_after: str | None = None,
    method: str | None = None,
) -> GoogleError:
    """Translate an HTTP status and Google error body into our hierarchy.

    Args:
        status: the HTTP status Google answered with.
        content: the response body (Google's JSON error document), if any.
        retry_after: the ``Retry-After`` header, if any.
        method: the API method, e.g. ``"gmail.users.history.list"``; lets a 404 on
            history become ``HistoryExpired``.
    """
    reason, google_message = _error_reason(content)
    where = f" ({method})" if method else ""
    detail = f": {google_message}" if google_message else ""
    kw: dict[str, Any] = {"reason": reason, "http_status": status}
    if status == 429 or (status == 403 and reason in _RATE_LIMIT_REASONS):
        return GoogleRateLimited(
            f"Google rate limit reached{where}",
            retry_after=parse_retry_after(retry_after),
            **kw,
        )
    if status >= 500:
        return GoogleUnavailable(
            f"Google is unavailable (HTTP {status}){where}",
            retry_after=parse_retry_after(retry_after),
            **kw,
        )
    if status == 401:
        return GoogleAuthError(f"Google rejected the access token{where}", **kw)
    if status == 403:
        return GoogleForbidden(f"Google refused access{where}{detail}", **kw)
    if status == 404:
        if method is not None and method.endswith("history.list"):
            return HistoryExpired(
                "The stored Gmail history position has expired; a full resync is needed", **kw
            )
        return GoogleNotFound(f"Not found at Google{where}", **kw)
    if 400 <= status < 500:
        return GoogleBadRequest(f"Google rejected the request (HTTP {status}){where}", **kw)
    return GoogleError(f"Unexpected answer from Google (HTTP {status}){where}", **kw)


def from_http_error(exc: Any, *, method: str | None = None) -> GoogleError:
    """Translate a ``googleapiclient.errors.HttpError``.

    Typed as ``Any`` so this module does not import the discovery client; anything with
    ``resp`` (status, headers) and ``content`` works.
    """
    resp = getattr(exc, "resp", None)
    status = int(getattr(resp, "status", 0) or 0)
    retry_after = None
    if resp is not None and hasattr(resp, "get"):
        retry_after = resp.get("retry-after")
    translated = from_status(
        status, content=getattr(exc, "content", None), retry_after=retry_after, method=method
    )
    translated.__cause__ = exc
    return translated


def refresh_error_reason(exc: BaseException) -> str | None:
    """The OAuth ``error`` of a google-auth ``RefreshError`` (e.g. ``invalid_grant``)."""
    for arg in getattr(exc, "args", ()):
        if isinstance(arg, dict) and isinstance(arg.get("error"), str):
            return str(arg["error"])
    text = str(exc.args[0]) if getattr(exc, "args", None) else ""
    head = text.split(":", 1)[0].strip()
    if head and " " not in head:
        return head
    return None


def is_invalid_grant(exc: BaseException) -> bool:
    """True when a refresh failed because the refresh token is revoked or expired."""
    return refresh_error_reason(exc) == "invalid_grant"


def from_refresh_error(exc: BaseException, *, account_id: int | None = None) -> GoogleError:
    """Translate a google-auth ``RefreshError``.

    ``invalid_grant`` (revoked, expired or password-reset refresh token) needs the user:
    ``AccountNeedsReauth``. A retryable refresh failure (Google 5xx) is ``GoogleUnavailable``;
    anything else (e.g. ``invalid_client``, a configuration problem) is ``GoogleAuthError``.
    """
    reason = refresh_error_reason(exc)
    err: GoogleError
    if reason == "invalid_grant":
        err = AccountNeedsReauth(
            "Google no longer accepts this account's authorization (revoked or expired); "
            "connect the account again",
            account_id=account_id,
            reason=reason,
        )
    elif getattr(exc, "retryable", False):
        err = GoogleUnavailable("Google's token endpoint is unavailable", reason=reason)
    else:
        err = GoogleAuthError(
            f"Refreshing the access token failed ({reason or 'unknown error'})", reason=reason
        )
    err.__cause__ = exc
    return err


def from_transport_error(exc: BaseException, *, method: str | None = None) -> GoogleUnavailable:
    """A network failure (connection refused, timeout, TLS): retryable."""
    where = f" ({method})" if method else ""
    err = GoogleUnavailable(f"Could not reach Google{where}: {type(exc).__name__}")
    err.__cause__ = exc
    return err


def translate(exc: BaseException, *, method: str | None = None) -> GoogleError | None:
    """What a Google call's exception means in our hierarchy; None for non-Google bugs.

    ``HttpError`` by status and reason, network failures as ``GoogleUnavailable``; a
    ``GoogleError`` is already translated.
    """
    if isinstance(exc, GoogleError):
        return exc
    if hasattr(exc, "resp") and hasattr(exc, "content"):  # googleapiclient HttpError
        return from_http_error(exc, method=method)
    from secretary.google.resilience import NETWORK_ERRORS

    if isinstance(exc, NETWORK_ERRORS):
        return from_transport_error(exc, method=method)
    return None


def is_retryable(exc: BaseException) -> bool:
    """For tenacity's ``retry_if_exception``: retry 429, 5xx and network errors only."""
    return isinstance(exc, GoogleError) and exc.retryable
