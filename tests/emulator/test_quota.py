"""Per-user quota: units per rolling minute, concurrency, modes and stats."""

from __future__ import annotations

import json
from typing import Any

import pytest
from googleapiclient.errors import HttpError
from workspace_emulator.control import EmulatorControl
from workspace_emulator.errors import GoogleApiError
from workspace_emulator.quota import QuotaBook, QuotaConfig, method_units
from workspace_emulator.server import RunningEmulator
from workspace_emulator.state import EmulatorUser

from secretary.google.units import DEFAULT_MAX_CONCURRENT_PER_USER, DEFAULT_USER_UNITS_PER_MINUTE


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_units_come_from_the_shared_table() -> None:
    assert method_units("gmail.users.messages.get") == 5
    assert method_units("gmail.users.messages.send") == 100
    assert method_units("gmail.users.history.list") == 2
    assert method_units("calendar.events.list") == 1
    assert method_units("drive.files.list") == 100  # the client's table prices listings
    assert method_units("drive.files.get") == 1


def test_rolling_minute_and_peak_window() -> None:
    clock = FakeClock()
    book = QuotaBook(QuotaConfig(mode="custom", units_per_minute=20, max_concurrent=100), clock)
    for _ in range(4):
        book.acquire("u", "gmail.users.messages.get")
        book.release("u")
    with pytest.raises(GoogleApiError) as err:
        book.acquire("u", "gmail.users.messages.get")
    assert err.value.status_code == 429
    assert err.value.reason == "userRateLimitExceeded"
    assert err.value.headers["Retry-After"] == "60"
    clock.now += 30
    with pytest.raises(GoogleApiError):
        book.acquire("u", "gmail.users.getProfile")
    clock.now += 30.5  # the first calls leave the window
    book.acquire("u", "gmail.users.messages.get")
    book.release("u")
    stats = book.stats()["users"]["u"]
    assert stats["units"] == 25
    assert stats["requests"] == 5
    assert stats["http_429"] == 2
    assert stats["peak_window_units"] == 20
    assert stats["window_units"] == 5


def test_concurrency_limit() -> None:
    book = QuotaBook(
        QuotaConfig(mode="custom", units_per_minute=10_000, max_concurrent=2), FakeClock()
    )
    book.acquire("u", "gmail.users.messages.get")
    book.acquire("u", "gmail.users.messages.get")
    with pytest.raises(GoogleApiError) as err:
        book.acquire("u", "gmail.users.messages.get")
    assert err.value.reason == "rateLimitExceeded"
    book.release("u")
    book.acquire("u", "gmail.users.messages.get")
    assert book.stats()["users"]["u"]["rejected_concurrency"] == 1


def test_off_mode_counts_but_never_refuses() -> None:
    book = QuotaBook(QuotaConfig(mode="off"), FakeClock())
    for _ in range(100):
        book.acquire("u", "gmail.users.messages.send")  # 100 units each
    assert book.stats()["users"]["u"]["units"] == 10_000


def test_default_mode_uses_google_2026_defaults() -> None:
    config = QuotaConfig(mode="default", units_per_minute=1, max_concurrent=1)
    assert config.units_per_minute == DEFAULT_USER_UNITS_PER_MINUTE == 6000
    assert config.max_concurrent == DEFAULT_MAX_CONCURRENT_PER_USER
    with pytest.raises(ValueError, match="quota mode"):
        QuotaConfig(mode="unlimited")


def test_quota_over_http_with_batch_parts_charged_separately(
    emulator: RunningEmulator, gmail: Any, gmail_user: EmulatorUser
) -> None:
    control = EmulatorControl(emulator.base_url)
    # Room for every part at once: batch parts run concurrently (see test_fidelity_gmail).
    control.set_quota("custom", units_per_minute=30, max_concurrent=10, reset_stats=True)
    batch = gmail.new_batch_http_request()
    batch._batch_uri = f"{emulator.base_url}/batch/gmail/v1"
    results: list[Any] = []
    for _ in range(8):
        batch.add(
            gmail.users().getProfile(userId="me"),
            callback=lambda _id, resp, exc: results.append(exc or resp),
        )
    batch.execute()
    assert sum(isinstance(r, dict) for r in results) == 8  # 8 units
    for _ in range(4):
        gmail.users().messages().list(userId="me").execute()  # 20 units -> 28
    with pytest.raises(HttpError) as err:
        gmail.users().messages().list(userId="me").execute()
    assert err.value.resp.status == 429
    assert json.loads(err.value.content)["error"]["errors"][0]["reason"] == "userRateLimitExceeded"
    assert err.value.resp["retry-after"]
    user_stats = control.stats()["quota"]["users"][gmail_user.email]
    assert user_stats["units"] == 28
    assert user_stats["http_429"] == 1
    assert user_stats["peak_window_units"] == 28
    control.set_quota("off")
    gmail.users().messages().list(userId="me").execute()
    control.close()


def test_emulator_prices_calls_as_the_client_bucket_does() -> None:
    """The emulator is its own package with its own copy of Google's units table."""
    from workspace_emulator import units as emulator_units

    from secretary.google import units as client_units

    assert emulator_units.GMAIL_UNITS == client_units.GMAIL_UNITS
    assert emulator_units.CALENDAR_UNITS_DEFAULT == client_units.CALENDAR_UNITS_DEFAULT
    assert emulator_units.DRIVE_UNITS_DEFAULT == client_units.DRIVE_UNITS_DEFAULT
    assert (
        emulator_units.DEFAULT_USER_UNITS_PER_MINUTE == client_units.DEFAULT_USER_UNITS_PER_MINUTE
    )
