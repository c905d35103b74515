"""The circuit breaker on its own: windowing, cooldown, a single half-open probe."""

from __future__ import annotations

from secretary.llm.breaker import BreakerState, CircuitBreaker
from tests.llm._support import FakeClock


def test_opens_on_the_fifth_failure_within_the_window() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(clock=clock)
    for _ in range(4):
        breaker.record_failure()
        clock.advance(14)
    assert breaker.state is BreakerState.CLOSED
    breaker.record_failure()  # the 5th, 56 s after the first
    assert breaker.state is BreakerState.OPEN
    assert breaker.allow() is False


def test_old_failures_fall_out_of_the_window() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(clock=clock)
    for _ in range(4):
        breaker.record_failure()
    clock.advance(61)
    breaker.record_failure()
    assert breaker.state is BreakerState.CLOSED


def test_half_open_lets_exactly_one_probe_through() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(clock=clock)
    for _ in range(5):
        breaker.record_failure()
    clock.advance(30)
    assert breaker.state is BreakerState.HALF_OPEN
    assert breaker.allow() is True
    assert breaker.allow() is False  # a second caller waits for the probe's outcome
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED
    assert breaker.allow() is True


def test_success_resets_the_failure_count() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(clock=clock)
    for _ in range(4):
        breaker.record_failure()
    breaker.record_success()
    breaker.record_failure()
    assert breaker.state is BreakerState.CLOSED
