"""Sync use cases: sync one account's Gmail now, and its status.

The pieces live beside this module, one job each: ``gmail`` (the sync itself), ``locks``,
``credentials``, ``processes`` (parsing pool), ``listeners`` (the "messages stored"
hand-off), ``push`` (Pub/Sub decoding), ``engine`` (per account and service sync as durable
tasks) and ``tasks`` (the task and periodic job). Names below are re-exported for callers
written against the old single module.
"""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from secretary.config import Settings
from secretary.google.gmail import GmailClient
from secretary.sync import repository as repo
from secretary.sync.credentials import open_gmail
from secretary.sync.errors import AccountNotFound
from secretary.sync.gmail import GmailSync, ProgressFn
from secretary.sync.listeners import MessagesStoredListener, on_messages_stored, remove_listener
from secretary.sync.locks import account_lock, is_running
from secretary.sync.processes import exit_with_parent
from secretary.sync.push import PushDecision, accept_push, decode_push_data
from secretary.sync.schemas import SyncReport, SyncStatus

__all__ = [
    "GmailSync",
    "MessagesStoredListener",
    "PushDecision",
    "accept_push",
    "account_lock",
    "decode_push_data",
    "exit_with_parent",
    "is_running",
    "on_messages_stored",
    "open_gmail",
    "remove_listener",
    "run_sync",
    "status",
]


def run_sync(
    sessions: sessionmaker[Session],
    account_id: int,
    settings: Settings,
    *,
    full: bool = False,
    progress: ProgressFn | None = None,
    client: GmailClient | None = None,
    workers: int | None = None,
    on_stored: MessagesStoredListener | None = None,
) -> SyncReport:
    """Sync one account now (initial, incremental, or a requested full resync).

    ``on_stored`` receives the ids of newly stored messages (the pipeline's entry, from
    ``bootstrap.Components.on_messages_stored``); None stores without feeding anything.
    """
    with account_lock(sessions, account_id):
        sync = GmailSync(
            sessions,
            account_id,
            settings,
            client=client,
            progress=progress,
            workers=workers,
            on_stored=on_stored,
        )
        return sync.run(full=full)


def status(session: Session, account_id: int) -> SyncStatus:
    account = repo.get_account(session, account_id)
    if account is None:
        raise AccountNotFound(f"no account {account_id}")
    state = repo.get_state(session, account)
    counts = repo.counts(session, account_id)
    return SyncStatus(
        account=account_id,
        phase=state.phase,
        history_id=int(state.cursor) if state.cursor else None,
        messages=counts["messages"],
        fetched=counts["fetched"],
        pending=counts["messages"] - counts["fetched"],
        full_resyncs=state.full_resyncs,
        last_synced_at=state.last_synced_at,
        last_error=state.last_error,
        watch_expires_at=state.watch_expires_at,
        next_poll_at=state.next_poll_at,
        running=is_running(account_id),
    )
