"""Errors of the LLM providers, translated from each SDK into one hierarchy.

SecretaryError
└── ProviderError                 a provider could not give a usable answer
    ├── ProviderAuthError         401/403 or a rejected key: never retried, says which setting
    ├── ProviderBadRequest        4xx other than auth/rate limit: not retried
    ├── InvalidModelOutput        the answer failed validation even after one repair
    └── ProviderRetryable         worth retrying with backoff
        ├── ProviderRateLimited   429 (carries Retry-After)
        ├── ProviderUnavailable   5xx / connection failure (may carry Retry-After)
        └── ProviderTimeout       the call exceeded its timeout

An open breaker raises nothing here: the chain skips that provider and fails over (the one
``CircuitOpen`` is Google's, in ``google.errors``).
"""

from __future__ import annotations

from typing import Any

from secretary.errors import ConfigurationError, SecretaryError


class ProviderError(SecretaryError):
    status_code = 502
    code = "llm_provider_error"

    def __init__(self, provider: str, message: str, *, code: str | None = None) -> None:
        super().__init__(f"{provider}: {message}", code=code)
        self.provider = provider


class ProviderAuthError(ProviderError):
    code = "llm_auth_error"


class ProviderBadRequest(ProviderError):
    code = "llm_bad_request"


class InvalidModelOutput(ProviderError):
    code = "llm_invalid_output"


class ProviderRetryable(ProviderError):
    status_code = 503
    code = "llm_unavailable"

    def __init__(self, provider: str, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(provider, message)
        self.retry_after = retry_after


class ProviderRateLimited(ProviderRetryable):
    code = "llm_rate_limited"


class ProviderUnavailable(ProviderRetryable):
    code = "llm_unavailable"


class ProviderTimeout(ProviderRetryable):
    code = "llm_timeout"


class UnknownProvider(ConfigurationError):
    code = "llm_unknown_provider"


def auth_message(provider: str, setting: str, status: int | None) -> str:
    shown = f" ({status})" if status else ""
    return (
        f"the API key was rejected{shown}; check {setting} "
        "(not retried: a wrong key does not fix itself)"
    )


def from_status(
    provider: str, status: int, headers: Any, *, key_setting: str, auth_failed: bool = False
) -> ProviderError:
    """The one mapping of a provider's HTTP status to our errors, shared by every SDK adapter.

    401/403 (or ``auth_failed``): no retry, a message naming the setting; 429: rate limited
    with its Retry-After; 5xx: unavailable (failover); anything else: a bad request.
    """
    from secretary.llm.provider import retry_after_from

    if status in (401, 403) or auth_failed:
        return ProviderAuthError(provider, auth_message(provider, key_setting, status))
    retry_after = retry_after_from(headers)
    if status == 429:
        return ProviderRateLimited(provider, "rate limited (429)", retry_after=retry_after)
    if status >= 500:  # includes Anthropic's 529 "overloaded"
        return ProviderUnavailable(provider, f"server error ({status})", retry_after=retry_after)
    return ProviderBadRequest(provider, f"request rejected ({status})")
