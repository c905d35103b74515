"""Retry and circuit breaking for Google calls.

- ``classify`` decides what an exception means from its one translation
  (``google.errors.translate``): retry (a retryable ``GoogleError``: 429, 5xx, network
  errors and the 403 rate-limit reasons Google documents as retryable), unauthorized
  (401: the credentials refresh once, inside the transport), or fatal (everything else).
- ``call_with_retry`` runs a call under tenacity: exponential backoff with full jitter,
  honouring ``Retry-After`` when the server sends one.
- ``CircuitBreaker`` stops hammering a failing service per account: it opens after
  ``failure_threshold`` consecutive failed calls (after their retries), fails fast while
  open, and lets one probe through once ``reset_seconds`` have passed (half-open).
"""

from __future__ import annotations

import enum
import json
import math
import random
import socket
import threading
import time
from collections.abc import Callable
from typing import TypeVar

import httplib2
from googleapiclient.errors import HttpError
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from secretary.google.errors import AccountNeedsReauth, CircuitOpen, GoogleAuthError, translate
from secretary.kit.breaker import BreakerState
from secretary.kit.breaker import CircuitBreaker as _WindowBreaker
from secretary.kit.logging import get_logger
from secretary.kit.retry_after import retry_after_seconds

__all__ = [
    "BackoffWait",
    "BreakerState",
    "CircuitBreaker",
    "CircuitOpen",
    "Verdict",
    "breaker_for",
    "call_with_retry",
    "classify",
    "error_reason",
    "http_status",
    "retry_after_seconds",
]

log = get_logger(__name__)

T = TypeVar("T")

NETWORK_ERRORS: tuple[type[BaseException], ...] = (
    ConnectionError,
    TimeoutError,
    socket.timeout,
    httplib2.HttpLib2Error,
)


class Verdict(enum.Enum):
    RETRY = "retry"
    UNAUTHORIZED = "unauthorized"
    FATAL = "fatal"


def error_reason(exc: HttpError) -> str | None:
    """The first ``errors[].reason`` of a Google error body, if any."""
    try:
        body = json.loads(exc.content or b"{}")
        errors = body.get("error", {}).get("errors") or []
        reason = errors[0].get("reason") if errors else None
        return str(reason) if reason else None
    except (ValueError, AttributeError):
        return None


def http_status(exc: BaseException) -> int | None:
    if isinstance(exc, HttpError):
        return int(exc.resp.status)
    return None


def classify(exc: BaseException) -> Verdict:
    """Retry, refresh or give up, as the one translation (``google.errors``) says."""
    translated = translate(exc)
    if translated is None:
        return Verdict.FATAL
    if isinstance(translated, GoogleAuthError) and not isinstance(translated, AccountNeedsReauth):
        return Verdict.UNAUTHORIZED
    return Verdict.RETRY if translated.retryable else Verdict.FATAL


class BackoffWait:
    """Exponential backoff with full jitter, overridden by ``Retry-After`` (capped)."""

    def __init__(self, initial: float = 0.25, maximum: float = 32.0) -> None:
        self.initial = initial
        self.maximum = maximum

    def __call__(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, HttpError):
            hinted = retry_after_seconds(exc.resp)
            if hinted is not None:
                return min(hinted, self.maximum)
        ceiling = min(self.maximum, self.initial * (2 ** (state.attempt_number - 1)))
        return random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter, not crypto


def call_with_retry(
    fn: Callable[[], T],
    *,
    attempts: int = 6,
    wait: BackoffWait | None = None,
    sleep: Callable[[float], None] = time.sleep,
    on_retry: Callable[[BaseException], None] | None = None,
) -> T:
    """Call ``fn``; retry transient failures with backoff; re-raise the last error."""

    def _before_sleep(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        if exc is not None:
            log.debug("google_retry", attempt=state.attempt_number, status=http_status(exc))
            if on_retry is not None:
                on_retry(exc)

    retrying = Retrying(
        retry=retry_if_exception(lambda e: classify(e) is Verdict.RETRY),
        stop=stop_after_attempt(attempts),
        wait=wait or BackoffWait(),
        sleep=sleep,
        reraise=True,
        before_sleep=_before_sleep,
    )
    return retrying(fn)


class CircuitBreaker(_WindowBreaker):
    """Per account and service: ``failure_threshold`` consecutive service failures open it
    for ``reset_seconds``; then one probe. Thread-safe; the clock is injectable for tests."""

    def __init__(
        self,
        name: str,
        *,
        failure_threshold: int = 5,
        reset_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        # An unbounded window: a success clears the count, so this counts consecutive ones.
        super().__init__(
            failure_threshold=failure_threshold,
            window_seconds=math.inf,
            cooldown_seconds=reset_seconds,
            clock=clock,
        )
        self.name = name
        self.reset_seconds = reset_seconds

    def before_call(self) -> None:
        """Raise ``CircuitOpen`` unless a call may go through now."""
        if not self.allow():
            raise CircuitOpen(f"Google {self.name} is failing; pausing calls briefly")

    def record_failure(self) -> None:
        was_open = self.state is not BreakerState.CLOSED
        super().record_failure()
        if not was_open and self.state is BreakerState.OPEN:
            log.warning("google_circuit_open", breaker=self.name)

    def call(self, fn: Callable[[], T]) -> T:
        self.before_call()
        try:
            result = fn()
        except Exception as exc:
            # Only service trouble counts: a 404 or 400 says nothing about Google's health.
            if classify(exc) is Verdict.RETRY:
                self.record_failure()
            else:
                self.record_success()
            raise
        self.record_success()
        return result


_breakers: dict[str, CircuitBreaker] = {}
_breakers_lock = threading.Lock()


def breaker_for(account_key: str, service: str) -> CircuitBreaker:
    """The process-wide breaker of one account's service (e.g. ``("7", "gmail")``)."""
    name = f"{service}:{account_key}"
    with _breakers_lock:
        breaker = _breakers.get(name)
        if breaker is None:
            breaker = _breakers[name] = CircuitBreaker(name)
        return breaker
