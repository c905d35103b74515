"""Drafting tasks: generate a suggestion (≤ 3 attempts), mirror it into Gmail (≤ 3)."""

from __future__ import annotations

from secretary.drafting import service
from secretary.triage.tasks import LABEL_TASK, gmail_for, tier_of
from secretary.worker import repository as tasks_repo
from secretary.worker.task import RetryPolicy, TaskContext, task

GENERATE_TASK = "drafting.generate"
GMAIL_DRAFT_TASK = "drafting.create_gmail_draft"


@task(GENERATE_TASK, retry=RetryPolicy(max_attempts=3), stage="draft")
def generate(ctx: TaskContext, *, message_id: int) -> None:
    tier = tier_of(ctx)
    draft = service.generate_draft(ctx.session, message_id, tier=tier) if tier else None
    user_id = draft.user_id if draft else None
    if draft is not None:
        tasks_repo.enqueue(
            ctx.session,
            GMAIL_DRAFT_TASK,
            {"draft_id": draft.id},
            dedupe_key=f"{GMAIL_DRAFT_TASK}:{draft.id}",
            correlation_id=ctx.correlation_id,
            user_id=user_id,
            message_id=message_id,
            origin_at=ctx.origin_at,
        )
    else:
        tasks_repo.enqueue(
            ctx.session,
            LABEL_TASK,
            {"message_id": message_id},
            dedupe_key=f"{LABEL_TASK}:{message_id}",
            correlation_id=ctx.correlation_id,
            message_id=message_id,
            origin_at=ctx.origin_at,
        )


@task(GMAIL_DRAFT_TASK, retry=RetryPolicy(max_attempts=3), stage="gmail_draft")
def create_gmail_draft(ctx: TaskContext, *, draft_id: int) -> None:
    from secretary.db.models import Draft

    draft = ctx.session.get(Draft, draft_id)
    if draft is None:
        raise service.DraftNotFound(f"draft {draft_id} not found")
    gmail = gmail_for(ctx, draft.account_id)
    service.mirror_to_gmail(
        ctx.session,
        draft_id,
        gmail=gmail,
        first_attempt=ctx.attempt == 1,
        origin_at=ctx.origin_at,
    )
    tasks_repo.enqueue(
        ctx.session,
        LABEL_TASK,
        {"message_id": draft.message_id},
        dedupe_key=f"{LABEL_TASK}:{draft.message_id}",
        correlation_id=ctx.correlation_id,
        user_id=draft.user_id,
        message_id=draft.message_id,
        origin_at=ctx.origin_at,
    )
