"""Drafting use cases: generate a suggestion, mirror it into Gmail exactly once, respect edits.

Exactly once in Gmail: the ``drafts`` row (with its random ``draft_key``) commits before
any Gmail call. The first attempt creates the Gmail draft with that key in a header; any
later attempt (a retry, or a re-run after a worker died mid-call) first lists the thread's
drafts and adopts the one carrying the key, so a crash between "Gmail stored it" and "we
stored its id" never yields a second draft.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from prometheus_client import Histogram
from sqlalchemy import select
from sqlalchemy.orm import Session

from secretary.db.models import Draft, DraftStatus, GoogleAccount, Message, User
from secretary.drafting.addressing import build_reply
from secretary.drafting.gmail import DRAFT_KEY_HEADER, GmailPort, body_hash, compose_raw, parse_raw
from secretary.errors import Conflict, NotFound
from secretary.kit.clock import utcnow
from secretary.kit.logging import get_logger
from secretary.llm.schemas import DraftRequest, IntelligenceTier
from secretary.triage.steps.facts import email_input

log = get_logger(__name__)

PUSH_TO_DRAFT_SECONDS = Histogram(
    "secretary_push_to_draft_seconds",
    "From the moment a message was stored (push) to its Gmail draft existing",
    buckets=(0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 2, 5, 10, 30, 60, 300),
)

ACTIVE = (DraftStatus.PENDING, DraftStatus.APPROVED)


class DraftNotFound(NotFound):
    code = "draft_not_found"


def active_draft(session: Session, message_id: int) -> Draft | None:
    return session.scalars(
        select(Draft)
        .where(Draft.message_id == message_id, Draft.status.in_(ACTIVE))
        .order_by(Draft.id.desc())
        .limit(1)
    ).one_or_none()


def _thread(session: Session, message: Message) -> Sequence[Message]:
    return session.scalars(
        select(Message)
        .where(
            Message.account_id == message.account_id,
            Message.gmail_thread_id == message.gmail_thread_id,
            Message.id != message.id,
            Message.internal_date <= message.internal_date,
        )
        .order_by(Message.internal_date)
        .limit(20)
    ).all()


def generate_draft(session: Session, message_id: int, *, tier: IntelligenceTier) -> Draft | None:
    """Store a reply suggestion for the message (reusing an active one), or None when the
    tier decides no reply should be drafted."""
    existing = active_draft(session, message_id)
    if existing is not None:
        return existing
    message = session.get(Message, message_id)
    if message is None:
        raise NotFound(f"message {message_id} not found", code="message_not_found")
    account = session.get(GoogleAccount, message.account_id)
    user = session.get(User, message.user_id)
    user_email = account.email if account else ""
    request = DraftRequest(
        email=email_input(message, user_email=user_email),
        thread=[email_input(m, user_email=user_email) for m in _thread(session, message)],
        user_name=user.display_name if user else None,
        user_timezone=user.timezone if user else "UTC",
    )
    result = tier.draft_reply(request)
    if not result.should_draft or not result.body.strip():
        log.info("draft_skipped", message_id=message_id, model=result.model)
        return None
    envelope = build_reply(
        user_email=user_email,
        from_addr=message.from_addr,
        reply_to=message.reply_to,
        to=message.to_addrs or [],
        cc=message.cc_addrs or [],
        subject=message.subject,
        message_id_header=message.message_id_header,
        references=message.references or [],
    )
    usage = result.usage
    draft = Draft(
        user_id=message.user_id,
        account_id=message.account_id,
        message_id=message.id,
        draft_key=uuid.uuid4().hex,
        status=DraftStatus.PENDING,
        gmail_thread_id=message.gmail_thread_id,
        subject=envelope.subject,
        to_addrs=envelope.to,
        cc_addrs=envelope.cc,
        in_reply_to=envelope.in_reply_to,
        references=envelope.references,
        body=result.body,
        intent=result.intent,
        confidence=result.confidence,
        model=result.model or (usage.model if usage else ""),
        input_tokens=usage.input_tokens if usage else 0,
        output_tokens=usage.output_tokens if usage else 0,
        cost_usd=usage.cost_usd if usage else 0.0,
    )
    session.add(draft)
    session.flush()
    log.info("draft_generated", message_id=message_id, draft_id=draft.id, model=draft.model)
    return draft


def _raw_for(draft: Draft, from_addr: str) -> bytes:
    return compose_raw(
        from_addr=from_addr,
        to=draft.to_addrs,
        cc=draft.cc_addrs,
        subject=draft.subject,
        body=draft.body,
        in_reply_to=draft.in_reply_to,
        references=draft.references,
        draft_key=draft.draft_key,
    )


def find_gmail_draft(gmail: GmailPort, *, thread_id: str, draft_key: str) -> dict[str, str] | None:
    """The Gmail draft in ``thread_id`` carrying our key header, if a past attempt made it."""
    for item in gmail.list_drafts():
        if item.get("message", {}).get("threadId") != thread_id:
            continue
        headers, _body = parse_raw(gmail.get_draft_raw(item["id"]))
        if headers.get(DRAFT_KEY_HEADER.lower()) == draft_key:
            return {"id": item["id"], "message_id": item.get("message", {}).get("id", "")}
    return None


def mirror_to_gmail(
    session: Session,
    draft_id: int,
    *,
    gmail: GmailPort,
    first_attempt: bool,
    origin_at: datetime | None = None,
) -> str:
    """Create the Gmail draft for ``draft_id`` exactly once; returns its Gmail id."""
    draft = session.get(Draft, draft_id, with_for_update=True)
    if draft is None:
        raise DraftNotFound(f"draft {draft_id} not found")
    if draft.gmail_draft_id:
        return draft.gmail_draft_id
    account = session.get(GoogleAccount, draft.account_id)
    found = None
    if not first_attempt:
        found = find_gmail_draft(gmail, thread_id=draft.gmail_thread_id, draft_key=draft.draft_key)
    if found is not None:
        draft.gmail_draft_id = found["id"]
        draft.gmail_message_id = found["message_id"] or None
        log.info("gmail_draft_adopted", draft_id=draft.id)
    else:
        created = gmail.create_draft(
            _raw_for(draft, account.email if account else ""), thread_id=draft.gmail_thread_id
        )
        draft.gmail_draft_id = str(created["id"])
        draft.gmail_message_id = created.get("message", {}).get("id")
    draft.body_hash = body_hash(draft.body)
    draft.gmail_synced_at = utcnow()
    session.flush()
    if origin_at is not None:
        PUSH_TO_DRAFT_SECONDS.observe((utcnow() - origin_at).total_seconds())
    return draft.gmail_draft_id


def detect_human_edit(session: Session, draft_id: int, *, gmail: GmailPort) -> bool:
    """Compare Gmail's copy with what we last wrote; mark the draft edited if it differs."""
    draft = session.get(Draft, draft_id)
    if draft is None:
        raise DraftNotFound(f"draft {draft_id} not found")
    if not draft.gmail_draft_id or draft.human_edited:
        return draft.human_edited
    _headers, body = parse_raw(gmail.get_draft_raw(draft.gmail_draft_id))
    if body_hash(body) != draft.body_hash:
        draft.human_edited = True
        draft.body = body
        session.flush()
    return draft.human_edited


def edit_draft(session: Session, draft_id: int, body: str, *, gmail: GmailPort) -> Draft:
    """A human edit through our API: written to Gmail unless Gmail holds a newer human edit."""
    draft = session.get(Draft, draft_id, with_for_update=True)
    if draft is None:
        raise DraftNotFound(f"draft {draft_id} not found")
    if draft.status not in ACTIVE:
        raise Conflict(f"draft {draft_id} is {draft.status}", code="draft_not_editable")
    if draft.gmail_draft_id:
        _headers, current = parse_raw(gmail.get_draft_raw(draft.gmail_draft_id))
        if draft.body_hash and body_hash(current) != draft.body_hash:
            raise Conflict(
                "the draft was edited in Gmail since we last wrote it; edit it there",
                code="draft_edited_in_gmail",
            )
        account = session.get(GoogleAccount, draft.account_id)
        draft.body = body
        gmail.update_draft(
            draft.gmail_draft_id,
            _raw_for(draft, account.email if account else ""),
            thread_id=draft.gmail_thread_id,
        )
    draft.body = body
    draft.body_hash = body_hash(body)
    draft.human_edited = True
    session.flush()
    return draft
