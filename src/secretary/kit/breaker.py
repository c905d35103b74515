"""A circuit breaker: N failures within a window open it for a cooldown, then half-open.

Used per LLM provider (5 failures within 60 s open it for 30 s) and per Google account and
service (consecutive failures: an unbounded window, since a success clears the count).

Closed: calls pass; failures are remembered for ``window`` seconds. Open: calls are refused
until ``cooldown`` has passed. Half-open: exactly one probe call passes; its success closes
the breaker, its failure opens it again for another ``cooldown``. The clock is injected so
tests move time instead of sleeping. Hand-rolled: ~50 lines, and the maintained breaker
libraries (pybreaker, purgatory) count consecutive failures, not failures within a window.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from enum import StrEnum


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    def __init__(
        self,
        *,
        failure_threshold: int = 5,
        window_seconds: float = 60.0,
        cooldown_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.failure_threshold = failure_threshold
        self.window_seconds = window_seconds
        self.cooldown_seconds = cooldown_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._failures: deque[float] = deque()
        self._opened_at: float | None = None
        self._probe_in_flight = False

    @property
    def state(self) -> BreakerState:
        with self._lock:
            return self._state_locked()

    def _state_locked(self) -> BreakerState:
        if self._opened_at is None:
            return BreakerState.CLOSED
        if self._clock() - self._opened_at >= self.cooldown_seconds:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    def allow(self) -> bool:
        """Whether a call may go out now (takes the single probe slot when half-open)."""
        with self._lock:
            state = self._state_locked()
            if state is BreakerState.CLOSED:
                return True
            if state is BreakerState.HALF_OPEN and not self._probe_in_flight:
                self._probe_in_flight = True
                return True
            return False

    def record_success(self) -> None:
        with self._lock:
            self._failures.clear()
            self._opened_at = None
            self._probe_in_flight = False

    def record_failure(self) -> None:
        with self._lock:
            now = self._clock()
            if self._opened_at is not None:
                # A failed half-open probe (or a straggler) re-opens for a full cooldown.
                self._opened_at = now
                self._probe_in_flight = False
                return
            self._failures.append(now)
            while self._failures and now - self._failures[0] > self.window_seconds:
                self._failures.popleft()
            if len(self._failures) >= self.failure_threshold:
                self._opened_at = now
                self._failures.clear()
