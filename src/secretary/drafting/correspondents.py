"""One correspondent as the user sees them (issue 13, seed 004): the threads you share,
how often and how fast you answer them, and what is open (pending drafts, unanswered mail).

Response rate: of their messages (bulk mail aside), the share that a message of yours
followed later in the same thread. Response time: from their message to your first
message after it in that thread; the median over the answered ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from statistics import median
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from secretary.config import FollowupSettings
from secretary.db.models import Draft, DraftStatus, Message
from secretary.drafting.followups import _is_bulk, _own_addresses, is_own, list_followups

MAX_THREADS = 50


@dataclass
class ThreadSummary:
    thread_id: str
    account_id: int
    subject: str
    message_count: int = 0
    last_message_at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "thread_id": self.thread_id,
            "account_id": self.account_id,
            "subject": self.subject,
            "message_count": self.message_count,
            "last_message_at": self.last_message_at.isoformat() if self.last_message_at else None,
        }


@dataclass
class Correspondent:
    address: str
    name: str | None
    messages_from_them: int
    messages_to_them: int
    response_rate: float | None
    median_response_hours: float | None
    threads: list[ThreadSummary] = field(default_factory=list)
    pending_drafts: list[dict[str, Any]] = field(default_factory=list)
    unanswered: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "name": self.name,
            "messages_from_them": self.messages_from_them,
            "messages_to_them": self.messages_to_them,
            "response_rate": self.response_rate,
            "median_response_hours": self.median_response_hours,
            "threads": [t.to_json() for t in self.threads],
            "open_items": {"pending_drafts": self.pending_drafts, "unanswered": self.unanswered},
        }


def _involves(address: str) -> Any:
    return or_(
        func.lower(Message.from_addr) == address,
        Message.to_addrs.contains([address]),
        Message.cc_addrs.contains([address]),
    )


def correspondent(
    session: Session, user_id: int, address: str, settings: FollowupSettings
) -> Correspondent | None:
    """The view of ``address`` (None when no mail involves them)."""
    address = address.strip().lower()
    keys = session.execute(
        select(Message.account_id, Message.gmail_thread_id)
        .where(Message.user_id == user_id, _involves(address))
        .group_by(Message.account_id, Message.gmail_thread_id)
        .order_by(func.max(Message.internal_date).desc().nulls_last())
        .limit(MAX_THREADS)
    ).all()
    if not keys:
        return None
    thread_ids = sorted({t for _a, t in keys})
    messages = session.scalars(
        select(Message)
        .where(
            Message.user_id == user_id,
            Message.gmail_thread_id.in_(thread_ids),
            ~Message.label_ids.overlap(["DRAFT", "SPAM", "TRASH"]),
        )
        .order_by(Message.internal_date)
    ).all()
    own = _own_addresses(session, user_id)
    wanted = {(a, t) for a, t in keys}
    threads: dict[tuple[int, str], list[Message]] = {}
    for m in messages:
        if (m.account_id, m.gmail_thread_id) in wanted:
            threads.setdefault((m.account_id, m.gmail_thread_id), []).append(m)
    from_them = to_them = answered = 0
    delays: list[float] = []
    name = None
    for msgs in threads.values():
        for i, m in enumerate(msgs):
            mine = is_own(m, own)
            if mine and address in [a.lower() for a in [*(m.to_addrs or []), *(m.cc_addrs or [])]]:
                to_them += 1
            if mine or (m.from_addr or "").lower() != address:
                continue
            name = m.from_name or name
            if _is_bulk(m):
                continue
            from_them += 1
            reply = next((r for r in msgs[i + 1 :] if is_own(r, own)), None)
            if reply is not None and reply.internal_date and m.internal_date:
                answered += 1
                delays.append((reply.internal_date - m.internal_date).total_seconds() / 3600)
    summaries = []
    for (account_id, thread_id), msgs in threads.items():
        summaries.append(
            ThreadSummary(
                thread_id=thread_id,
                account_id=account_id,
                subject=msgs[0].subject or "",
                message_count=len(msgs),
                last_message_at=msgs[-1].internal_date,
            )
        )
    summaries.sort(
        key=lambda s: s.last_message_at or datetime.min.replace(tzinfo=UTC), reverse=True
    )
    pending = session.scalars(
        select(Draft)
        .where(
            Draft.user_id == user_id,
            Draft.status == DraftStatus.PENDING,
            Draft.gmail_thread_id.in_(thread_ids),
        )
        .order_by(Draft.id)
    ).all()
    open_unanswered = [
        item.to_json()
        for item in list_followups(session, user_id, settings).unanswered
        if item.counterpart.lower() == address
    ]
    return Correspondent(
        address=address,
        name=name,
        messages_from_them=from_them,
        messages_to_them=to_them,
        response_rate=round(answered / from_them, 3) if from_them else None,
        median_response_hours=round(median(delays), 2) if delays else None,
        threads=summaries,
        pending_drafts=[
            {
                "draft_id": d.id,
                "thread_id": d.gmail_thread_id,
                "subject": d.subject,
                "kind": d.kind,
            }
            for d in pending
        ],
        unanswered=open_unanswered,
    )
