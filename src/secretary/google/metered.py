"""What every Google client shares: one call = the user's quota governor (units and a
concurrency slot), the account's circuit breaker for the service, retries with backoff,
and one keep-alive connection per thread (httplib2 is not thread-safe).

``GmailClient`` predates this module and carries the same plumbing inline (plus batches);
``CalendarClient`` and ``DriveClient`` build on ``MeteredClient``.
"""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from secretary.config import Settings
from secretary.google.client import ManagedCredentials, build_service, new_http
from secretary.google.quota import QuotaGovernor, governor_for
from secretary.google.resilience import CircuitBreaker, breaker_for, call_with_retry, http_status

T = TypeVar("T")

STALE_CONNECTION_ERRORS = (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected)


@dataclass
class CallCounters:
    http_requests: int = 0
    retries: int = 0
    http_429: int = 0
    http_5xx: int = 0


class MeteredClient:
    """A discovery client for one account and one API, metered and guarded."""

    api: str = ""
    version: str = ""

    def __init__(
        self,
        credentials: ManagedCredentials,
        *,
        settings: Settings,
        account_key: str,
        units: Callable[[str], int],
        governor: QuotaGovernor | None = None,
        breaker: CircuitBreaker | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self.credentials = credentials
        self.service = build_service(self.api, self.version, credentials, settings)
        # One governor per user for every API: the emulator (and our plan) count one
        # allowance per user, so Gmail, Calendar and Drive syncs share it.
        self.governor = governor or governor_for(
            account_key,
            units_per_minute=settings.google.quota_units_per_minute,
            max_concurrent=settings.google.max_concurrent_requests,
            settings=settings,
        )
        self.breaker = breaker or breaker_for(account_key, self.api)
        self.counters = CallCounters()
        self._units = units
        self._local = threading.local()
        self._counter_lock = threading.Lock()
        self._sleep = sleep

    def _http(self) -> Any:
        http = getattr(self._local, "http", None)
        if http is None:
            http = self._local.http = new_http(self.credentials)
        return http

    def _count_error(self, exc: BaseException) -> None:
        status = http_status(exc)
        with self._counter_lock:
            self.counters.retries += 1
            if status == 429:
                self.counters.http_429 += 1
            elif status is not None and status >= 500:
                self.counters.http_5xx += 1

    def _send(self, send: Callable[[Any], T], method: str) -> T:
        """Run ``send(http)`` as one metered, retried, breaker-guarded call of ``method``."""
        units = self._units(method)

        def attempt() -> T:
            with self.governor.slot(units):
                with self._counter_lock:
                    self.counters.http_requests += 1
                try:
                    return send(self._http())
                except STALE_CONNECTION_ERRORS:
                    # The server closed the idle keep-alive connection: the request never
                    # arrived, so resend at once on a fresh one (no backoff, no units).
                    self._local.http = None
                    return send(self._http())

        return self.breaker.call(
            lambda: call_with_retry(attempt, on_retry=self._count_error, sleep=self._sleep)
        )

    def _execute(self, request: Any, method: str) -> Any:
        return self._send(lambda http: request.execute(http=http), method)
