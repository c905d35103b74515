"""Retry classification, backoff honouring Retry-After, and the circuit breaker."""

from __future__ import annotations

import json

import httplib2
import pytest
from googleapiclient.errors import HttpError

from secretary.google.resilience import (
    BackoffWait,
    BreakerState,
    CircuitBreaker,
    CircuitOpen,
    Verdict,
    call_with_retry,
    classify,
    retry_after_seconds,
)


def http_error(status: int, reason: str = "x", headers: dict[str, str] | None = None) -> HttpError:
    resp = httplib2.Response({"status": str(status), **(headers or {})})
    body = json.dumps({"error": {"code": status, "errors": [{"reason": reason}]}}).encode()
    return HttpError(resp, body)


@pytest.mark.parametrize(
    ("exc", "verdict"),
    [
        (http_error(429, "rateLimitExceeded"), Verdict.RETRY),
        (http_error(500), Verdict.RETRY),
        (http_error(502), Verdict.RETRY),
        (http_error(503), Verdict.RETRY),
        (http_error(504), Verdict.RETRY),
        (http_error(403, "userRateLimitExceeded"), Verdict.RETRY),
        (http_error(403, "insufficientPermissions"), Verdict.FATAL),
        (http_error(400), Verdict.FATAL),
        (http_error(404), Verdict.FATAL),
        (http_error(401), Verdict.UNAUTHORIZED),
        (ConnectionResetError(), Verdict.RETRY),
        (TimeoutError(), Verdict.RETRY),
        (httplib2.ServerNotFoundError(), Verdict.RETRY),
        (ValueError(), Verdict.FATAL),
    ],
)
def test_classify(exc: BaseException, verdict: Verdict) -> None:
    assert classify(exc) is verdict


def test_retry_after_forms() -> None:
    assert retry_after_seconds({"retry-after": "7"}) == 7
    assert retry_after_seconds({}) is None
    assert retry_after_seconds({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0


def test_retries_transient_errors_then_succeeds_and_honours_retry_after() -> None:
    sleeps: list[float] = []
    outcomes: list[BaseException | str] = [
        http_error(503),
        http_error(429, headers={"retry-after": "3"}),
        "ok",
    ]

    def call() -> str:
        item = outcomes.pop(0)
        if isinstance(item, BaseException):
            raise item
        return item

    assert call_with_retry(call, sleep=sleeps.append) == "ok"
    assert len(sleeps) == 2
    assert 0.125 <= sleeps[0] <= 0.25  # first backoff: jitter in [initial/2, initial]
    assert sleeps[1] == 3  # Retry-After wins


@pytest.mark.parametrize("status", [400, 401, 403, 404])
def test_no_retry_on_client_errors(status: int) -> None:
    calls = 0

    def call() -> None:
        nonlocal calls
        calls += 1
        raise http_error(status)

    with pytest.raises(HttpError):
        call_with_retry(call, sleep=lambda _s: None)
    assert calls == 1


def test_gives_up_after_the_attempts() -> None:
    calls = 0

    def call() -> None:
        nonlocal calls
        calls += 1
        raise http_error(500)

    with pytest.raises(HttpError):
        call_with_retry(call, attempts=4, sleep=lambda _s: None)
    assert calls == 4


def test_backoff_grows_and_is_capped() -> None:
    wait = BackoffWait(initial=1, maximum=8)

    class State:
        def __init__(self, n: int) -> None:
            self.attempt_number = n
            self.outcome = None

    values = [wait(State(n)) for n in range(1, 8)]  # type: ignore[arg-type]
    assert all(v <= 8 for v in values)
    assert values[0] <= 1
    assert values[-1] >= 4


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def test_breaker_opens_after_consecutive_failures_and_half_opens() -> None:
    clock = Clock()
    breaker = CircuitBreaker("gmail:1", failure_threshold=3, reset_seconds=10, clock=clock)

    def fail() -> None:
        raise http_error(503)

    for _ in range(3):
        with pytest.raises(HttpError):
            breaker.call(fail)
    assert breaker.state is BreakerState.OPEN
    with pytest.raises(CircuitOpen):
        breaker.call(lambda: "never")
    clock.now = 10
    assert breaker.state is BreakerState.HALF_OPEN
    # The probe fails: open again, no second probe until the next reset period.
    with pytest.raises(HttpError):
        breaker.call(fail)
    assert breaker.state is BreakerState.OPEN
    clock.now = 20
    assert breaker.call(lambda: "ok") == "ok"
    assert breaker.state is BreakerState.CLOSED


def test_breaker_ignores_client_errors() -> None:
    breaker = CircuitBreaker("gmail:2", failure_threshold=2)

    def not_found() -> None:
        raise http_error(404)

    for _ in range(5):
        with pytest.raises(HttpError):
            breaker.call(not_found)
    assert breaker.state is BreakerState.CLOSED
