"""Scheduling's background work: replies to offers, invitations, applying approved actions.

``scheduling.on_messages_stored`` (a sync listener, like triage's) enqueues
``scheduling.handle_reply`` for new messages in threads with an open meeting offer and
``scheduling.scan_invitations`` for messages carrying a calendar invitation. Approved
actions are applied in the request that approves them; ``approvals.apply`` re-runs an
approved action whose request died half-way (the appliers are idempotent).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from secretary.approvals import service as approvals
from secretary.db.models import MeetingOffer, MeetingOfferStatus, Message, ProposedAction
from secretary.kit.logging import get_logger
from secretary.scheduling import calendar_api, invitations, meetings
from secretary.worker import repository as tasks_repo
from secretary.worker.runner import Runtime
from secretary.worker.schedule import periodic
from secretary.worker.task import RetryPolicy, TaskContext, task

log = get_logger(__name__)

HANDLE_REPLY_TASK = "scheduling.handle_reply"
SCAN_INVITATIONS_TASK = "scheduling.scan_invitations"
APPLY_TASK = "approvals.apply"


def apply_context(
    gmail: Callable[[Session, int], Any],
    settings: Any,
    sessions: sessionmaker[Session],
    drive: Callable[[Session, int], Any] | None = None,
) -> approvals.ApplyContext:
    return approvals.ApplyContext(
        calendar=calendar_api.calendar_factory(settings, sessions), gmail=gmail, drive=drive
    )


@task(HANDLE_REPLY_TASK, retry=RetryPolicy(max_attempts=3), stage="schedule")
def handle_reply(ctx: TaskContext, *, message_id: int) -> None:
    meetings.handle_reply(ctx.session, message_id)


@task(SCAN_INVITATIONS_TASK, retry=RetryPolicy(max_attempts=3), stage="schedule")
def scan_invitations(ctx: TaskContext, *, user_id: int) -> None:
    invitations.scan_invitations(ctx.session, user_id)


@task(APPLY_TASK, retry=RetryPolicy(max_attempts=5), stage="apply")
def apply(ctx: TaskContext, *, action_id: int) -> None:
    row = ctx.session.get(ProposedAction, action_id)
    if row is None:
        raise approvals.ActionNotFound(f"action {action_id} not found")
    sessions = sessionmaker(bind=ctx.session.get_bind(), expire_on_commit=False)
    approvals.apply_action(
        ctx.session,
        row,
        context=apply_context(ctx.deps.gmail, ctx.settings, sessions, drive=ctx.deps.drive),
    )


INVITATION_SCAN_SECONDS = 900.0


@periodic("scheduling.scan_invitations", every=lambda _settings: INVITATION_SCAN_SECONDS)
def scan_all_invitations(runtime: Runtime) -> dict[str, int]:
    """Invitations that reached the calendar without a mail (or before it) get their
    suggestion too: every user with an unanswered invitation, every 15 minutes."""
    from secretary.db.models import CalendarEvent
    from secretary.db.session import unit_of_work

    with unit_of_work(runtime.sessions) as session:
        users = session.scalars(
            select(CalendarEvent.user_id)
            .where(CalendarEvent.self_response_status == "needsAction")
            .distinct()
        ).all()
    proposed = failed = 0
    for user_id in users:
        try:
            with unit_of_work(runtime.sessions) as session:
                proposed += len(invitations.scan_invitations(session, user_id))
        except IntegrityError:  # the user (or the account) was removed meanwhile
            failed += 1
            log.warning("invitation_scan_failed", user_id=user_id)
    return {"users": len(users), "proposals": proposed, "failed": failed}


def on_messages_stored(session: Session, account_id: int, message_ids: list[int]) -> None:
    """Sync listener: route replies to open offers and calendar invitations."""
    rows = session.execute(
        select(
            Message.id, Message.user_id, Message.gmail_thread_id, Message.has_calendar_invite
        ).where(Message.id.in_(message_ids))
    ).all()
    if not rows:
        return
    open_threads = set(
        session.scalars(
            select(MeetingOffer.gmail_thread_id).where(
                MeetingOffer.account_id == account_id,
                MeetingOffer.status == MeetingOfferStatus.OFFERED,
                MeetingOffer.gmail_thread_id.in_({r.gmail_thread_id for r in rows}),
            )
        ).all()
    )
    for row in rows:
        if row.gmail_thread_id in open_threads:
            tasks_repo.enqueue(
                session,
                HANDLE_REPLY_TASK,
                {"message_id": row.id},
                dedupe_key=f"{HANDLE_REPLY_TASK}:{row.id}",
                user_id=row.user_id,
                message_id=row.id,
            )
        if row.has_calendar_invite:
            tasks_repo.enqueue(
                session,
                SCAN_INVITATIONS_TASK,
                {"user_id": row.user_id},
                dedupe_key=f"{SCAN_INVITATIONS_TASK}:{row.id}",
                user_id=row.user_id,
                message_id=row.id,
            )


def _register_sync_listener() -> None:
    """Hook into "messages stored" (integration note: becomes a row in ``pipeline.STAGES``
    once the architecture stream's stage table lands)."""
    try:
        from secretary.sync import service as sync_service
    except ModuleNotFoundError:  # pragma: no cover - sync not installed in this build
        return
    registered = getattr(sync_service, "_listeners", None)
    if registered is None or on_messages_stored not in registered:
        sync_service.on_messages_stored(on_messages_stored)


_register_sync_listener()
