"""Drafting tasks: generate a suggestion (≤ 3 attempts), mirror it into Gmail (≤ 3).

The stages around them are declared in ``secretary.pipeline.STAGES``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from secretary import pipeline
from secretary.drafting import service
from secretary.worker.task import RetryPolicy, TaskContext, task

GENERATE_TASK = "drafting.generate"
GMAIL_DRAFT_TASK = "drafting.create_gmail_draft"


def _attendee_busy(ctx: TaskContext) -> Callable[[Session, int], Any]:
    """Meeting requests with colleagues: their busy time through Calendar freebusy."""
    from secretary.scheduling.calendar_api import attendee_busy_source

    sessions = sessionmaker(bind=ctx.session.get_bind(), expire_on_commit=False)

    def build(session: Session, user_id: int) -> Any:
        return attendee_busy_source(session, user_id, ctx.settings, sessions, tolerant=True)

    return build


@task(GENERATE_TASK, retry=RetryPolicy(max_attempts=3), stage="draft")
def generate(ctx: TaskContext, *, message_id: int) -> None:
    tier = ctx.deps.tier.get()
    draft = (
        service.generate_draft(
            ctx.session, message_id, tier=tier, attendee_busy=_attendee_busy(ctx)
        )
        if tier
        else None
    )
    if draft is not None:
        pipeline.advance(
            ctx,
            "draft",
            "gmail_draft",
            message_id=message_id,
            draft_id=draft.id,
            user_id=draft.user_id,
        )
    else:
        pipeline.advance(ctx, "draft", "label", message_id=message_id)


@task(GMAIL_DRAFT_TASK, retry=RetryPolicy(max_attempts=3), stage="gmail_draft")
def create_gmail_draft(ctx: TaskContext, *, draft_id: int) -> None:
    from secretary.db.models import Draft

    draft = ctx.session.get(Draft, draft_id)
    if draft is None:
        raise service.DraftNotFound(f"draft {draft_id} not found")
    gmail = ctx.deps.gmail(ctx.session, draft.account_id)
    service.mirror_to_gmail(
        ctx.session,
        draft_id,
        gmail=gmail,
        first_attempt=ctx.attempt == 1,
        origin_at=ctx.origin_at,
    )
    pipeline.advance(
        ctx, "gmail_draft", "label", message_id=draft.message_id, user_id=draft.user_id
    )
