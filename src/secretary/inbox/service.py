"""Use cases behind the inbox page, the thread reader and ``/api/v1/messages``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from secretary.db.models import Attachment, Message, TriageResult
from secretary.errors import BadRequest, NotFound
from secretary.identity import audit
from secretary.kit.logging import get_logger

log = get_logger(__name__)

BulkAction = Literal["archive", "read", "unread", "label"]
MAX_BULK = 500


class GmailLabels(Protocol):
    """What bulk actions need from Gmail (``drafting.gmail.GmailPort`` satisfies it)."""

    def ensure_labels(self, names: Sequence[str]) -> dict[str, str]: ...

    def modify_message(
        self, gmail_id: str, *, add: Sequence[str], remove: Sequence[str]
    ) -> None: ...


@dataclass(frozen=True)
class InboxFilter:
    category: str | None = None
    priority: str | None = None
    account_id: int | None = None
    unread: bool = False
    user_id: int | None = None


def list_inbox(
    session: Session, flt: InboxFilter, *, limit: int = 200
) -> list[tuple[TriageResult, Message]]:
    """Triaged messages, newest received first (not newest verdict: a re-triage must not
    move an old message to the top)."""
    stmt = (
        select(TriageResult, Message)
        .join(Message, Message.id == TriageResult.message_id)
        .order_by(Message.internal_date.desc().nulls_last(), Message.id.desc())
        .limit(limit)
    )
    if flt.user_id is not None:
        stmt = stmt.where(TriageResult.user_id == flt.user_id)
    if flt.category:
        stmt = stmt.where(TriageResult.category == flt.category)
    if flt.priority:
        stmt = stmt.where(TriageResult.priority == flt.priority)
    if flt.account_id is not None:
        stmt = stmt.where(Message.account_id == flt.account_id)
    if flt.unread:
        stmt = stmt.where(Message.label_ids.contains(["UNREAD"]))
    return [(r, m) for r, m in session.execute(stmt).all()]


def inbox_row(session: Session, message_id: int) -> tuple[TriageResult, Message] | None:
    row = session.execute(
        select(TriageResult, Message)
        .join(Message, Message.id == TriageResult.message_id)
        .where(Message.id == message_id)
    ).first()
    return (row[0], row[1]) if row else None


def get_message(session: Session, message_id: int) -> Message:
    message = session.get(Message, message_id)
    if message is None:
        raise NotFound(f"message {message_id} not found", code="message_not_found")
    return message


def find_by_gmail_id(session: Session, gmail_id: str, *, user_id: int | None = None) -> Message:
    stmt = select(Message).where(Message.gmail_id == gmail_id)
    if user_id is not None:
        stmt = stmt.where(Message.user_id == user_id)
    message = session.scalars(stmt.limit(1)).first()
    if message is None:
        raise NotFound(f"message {gmail_id} not found", code="message_not_found")
    return message


def thread_of(session: Session, message: Message) -> list[Message]:
    """Every stored message of the thread, oldest first."""
    return list(
        session.scalars(
            select(Message)
            .where(
                Message.account_id == message.account_id,
                Message.gmail_thread_id == message.gmail_thread_id,
            )
            .order_by(Message.internal_date.asc().nulls_first(), Message.id)
        ).all()
    )


def attachments_of(session: Session, message_ids: Sequence[int]) -> dict[int, list[Attachment]]:
    found: dict[int, list[Attachment]] = {}
    if not message_ids:
        return found
    for att in session.scalars(
        select(Attachment).where(Attachment.message_id.in_(message_ids)).order_by(Attachment.id)
    ):
        found.setdefault(att.message_id, []).append(att)
    return found


def triage_of(session: Session, message_ids: Sequence[int]) -> dict[int, TriageResult]:
    if not message_ids:
        return {}
    return {
        r.message_id: r
        for r in session.scalars(
            select(TriageResult).where(TriageResult.message_id.in_(message_ids))
        )
    }


def _label_change(
    action: BulkAction, label: str | None, gmail: GmailLabels
) -> tuple[list[str], list[str]]:
    if action == "archive":
        return [], ["INBOX"]
    if action == "read":
        return [], ["UNREAD"]
    if action == "unread":
        return ["UNREAD"], []
    name = (label or "").strip()
    if not name or len(name) > 225:
        raise BadRequest("a label name (1-225 characters) is needed", code="label_required")
    return [gmail.ensure_labels([name])[name]], []


def apply_bulk(
    session: Session,
    message_ids: Sequence[int],
    action: BulkAction,
    *,
    gmail_for: Callable[[Session, int], GmailLabels],
    label: str | None = None,
    user_id: int | None = None,
) -> int:
    """Apply one label change to many messages through Gmail, then mirror it locally.

    Gmail is the source of truth, so each message is modified there first (one
    ``messages.modify`` each, 5 quota units); the local ``label_ids`` follow so the page
    reflects it before the next sync. Returns how many messages changed.

    Raises:
        BadRequest: no ids, too many ids, or a label action without a label.
        NotFound: an id that is not (this user's) message.
    """
    ids = list(dict.fromkeys(message_ids))
    if not ids:
        raise BadRequest("select at least one message", code="nothing_selected")
    if len(ids) > MAX_BULK:
        raise BadRequest(f"at most {MAX_BULK} messages at once", code="too_many_selected")
    stmt = select(Message).where(Message.id.in_(ids))
    if user_id is not None:
        stmt = stmt.where(Message.user_id == user_id)
    messages = {m.id: m for m in session.scalars(stmt)}
    missing = [i for i in ids if i not in messages]
    if missing:
        raise NotFound(f"message {missing[0]} not found", code="message_not_found")
    ports: dict[int, GmailLabels] = {}
    changes: dict[int, tuple[list[str], list[str]]] = {}
    for mid in ids:
        message = messages[mid]
        port = ports.get(message.account_id)
        if port is None:
            port = ports[message.account_id] = gmail_for(session, message.account_id)
        if message.account_id not in changes:
            changes[message.account_id] = _label_change(action, label, port)
        add, remove = changes[message.account_id]
        port.modify_message(message.gmail_id, add=add, remove=remove)
        labels = [lab for lab in (message.label_ids or []) if lab not in remove]
        message.label_ids = labels + [lab for lab in add if lab not in labels]
    owners = {m.user_id for m in messages.values()}
    for owner in owners:  # one user's messages (the caller's); ids and counts only
        audit.record(
            session,
            owner,
            f"messages.{action}",
            count=sum(1 for m in messages.values() if m.user_id == owner),
            labelled=label is not None,
        )
    session.flush()
    log.info("inbox.bulk_applied", action=action, count=len(ids))
    return len(ids)
