"""Cold outreach and no-draft reasons (issue 13): what the product knows and the classifier
does not, namely the sender's history in the user's own mail.

Cold outreach is a first contact (nothing from the sender before, the user never wrote to
them, no earlier message in the thread) that reads like a pitch: at least two phrases of
sales vocabulary ("companies like yours", "book 3x more", "15 minutes this week"), or the
classifier's own flag. Anyone the user has written to, or a thread the user is in, is never
cold. Cold outreach and newsletters get no draft unless a rule says "always draft".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from secretary.db.models import Message
from secretary.llm.schemas import Category, Priority, SenderStats
from secretary.triage.steps.decide import Decision

_SALES = re.compile(
    r"\b(?:i came across|i noticed (?:your|that)|reaching out|reach out|quick (?:call|chat|"
    r"question)|hop on a (?:call|quick)|partnership|our (?:platform|solution|services|product|"
    r"agency|software|tool)|would you be open|book a (?:demo|call|meeting)|schedule a demo|"
    r"\d+ ?min(?:ute)?s?(?: of your time| this week| next week| for a)|introduce (?:myself|our)|"
    r"i'm the (?:founder|ceo|head of)|help (?:you|your team)|we help (?:companies|teams|"
    r"businesses|brands|startups)|companies like (?:yours|you)|teams like (?:yours|you)|"
    r"\d+(?:\.\d+)?x (?:more|faster|higher|better)|sales (?:meetings|pipeline|team|leads)|"
    r"(?:more|qualified) leads|increase (?:your )?(?:revenue|conversions|sales)|roi|"
    r"free (?:trial|demo|audit)|are you the right person|who is responsible for|"
    r"worth a (?:chat|conversation)|case stud(?:y|ies)|personali[sz]ed outreach)\b",
    re.IGNORECASE,
)
MIN_SALES_PHRASES = 2


@dataclass(frozen=True)
class SenderHistory:
    messages_from_sender: int  # before this one
    user_wrote_to_sender: bool
    earlier_in_thread: int  # other messages of the same thread
    messages_to_sender: int = 0  # the user's sent messages to this sender
    user_in_thread: bool = False  # the user has sent a message in this thread

    def sender_stats(self) -> SenderStats:
        """What the intelligence tier reads of this history."""
        return SenderStats(
            user_wrote_to_sender=self.user_wrote_to_sender,
            messages_from_sender=self.messages_from_sender,
            replies_to_sender=self.messages_to_sender,
            user_in_thread=self.user_in_thread,
        )


def sales_phrases(text: str) -> list[str]:
    return [m.group(0).lower() for m in _SALES.finditer(text)]


def cold_outreach_reason(
    subject: str, body: str, history: SenderHistory, *, classifier_flag: bool
) -> str | None:
    """Why this is cold outreach, or None when it is not."""
    if history.user_wrote_to_sender or history.earlier_in_thread or history.messages_from_sender:
        return None
    phrases = sales_phrases(f"{subject}\n{body}")
    if len(set(phrases)) >= MIN_SALES_PHRASES:
        shown = ", ".join(f'"{p}"' for p in sorted(set(phrases))[:4])
        return f"cold outreach: first contact, never written to, sales wording ({shown})"
    if classifier_flag:
        return "cold outreach: first contact, never written to, the classifier flagged a pitch"
    return None


def sender_history(session: Session, message: Message) -> SenderHistory:
    sender = (message.from_addr or "").lower()
    if not sender:
        return SenderHistory(0, False, 0)
    earlier = select(func.count(Message.id)).where(
        Message.account_id == message.account_id,
        func.lower(Message.from_addr) == sender,
        Message.id.is_distinct_from(message.id),
    )
    if message.internal_date is not None:
        earlier = earlier.where(Message.internal_date <= message.internal_date)
    wrote_to = select(func.count(Message.id)).where(
        Message.account_id == message.account_id,
        Message.label_ids.contains(["SENT"]),
        Message.to_addrs.contains([sender]) | Message.cc_addrs.contains([sender]),
    )
    sent = Message.label_ids.contains(["SENT"])
    thread = select(func.count(Message.id), func.count(Message.id).filter(sent)).where(
        Message.account_id == message.account_id,
        Message.gmail_thread_id == message.gmail_thread_id,
        Message.id.is_distinct_from(message.id),
    )
    # One round trip for the three counts (this runs for every message triaged).
    counted = thread.subquery()
    before, wrote, in_thread, sent_in_thread = session.execute(
        select(earlier.scalar_subquery(), wrote_to.scalar_subquery(), *counted.c)
    ).one()
    return SenderHistory(
        messages_from_sender=int(before or 0),
        user_wrote_to_sender=bool(wrote),
        earlier_in_thread=int(in_thread or 0),
        messages_to_sender=int(wrote or 0),
        user_in_thread=bool(sent_in_thread),
    )


def refine(
    session: Session,
    message: Message,
    decision: Decision,
    *,
    history: SenderHistory | None = None,
) -> tuple[Decision, str | None]:
    """The decision with cold outreach detected from the sender's history, and the reason no
    draft is written (None when one is, or when the category never asks for one)."""
    from dataclasses import replace

    cold = cold_outreach_reason(
        message.subject or "",
        message.reply_text or message.body_text or message.snippet or "",
        history or sender_history(session, message),
        classifier_flag=decision.cold_outreach,
    )
    if cold is not None:
        decision = replace(
            decision,
            cold_outreach=True,
            priority=Priority.LOW,
            reason=f"{decision.reason}; {cold}",
            should_draft=decision.draft_decision == "always",
        )
        return decision, None if decision.should_draft else cold
    if decision.cold_outreach:  # the classifier's flag on someone the user knows: overruled
        decision = replace(decision, cold_outreach=False)
    if decision.category == Category.NEWSLETTER and not decision.should_draft:
        return decision, "newsletter"
    return decision, None
