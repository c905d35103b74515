"""Gmail through the official client: every call metered by the user's quota governor,
retried on transient failures and guarded by the account's circuit breaker.

Batch fetches (``fetch``) put up to 50 ``messages.get``/``threads.get`` calls in one
``BatchHttpRequest``, charged per inner call; inner parts that fail transiently are
retried on their own (re-batched), parts answering 404 are reported as ``missing``.
"""

from __future__ import annotations

import http.client
import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from googleapiclient.errors import HttpError

from secretary.config import Settings
from secretary.google.client import ManagedCredentials, build_service, new_batch, new_http
from secretary.google.errors import GoogleUnavailable, HistoryExpired, from_http_error
from secretary.google.quota import QuotaGovernor, governor_for
from secretary.google.resilience import (
    BackoffWait,
    CircuitBreaker,
    Verdict,
    breaker_for,
    call_with_retry,
    classify,
    http_status,
    retry_after_seconds,
)
from secretary.google.units import gmail_units
from secretary.kit.logging import get_logger

log = get_logger(__name__)

# What reusing a keep-alive connection the server closed while idle looks like.
STALE_CONNECTION_ERRORS = (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected)
T = TypeVar("T")

LIST_PAGE_SIZE = 500  # messages.list maximum; one page costs 5 units whatever its size
BATCH_PATH = "batch/gmail/v1"


@dataclass(frozen=True)
class FetchItem:
    kind: Literal["message", "thread", "minimal"]
    id: str

    @property
    def method(self) -> str:
        return "threads.get" if self.kind == "thread" else "messages.get"

    @property
    def units(self) -> int:
        return gmail_units(self.method)


@dataclass
class FetchResult:
    found: dict[FetchItem, dict[str, Any]] = field(default_factory=dict)
    missing: set[FetchItem] = field(default_factory=set)


@dataclass
class CallCounters:
    http_requests: int = 0
    retries: int = 0
    http_429: int = 0
    http_5xx: int = 0


class GmailClient:
    """One account's Gmail. Thread-safe: each thread gets its own keep-alive connection."""

    def __init__(
        self,
        credentials: ManagedCredentials,
        *,
        settings: Settings,
        account_key: str,
        user_id: str = "me",
        governor: QuotaGovernor | None = None,
        breaker: CircuitBreaker | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self.credentials = credentials
        self.user_id = user_id
        self.service = build_service("gmail", "v1", credentials, settings)
        self.governor = governor or governor_for(
            account_key,
            units_per_minute=settings.google.quota_units_per_minute,
            max_concurrent=settings.google.max_concurrent_requests,
            settings=settings,
        )
        self.breaker = breaker or breaker_for(account_key, "gmail")
        self.counters = CallCounters()
        # Building a Resource runs discovery code (method creation, docstrings): ~1 ms each.
        # Resources only build requests and hold no per-call state, so share them.
        users = self.service.users()
        self._users_resource = users
        self._messages = users.messages()
        self._threads = users.threads()
        self._local = threading.local()
        self._counter_lock = threading.Lock()
        self._sleep = sleep

    # -- plumbing -----------------------------------------------------------------------

    def _http(self) -> Any:
        http = getattr(self._local, "http", None)
        if http is None:
            http = self._local.http = new_http(self.credentials)
        return http

    def _on_live_connection(self, send: Callable[[Any], T]) -> T:
        """Send on this thread's keep-alive connection; if the server had closed it while
        idle (BrokenPipe/reset on reuse), resend once at once on a fresh connection.

        Not a retry in the quota sense: the request never reached the server, so it must
        not wait for backoff or pay its units twice (that cost ~5% of quota utilization).
        """
        try:
            return send(self._http())
        except STALE_CONNECTION_ERRORS:
            self._local.http = None
            return send(self._http())

    def _count_error(self, exc: BaseException) -> None:
        status = http_status(exc)
        with self._counter_lock:
            self.counters.retries += 1
            if status == 429:
                self.counters.http_429 += 1
            elif status is not None and status >= 500:
                self.counters.http_5xx += 1

    def _execute(self, request: Any, method: str) -> Any:
        units = gmail_units(method)

        def attempt() -> Any:
            with self.governor.slot(units):
                with self._counter_lock:
                    self.counters.http_requests += 1
                return self._on_live_connection(lambda http: request.execute(http=http))

        return self.breaker.call(
            lambda: call_with_retry(attempt, on_retry=self._count_error, sleep=self._sleep)
        )

    @property
    def _users(self) -> Any:
        return self._users_resource

    # -- calls --------------------------------------------------------------------------

    def get_profile(self) -> dict[str, Any]:
        result: dict[str, Any] = self._execute(
            self._users.getProfile(userId=self.user_id), "getProfile"
        )
        return result

    def list_labels(self) -> list[dict[str, Any]]:
        result = self._execute(self._users.labels().list(userId=self.user_id), "labels.list")
        return list(result.get("labels", []))

    def list_message_page(
        self,
        *,
        q: str | None = None,
        label_ids: Sequence[str] | None = None,
        page_token: str | None = None,
        include_spam_trash: bool = True,
    ) -> tuple[list[tuple[str, str]], str | None]:
        """One page of ``messages.list``: ``[(id, threadId)]`` newest first, next token."""
        kwargs: dict[str, Any] = {
            "userId": self.user_id,
            "maxResults": LIST_PAGE_SIZE,
            "includeSpamTrash": include_spam_trash,
        }
        if q:
            kwargs["q"] = q
        if label_ids:
            kwargs["labelIds"] = list(label_ids)
        if page_token:
            kwargs["pageToken"] = page_token
        result = self._execute(self._messages.list(**kwargs), "messages.list")
        ids = [(m["id"], m["threadId"]) for m in result.get("messages", [])]
        return ids, result.get("nextPageToken")

    def iter_message_ids(
        self, *, q: str | None = None, label_ids: Sequence[str] | None = None
    ) -> Iterator[tuple[str, str]]:
        token: str | None = None
        while True:
            ids, token = self.list_message_page(q=q, label_ids=label_ids, page_token=token)
            yield from ids
            if not token:
                return

    def list_history(self, start_history_id: int) -> tuple[list[dict[str, Any]], int]:
        """All history records after ``start_history_id`` and the mailbox's current id.

        Raises ``HistoryExpired`` on 404 (Google keeps history for about a week).
        """
        records: list[dict[str, Any]] = []
        token: str | None = None
        latest = start_history_id
        while True:
            kwargs: dict[str, Any] = {
                "userId": self.user_id,
                "startHistoryId": str(start_history_id),
                "maxResults": 500,
            }
            if token:
                kwargs["pageToken"] = token
            try:
                page = self._execute(self._users.history().list(**kwargs), "history.list")
            except HttpError as exc:
                if http_status(exc) == 404:
                    raise HistoryExpired(
                        "the stored Gmail history position expired", http_status=404
                    ) from exc
                raise
            records.extend(page.get("history", []))
            latest = max(latest, int(page.get("historyId", latest)))
            token = page.get("nextPageToken")
            if not token:
                return records, latest

    def watch(self, topic: str, label_ids: Sequence[str] | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"topicName": topic}
        if label_ids:
            body["labelIds"] = list(label_ids)
            body["labelFilterBehavior"] = "include"
        result: dict[str, Any] = self._execute(
            self._users.watch(userId=self.user_id, body=body), "watch"
        )
        return result

    def stop(self) -> None:
        self._execute(self._users.stop(userId=self.user_id), "stop")

    # -- batch fetch --------------------------------------------------------------------

    def _request_for(self, item: FetchItem) -> Any:
        if item.kind == "message":
            return self._messages.get(userId=self.user_id, id=item.id, format="raw")
        if item.kind == "minimal":
            return self._messages.get(userId=self.user_id, id=item.id, format="minimal")
        return self._threads.get(userId=self.user_id, id=item.id, format="full")

    def fetch(self, items: Sequence[FetchItem], *, attempts: int = 8) -> FetchResult:
        """Fetch one batch (≤ 50 items, cost ≤ the governor's batch ceiling).

        Transiently failed parts are retried on their own with backoff; 404 parts are
        ``missing`` (deleted since listing); any other failure raises.
        """
        result = FetchResult()
        pending = list(items)
        wait = BackoffWait()
        for attempt in range(1, attempts + 1):
            failed, hint = self._fetch_once(pending, result)
            if not failed:
                return result
            if attempt == attempts:
                raise GoogleUnavailable(
                    f"{len(failed)} Gmail batch parts still failing after {attempts} attempts"
                )
            ceiling = min(wait.maximum, wait.initial * 2 ** (attempt - 1))
            delay = hint if hint is not None else random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter
            self._sleep(min(delay, wait.maximum))
            pending = failed
        return result

    def _fetch_once(
        self, items: Sequence[FetchItem], result: FetchResult
    ) -> tuple[list[FetchItem], float | None]:
        failed: list[FetchItem] = []
        fatal: list[BaseException] = []
        hints: list[float] = []
        by_request_id = {str(i): item for i, item in enumerate(items)}

        def on_part(request_id: str, response: Any, exception: BaseException | None) -> None:
            item = by_request_id[request_id]
            if exception is None:
                result.found[item] = response
                return
            verdict = classify(exception)
            status = http_status(exception)
            if status == 404:
                result.missing.add(item)
            elif verdict is Verdict.RETRY:
                self._count_error(exception)
                failed.append(item)
                if isinstance(exception, HttpError):
                    hint = retry_after_seconds(exception.resp)
                    if hint is not None:
                        hints.append(hint)
            else:
                fatal.append(exception)

        units = sum(item.units for item in items)

        def send() -> None:
            batch = new_batch(self.service, self.settings, BATCH_PATH)
            for request_id, item in by_request_id.items():
                batch.add(self._request_for(item), callback=on_part, request_id=request_id)
            with self.governor.slot(units):
                with self._counter_lock:
                    self.counters.http_requests += 1
                self._on_live_connection(lambda http: batch.execute(http=http))

        def send_guarded() -> None:
            # A whole-batch failure (the /batch call itself) must not leave half-collected
            # part results: reset and resend everything.
            failed.clear()
            fatal.clear()
            hints.clear()
            send()

        self.breaker.call(
            lambda: call_with_retry(send_guarded, on_retry=self._count_error, sleep=self._sleep)
        )
        if fatal:
            # One translation for every Google failure: a 401 after the refresh is a
            # GoogleAuthError (the sync marks the account), anything else by its status.
            exc = fatal[0]
            if isinstance(exc, HttpError):
                raise from_http_error(exc, method="gmail.batch") from exc
            raise exc
        return failed, (max(hints) if hints else None)
