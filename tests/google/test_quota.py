"""The client-side quota: token bucket arithmetic and the per-user governor."""

from __future__ import annotations

import threading

import pytest

from secretary.google.quota import QuotaGovernor, TokenBucket, governor_for


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_bucket_starts_full_and_refills_at_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(100, 10, clock=clock, sleep=clock.sleep)
    assert bucket.try_acquire(100) == 0
    assert bucket.try_acquire(5) == pytest.approx(0.5)
    clock.now += 0.5
    assert bucket.try_acquire(5) == 0


def test_acquire_blocks_for_exactly_the_missing_units() -> None:
    clock = FakeClock()
    bucket = TokenBucket(50, 10, clock=clock, sleep=clock.sleep)
    bucket.acquire(50)
    waited = bucket.acquire(20)
    assert waited == pytest.approx(2.0)
    assert clock.now == pytest.approx(2.0)


def test_a_charge_larger_than_the_bucket_is_refused() -> None:
    bucket = TokenBucket(10, 1)
    with pytest.raises(ValueError, match="exceeds"):
        bucket.try_acquire(11)


def test_governor_never_exceeds_the_limit_in_any_rolling_minute() -> None:
    """Drive the governor as fast as it allows for 5 simulated minutes; every 60 s window
    stays within the limit, and the steady-state use is >= 90% of the allowance."""
    clock = FakeClock()
    gov = QuotaGovernor(6000, 10, clock=clock)
    assert gov.bucket is not None
    gov.bucket._sleep = clock.sleep
    charges: list[tuple[float, int]] = []
    while clock.now < 300:
        gov.charge(250)  # a batch of 50 messages.get
        charges.append((clock.now, 250))
    for start, _ in charges:
        in_window = sum(u for t, u in charges if start <= t < start + 60)
        assert in_window <= 6000
    used = sum(u for _, u in charges)
    assert used / (6000 * clock.now / 60) >= 0.9
    assert gov.max_batch_cost >= 250


def test_governor_off_means_no_bucket() -> None:
    gov = QuotaGovernor(0, 4)
    assert gov.bucket is None
    gov.charge(10**6)  # does not block
    assert gov.stats.units_charged == 10**6


def test_governor_limits_concurrency() -> None:
    gov = QuotaGovernor(0, 2)
    inside = 0
    peak = 0
    lock = threading.Lock()
    release = threading.Event()

    def call() -> None:
        nonlocal inside, peak
        with gov.slot(1):
            with lock:
                inside += 1
                peak = max(peak, inside)
            release.wait(0.05)
            with lock:
                inside -= 1

    threads = [threading.Thread(target=call) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak == 2


def test_governors_are_shared_per_user() -> None:
    a = governor_for("acct-1", units_per_minute=6000, max_concurrent=10)
    b = governor_for("acct-1", units_per_minute=6000, max_concurrent=10)
    c = governor_for("acct-2", units_per_minute=6000, max_concurrent=10)
    assert a is b
    assert a is not c
