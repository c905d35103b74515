"""Background entry points of sync: the incremental run a push or a poll triggers, watch
renewal, and ``SyncScheduler``, the asyncio loop that ``secretary serve`` and the demo start.

``run_incremental_sync(session_factory, account_id, settings)`` is the one function the
durable task system calls; everything else here is the in-process scheduling around it.
Two syncs of one account never run at once (``service.account_lock``); a push that lands
while a sync runs marks the account dirty and the scheduler runs it again right after.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from secretary.accounts.errors import AccountNeedsReauth
from secretary.config import Settings
from secretary.db.models import AccountStatus
from secretary.db.session import unit_of_work
from secretary.errors import SecretaryError
from secretary.kit.clock import from_epoch_ms, utcnow
from secretary.kit.logging import correlation, get_logger
from secretary.sync import repository as repo
from secretary.sync import service
from secretary.sync.errors import AccountNotSyncable, SyncAlreadyRunning
from secretary.sync.plan import next_poll_interval
from secretary.sync.schemas import SyncReport

log = get_logger(__name__)

WATCH_RENEW_EVERY = timedelta(days=1)  # Google: re-call watch at least every 7 days; daily


def run_incremental_sync(
    session_factory: sessionmaker[Session], account_id: int, settings: Settings
) -> SyncReport | None:
    """Bring one account up to date (finishing a backfill first if one is pending).

    Returns None when another sync of the account is already running (it will pick up
    the same changes) or the account needs re-authorization (skipped, never retried in a
    loop: the account's status tells the user what to do).
    """
    with correlation(account_id=account_id, job="sync.gmail_history"):
        try:
            return service.run_sync(session_factory, account_id, settings)
        except SyncAlreadyRunning:
            return None
        except (AccountNotSyncable, AccountNeedsReauth):
            log.info("sync_skipped_needs_reauth", account_id=account_id)
            return None


def renew_watch_if_due(
    session_factory: sessionmaker[Session], account_id: int, settings: Settings
) -> bool:
    """Call Gmail ``watch`` when the current one is missing or older than a day."""
    with unit_of_work(session_factory) as session:
        account = repo.get_account(session, account_id)
        if account is None or account.status != AccountStatus.ACTIVE:
            return False
        state = repo.get_state(session, account)
        expires = state.watch_expires_at
    # Google's watch lasts 7 days; renewing daily leaves six days of slack for failures.
    if expires is not None and expires - utcnow() > timedelta(days=7) - WATCH_RENEW_EVERY:
        return False
    client = service.open_gmail(session_factory, account_id, settings)
    response = client.watch(settings.google.pubsub_topic)
    expiration = response.get("expiration")
    with unit_of_work(session_factory) as session:
        account = repo.get_account(session, account_id)
        if account is None:
            return False
        state = repo.get_state(session, account)
        state.watch_expires_at = (
            from_epoch_ms(expiration) if expiration else utcnow() + timedelta(days=7)
        )
    log.info("gmail_watch_renewed", account_id=account_id)
    return True


@dataclass
class _AccountSchedule:
    interval: float
    announced_history_id: int = 0
    requested: bool = False
    running: bool = False
    failures: int = 0
    next_due: float = 0.0  # loop time


@dataclass
class PushDeduplicator:
    """Remembers recent Pub/Sub ``messageId``s (Pub/Sub delivers at least once)."""

    capacity: int = 10_000
    _seen: OrderedDict[str, None] = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def first_time(self, message_id: str) -> bool:
        with self._lock:
            if message_id in self._seen:
                self._seen.move_to_end(message_id)
                return False
            self._seen[message_id] = None
            if len(self._seen) > self.capacity:
                self._seen.popitem(last=False)
            return True


class SyncScheduler:
    """Runs incremental syncs on pushes and on an adaptive safety poll, and renews watches.

    Each account's poll interval starts at ``poll_min_seconds``; a poll that finds changes
    no push announced halves it (pushes are being lost), a quiet poll grows it by half up
    to ``poll_max_seconds``. Failures back off exponentially up to the same maximum.
    """

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        settings: Settings,
        *,
        tick_seconds: float = 0.2,
        renew_watch: bool = True,
    ) -> None:
        self.sessions = session_factory
        self.settings = settings
        self.tick_seconds = tick_seconds
        self.renew_watch = renew_watch
        self.accounts: dict[int, _AccountSchedule] = {}
        self.dedup = PushDeduplicator()
        self.runs = 0
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake = asyncio.Event()
        self._inflight: set[asyncio.Task[None]] = set()

    # -- control --------------------------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name="sync-scheduler")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._inflight:
            await asyncio.gather(*self._inflight, return_exceptions=True)

    def request(self, account_id: int, *, history_id: int | None = None) -> None:
        """Ask for a sync soon (a push arrived). Safe to call from any thread."""
        sched = self._schedule(account_id)
        sched.requested = True
        if history_id:
            sched.announced_history_id = max(sched.announced_history_id, history_id)
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    def _schedule(self, account_id: int) -> _AccountSchedule:
        sched = self.accounts.get(account_id)
        if sched is None:
            sched = self.accounts[account_id] = _AccountSchedule(
                interval=float(self.settings.sync.poll_min_seconds)
            )
        return sched

    # -- loop -----------------------------------------------------------------------------

    def _active_accounts(self) -> list[int]:
        with unit_of_work(self.sessions) as session:
            return [a.id for a in repo.list_accounts(session, status=AccountStatus.ACTIVE)]

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        refresh_at = 0.0
        while True:
            now = loop.time()
            if now >= refresh_at:
                try:
                    ids = await asyncio.to_thread(self._active_accounts)
                except Exception:
                    log.exception("sync_scheduler_accounts_failed")
                    ids = list(self.accounts)
                for account_id in ids:
                    self._schedule(account_id)
                for gone in set(self.accounts) - set(ids):
                    self.accounts.pop(gone, None)
                refresh_at = now + 10
            for account_id, sched in list(self.accounts.items()):
                if sched.running:
                    continue
                if sched.requested or now >= sched.next_due:
                    polled = not sched.requested
                    sched.requested = False
                    sched.running = True
                    task = asyncio.create_task(self._sync_one(account_id, sched, polled=polled))
                    self._inflight.add(task)
                    task.add_done_callback(self._inflight.discard)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.tick_seconds)

    async def _sync_one(self, account_id: int, sched: _AccountSchedule, *, polled: bool) -> None:
        loop = asyncio.get_running_loop()
        minimum = float(self.settings.sync.poll_min_seconds)
        maximum = float(self.settings.sync.poll_max_seconds)
        try:
            if self.renew_watch:
                try:
                    await asyncio.to_thread(
                        renew_watch_if_due, self.sessions, account_id, self.settings
                    )
                except SecretaryError as exc:
                    log.warning("gmail_watch_renew_failed", account_id=account_id, code=exc.code)
            report = await asyncio.to_thread(
                run_incremental_sync, self.sessions, account_id, self.settings
            )
            self.runs += 1
            sched.failures = 0
            if polled and report is not None:
                unannounced = bool(
                    report.changes and (report.history_id or 0) > sched.announced_history_id
                )
                sched.interval = next_poll_interval(
                    sched.interval, found_unannounced=unannounced, minimum=minimum, maximum=maximum
                )
                if unannounced:
                    log.info("sync_poll_found_unannounced_changes", account_id=account_id)
            if report is not None and report.history_id:
                sched.announced_history_id = max(sched.announced_history_id, report.history_id)
            delay = sched.interval
        except Exception as exc:
            sched.failures += 1
            delay = min(maximum, minimum * 2 ** min(sched.failures, 10))
            log.warning(
                "sync_failed",
                account_id=account_id,
                error=type(exc).__name__,
                retry_in=delay,
            )
        finally:
            sched.running = False
        sched.next_due = loop.time() + delay
        try:
            await asyncio.to_thread(self._store_next_poll, account_id, delay)
        except Exception:
            log.exception("sync_next_poll_not_stored", account_id=account_id)
        self._wake.set()

    def _store_next_poll(self, account_id: int, delay: float) -> None:
        with unit_of_work(self.sessions) as session:
            account = repo.get_account(session, account_id)
            if account is not None:
                repo.get_state(session, account).next_poll_at = utcnow() + timedelta(seconds=delay)
