"""Per-user quota enforcement and the per-call gate every emulated API method passes.

Units come from ``workspace_emulator.units`` (Google's published table): Gmail per method, Calendar/Drive 1 per call. Usage is counted per user over a rolling
60 s window; over the allowance the call answers 429 ``userRateLimitExceeded``, over the
concurrency limit 429 ``rateLimitExceeded``. Modes: ``off`` (count, never refuse),
``default`` (Google's 2026 defaults) and ``custom``. Stats (units, requests, 429s, peak units
in any 60 s window) back the sync benchmark's ``quota_utilization``.

``api_call(method_id)`` is the FastAPI dependency for every route of Gmail, Calendar and
Drive: bearer-token auth (401 in Google's shape), ``userId`` check, quota, then injected
faults. State key: ``state.extras["quota"]`` holds the ``QuotaBook``.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request

from workspace_emulator.errors import GoogleApiError
from workspace_emulator.faults import fault_injector
from workspace_emulator.methods import check_scopes
from workspace_emulator.state import EmulatorState, EmulatorUser
from workspace_emulator.units import (
    CALENDAR_UNITS_DEFAULT,
    DEFAULT_MAX_CONCURRENT_PER_USER,
    DEFAULT_USER_UNITS_PER_MINUTE,
    drive_units,
    gmail_units,
)

WINDOW_S = 60.0
QUOTA_MODES = ("off", "default", "custom")


def method_units(method_id: str) -> int:
    if method_id.startswith("gmail."):
        return gmail_units(method_id)
    if method_id.startswith("calendar."):
        return CALENDAR_UNITS_DEFAULT
    if method_id.startswith("drive."):
        return drive_units(method_id)
    return 1


@dataclass
class QuotaConfig:
    mode: str = "default"
    units_per_minute: int = DEFAULT_USER_UNITS_PER_MINUTE
    max_concurrent: int = DEFAULT_MAX_CONCURRENT_PER_USER
    retry_after: bool = True  # send Retry-After on quota 429s (Google sometimes does)

    def __post_init__(self) -> None:
        if self.mode not in QUOTA_MODES:
            raise ValueError(f"quota mode must be one of {QUOTA_MODES}")
        if self.mode == "default":
            self.units_per_minute = DEFAULT_USER_UNITS_PER_MINUTE
            self.max_concurrent = DEFAULT_MAX_CONCURRENT_PER_USER


@dataclass
class UserUsage:
    window: deque[tuple[float, int]] = field(default_factory=deque)
    window_units: int = 0
    units: int = 0
    requests: int = 0
    http_429: int = 0
    rejected_rate: int = 0
    rejected_concurrency: int = 0
    peak_window_units: int = 0
    in_flight: int = 0
    peak_in_flight: int = 0
    first_at: float | None = None
    last_at: float | None = None

    def expire(self, now: float) -> None:
        while self.window and self.window[0][0] <= now - WINDOW_S:
            self.window_units -= self.window.popleft()[1]

    def to_dict(self) -> dict[str, Any]:
        return {
            "units": self.units,
            "requests": self.requests,
            "http_429": self.http_429,
            "rejected_rate": self.rejected_rate,
            "rejected_concurrency": self.rejected_concurrency,
            "window_units": self.window_units,
            "peak_window_units": self.peak_window_units,
            "peak_in_flight": self.peak_in_flight,
            "active_seconds": (self.last_at - self.first_at)
            if self.first_at is not None and self.last_at is not None
            else 0.0,
        }


class QuotaBook:
    def __init__(
        self, config: QuotaConfig | None = None, clock: Callable[[], float] = time.monotonic
    ):
        self.config = config or QuotaConfig()
        self.clock = clock
        self._lock = threading.Lock()
        self.users: dict[str, UserUsage] = {}

    def configure(self, config: QuotaConfig) -> None:
        with self._lock:
            self.config = config

    def reset_stats(self) -> None:
        with self._lock:
            self.users.clear()

    def acquire(self, email: str, method_id: str) -> None:
        """Charge one call; raise a Google-shaped 429 when the user is over a limit."""
        units = method_units(method_id)
        with self._lock:
            now = self.clock()
            usage = self.users.setdefault(email, UserUsage())
            usage.expire(now)
            enforce = self.config.mode != "off"
            if enforce and usage.in_flight >= self.config.max_concurrent:
                usage.http_429 += 1
                usage.rejected_concurrency += 1
                raise GoogleApiError(
                    429,
                    "Too many concurrent requests for user.",
                    reason="rateLimitExceeded",
                )
            if enforce and usage.window_units + units > self.config.units_per_minute:
                usage.http_429 += 1
                usage.rejected_rate += 1
                headers = {}
                if self.config.retry_after:
                    headers["Retry-After"] = str(self._seconds_until_room(usage, units, now))
                raise GoogleApiError(
                    429,
                    "User-rate limit exceeded. Retry after the rolling minute frees units.",
                    reason="userRateLimitExceeded",
                    headers=headers,
                )
            usage.window.append((now, units))
            usage.window_units += units
            usage.units += units
            usage.requests += 1
            usage.in_flight += 1
            usage.peak_in_flight = max(usage.peak_in_flight, usage.in_flight)
            usage.peak_window_units = max(usage.peak_window_units, usage.window_units)
            if usage.first_at is None:
                usage.first_at = now
            usage.last_at = now

    def _seconds_until_room(self, usage: UserUsage, units: int, now: float) -> int:
        needed = usage.window_units + units - self.config.units_per_minute
        freed = 0
        for at, n in usage.window:
            freed += n
            if freed >= needed:
                return max(1, math.ceil(at + WINDOW_S - now))
        return int(WINDOW_S)

    def release(self, email: str) -> None:
        with self._lock:
            usage = self.users.get(email)
            if usage is not None and usage.in_flight > 0:
                usage.in_flight -= 1

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                "mode": self.config.mode,
                "units_per_minute": self.config.units_per_minute,
                "max_concurrent": self.config.max_concurrent,
                "users": {email: usage.to_dict() for email, usage in self.users.items()},
            }


def quota_book(state: EmulatorState) -> QuotaBook:
    with state.lock:
        book = state.extras.get("quota")
        if book is None:
            book = state.extras["quota"] = QuotaBook()
        return book


def authenticate(state: EmulatorState, request: Request, method_id: str = "") -> EmulatorUser:
    """The user behind the request's bearer token, else a Google-shaped 401/403."""
    return authenticate_header(
        state,
        request.headers.get("authorization", ""),
        request.path_params.get("userId"),
        method_id,
    )


def authenticate_header(
    state: EmulatorState,
    header: str,
    user_id: str | None,
    method_id: str = "",
    params: Mapping[str, str] | None = None,
) -> EmulatorUser:
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise GoogleApiError(
            401,
            "Request is missing required authentication credential. Expected OAuth 2 access "
            "token, login cookie or other valid authentication credential.",
            reason="required",
        )
    user = state.user_for_token(token.strip())
    if user is None:
        raise GoogleApiError(
            401,
            "Request had invalid authentication credentials. Expected OAuth 2 access token, "
            "login cookie or other valid authentication credential.",
            reason="authError",
        )
    rec = state.access_tokens.get(token.strip())
    if rec is not None and method_id:
        check_scopes(method_id, rec.scopes, params)
    if user_id is not None and user_id != "me" and user_id.lower() != user.email.lower():
        raise GoogleApiError(403, f"Delegation denied for {user.email}", reason="forbidden")
    return user


def api_call(method_id: str) -> Callable[[Request], AsyncIterator[EmulatorUser]]:
    """Dependency for a route implementing ``method_id``: auth, quota, faults; yields the user."""

    async def gate(request: Request) -> AsyncIterator[EmulatorUser]:
        state: EmulatorState = request.app.state.emulator
        async with guarded_call(
            state,
            method_id,
            request.headers.get("authorization", ""),
            request.path_params.get("userId"),
            request.query_params,
        ) as user:
            yield user

    gate.__name__ = f"api_call_{method_id.replace('.', '_')}"
    return gate


@contextlib.asynccontextmanager
async def guarded_call(
    state: EmulatorState,
    method_id: str,
    authorization: str,
    user_id: str | None,
    params: Mapping[str, str] | None = None,
) -> AsyncIterator[EmulatorUser]:
    """Auth (scopes as discovery lists them), quota charge, injected faults; the concurrency
    slot is held for the block."""
    user = authenticate_header(state, authorization, user_id, method_id, params)
    book = quota_book(state)
    book.acquire(user.email, method_id)
    try:
        # Yield once while holding the slot, so concurrent calls (batch parts) really
        # overlap, as they do on Google's servers.
        await asyncio.sleep(0)
        await fault_injector(state).apply(method_id)
        yield user
    finally:
        book.release(user.email)
