"""Follow-ups (issue 13): mail you sent that asks something and got no answer, and mail
that needs your reply and has none, each after N days.

A thread's newest message decides. If it is yours (``SENT`` or from the account's own
address), asks something (``expects_answer``) and is older than the thread's
``followup_days`` (else ``Settings.followups.awaiting_reply_days``), the thread is
*awaiting a reply*; a nudge draft (``create_nudge``: a pending draft of kind ``nudge`` in
the approval queue, in the same thread, to the same people) is written only when asked or
when ``auto_nudge`` is on. If it is someone else's, triage said it needs a reply (or, not
triaged, it asks something and is not bulk mail), it is not cold outreach, and it is older
than the thread's delay (else ``unanswered_days``), the thread is *unanswered*.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import distinct_on, insert
from sqlalchemy.orm import Session

from secretary.config import FollowupSettings
from secretary.db.models import (
    Draft,
    DraftKind,
    DraftStatus,
    GoogleAccount,
    Message,
    Thread,
    TriageResult,
    User,
)
from secretary.drafting.addressing import _msgid, reply_subject
from secretary.drafting.gmail import GmailPort
from secretary.drafting.style import style_for
from secretary.errors import NotFound
from secretary.kit.clock import utcnow
from secretary.kit.logging import get_logger

log = get_logger(__name__)

LOOKBACK_DAYS = 90  # threads quiet for longer are not followed up
_ACTIVE = (DraftStatus.PENDING, DraftStatus.APPROVED)
_BULK_PRECEDENCE = {"bulk", "list", "junk"}
_ASKS = re.compile(
    r"\b(let me know|could you|can you|would you|will you|please (?:send|confirm|review|"
    r"let|share|reply|advise|check)|any (?:update|news|thoughts)|get back to me|"
    r"your thoughts|looking forward to (?:hearing|your)|waiting (?:for|on) your)\b",
    re.IGNORECASE,
)


class ThreadNotFound(NotFound):
    code = "thread_not_found"


def expects_answer(text: str) -> bool:
    """Does this (the user's own) message ask for an answer? A question, or a request."""
    own = "\n".join(ln for ln in text.splitlines() if not ln.lstrip().startswith(">"))
    # Quoted history after "On ... wrote:" is not what this message asks.
    own = re.split(r"\n\s*On .{4,200} wrote:\s*\n", own, maxsplit=1)[0]
    return "?" in own or bool(_ASKS.search(own))


@dataclass(frozen=True)
class FollowupItem:
    account_id: int
    thread_id: str
    message_id: int
    subject: str
    counterpart: str  # who should answer (awaiting) or who is waiting (unanswered)
    last_message_at: datetime
    days_waiting: float
    followup_days: float
    draft_id: int | None  # the pending nudge (awaiting) or reply (unanswered) draft

    def to_json(self) -> dict[str, object]:
        return {
            "account_id": self.account_id,
            "thread_id": self.thread_id,
            "message_id": self.message_id,
            "subject": self.subject,
            "counterpart": self.counterpart,
            "last_message_at": self.last_message_at.isoformat(),
            "days_waiting": self.days_waiting,
            "followup_days": self.followup_days,
            "draft_id": self.draft_id,
        }


@dataclass(frozen=True)
class Followups:
    awaiting_reply: list[FollowupItem]
    unanswered: list[FollowupItem]

    def to_json(self) -> dict[str, list[dict[str, object]]]:
        return {
            "awaiting_reply": [i.to_json() for i in self.awaiting_reply],
            "unanswered": [i.to_json() for i in self.unanswered],
        }


def _own_addresses(session: Session, user_id: int) -> dict[int, str]:
    rows = session.execute(
        select(GoogleAccount.id, GoogleAccount.email).where(GoogleAccount.user_id == user_id)
    ).all()
    return {account_id: (email or "").lower() for account_id, email in rows}


def is_own(message: Message, own: dict[int, str]) -> bool:
    return "SENT" in (message.label_ids or []) or (
        (message.from_addr or "").lower() == own.get(message.account_id)
    )


def _is_bulk(message: Message) -> bool:
    return bool(
        message.list_id
        or message.list_unsubscribe
        or (message.precedence or "").lower() in _BULK_PRECEDENCE
        or (message.auto_submitted or "no").lower() != "no"
    )


def _correspondents(session: Session, user_id: int, own: dict[int, str]) -> set[str]:
    """Addresses the user has written to (lower case), from their sent mail."""
    rows = session.execute(
        select(Message.to_addrs, Message.cc_addrs).where(
            Message.user_id == user_id, Message.label_ids.contains(["SENT"])
        )
    ).all()
    mine = {a.lower() for a in own.values()}
    return {a.lower() for to, cc in rows for a in (*(to or ()), *(cc or ()))} - mine


def latest_per_thread(session: Session, user_id: int, *, since: datetime) -> Sequence[Message]:
    """Each thread's newest message (drafts, spam and trash aside), for threads active
    since ``since``."""
    return session.scalars(
        select(Message)
        .where(
            Message.user_id == user_id,
            Message.internal_date >= since,
            ~Message.label_ids.overlap(["DRAFT", "SPAM", "TRASH"]),
        )
        .ext(distinct_on(Message.account_id, Message.gmail_thread_id))
        .order_by(Message.account_id, Message.gmail_thread_id, Message.internal_date.desc())
    ).all()


def _thread_days(session: Session, user_id: int) -> dict[tuple[int, str], float]:
    rows = session.execute(
        select(Thread.account_id, Thread.gmail_thread_id, Thread.followup_days).where(
            Thread.user_id == user_id, Thread.followup_days.is_not(None)
        )
    ).all()
    return {(a, t): float(d) for a, t, d in rows if d is not None}


def _pending_drafts(session: Session, message_ids: list[int]) -> dict[int, int]:
    if not message_ids:
        return {}
    rows = session.execute(
        select(Draft.message_id, Draft.id).where(
            Draft.message_id.in_(message_ids), Draft.status.in_(_ACTIVE)
        )
    ).all()
    return {int(m): int(d) for m, d in rows}


def list_followups(session: Session, user_id: int, settings: FollowupSettings) -> Followups:
    """Both lists, the longest waiting first."""
    now = utcnow()
    own = _own_addresses(session, user_id)
    per_thread = _thread_days(session, user_id)
    latest = latest_per_thread(session, user_id, since=now - timedelta(days=LOOKBACK_DAYS))
    verdicts = {
        r.message_id: r
        for r in session.scalars(
            select(TriageResult).where(TriageResult.message_id.in_([m.id for m in latest]))
        )
    }
    drafts = _pending_drafts(session, [m.id for m in latest])
    awaiting: list[FollowupItem] = []
    unanswered: list[FollowupItem] = []
    correspondents: set[str] | None = None
    for m in latest:
        if m.internal_date is None:
            continue
        age = (now - m.internal_date).total_seconds() / 86400
        text = m.reply_text or m.body_text or m.snippet or ""
        if is_own(m, own):
            days = per_thread.get((m.account_id, m.gmail_thread_id), settings.awaiting_reply_days)
            others = [a for a in (m.to_addrs or []) if a.lower() != own.get(m.account_id)]
            if age < days or not others or not expects_answer(text):
                continue
            awaiting.append(_item(m, others[0], age, days, drafts.get(m.id)))
        else:
            days = per_thread.get((m.account_id, m.gmail_thread_id), settings.unanswered_days)
            verdict = verdicts.get(m.id)
            if verdict is not None:
                needs = verdict.category == "needs_reply" and not verdict.cold_outreach
            else:
                # Never triaged (older than triage's window): without a verdict, only
                # people the user corresponds with, so old promotions and spam that slipped
                # past Gmail's filter do not fill the list.
                if correspondents is None:
                    correspondents = _correspondents(session, user_id, own)
                needs = (
                    not _is_bulk(m)
                    and (m.from_addr or "").lower() in correspondents
                    and expects_answer(text)
                )
            if age < days or not needs:
                continue
            unanswered.append(_item(m, m.from_addr or "", age, days, drafts.get(m.id)))
    awaiting.sort(key=lambda i: -i.days_waiting)
    unanswered.sort(key=lambda i: -i.days_waiting)
    return Followups(awaiting_reply=awaiting, unanswered=unanswered)


def _item(m: Message, who: str, age: float, days: float, draft_id: int | None) -> FollowupItem:
    assert m.internal_date is not None
    return FollowupItem(
        account_id=m.account_id,
        thread_id=m.gmail_thread_id,
        message_id=m.id,
        subject=m.subject or "",
        counterpart=who,
        last_message_at=m.internal_date,
        days_waiting=round(age, 1),
        followup_days=days,
        draft_id=draft_id,
    )


def set_thread_days(
    session: Session, user_id: int, thread_id: str, days: float | None
) -> tuple[int, str]:
    """Set (or with None, clear) a thread's own follow-up delay; returns (account, thread)."""
    account_id = session.scalar(
        select(Message.account_id)
        .where(Message.user_id == user_id, Message.gmail_thread_id == thread_id)
        .limit(1)
    )
    if account_id is None:
        raise ThreadNotFound(f"thread {thread_id} not found")
    stmt = insert(Thread).values(
        user_id=user_id, account_id=account_id, gmail_thread_id=thread_id, followup_days=days
    )
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=["account_id", "gmail_thread_id"],
            set_={"followup_days": stmt.excluded.followup_days},
        )
    )
    session.flush()
    return account_id, thread_id


def _first_name_of(session: Session, user_id: int, address: str) -> str | None:
    from secretary.llm.local.drafter import _first_name

    name = session.scalar(
        select(Message.from_name)
        .where(Message.user_id == user_id, Message.from_addr == address)
        .order_by(Message.internal_date.desc())
        .limit(1)
    )
    return _first_name(name, address)


def nudge_body(
    *, first_name: str | None, subject: str, sent_at: datetime, greeting: str | None,
    closing: str | None, signature: str | None,
) -> str:  # fmt: skip
    """A short, specific nudge in the user's greeting and sign-off."""
    if greeting and "{first_name}" in greeting:
        hello = greeting.format(first_name=first_name) if first_name else "Hi,"
    else:
        hello = greeting or (f"Hi {first_name}," if first_name else "Hi,")
    topic = re.sub(r"^(?:(?:re|fwd?|aw)\s*:\s*)+", "", subject or "", flags=re.IGNORECASE)
    about = f" about {topic.strip()}" if topic.strip() else ""
    when = f"{sent_at.strftime('%A')}, {sent_at.day} {sent_at.strftime('%B')}"
    lines = [
        hello,
        "",
        f"Just following up on my note from {when}{about}. "
        "Could you let me know where things stand when you have a moment?",
        "",
        closing or "Thanks,",
    ]
    if signature:
        lines.append(signature)
    return "\n".join(lines) + "\n"


def create_nudge(session: Session, user_id: int, thread_id: str) -> Draft:
    """A pending nudge draft answering the user's own newest message in ``thread_id``
    (reusing one already pending). Mirror it to Gmail like any draft."""
    sent = session.scalars(
        select(Message)
        .where(
            Message.user_id == user_id,
            Message.gmail_thread_id == thread_id,
            ~Message.label_ids.overlap(["DRAFT", "SPAM", "TRASH"]),
        )
        .order_by(Message.internal_date.desc())
        .limit(1)
    ).one_or_none()
    own = _own_addresses(session, user_id)
    if sent is None or not is_own(sent, own):
        raise ThreadNotFound(f"no unanswered message of yours in thread {thread_id}")
    existing = session.scalars(
        select(Draft).where(Draft.message_id == sent.id, Draft.status.in_(_ACTIVE))
    ).first()
    if existing is not None:
        return existing
    to = [a for a in (sent.to_addrs or []) if a.lower() != own.get(sent.account_id)]
    style = style_for(session, user_id)
    user = session.get(User, user_id)
    body = nudge_body(
        first_name=_first_name_of(session, user_id, to[0]) if to else None,
        subject=sent.subject or "",
        sent_at=sent.internal_date or utcnow(),
        greeting=style.greeting,
        closing=style.closing,
        signature=style.signature or (user.display_name if user else None),
    )
    parent = _msgid(sent.message_id_header)
    references = [m for m in (_msgid(r) for r in [*(sent.references or []), parent]) if m]
    draft = Draft(
        user_id=user_id,
        account_id=sent.account_id,
        message_id=sent.id,
        draft_key=uuid.uuid4().hex,
        status=DraftStatus.PENDING,
        kind=DraftKind.NUDGE,
        gmail_thread_id=sent.gmail_thread_id,
        subject=reply_subject(sent.subject),
        to_addrs=to,
        cc_addrs=[a for a in (sent.cc_addrs or []) if a.lower() != own.get(sent.account_id)],
        in_reply_to=parent,
        references=references,
        body=body,
        suggested_body=body,
        intent="follow_up",
        confidence=0.8,
        model="followup:template",
    )
    session.add(draft)
    session.flush()
    log.info("nudge_drafted", draft_id=draft.id)
    return draft


GmailFor = Callable[[Session, int], GmailPort]


def nudge(session: Session, user_id: int, thread_id: str, *, gmail_for: GmailFor) -> Draft:
    """``create_nudge`` and its Gmail draft (the approval queue needs both)."""
    from secretary.drafting import service

    draft = create_nudge(session, user_id, thread_id)
    if not draft.gmail_draft_id:
        gmail = gmail_for(session, draft.account_id)
        service.mirror_to_gmail(session, draft.id, gmail=gmail, first_attempt=False)
    return draft


def with_auto_nudges(
    session: Session, user_id: int, found: Followups, *, gmail_for: GmailFor
) -> Followups:
    """``auto_nudge``: a nudge for each awaiting thread that has none. A thread whose nudge
    cannot reach Gmail is left without one (and tried again next time)."""
    awaiting: list[FollowupItem] = []
    for item in found.awaiting_reply:
        if item.draft_id is None:
            try:
                with session.begin_nested():
                    made = nudge(session, user_id, item.thread_id, gmail_for=gmail_for)
                item = replace(item, draft_id=made.id)
            except Exception as exc:  # Gmail down: list the thread, nudge next time
                log.info("auto_nudge_skipped", error=type(exc).__name__)
        awaiting.append(item)
    return Followups(awaiting_reply=awaiting, unanswered=found.unanswered)
