"""Drafting use cases: generate a suggestion, mirror it into Gmail exactly once, respect edits.

Exactly once in Gmail: the ``drafts`` row (with its random ``draft_key``) commits before
any Gmail call. The first attempt creates the Gmail draft with that key in a header; any
later attempt (a retry, or a re-run after a worker died mid-call) first lists the thread's
drafts and adopts the one carrying the key, so a crash between "Gmail stored it" and "we
stored its id" never yields a second draft.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import Histogram
from sqlalchemy import select
from sqlalchemy.orm import Session

from secretary.db.models import Draft, DraftFeedback, DraftStatus, GoogleAccount, Message, User
from secretary.drafting import learning
from secretary.drafting.addressing import build_reply
from secretary.drafting.approval import (
    DraftVersion,
    VersionDiff,
    diff_versions,
    normalize_body,
    recipient_flags,
)
from secretary.drafting.exfil import ExfilFlag, check_draft, lowered_confidence
from secretary.drafting.gmail import (
    DRAFT_KEY_HEADER,
    GmailDraftMissing,
    GmailPort,
    body_hash,
    compose_raw,
    parse_raw,
)
from secretary.drafting.schemas import DraftFlag, DraftOut
from secretary.drafting.stats import edit_distance
from secretary.drafting.style import style_for
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


def generate_draft(
    session: Session,
    message_id: int,
    *,
    tier: IntelligenceTier,
    instruction: str | None = None,
    previous_body: str | None = None,
    attendee_busy: Callable[[Session, int], Any] | None = None,
) -> Draft | None:
    """Store a reply suggestion for the message (reusing an active one), or None when the
    tier decides no reply should be drafted. ``instruction`` and ``previous_body`` come from
    a regenerate: the user's wish, and the suggestion the new one must differ from.
    ``attendee_busy(session, user_id)`` gives scheduling the internal attendees' busy time
    (``scheduling.calendar_api.attendee_busy_source``) for meeting requests."""
    existing = active_draft(session, message_id)
    if existing is not None:
        return existing
    message = session.get(Message, message_id)
    if message is None:
        raise NotFound(f"message {message_id} not found", code="message_not_found")
    account = session.get(GoogleAccount, message.account_id)
    user = session.get(User, message.user_id)
    user_email = account.email if account else ""
    # Meeting requests get real free slots; a reply accepting offered slots gets no draft,
    # its booking proposal (with the confirmation) waits in the approval queue (issue 10).
    from secretary.scheduling import meetings

    meeting = meetings.draft_context(
        session,
        message,
        tier=tier,
        attendee_busy=attendee_busy(session, message.user_id) if attendee_busy else None,
    )
    if meeting is not None and meeting.skip:
        log.info("draft_skipped", message_id=message_id, reason="booking_proposed")
        return None
    earlier = _thread(session, message)  # read once: the draft and the exfiltration check
    request = DraftRequest(
        email=email_input(message, user_email=user_email),
        thread=[email_input(m, user_email=user_email) for m in earlier],
        user_name=user.display_name if user else None,
        user_timezone=meeting.owner_time_zone if meeting else (user.timezone if user else "UTC"),
        available_slots=meeting.slots if meeting else None,
        requester_timezone=meeting.requester_time_zone if meeting else None,
        instruction=instruction or None,
        previous_body=previous_body,
        style=learning.apply_preferences(
            style_for(session, message.user_id),  # greeting, closing, length: as the user writes
            learning.preferences_for(session, message.user_id, message.from_addr),
        ),
    )
    result = tier.draft_reply(request)
    if result.should_draft and result.body.strip():
        result.body = learning.enforce(result.body, request.style)
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
    # Before the queue: links, addresses and numbers the conversation never contained.
    exfil = exfil_flags(session, message, result.body, user_email=user_email, earlier=earlier)
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
        suggested_body=result.body,
        intent=result.intent,
        confidence=lowered_confidence(result.confidence, exfil),
        flags=[f.to_json() for f in exfil],
        model=result.model or (usage.model if usage else ""),
        input_tokens=usage.input_tokens if usage else 0,
        output_tokens=usage.output_tokens if usage else 0,
        cost_usd=usage.cost_usd if usage else 0.0,
    )
    session.add(draft)
    session.flush()
    if meeting is not None:
        meetings.record_offer(session, message, meeting, draft)
    log.info(
        "draft_generated",
        message_id=message_id,
        draft_id=draft.id,
        model=draft.model,
        flags=[f.kind for f in exfil],
    )
    return draft


SENT_MAIL_CHECKED = 500  # the user's newest sent messages the exfiltration check reads


def exfil_flags(
    session: Session,
    message: Message,
    body: str,
    *,
    user_email: str,
    earlier: Sequence[Message] | None = None,
) -> list[ExfilFlag]:
    """The draft exfiltration check (``drafting.exfil``) for a reply to ``message``: the
    thread's texts first; the user's own sent mail only if they do not explain everything."""

    def texts(m: Message) -> list[str]:
        return [
            m.body_text or "",
            m.subject or "",
            m.from_addr or "",
            m.reply_to or "",
            " ".join(m.to_addrs or []),
            " ".join(m.cc_addrs or []),
        ]

    thread = [user_email, *texts(message)]
    for m in _thread(session, message) if earlier is None else earlier:
        thread.extend(texts(m))

    def sent() -> list[str]:
        rows = session.scalars(
            select(Message.body_text)
            .where(
                Message.account_id == message.account_id,
                Message.label_ids.contains(["SENT"]),
                Message.body_text.is_not(None),
            )
            .order_by(Message.internal_date.desc())
            .limit(SENT_MAIL_CHECKED)
        ).all()
        return [r for r in rows if r]

    return check_draft(body, thread=thread, sent=sent)


def _raw_for(draft: Draft, from_addr: str) -> bytes:
    return compose_raw(
        from_addr=from_addr,
        to=draft.to_addrs,
        cc=draft.cc_addrs,
        bcc=draft.bcc_addrs or [],
        subject=draft.subject,
        body=draft.body,
        in_reply_to=draft.in_reply_to,
        references=draft.references,
        draft_key=draft.draft_key,
    )


def find_gmail_draft(gmail: GmailPort, *, thread_id: str, draft_key: str) -> dict[str, str] | None:
    """The Gmail draft carrying our key header, if a past attempt made it.

    Every draft is a candidate, those in ``thread_id`` first: Gmail chooses the thread of a
    draft (it joins the requested thread only when the headers and subject match), so the
    thread we asked for is a hint, never a filter."""
    drafts = gmail.list_drafts()
    drafts.sort(key=lambda item: item.get("message", {}).get("threadId") != thread_id)
    for item in drafts:
        headers, _body = parse_raw(gmail.get_draft_raw(item["id"]))
        if headers.get(DRAFT_KEY_HEADER.lower()) == draft_key:
            message = item.get("message", {})
            return {
                "id": item["id"],
                "message_id": message.get("id", ""),
                "thread_id": message.get("threadId", ""),
            }
    return None


def _adopt_thread(draft: Draft, gmail_message: dict[str, object] | None) -> None:
    """Keep the thread Gmail put our message in (it may differ from the one we asked for)."""
    thread_id = (gmail_message or {}).get("threadId")
    if thread_id:
        draft.gmail_thread_id = str(thread_id)


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
    if draft.status not in ACTIVE:
        # Rejected or superseded before its mirror task ran: it must not reach Gmail.
        log.info("gmail_draft_skipped", draft_id=draft.id, status=draft.status)
        return ""
    account = session.get(GoogleAccount, draft.account_id)
    found = None
    if not first_attempt:
        found = find_gmail_draft(gmail, thread_id=draft.gmail_thread_id, draft_key=draft.draft_key)
    if found is not None:
        draft.gmail_draft_id = found["id"]
        draft.gmail_message_id = found["message_id"] or None
        _adopt_thread(draft, {"threadId": found["thread_id"]})
        log.info("gmail_draft_adopted", draft_id=draft.id)
    else:
        created = gmail.create_draft(
            _raw_for(draft, account.email if account else ""), thread_id=draft.gmail_thread_id
        )
        draft.gmail_draft_id = str(created["id"])
        draft.gmail_message_id = created.get("message", {}).get("id")
        _adopt_thread(draft, created.get("message"))
    draft.body_hash = body_hash(draft.body)
    draft.gmail_synced_at = utcnow()
    session.flush()
    if origin_at is not None:
        PUSH_TO_DRAFT_SECONDS.observe((utcnow() - origin_at).total_seconds())
    return draft.gmail_draft_id


def detect_human_edit(session: Session, draft_id: int, *, gmail: GmailPort) -> bool:
    """Compare Gmail's copy with what we show; adopt a human's Gmail edit (recipients,
    subject and text) and mark the draft edited."""
    draft = get_draft(session, draft_id)
    if not draft.gmail_draft_id:
        return draft.human_edited
    refresh_from_gmail(session, draft_id, gmail=gmail)
    return draft.human_edited


def edit_draft(session: Session, draft_id: int, body: str, *, gmail: GmailPort) -> Draft:
    """A human edit through our API: written to Gmail unless Gmail holds a newer human edit."""
    draft = session.get(Draft, draft_id, with_for_update=True)
    if draft is None:
        raise DraftNotFound(f"draft {draft_id} not found")
    if draft.status not in ACTIVE:
        raise Conflict(f"draft {draft_id} is {draft.status}", code="draft_not_editable")
    previous_body = draft.body  # what was suggested (or last saved): the edit teaches style
    if draft.gmail_draft_id:
        # Recipients and subject count too: writing our copy over a Gmail-side Cc change
        # would silently undo it.
        current = _gmail_version(gmail, draft)
        if draft.body_hash and current.digest() != draft_digest(draft):
            # Show Gmail's version from now on (edges commit this before the 409), so the
            # user edits what Gmail holds instead of losing either edit.
            diff = _adopt_version(draft, current)
            session.flush()
            raise DraftEditedInGmail(
                "the draft was edited in Gmail since we last wrote it; review that version "
                "and edit it again",
                details={
                    "digest": current.digest(),
                    "changes": diff.to_json() if diff else None,
                },
            )
        account = session.get(GoogleAccount, draft.account_id)
        draft.body = body
        updated = gmail.update_draft(
            draft.gmail_draft_id,
            _raw_for(draft, account.email if account else ""),
            thread_id=draft.gmail_thread_id,
        )
        _adopt_thread(draft, updated.get("message"))
    recipient = draft.to_addrs[0] if draft.to_addrs else None
    learning.record_edit(session, draft.user_id, recipient, previous_body, body)
    draft.body = body
    draft.body_hash = body_hash(body)
    draft.human_edited = True
    draft.seen_version = None  # the user has seen, and now chosen, the current version
    session.flush()
    return draft


# --- the approval queue --------------------------------------------------------------------
# Every function below runs only on an explicit user call (API or CLI): nothing in an email
# can approve, send, reject or regenerate a draft.


class DraftStateConflict(Conflict):
    code = "draft_wrong_state"


class DraftHumanEdited(Conflict):
    code = "draft_human_edited"


def list_drafts(
    session: Session,
    *,
    status: str | None = DraftStatus.PENDING,
    user_id: int | None = None,
    limit: int = 100,
) -> Sequence[Draft]:
    """Drafts newest first, by default the approval queue (``pending``)."""
    query = select(Draft).order_by(Draft.id.desc()).limit(limit)
    if status is not None:
        query = query.where(Draft.status == status)
    if user_id is not None:
        query = query.where(Draft.user_id == user_id)
    return session.scalars(query).all()


def get_draft(session: Session, draft_id: int, *, for_update: bool = False) -> Draft:
    draft = session.get(Draft, draft_id, with_for_update=for_update)
    if draft is None:
        raise DraftNotFound(f"draft {draft_id} not found")
    return draft


def _require_active(draft: Draft, action: str) -> None:
    if draft.status not in ACTIVE:
        raise DraftStateConflict(f"draft {draft.id} is {draft.status}; cannot {action} it")


def _gmail_body(gmail: GmailPort, draft: Draft) -> str:
    assert draft.gmail_draft_id  # callers check
    _headers, body = parse_raw(gmail.get_draft_raw(draft.gmail_draft_id))
    return body


def _edited_in_gmail(draft: Draft, gmail_body: str) -> bool:
    return bool(draft.body_hash) and body_hash(gmail_body) != draft.body_hash


class DraftAlreadySent(Conflict):
    code = "draft_already_sent"


class DraftChanged(Conflict):
    """The draft is not what the user approved (edited in Gmail, or the user's view is stale).

    Nothing was sent. The local row now holds the current Gmail version and remembers the
    one the user saw (``seen_version``), so the queue can highlight the change. Edges commit
    that refresh before answering 409 (``details``: the new ``digest`` and the ``changes``).
    """

    code = "draft_changed"


class DraftEditedInGmail(DraftChanged):
    """An edit through our API or queue met a newer human edit in Gmail: nothing was written,
    and the draft now shows Gmail's version (committed by the edge, like ``DraftChanged``)."""

    code = "draft_edited_in_gmail"


def draft_version(draft: Draft) -> DraftVersion:
    """What the queue shows for ``draft`` (and what its digest covers)."""
    return DraftVersion.of(
        to=draft.to_addrs or [],
        cc=draft.cc_addrs or [],
        bcc=draft.bcc_addrs or [],
        subject=draft.subject or "",
        body=draft.body or "",
    )


def draft_digest(draft: Draft) -> str:
    return draft_version(draft).digest()


def pending_changes(draft: Draft) -> VersionDiff | None:
    """How the draft differs from the version the user last saw, if Gmail changed it."""
    if not draft.seen_version:
        return None
    diff = diff_versions(DraftVersion.from_json(draft.seen_version), draft_version(draft))
    return diff if diff.changed else None


def describe(session: Session, draft: Draft) -> DraftOut:
    """The draft as the queue shows it: full recipients, the digest to approve with, the
    warnings (exfiltration check, many or unexpected recipients) and Gmail-side changes."""
    out = DraftOut.model_validate(draft)
    version = draft_version(draft)
    original = session.get(Message, draft.message_id)
    account = session.get(GoogleAccount, draft.account_id)
    addresses = (
        [
            original.from_addr or "",
            original.reply_to or "",
            *(original.to_addrs or []),
            *(original.cc_addrs or []),
        ]
        if original is not None
        else []
    )
    flags = [
        *(DraftFlag.model_validate(f) for f in draft.flags or []),
        *(
            DraftFlag.model_validate(f)
            for f in recipient_flags(
                version, original=addresses, own=[account.email] if account else []
            )
        ),
    ]
    changes = pending_changes(draft)
    return out.model_copy(
        update={
            "digest": version.digest(),
            "flags": flags,
            "changes": changes.to_json() if changes else None,
        }
    )


def _gmail_version(gmail: GmailPort, draft: Draft) -> DraftVersion:
    assert draft.gmail_draft_id  # callers check
    headers, body = parse_raw(gmail.get_draft_raw(draft.gmail_draft_id))
    return DraftVersion.from_headers(headers, body)


def _adopt_version(draft: Draft, current: DraftVersion) -> VersionDiff | None:
    """Make the local row show Gmail's version; remember the one the user saw."""
    mine = draft_version(draft)
    if mine.digest() == current.digest():
        return None
    diff = diff_versions(mine, current)
    if draft.seen_version is None:
        # The oldest version not yet acted on: two Gmail edits in a row show as one change
        # from what the user last saw, never only the second half.
        draft.seen_version = mine.to_json()
    draft.to_addrs, draft.cc_addrs, draft.bcc_addrs = current.to, current.cc, current.bcc
    draft.subject = current.subject
    draft.body = current.body
    draft.body_hash = body_hash(current.body)
    draft.human_edited = True
    return diff


def refresh_from_gmail(session: Session, draft_id: int, *, gmail: GmailPort) -> VersionDiff | None:
    """Re-read the Gmail draft; if a human changed it there, show that version from now on.

    Returns what changed (recipients, subject, text), or None when Gmail holds what we show.
    """
    draft = get_draft(session, draft_id, for_update=True)
    if draft.status not in ACTIVE or not draft.gmail_draft_id:
        return None
    diff = _adopt_version(draft, _gmail_version(gmail, draft))
    session.flush()
    return diff


def refresh_quietly(session: Session, draft: Draft, *, gmail: GmailPort) -> bool:
    """``refresh_from_gmail`` for a view: Gmail unreachable or the draft gone is not an
    error there (the stored version is shown, and approve re-reads anyway). True if read."""
    if draft.status not in ACTIVE or not draft.gmail_draft_id:
        return False
    try:
        with session.begin_nested():
            refresh_from_gmail(session, draft.id, gmail=gmail)
    except Exception as exc:  # a view must render; approval re-reads and refuses if needed
        log.info("draft_refresh_skipped", draft_id=draft.id, error=type(exc).__name__)
        return False
    return True


def _sent_at_text(draft: Draft) -> str:
    sent_at = draft.sent_at or draft.updated_at
    return sent_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _already_sent(draft: Draft) -> DraftAlreadySent:
    sent_at = draft.sent_at or draft.updated_at
    return DraftAlreadySent(
        f"Already sent at {_sent_at_text(draft)}; it was not sent again.",
        details={
            "draft_id": draft.id,
            "sent_at": sent_at.isoformat(),
            "gmail_message_id": draft.gmail_message_id,
        },
    )


def approve_draft(
    session: Session,
    draft_id: int,
    *,
    gmail: GmailPort,
    digest: str,
    body: str | None = None,
) -> Draft:
    """Send the draft if, and only if, Gmail holds exactly what the user saw.

    ``digest`` is ``draft_digest`` of the version the user approved (the API and the queue
    show it beside each draft). The Gmail draft is re-read first: if its To, Cc, Bcc,
    Subject or text differ, nothing is sent and ``DraftChanged`` says what changed. ``body``
    is what the user's text box holds: when it differs, it is written to the Gmail draft
    and sent in the same step (an unsaved edit is never dropped).

    Exactly once: the row is locked for the whole call, so a concurrent approve waits and
    then finds ``sent``. A retry after a crash between Gmail sending and our commit finds
    the draft gone from Gmail (a draft is sent at most once) and adopts the SENT message
    carrying our draft key instead of sending again.

    Raises:
        DraftAlreadySent: it was sent before (the message says when).
        DraftChanged: Gmail's version is not the approved one (flushed: commit it).
        DraftStateConflict: the draft is rejected or superseded, or not yet in Gmail.
        GmailDraftMissing: the Gmail draft was deleted in Gmail and never sent.
    """
    draft = get_draft(session, draft_id, for_update=True)
    if draft.status == DraftStatus.SENT:
        raise _already_sent(draft)
    _require_active(draft, "approve")
    if not draft.gmail_draft_id:
        raise DraftStateConflict(
            f"draft {draft_id} is not in Gmail yet; try again in a moment",
            code="draft_not_in_gmail",
        )
    sent_id: str | None = None
    try:
        current = _gmail_version(gmail, draft)
        if current.digest() != digest:
            diff = _adopt_version(draft, current) or pending_changes(draft)
            session.flush()
            summary = diff.summary() if diff else "it is not the version you saw"
            log.info("draft_approval_refused_changed", draft_id=draft.id)
            raise DraftChanged(
                f"The draft changed since you saw it ({summary}). Nothing was sent: "
                "review the highlighted changes and approve again.",
                details={
                    "digest": current.digest(),
                    "changes": diff.to_json() if diff else None,
                },
            )
        if body is not None and normalize_body(body) != current.body:
            current = _write_typed_body(session, draft, current, body, gmail=gmail)
        draft.status = DraftStatus.APPROVED
        draft.approved_digest = digest
        sent = gmail.send_draft(draft.gmail_draft_id)
        sent_id = str(sent.get("id") or "") or None
        _adopt_thread(draft, sent)
    except GmailDraftMissing:
        # Sent by an earlier attempt whose answer we lost? Look for it by its key, wherever
        # Gmail threaded it (from a day before we mirrored the draft: clock skew).
        sent_id = gmail.find_sent_with_key(
            draft.draft_key,
            thread_id=draft.gmail_thread_id,
            sent_after=(draft.gmail_synced_at or draft.created_at) - timedelta(days=1),
        )
        if sent_id is None:
            raise GmailDraftMissing(
                f"draft {draft_id} was deleted in Gmail and never sent; reject it"
            ) from None
        log.info("gmail_send_adopted", draft_id=draft.id)
    draft.status = DraftStatus.SENT
    draft.gmail_message_id = sent_id
    if draft.suggested_body is not None:  # stats: how much the user changed the suggestion
        draft.edit_distance = edit_distance(draft.suggested_body, draft.body or "")
    draft.sent_at = draft.gmail_synced_at = utcnow()
    draft.seen_version = None
    session.flush()
    log.info("draft_sent", draft_id=draft.id, human_edited=draft.human_edited)
    return draft


def _write_typed_body(
    session: Session, draft: Draft, current: DraftVersion, body: str, *, gmail: GmailPort
) -> DraftVersion:
    """The approved version with the text box's words, written to the Gmail draft."""
    assert draft.gmail_draft_id
    text = body.replace("\r\n", "\n")
    # Edited in the box and approved in one step (the UI's usual path): it teaches style
    # exactly as a saved edit does (``edit_draft``).
    learning.record_edit(session, draft.user_id, current.to[0] if current.to else None,
                         current.body, text)  # fmt: skip
    account = session.get(GoogleAccount, draft.account_id)
    draft.to_addrs, draft.cc_addrs, draft.bcc_addrs = current.to, current.cc, current.bcc
    draft.subject = current.subject
    draft.body = text
    updated = gmail.update_draft(
        draft.gmail_draft_id,
        _raw_for(draft, account.email if account else ""),
        thread_id=draft.gmail_thread_id,
    )
    _adopt_thread(draft, updated.get("message"))
    draft.body_hash = body_hash(text)
    draft.human_edited = True
    return draft_version(draft)


def record_feedback(session: Session, draft: Draft, kind: str, text: str | None) -> None:
    """Keep a reject reason or regenerate instruction for learning (the user's words only)."""
    if text and text.strip():
        session.add(
            DraftFeedback(user_id=draft.user_id, draft_id=draft.id, kind=kind, text=text.strip())
        )


def reject_draft(
    session: Session, draft_id: int, *, gmail: GmailPort, reason: str | None = None
) -> Draft:
    """Delete the Gmail draft and mark ours ``rejected`` (idempotent).

    Raises:
        DraftStateConflict: the draft was already sent or superseded.
    """
    draft = get_draft(session, draft_id, for_update=True)
    if draft.status == DraftStatus.REJECTED:
        return draft
    _require_active(draft, "reject")
    if draft.gmail_draft_id:
        gmail.delete_draft(draft.gmail_draft_id)
    draft.status = DraftStatus.REJECTED
    record_feedback(session, draft, "rejected", reason)
    session.flush()
    log.info("draft_rejected", draft_id=draft.id, with_reason=bool(reason))
    return draft


def regenerate_draft(
    session: Session,
    draft_id: int,
    *,
    tier: IntelligenceTier,
    gmail: GmailPort,
    instruction: str | None = None,
) -> Draft:
    """Ask the tier again; the old suggestion becomes ``superseded`` and the new one takes
    its place in the same Gmail draft (``drafts.update``, so the draft id stays). The tier
    sees the old text (it must write something different) and the user's ``instruction``
    ("shorter", "decline politely"), which is also kept for learning.

    A human edit is never overwritten: one made through our API (``human_edited``) or in
    Gmail (the Gmail copy's hash differs from ``body_hash``) refuses with 409.

    Raises:
        DraftStateConflict: the draft is not pending/approved, or the tier declined.
        DraftHumanEdited: a human edited the draft.
        GmailDraftMissing: the Gmail draft was deleted in Gmail.
    """
    old = get_draft(session, draft_id, for_update=True)
    _require_active(old, "regenerate")
    if old.human_edited:
        raise DraftHumanEdited(f"draft {draft_id} was edited by a human; it is not overwritten")
    if old.gmail_draft_id and _edited_in_gmail(old, _gmail_body(gmail, old)):
        raise DraftHumanEdited(
            f"draft {draft_id} was edited in Gmail since we wrote it; it is not overwritten"
        )
    old.status = DraftStatus.SUPERSEDED
    session.flush()
    record_feedback(session, old, "regenerate", instruction)
    new = generate_draft(
        session, old.message_id, tier=tier, instruction=instruction, previous_body=old.body
    )
    if new is None:
        # The caller's transaction rolls back, so the old suggestion stays pending.
        raise DraftStateConflict(
            f"the intelligence tier declined to draft a reply for draft {draft_id}",
            code="draft_declined",
        )
    if old.gmail_draft_id:
        account = session.get(GoogleAccount, new.account_id)
        updated = gmail.update_draft(
            old.gmail_draft_id,
            _raw_for(new, account.email if account else ""),
            thread_id=new.gmail_thread_id,
        )
        new.gmail_draft_id = old.gmail_draft_id
        new.gmail_message_id = updated.get("message", {}).get("id")
        _adopt_thread(new, updated.get("message"))
        new.body_hash = body_hash(new.body)
        new.gmail_synced_at = utcnow()
        session.flush()
    else:
        # The old one never reached Gmail; its mirror task now skips it (superseded).
        mirror_to_gmail(session, new.id, gmail=gmail, first_attempt=False)
    log.info("draft_regenerated", draft_id=new.id, superseded=old.id, model=new.model)
    return new
