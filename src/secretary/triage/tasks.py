"""Triage tasks: classify (≤ 5 attempts), then draft or label; label and publish (≤ 5).

Where a message goes next is declared in ``secretary.pipeline.STAGES``; a task only says
which of its row's next stages to take (``pipeline.advance``).
"""

from __future__ import annotations

from secretary import pipeline
from secretary.db.models import Message
from secretary.drafting.gmail import GmailPort
from secretary.llm.schemas import IntelligenceTier
from secretary.triage import repository as repo
from secretary.triage import service
from secretary.worker import events
from secretary.worker.task import RetryPolicy, TaskContext, task

CLASSIFY_TASK = service.CLASSIFY_TASK
LABEL_TASK = "triage.apply_labels"


def tier_of(ctx: TaskContext) -> IntelligenceTier | None:
    """The process's tier (``bootstrap.Components``); None: rules only, messages ``fyi``."""
    return ctx.deps.tier.get()


def gmail_for(ctx: TaskContext, account_id: int) -> GmailPort:
    return ctx.deps.gmail(ctx.session, account_id)


@task(CLASSIFY_TASK, retry=RetryPolicy(max_attempts=5), stage="classify")
def classify(ctx: TaskContext, *, message_id: int) -> None:
    decision = service.classify_message(
        ctx.session, message_id, tier=tier_of(ctx), settings=ctx.settings
    )
    pipeline.advance(
        ctx, "classify", "draft" if decision.should_draft else "label", message_id=message_id
    )


@task(LABEL_TASK, retry=RetryPolicy(max_attempts=5), stage="label")
def apply_labels(ctx: TaskContext, *, message_id: int) -> None:
    message = ctx.session.get(Message, message_id)
    if message is None:
        raise service.MessageNotFound(f"message {message_id} not found")
    gmail = gmail_for(ctx, message.account_id)
    service.apply_labels(ctx.session, message_id, gmail=gmail)
    result = repo.result_for_message(ctx.session, message_id)
    events.publish(
        ctx.session,
        "triage.completed",
        user_id=message.user_id,
        message_id=message_id,
        category=result.category if result else None,
        priority=result.priority if result else None,
        correlation_id=ctx.correlation_id,
    )
