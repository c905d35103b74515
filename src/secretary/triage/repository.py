"""All SQL of triage: rules, results, and message scans for previews and listings."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from secretary.db.models import GoogleAccount, Label, Message, Rule, TriageResult

OWN_MAIL_LABELS = ["DRAFT", "SENT"]


def list_rules(session: Session, user_id: int, *, enabled_only: bool = False) -> Sequence[Rule]:
    stmt = select(Rule).where(Rule.user_id == user_id).order_by(Rule.position, Rule.id)
    if enabled_only:
        stmt = stmt.where(Rule.enabled.is_(True))
    return session.scalars(stmt).all()


def get_rule(session: Session, user_id: int, rule_id: int) -> Rule | None:
    return session.scalars(
        select(Rule).where(Rule.id == rule_id, Rule.user_id == user_id)
    ).one_or_none()


def next_rule_position(session: Session, user_id: int) -> int:
    current = session.scalar(select(func.max(Rule.position)).where(Rule.user_id == user_id))
    return (current or 0) + 10


def label_names(session: Session, account_id: int) -> dict[str, str]:
    rows = session.execute(
        select(Label.gmail_label_id, Label.name).where(Label.account_id == account_id)
    ).all()
    return {str(lid): str(name) for lid, name in rows}


def account(session: Session, account_id: int) -> GoogleAccount | None:
    return session.get(GoogleAccount, account_id)


def messages_recent(
    session: Session, message_ids: Sequence[int], *, newer_than: datetime
) -> list[tuple[int, int]]:
    """(id, user_id) of those inbound messages received after ``newer_than``.

    Drafts and sent mail are the user's own (including the drafts this pipeline writes,
    which sync stores like any message): they never enter triage.
    """
    rows = session.execute(
        select(Message.id, Message.user_id).where(
            Message.id.in_(message_ids),
            func.coalesce(Message.internal_date, Message.sent_at, Message.created_at) >= newer_than,
            ~Message.label_ids.overlap(OWN_MAIL_LABELS),
        )
    ).all()
    return [(int(mid), int(uid)) for mid, uid in rows]


def iter_user_messages(
    session: Session, user_id: int, *, since: datetime | None = None, batch: int = 500
) -> Iterator[Message]:
    """Every message of the user, newest first, streamed in batches (for rule previews)."""
    stmt = (
        select(Message)
        .where(Message.user_id == user_id)
        .order_by(Message.internal_date.desc().nulls_last(), Message.id.desc())
        .execution_options(yield_per=batch)
    )
    if since is not None:
        stmt = stmt.where(Message.internal_date >= since)
    yield from session.scalars(stmt)


def upsert_result(session: Session, values: dict[str, Any]) -> int:
    stmt = insert(TriageResult).values(**values)
    update_cols: dict[str, Any] = {
        k: stmt.excluded[k] for k in values if k not in ("message_id", "user_id")
    }
    update_cols["labels_applied_at"] = None  # a new verdict must be labelled again
    upsert = stmt.on_conflict_do_update(index_elements=["message_id"], set_=update_cols)
    return int(session.execute(upsert.returning(TriageResult.id)).scalar_one())


def result_for_message(session: Session, message_id: int) -> TriageResult | None:
    return session.scalars(
        select(TriageResult).where(TriageResult.message_id == message_id)
    ).one_or_none()


def list_results(
    session: Session,
    *,
    user_id: int | None,
    category: str | None,
    since: datetime | None,
    limit: int,
) -> Sequence[tuple[TriageResult, Message]]:
    stmt = (
        select(TriageResult, Message)
        .join(Message, Message.id == TriageResult.message_id)
        .order_by(TriageResult.classified_at.desc())
        .limit(limit)
    )
    if user_id is not None:
        stmt = stmt.where(TriageResult.user_id == user_id)
    if category:
        stmt = stmt.where(TriageResult.category == category)
    if since is not None:
        stmt = stmt.where(TriageResult.classified_at >= since)
    return [(r, m) for r, m in session.execute(stmt).all()]
