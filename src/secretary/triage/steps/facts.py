"""From a stored message to what rules and the intelligence tier see."""

from __future__ import annotations

from collections.abc import Iterable

from secretary.db.models import Message
from secretary.llm.schemas import EmailInput, SenderStats
from secretary.triage.rules import MailFacts

# ``messages.triage_headers`` keys (``sync.records.TRIAGE_HEADERS``) to header names.
_TRIAGE_HEADER_NAMES = {
    "authentication_results": "Authentication-Results",
    "received_spf": "Received-SPF",
    "list_unsubscribe_post": "List-Unsubscribe-Post",
    "x_mailer": "X-Mailer",
}


def _lower(values: Iterable[str | None]) -> tuple[str, ...]:
    return tuple(v.strip().lower() for v in values if v)


def mail_facts(message: Message, *, label_names: dict[str, str] | None = None) -> MailFacts:
    """``label_names`` maps Gmail label ids to names so rules may use either."""
    names = label_names or {}
    labels = {lid.lower() for lid in message.label_ids or []}
    labels |= {names[lid].lower() for lid in message.label_ids or [] if lid in names}
    return MailFacts(
        from_addr=(message.from_addr or "").strip().lower(),
        to=_lower(message.to_addrs or []),
        cc=_lower(message.cc_addrs or []),
        subject=message.subject or "",
        body=message.body_text or message.snippet or "",
        list_id=message.list_id,
        list_unsubscribe=message.list_unsubscribe,
        precedence=message.precedence,
        has_attachments=bool(message.has_attachments),
        labels=frozenset(labels),
    )


def email_input(
    message: Message, *, user_email: str | None, sender_stats: SenderStats | None = None
) -> EmailInput:
    """``sender_stats`` is the sender's and the thread's history in the user's own mail
    (``outreach.sender_history``): the tier trusts people the user writes to (issue 13)."""
    candidates = (
        ("List-Id", message.list_id),
        ("List-Unsubscribe", message.list_unsubscribe),
        ("Precedence", message.precedence),
        ("Auto-Submitted", message.auto_submitted),
        ("Reply-To", message.reply_to),
    )
    headers = {name: value for name, value in candidates if value}
    # The receiving server's verdicts and bulk-mail headers the sync keeps for the tier,
    # under the names the evaluation passes from raw mail (issue 13).
    stored = message.triage_headers or {}
    headers.update(
        {name: stored[key] for key, name in _TRIAGE_HEADER_NAMES.items() if stored.get(key)}
    )
    return EmailInput(
        message_id=message.gmail_id,
        subject=message.subject or "",
        from_name=message.from_name,
        from_addr=message.from_addr,
        to=list(message.to_addrs or []),
        cc=list(message.cc_addrs or []),
        sent_at=message.sent_at or message.internal_date,
        body_text=message.reply_text or message.body_text or message.snippet or "",
        full_text=message.body_text,
        headers=headers,
        user_email=user_email,
        has_attachments=bool(message.has_attachments),
        has_calendar_invite=bool(message.has_calendar_invite),
        sender_stats=sender_stats,
        label_ids=list(message.label_ids or []),
    )
