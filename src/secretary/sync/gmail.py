"""The Gmail sync of one account: initial backfill, incremental history, full resync.

Transactions: unlike request handlers, a sync is many units of work — each fetched batch
is committed on its own (with its progress in ``SyncState.progress``) so that a ``kill -9``
loses at most the batches in flight and a restart resumes without gaps or duplicates.
``GmailSync`` therefore receives a session factory and opens ``unit_of_work`` per batch.

Correctness argument (issue #2 "never silently skip mail"):
- the mailbox ``historyId`` is recorded *before* listing, and incremental sync replays
  history from it, so changes racing the backfill are applied afterwards;
- label changes are replayed in order onto whatever snapshot we hold, which converges
  because every later change is replayed too;
- the history cursor only moves in the transaction that stores the changes it covers;
- a 404 on history (expired cursor) triggers one full resync that re-lists the window,
  reconciles deletions, and is audited; a second expiry in the same run fails loudly.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from secretary.config import Settings
from secretary.db.models import AccountStatus, GoogleAccount, SyncState
from secretary.db.session import unit_of_work
from secretary.google.errors import GoogleAuthError, HistoryExpired, translate
from secretary.google.gmail import FetchItem, GmailClient
from secretary.kit.clock import utcnow
from secretary.kit.logging import get_logger
from secretary.sync import repository as repo
from secretary.sync.credentials import open_gmail
from secretary.sync.errors import (
    AccountNotFound,
    AccountNotSyncable,
    SyncAlreadyRunning,
    SyncFailed,
)
from secretary.sync.listeners import MessagesStoredListener, notify
from secretary.sync.plan import (
    PendingMessage,
    PlannedItem,
    plan_fetch,
    replay_labels,
    summarize_history,
    window_query,
)
from secretary.sync.processes import ParsePool, parsing_processes
from secretary.sync.records import MessageRecord, records_from_resources
from secretary.sync.schemas import SyncReport

log = get_logger(__name__)

ProgressFn = Callable[[str, int, int], None]
PARSE_PROCESS_MIN_MESSAGES = 2000
# At most one full resync per this interval: a history that keeps expiring (a Google-side
# fault) backs off through the scheduler instead of re-listing the mailbox in a loop.
RESYNC_MIN_INTERVAL = timedelta(minutes=10)


@dataclass(frozen=True)
class _Ref:
    id: int
    user_id: int


@dataclass
class _Run:
    report: SyncReport
    started: float = field(default_factory=time.monotonic)


class GmailSync:
    """One account's Gmail sync. Hold ``account_lock`` around ``run`` (``run_sync`` does)."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        account_id: int,
        settings: Settings,
        *,
        client: GmailClient | None = None,
        progress: ProgressFn | None = None,
        workers: int | None = None,
        on_stored: MessagesStoredListener | None = None,
    ) -> None:
        self.sessions = sessions
        self.account_id = account_id
        self.settings = settings
        self.client = client or open_gmail(sessions, account_id, settings)
        self.progress = progress or (lambda _stage, _done, _total: None)
        self.workers = workers or max(1, min(4, settings.google.max_concurrent_requests))
        self.on_stored = on_stored
        self._parse: ParsePool | None = None
        self._ref: _Ref | None = None

    # -- entry point ----------------------------------------------------------------------

    def run(self, *, full: bool = False) -> SyncReport:
        run = _Run(SyncReport(account=self.account_id, phase="initial"))
        units_before = self.client.governor.stats.units_charged
        counters_before = (self.client.counters.http_requests, self.client.counters.retries)
        try:
            with unit_of_work(self.sessions) as session:
                account = self._account(session)
                state = repo.get_state(session, account, for_update=True)
                if full and state.phase != "initial":
                    self._begin_resync(session, account, state, reason="requested")
                phase = state.phase
            if phase == "initial":
                self._backfill(run)
            self._incremental(run, allow_resync=not run.report.full_resync)
        except Exception as exc:
            self._record_error(exc)
            raise
        run.report.seconds = round(time.monotonic() - run.started, 3)
        run.report.units = self.client.governor.stats.units_charged - units_before
        run.report.http_requests = self.client.counters.http_requests - counters_before[0]
        run.report.retries = self.client.counters.retries - counters_before[1]
        return run.report

    def _account(self, session: Session) -> GoogleAccount:
        account = repo.get_account(session, self.account_id)
        if account is None:
            raise AccountNotFound(f"no account {self.account_id}")
        if account.status != AccountStatus.ACTIVE:
            raise AccountNotSyncable(
                f"account {self.account_id} is {account.status}; re-authorize it to resume sync"
            )
        return account

    def _account_ref(self, session: Session) -> repo.AccountRef:
        """The account's ids, checked once per run (a batch store need not re-read it)."""
        if self._ref is None:
            account = self._account(session)
            self._ref = _Ref(account.id, account.user_id)
        return self._ref

    def _record_error(self, exc: BaseException) -> None:
        if _is_unauthorized(exc):
            # 401 even after a refresh: the grant is gone. Mark the account so that sync
            # skips it (no crash loop) and the user sees "reconnect" in the API and CLI.
            from secretary.accounts import service as accounts

            try:
                with unit_of_work(self.sessions) as session:
                    accounts.mark_needs_reauth(
                        session,
                        self.account_id,
                        reason="Google rejected this account's credentials; connect it again.",
                        code="unauthorized",
                    )
            except Exception:
                log.exception("needs_reauth_not_recorded", account_id=self.account_id)
        try:
            with unit_of_work(self.sessions) as session:
                account = repo.get_account(session, self.account_id)
                if account is not None:
                    state = repo.get_state(session, account)
                    state.last_error = f"{type(exc).__name__}: {str(exc)[:400]}"
        except Exception:  # the original error matters more than failing to record it
            log.exception("sync_error_not_recorded", account_id=self.account_id)

    # -- backfill (initial sync and full resync) ------------------------------------------

    def _begin_resync(
        self, session: Session, account: GoogleAccount, state: SyncState, *, reason: str
    ) -> None:
        repo.save_state(
            session,
            state,
            phase="initial",
            progress={"mode": "resync", "reason": reason, "previous_cursor": state.cursor},
        )

    def _backfill(self, run: _Run) -> None:
        with unit_of_work(self.sessions) as session:
            account = self._account(session)
            state = repo.get_state(session, account, for_update=True)
            progress = dict(state.progress or {})
            if "start_history_id" not in progress:
                # Recorded BEFORE listing: whatever changes while we list and fetch is in
                # history after this id and gets replayed by the incremental sync.
                profile = self.client.get_profile()
                after = utcnow() - timedelta(days=self.settings.sync.window_days)
                progress.update(
                    start_history_id=int(profile["historyId"]),
                    window_after=int(after.timestamp()),
                    stage="listing",
                    mode=progress.get("mode", "initial"),
                )
                repo.save_state(session, state, progress=progress)
        run.report.full_resync = progress.get("mode") == "resync"
        if progress["stage"] == "listing":
            run.report.listed = self._list_and_reconcile(run, int(progress["window_after"]))
        else:
            run.report.listed = int(progress.get("listed", 0))
        self._fetch_pending(run)
        with unit_of_work(self.sessions) as session:
            account = self._account(session)
            state = repo.get_state(session, account, for_update=True)
            values: dict[str, Any] = {
                "phase": "incremental",
                "cursor": str(progress["start_history_id"]),
                "progress": (
                    {"last_resync_at": utcnow().isoformat()}
                    if progress.get("mode") == "resync"
                    else {}
                ),
                "last_synced_at": utcnow(),
                "last_error": None,
            }
            if progress.get("mode") == "resync":
                values["full_resyncs"] = state.full_resyncs + 1
                repo.audit(
                    session,
                    account,
                    "gmail_full_resync",
                    {
                        "reason": progress.get("reason"),
                        "previous_history_id": progress.get("previous_cursor"),
                        "history_id": progress["start_history_id"],
                        "listed": run.report.listed,
                        "deleted": run.report.deleted,
                    },
                )
            repo.save_state(session, state, **values)
        run.report.phase = "incremental"
        run.report.history_id = int(progress["start_history_id"])
        log.info(
            "gmail_backfill_done",
            account_id=self.account_id,
            listed=run.report.listed,
            fetched=run.report.fetched,
            resync=run.report.full_resync,
        )

    def _list_window(
        self, after: int
    ) -> tuple[list[dict[str, Any]], list[tuple[str, str, list[str]]]]:
        """Ids, thread ids and labels of every message in the window, from listings only.

        Labels come from one listing per label (5 units per 500 ids) instead of a metadata
        fetch per message (5 units each): metadata for the whole window in seconds.
        """
        q = window_query(after)
        labels = self.client.list_labels()
        order: list[tuple[str, str]] = []
        for gid, tid in self.client.iter_message_ids(q=q):
            order.append((gid, tid))
            if len(order) % 500 == 0:
                self.progress("listing", len(order), 0)
        self.progress("listing", len(order), len(order))
        known = {gid for gid, _ in order}
        membership: dict[str, list[str]] = defaultdict(list)
        for label in labels:
            for gid, _tid in self.client.iter_message_ids(q=q, label_ids=[label["id"]]):
                if gid in known:
                    membership[gid].append(label["id"])
        return labels, [(gid, tid, sorted(membership.get(gid, []))) for gid, tid in order]

    def _list_and_reconcile(self, run: _Run, after: int) -> int:
        labels, listing = self._list_window(after)
        listed = {gid for gid, _tid, _labels in listing}
        with unit_of_work(self.sessions) as session:
            local = repo.local_messages(session, self.account_id)
        window_start = after
        stale_in_window: list[str] = []
        to_verify: list[str] = []
        for gid, date in local.items():
            if gid in listed:
                continue
            if date is None or date.timestamp() >= window_start:
                stale_in_window.append(gid)
            else:
                to_verify.append(gid)
        verified_labels, gone = self._verify_outside_window(to_verify)
        with unit_of_work(self.sessions) as session:
            account = self._account(session)
            repo.sync_labels(session, account, labels)
            repo.upsert_listing(session, account, listing)
            deleted = stale_in_window + sorted(gone)
            threads = repo.delete_messages(session, self.account_id, deleted)
            repo.set_labels(session, self.account_id, verified_labels)
            repo.refresh_threads(session, self.account_id, threads)
            state = repo.get_state(session, account, for_update=True)
            progress = dict(state.progress)
            progress.update(stage="fetching", listed=len(listing))
            repo.save_state(session, state, progress=progress)
        run.report.deleted += len(deleted)
        run.report.changes = run.report.changes or bool(listing or deleted)
        return len(listing)

    def _verify_outside_window(
        self, gmail_ids: Sequence[str]
    ) -> tuple[dict[str, list[str]], set[str]]:
        """Local messages older than the window: still there (current labels) or gone?"""
        labels: dict[str, list[str]] = {}
        gone: set[str] = set()
        size = self.settings.sync.batch_size
        for start in range(0, len(gmail_ids), size):
            items = [FetchItem("minimal", gid) for gid in gmail_ids[start : start + size]]
            result = self.client.fetch(items)
            gone |= {item.id for item in result.missing}
            for item, resource in result.found.items():
                labels[item.id] = list(resource.get("labelIds") or [])
        return labels, gone

    # -- fetching bodies ------------------------------------------------------------------

    def _fetch_and_parse(
        self, batch: Sequence[PlannedItem]
    ) -> tuple[list[MessageRecord], set[str]]:
        result = self.client.fetch([p.item for p in batch])
        fetched_at = utcnow()
        resources: list[dict[str, Any]] = []
        missing: set[str] = set()
        for planned in batch:
            resource = result.found.get(planned.item)
            if resource is None:
                missing.update(planned.covers)
                continue
            if planned.item.kind == "thread":
                messages = resource.get("messages", [])
                resources.extend(messages)
                missing.update(set(planned.covers) - {m["id"] for m in messages})
            else:
                resources.append(resource)
        if self._parse is not None:
            records = self._parse.pool.submit(
                records_from_resources, resources, fetched_at
            ).result()
        else:
            records = records_from_resources(resources, fetched_at)
        return records, missing

    def _store_fetched(
        self,
        results: Sequence[tuple[list[MessageRecord], set[str]]],
        *,
        progress_fetched: int | None,
    ) -> tuple[int, int]:
        with unit_of_work(self.sessions) as session:
            if progress_fetched is not None:
                repo.relax_commit_durability(session)
            account = self._account_ref(session)
            records = [r for recs, _ in results for r in recs]
            missing = set().union(*(m for _, m in results)) - {r.gmail_id for r in records}
            new_ids = repo.store_records(session, account, records)
            threads = set(repo.delete_messages(session, self.account_id, sorted(missing)))
            threads |= {r.thread_id for r in records}
            repo.refresh_threads(session, self.account_id, threads)
            if progress_fetched is not None:
                repo.record_fetch_progress(session, self.account_id, progress_fetched)
            notify(session, self.account_id, new_ids, self.on_stored)
        return len(records), len(missing)

    def _fetch_pending(self, run: _Run) -> None:
        with unit_of_work(self.sessions) as session:
            pending = repo.pending_messages(session, self.account_id)
            fetched_before = repo.counts(session, self.account_id)["fetched"]
        total = fetched_before + len(pending)
        done = fetched_before
        self.progress("fetching", done, total)
        for stored, missing in self._fetch_pipelined(pending):
            done += stored + missing
            run.report.fetched += stored
            run.report.deleted += missing
            run.report.changes = True
            self.progress("fetching", done, total)

    def _fetch_pipelined(self, pending: Sequence[PendingMessage]) -> Iterator[tuple[int, int]]:
        """Fetch+parse in worker threads, store in this thread; commit groups as they land.

        At most ``2 × workers`` batches are in flight, bounding memory; results are
        committed in completion order (order does not matter for correctness: each commit
        is self-contained and idempotent).
        """
        if not pending:
            return
        batches = plan_fetch(
            pending,
            batch_size=self.settings.sync.batch_size,
            max_batch_units=self.client.governor.max_batch_cost,
        )
        fetched_total = 0
        with (
            ThreadPoolExecutor(self.workers, thread_name_prefix="gmail-fetch") as pool,
            parsing_processes(len(pending)) as parse,
        ):
            self._parse = parse
            queue = iter(batches)
            in_flight: set[Future[tuple[list[MessageRecord], set[str]]]] = set()

            def top_up() -> None:
                while len(in_flight) < self.workers * 2:
                    batch = next(queue, None)
                    if batch is None:
                        return
                    in_flight.add(pool.submit(self._fetch_and_parse, batch))

            top_up()
            try:
                while in_flight:
                    done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                    in_flight.difference_update(done)
                    top_up()
                    results = [f.result() for f in done]
                    fetched_total += sum(len(r) for r, _ in results)
                    yield self._store_fetched(results, progress_fetched=fetched_total)
            finally:
                self._parse = None
                for f in in_flight:
                    f.cancel()

    # -- incremental ----------------------------------------------------------------------

    def _incremental(self, run: _Run, *, allow_resync: bool) -> None:
        with unit_of_work(self.sessions) as session:
            account = self._account(session)
            state = repo.get_state(session, account)
            cursor = int(state.cursor) if state.cursor else None
        if cursor is None:
            raise SyncFailed("incremental sync without a history cursor")
        try:
            records, latest = self.client.list_history(cursor)
        except HistoryExpired:
            last = (state.progress or {}).get("last_resync_at")
            recent = (
                last is not None and utcnow() - datetime.fromisoformat(last) < RESYNC_MIN_INTERVAL
            )
            if not allow_resync or recent:
                # Never loop: one resync per run. The scheduler retries with backoff.
                raise SyncFailed("Gmail history expired again right after a full resync") from None
            log.warning("gmail_history_expired", account_id=self.account_id)
            with unit_of_work(self.sessions) as session:
                account = self._account(session)
                state = repo.get_state(session, account, for_update=True)
                self._begin_resync(session, account, state, reason="history_expired")
            self._backfill(run)
            self._incremental(run, allow_resync=False)
            return
        delta = summarize_history(records)
        with unit_of_work(self.sessions) as session:
            already = repo.fetched_ids(session, self.account_id, delta.added)
        to_fetch = [
            PendingMessage(gid, tid) for gid, tid in delta.added.items() if gid not in already
        ]
        fetched: list[MessageRecord] = []
        missing: set[str] = set()
        if to_fetch:
            batches = plan_fetch(
                to_fetch,
                batch_size=self.settings.sync.batch_size,
                max_batch_units=self.client.governor.max_batch_cost,
            )
            for batch in batches:
                recs, miss = self._fetch_and_parse(batch)
                fetched.extend(recs)
                missing |= miss
        with unit_of_work(self.sessions) as session:
            account = self._account(session)
            state = repo.get_state(session, account, for_update=True)
            if state.cursor != str(cursor):
                raise SyncAlreadyRunning("another sync moved the cursor; retry")
            fetched_ids = {r.gmail_id for r in fetched}
            deleted = (delta.deleted | missing) - fetched_ids
            threads = set(repo.delete_messages(session, self.account_id, sorted(deleted)))
            new_ids = repo.store_records(session, account, fetched)
            threads |= {r.thread_id for r in fetched}
            replay_ids = {gid for gid, _a, _r in delta.label_ops} - fetched_ids - deleted
            current = repo.labels_of(session, self.account_id, replay_ids)
            changed = replay_labels(current, (op for op in delta.label_ops if op[0] in current))
            repo.set_labels(session, self.account_id, changed)
            threads |= repo.thread_ids_of(session, self.account_id, changed)
            repo.refresh_threads(session, self.account_id, threads)
            repo.save_state(
                session, state, cursor=str(latest), last_synced_at=utcnow(), last_error=None
            )
            notify(session, self.account_id, new_ids, self.on_stored)
        run.report.fetched += len(fetched)
        run.report.deleted += len(deleted)
        run.report.relabelled += len(changed)
        run.report.history_id = latest
        run.report.phase = "incremental"
        run.report.changes = run.report.changes or bool(fetched or deleted or changed)


def _is_unauthorized(exc: BaseException) -> bool:
    """A 401 after the refresh (``AccountNeedsReauth`` is recorded by the accounts service)."""
    translated = translate(exc)
    return isinstance(translated, GoogleAuthError) and translated.code == "google_unauthorized"
