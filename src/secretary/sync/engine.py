"""The sync engine: every (account, service) pair is synced by one durable task.

A sync is a ``sync.run`` task record ``{account_id, service}`` on the ``sync`` queue, run
by whichever runtime the process uses (in-process by default, Celery workers otherwise),
so a sync survives a crash like any pipeline stage and never runs in the web process's
event loop. Three things request one:

- a push (``webhooks``) or ``POST /api/v1/sync``: ``request_sync`` now;
- the ``sync.poll`` periodic job: each pair whose ``sync_states.next_poll_at`` is due;
- a sync that found its pair busy: ``request_sync`` again a little later.

Requests coalesce: while a pair has a sync queued and not started, another request adds
nothing (the queued run will see the same changes). Poll times are staggered by a hash of
the account and service (``next_poll_at``), so thousands of accounts spread over the
interval instead of syncing in the same second.

Adding a service (the workspace-sync stream): a ``SyncService`` row in ``SERVICES`` with
the function that syncs one account now; the task, the poll and the stagger are shared.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session, sessionmaker

from secretary.config import Settings
from secretary.db.models import AccountStatus, GoogleAccount, SyncState, TaskRecord, TaskStatus
from secretary.errors import NotFound
from secretary.kit.clock import utcnow
from secretary.worker import repository as tasks_repo

if TYPE_CHECKING:
    from secretary.bootstrap import Components

SYNC_TASK = "sync.run"
SYNC_QUEUE = "sync"
BUSY_RETRY_SECONDS = 5.0  # a pair found busy is asked again this much later


@dataclass(frozen=True)
class SyncJob:
    """What a service's sync function receives: one account, now."""

    sessions: sessionmaker[Session]
    account_id: int
    settings: Settings
    components: Components


@dataclass(frozen=True)
class SyncService:
    """One Google service the engine keeps in sync.

    ``run(job)`` syncs one account (raising ``SyncAlreadyRunning`` when another run holds
    the account's lock); ``interval(settings, state)`` is the safety-poll period in seconds;
    ``scope_hints``: the account is synced only when a granted scope contains one of them.
    """

    name: str
    run: Callable[[SyncJob], object]
    interval: Callable[[Settings, SyncState | None], float]
    scope_hints: tuple[str, ...]


def _run_gmail(job: SyncJob) -> object:
    from secretary.sync.service import run_sync
    from secretary.sync.tasks import renew_watch_if_due

    renew_watch_if_due(job.sessions, job.account_id, job.settings)
    return run_sync(
        job.sessions,
        job.account_id,
        job.settings,
        on_stored=job.components.on_messages_stored,
    )


def _gmail_interval(settings: Settings, state: SyncState | None) -> float:
    # Pushes announce changes; the poll is the safety net for lost ones. Without a live
    # watch (no Pub/Sub configured, or it lapsed) the poll is all there is: poll often.
    watched = (
        state is not None
        and state.watch_expires_at is not None
        and state.watch_expires_at > utcnow()
    )
    return float(settings.sync.poll_max_seconds if watched else settings.sync.poll_min_seconds)


def _run_calendar(job: SyncJob) -> object:
    from secretary.sync.calendar import sync_calendar

    return sync_calendar(job.sessions, job.account_id, job.settings)


def _run_drive(job: SyncJob) -> object:
    from secretary.sync.drive import sync_drive

    return sync_drive(job.sessions, job.account_id, job.settings)


def _unpushed_interval(settings: Settings, _state: SyncState | None) -> float:
    # No push channel here: a quarter of the longest interval, never under the shortest.
    return float(max(settings.sync.poll_min_seconds, settings.sync.poll_max_seconds / 4))


SERVICES: tuple[SyncService, ...] = (
    SyncService("gmail", _run_gmail, _gmail_interval, ("gmail", "mail.google.com")),
    SyncService("calendar", _run_calendar, _unpushed_interval, ("auth/calendar",)),
    SyncService("drive", _run_drive, _unpushed_interval, ("auth/drive",)),
)


def get_service(name: str) -> SyncService:
    for service in SERVICES:
        if service.name == name:
            return service
    raise NotFound(f"no sync service named {name!r}", code="unknown_sync_service")


def services_for(scopes: list[str] | None) -> list[SyncService]:
    """The services an account's granted scopes allow (no scopes recorded: Gmail only)."""
    if not scopes:
        return [SERVICES[0]]
    return [s for s in SERVICES if any(h in scope for scope in scopes for h in s.scope_hints)]


# -- requesting a sync --------------------------------------------------------------------


def _waiting_syncs(session: Session, account_ids: list[int], service: str) -> set[int]:
    """Those of ``account_ids`` with a sync of ``service`` queued and not yet started."""
    account_key = TaskRecord.args["account_id"].as_integer()
    return set(
        session.scalars(
            select(account_key).where(
                TaskRecord.name == SYNC_TASK,
                TaskRecord.status.in_([TaskStatus.QUEUED, TaskStatus.RETRYING]),
                account_key.in_(account_ids),
                TaskRecord.args["service"].as_string() == service,
            )
        )
    )


def request_sync(
    session: Session,
    account_id: int,
    service: str,
    *,
    delay_seconds: float = 0.0,
    user_id: int | None = None,
    correlation_id: str | None = None,
) -> int | None:
    """Queue a sync of the pair in the caller's transaction (sent after its commit).

    Returns the record id, or None when a sync of the pair is already queued and not yet
    started: it will see the same changes. A sync that is *running* does not count: it may
    have read its cursor before the change that prompted this request.
    """
    get_service(service)
    # The task is declared in ``sync.tasks`` (which imports this module); make sure a
    # producer that never loaded the task modules (a bare API process, a script) knows it.
    import secretary.sync.tasks  # noqa: F401

    if _waiting_syncs(session, [account_id], service):
        return None
    if user_id is None:  # the record is the user's (RLS, the user's task list)
        user_id = session.scalar(
            select(GoogleAccount.user_id).where(GoogleAccount.id == account_id)
        )
    return tasks_repo.enqueue(
        session,
        SYNC_TASK,
        {"account_id": account_id, "service": service},
        user_id=user_id,
        correlation_id=correlation_id,
        queue=SYNC_QUEUE,
        delay_seconds=delay_seconds,
    )


def request_syncs(session: Session, users_by_account: dict[int, int], service: str) -> list[int]:
    """``request_sync`` for many accounts at once (a batch of pushes): one coalescing
    lookup for all of them, then one record for each pair without a waiting sync.

    ``users_by_account`` maps each account id to its user id (the record's owner).
    Returns the ids of the records created.
    """
    if not users_by_account:
        return []
    get_service(service)
    import secretary.sync.tasks  # noqa: F401  (see request_sync)

    waiting = _waiting_syncs(session, sorted(users_by_account), service)
    created = []
    for account_id, user_id in users_by_account.items():
        if account_id in waiting:
            continue
        record_id = tasks_repo.enqueue(
            session,
            SYNC_TASK,
            {"account_id": account_id, "service": service},
            user_id=user_id,
            queue=SYNC_QUEUE,
        )
        if record_id is not None:
            created.append(record_id)
    return created


def request_all(session: Session, account_ids: list[int] | None = None) -> list[tuple[int, str]]:
    """Queue a sync of every service of the given (default: every active) account."""
    stmt = select(GoogleAccount).where(GoogleAccount.status == AccountStatus.ACTIVE)
    if account_ids is not None:
        stmt = select(GoogleAccount).where(GoogleAccount.id.in_(account_ids))
    requested: list[tuple[int, str]] = []
    for account in session.scalars(stmt):
        for service in services_for(account.scopes):
            request_sync(session, account.id, service.name, user_id=account.user_id)
            requested.append((account.id, service.name))
    return requested


# -- the staggered poll -------------------------------------------------------------------


def stagger_offset(account_id: int, service: str, interval: float) -> float:
    """Where in each interval this pair polls: a stable hash, spread over the interval."""
    fraction = zlib.crc32(f"{service}:{account_id}".encode()) / 2**32
    return fraction * interval


def next_poll_at(account_id: int, service: str, interval: float, now: datetime) -> datetime:
    """The pair's next slot strictly after ``now``: ``offset + k * interval`` (epoch time)."""
    offset = stagger_offset(account_id, service, interval)
    t = now.timestamp()
    k = math.floor((t - offset) / interval) + 1
    at = offset + k * interval
    return now + timedelta(seconds=at - t)


def poll_due(
    session: Session, settings: Settings, *, now: datetime | None = None
) -> list[tuple[int, str]]:
    """Queue a sync of every due pair and move its ``next_poll_at`` to its next slot.

    A pair seen for the first time is due at once (a newly connected account syncs on the
    next tick). Runs in the ``sync.poll`` periodic job; rows are locked so two pollers
    (two Celery beats by mistake, or a CLI beside the server) do not double the work.
    """
    now = now or utcnow()
    # One read of every pair's next slot; only due pairs cost more queries, and with the
    # stagger that is about pairs x tick / interval of them per tick.
    accounts = session.execute(
        select(GoogleAccount.id, GoogleAccount.user_id, GoogleAccount.scopes).where(
            GoogleAccount.status == AccountStatus.ACTIVE
        )
    ).all()
    slots = {
        (account_id, service): at
        for account_id, service, at in session.execute(
            select(SyncState.account_id, SyncState.service, SyncState.next_poll_at).where(
                SyncState.account_id.in_([a.id for a in accounts])
            )
        )
    }
    requested: list[tuple[int, str]] = []
    for account_id, user_id, scopes in accounts:
        for service in services_for(scopes):
            key = (account_id, service.name)
            slot = slots.get(key)
            if slot is not None and slot > now:
                continue
            if key not in slots:
                session.execute(
                    insert(SyncState)
                    .values(
                        user_id=user_id,
                        account_id=account_id,
                        service=service.name,
                        phase="initial",
                        progress={},
                        full_resyncs=0,
                    )
                    .on_conflict_do_nothing(index_elements=["account_id", "service"])
                )
            state = session.scalars(
                select(SyncState)
                .where(SyncState.account_id == account_id, SyncState.service == service.name)
                .with_for_update(skip_locked=True)
            ).one_or_none()
            if state is None:  # another poller holds it
                continue
            if state.next_poll_at is not None and state.next_poll_at > now:
                continue  # another poller moved it meanwhile
            interval = max(1.0, service.interval(settings, state))
            state.next_poll_at = next_poll_at(account_id, service.name, interval, now)
            request_sync(session, account_id, service.name, user_id=user_id)
            requested.append(key)
    session.flush()
    return requested
