"""Background entry points of sync: the ``sync.run`` task (one account and service), the
``sync.poll`` periodic job that requests due syncs, Gmail watch renewal, and the pruning
of old push receipts (``sync.prune_push_receipts``).

See ``engine`` for how syncs are requested, coalesced and staggered (ADR 0009).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from secretary.accounts.errors import AccountNeedsReauth
from secretary.config import Settings
from secretary.db.models import AccountStatus
from secretary.db.session import unit_of_work
from secretary.errors import SecretaryError
from secretary.kit.clock import from_epoch_ms, utcnow
from secretary.kit.logging import correlation, get_logger
from secretary.sync import engine, push
from secretary.sync import repository as repo
from secretary.sync.credentials import open_gmail
from secretary.sync.errors import AccountNotFound, AccountNotSyncable, SyncAlreadyRunning
from secretary.worker.runner import Runtime
from secretary.worker.schedule import periodic
from secretary.worker.task import RetryPolicy, TaskContext, task

log = get_logger(__name__)

WATCH_RENEW_EVERY = timedelta(days=1)  # Google: re-call watch at least every 7 days; daily
PRUNE_RECEIPTS_EVERY_S = 3600.0  # receipts live 7 days; an hour more or less is nothing
PRUNE_RECEIPTS_BATCH = 10_000  # receipts deleted per transaction


@task(
    engine.SYNC_TASK,
    retry=RetryPolicy(max_attempts=5),
    queue=engine.SYNC_QUEUE,
    stage="sync",
)
def run(ctx: TaskContext, *, account_id: int, service: str) -> None:
    """Sync one account's ``service`` now; the sync commits its own batches.

    Busy (another run holds the pair's lock): ask again shortly, so a change that arrived
    after the running sync read its cursor is not left for the next poll. An account that
    needs re-authorization is skipped, never retried in a loop: its status tells the user.
    """
    definition = engine.get_service(service)
    job = engine.SyncJob(ctx.sessions, account_id, ctx.settings, ctx.deps)
    with correlation(account_id=account_id, job=f"sync.{service}"):
        try:
            definition.run(job)
        except SyncAlreadyRunning:
            engine.request_sync(
                ctx.session,
                account_id,
                service,
                delay_seconds=engine.BUSY_RETRY_SECONDS,
                correlation_id=ctx.correlation_id,
            )
        except (AccountNotSyncable, AccountNeedsReauth, AccountNotFound) as exc:
            log.info("sync_skipped", service=service, reason=exc.code)


@periodic("sync.poll", every=lambda s: max(1.0, min(10.0, s.sync.poll_min_seconds / 3)))
def poll(runtime: Runtime) -> dict[str, int]:
    """Request a sync of every (account, service) pair whose staggered poll time is due."""
    with unit_of_work(runtime.sessions) as session:
        requested = engine.poll_due(session, runtime.settings)
    return {"requested": len(requested)}


@periodic("sync.prune_push_receipts", every=lambda _settings: PRUNE_RECEIPTS_EVERY_S)
def prune_push_receipts(runtime: Runtime) -> dict[str, int]:
    """Delete push receipts older than Pub/Sub's longest retention (``sync.push``), in
    short transactions of ``PRUNE_RECEIPTS_BATCH``: at thousands of pushes a second an
    hour's expiry is millions of rows, too many for one statement to hold locks and WAL."""
    pruned = 0
    while True:
        with unit_of_work(runtime.sessions) as session:
            deleted = push.prune_receipts(session, limit=PRUNE_RECEIPTS_BATCH)
        pruned += deleted
        if deleted < PRUNE_RECEIPTS_BATCH:
            break
    if pruned:
        log.info("push_receipts_pruned", pruned=pruned)
    return {"pruned": pruned}


def renew_watch_if_due(
    session_factory: sessionmaker[Session], account_id: int, settings: Settings
) -> bool:
    """Call Gmail ``watch`` when the current one is missing or older than a day.

    Best effort: a failure is logged and the sync goes on (the poll covers for pushes).
    """
    with unit_of_work(session_factory) as session:
        account = repo.get_account(session, account_id)
        if account is None or account.status != AccountStatus.ACTIVE:
            return False
        state = repo.get_state(session, account)
        expires = state.watch_expires_at
    # Google's watch lasts 7 days; renewing daily leaves six days of slack for failures.
    if expires is not None and expires - utcnow() > timedelta(days=7) - WATCH_RENEW_EVERY:
        return False
    try:
        client = open_gmail(session_factory, account_id, settings)
        response = client.watch(settings.google.pubsub_topic)
    except SecretaryError as exc:
        log.warning("gmail_watch_renew_failed", account_id=account_id, code=exc.code)
        return False
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
