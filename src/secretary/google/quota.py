"""Client-side Gmail quota: a per-user token bucket priced from ``secretary.google.units``
plus a per-user concurrency limit, shared by every client in the process.

Why a bucket sized like this: Google (and the emulator) count units per user over a rolling
60 s window. A bucket of capacity ``C`` refilling at ``r`` units/s admits at most
``C + 60·r`` units in any 60 s window, so with ``r = (limit - C) / 61`` we can never exceed
the limit (the extra second absorbs request transit time), while steady-state use stays at
``60/61 · (limit - C) / limit`` of the allowance: 94% with the default ``C = limit / 24``
(250 units for 6,000/min: exactly one batch of 50 ``messages.get``).
Batch requests are charged per inner call, so a batch must never cost more than ``C``;
``QuotaGovernor.max_batch_cost`` tells planners the ceiling.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from secretary.config import Settings
from secretary.google.units import gmail_units

Clock = Callable[[], float]
# The bucket must hold the dearest single call: Drive's files.list and Gmail's send cost 100.
MIN_CAPACITY = 100.0


class TokenBucket:
    """A thread-safe token bucket. ``acquire`` blocks until the units are available."""

    def __init__(
        self,
        capacity: float,
        refill_per_second: float,
        *,
        clock: Clock = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if capacity <= 0 or refill_per_second <= 0:
            raise ValueError("capacity and refill rate must be positive")
        self.capacity = capacity
        self.refill_per_second = refill_per_second
        self._clock = clock
        self._sleep = sleep
        self._tokens = capacity
        self._updated = clock()
        self._lock = threading.Lock()
        self.units_charged = 0

    def _refill(self) -> None:
        now = self._clock()
        elapsed = max(0.0, now - self._updated)
        self._tokens = min(self.capacity, self._tokens + elapsed * self.refill_per_second)
        self._updated = now

    def try_acquire(self, units: float) -> float:
        """Take ``units`` if available and return 0, else return the seconds to wait."""
        if units > self.capacity:
            raise ValueError(f"a single charge of {units} exceeds the bucket of {self.capacity}")
        with self._lock:
            self._refill()
            if self._tokens >= units:
                self._tokens -= units
                self.units_charged += int(units)
                return 0.0
            # At least 1 ms: a float-rounding shortfall must not spin on zero-length sleeps.
            return max((units - self._tokens) / self.refill_per_second, 0.001)

    def acquire(self, units: float) -> float:
        """Block until ``units`` are taken; returns the seconds spent waiting."""
        waited = 0.0
        while True:
            wait = self.try_acquire(units)
            if wait <= 0:
                return waited
            self._sleep(wait)
            waited += wait

    @property
    def available(self) -> float:
        with self._lock:
            self._refill()
            return self._tokens


@dataclass
class QuotaStats:
    units_charged: int = 0
    calls: int = 0
    seconds_waited: float = 0.0


class QuotaGovernor:
    """The quota gate for one user: units (token bucket) and concurrency (semaphore).

    ``units_per_minute <= 0`` disables the bucket (emulator with quotas off, benchmarks).
    """

    def __init__(
        self, units_per_minute: int, max_concurrent: int, *, clock: Clock = time.monotonic
    ) -> None:
        self.units_per_minute = units_per_minute
        self.max_concurrent = max(1, max_concurrent)
        self._semaphore = threading.BoundedSemaphore(self.max_concurrent)
        self.bucket: TokenBucket | None = None
        if units_per_minute > 0:
            capacity = max(units_per_minute / 24, MIN_CAPACITY)
            rate = max(units_per_minute - capacity, 1.0) / 61.0
            self.bucket = TokenBucket(capacity, rate, clock=clock)
        self.stats = QuotaStats()
        self._stats_lock = threading.Lock()

    @property
    def max_batch_cost(self) -> int:
        """The most units one HTTP request (a batch) may be charged."""
        return int(self.bucket.capacity) if self.bucket else 10**9

    def charge(self, units: int) -> None:
        waited = self.bucket.acquire(units) if self.bucket else 0.0
        with self._stats_lock:
            self.stats.units_charged += units
            self.stats.calls += 1
            self.stats.seconds_waited += waited

    @contextmanager
    def slot(self, units: int) -> Iterator[None]:
        """Charge ``units`` and hold one concurrency slot for the duration of the call."""
        self.charge(units)
        with self._semaphore:
            yield

    @staticmethod
    def price(methods: list[str]) -> int:
        return sum(gmail_units(m) for m in methods)


_governors: dict[str, QuotaGovernor] = {}
_registry_lock = threading.Lock()


def governor_for(
    user_key: str,
    *,
    units_per_minute: int,
    max_concurrent: int,
    settings: Settings | None = None,
) -> QuotaGovernor:
    """The process-wide governor of one user (by account id or address); created on first use.

    Every client for the same user shares it, so two syncs and the API together stay under
    the user's quota. With ``settings.google.quota_shared`` (and quotas on) the governor is
    backed by PostgreSQL (``shared_quota.SharedQuotaGovernor``), so every *process* of the
    deployment shares one allowance per user too.
    """
    shared = bool(settings is not None and settings.google.quota_shared and units_per_minute > 0)
    where = "local"
    if shared and settings is not None:
        from secretary.db.engine import resolve_database_url

        # The database is part of the key: a process that talks to two deployments (the
        # demo beside the tests, two test databases) must not charge user 1 of one in the
        # other's bucket, nor through an engine of a database dropped since.
        where = "db:" + resolve_database_url(settings)
    key = f"{user_key}:{units_per_minute}:{max_concurrent}:{where}"
    with _registry_lock:
        gov = _governors.get(key)
        if gov is None:
            if shared and settings is not None:
                from secretary.google.shared_quota import SharedQuotaGovernor

                gov = SharedQuotaGovernor(
                    user_key, units_per_minute, max_concurrent, settings=settings
                )
            else:
                gov = QuotaGovernor(units_per_minute, max_concurrent)
            _governors[key] = gov
        return gov
