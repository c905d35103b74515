"""The meeting flow (issue 10 §3): real slots in the draft, the reply that accepts one, the
booking proposal in the approval queue.

1. ``draft_context`` runs in the draft stage: for a meeting request it finds 2-3 free slots
   on different days (in the requester's zone when named, the owner's too when they
   differ) and hands them to the drafter; ``record_offer`` remembers what was offered in
   that thread.
2. ``handle_reply`` runs for every new message of a thread with an open offer: when the
   other side accepts one of the offered slots, a ``create_event`` proposal (the event,
   the attendees, the confirmation reply) enters the approval queue. Nothing is booked or
   sent until the user approves it (``booking.py``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from secretary.approvals import service as approvals
from secretary.db.models import (
    Calendar,
    Draft,
    GoogleAccount,
    MeetingOffer,
    MeetingOfferStatus,
    Message,
    ProposedAction,
    User,
)
from secretary.kit.clock import utcnow
from secretary.kit.logging import get_logger
from secretary.llm.local.extract import meeting_evidence, newest_text
from secretary.llm.schemas import Extraction, IntelligenceTier, TimeSlot
from secretary.scheduling import repository, service, slots
from secretary.scheduling.acceptance import match_acceptance
from secretary.scheduling.calendar_api import event_id_for
from secretary.scheduling.requests import (
    NAMED_DAY,
    MeetingRequest,
    describe_slot,
    parse_meeting_request,
)
from secretary.triage.steps.facts import email_input

log = get_logger(__name__)

SLOTS_IN_A_DRAFT = 3
_SUBJECT_PREFIX = re.compile(r"^\s*(?:(?:re|fwd?|aw|sv)\s*:\s*)+", re.IGNORECASE)


@dataclass(frozen=True)
class DraftContext:
    """What the draft stage needs from scheduling for one message."""

    skip: bool = False  # the message accepts an offered slot: the booking proposal answers
    slots: list[TimeSlot] | None = None
    requester_time_zone: str | None = None
    owner_time_zone: str = "UTC"
    request: MeetingRequest | None = None


def has_calendar(session: Session, user_id: int) -> bool:
    return (
        session.scalar(select(Calendar.id).where(Calendar.user_id == user_id).limit(1)) is not None
    )


def _owner_email(session: Session, message: Message) -> str:
    account = session.get(GoogleAccount, message.account_id)
    return account.email if account else ""


def _is_from_owner(message: Message, owner_email: str) -> bool:
    return (message.from_addr or "").lower() == owner_email.lower() or "SENT" in (
        message.label_ids or []
    )


def _offered(offer: MeetingOffer) -> list[tuple[datetime, datetime]]:
    return [
        (slots.parse_rfc3339(item["start"]), slots.parse_rfc3339(item["end"]))
        for item in offer.slots
    ]


def _offer_zones(offer: MeetingOffer) -> list[ZoneInfo]:
    names = [offer.requester_time_zone, offer.owner_time_zone]
    return [slots.zone_of(n) for n in dict.fromkeys(n for n in names if n)]


def accepted_slot(session: Session, message: Message) -> tuple[MeetingOffer, int] | None:
    """The open offer of this message's thread and the index of the slot it accepts."""
    offer = repository.get_offer(session, message.account_id, message.gmail_thread_id)
    if offer is None or offer.status != MeetingOfferStatus.OFFERED:
        return None
    if _is_from_owner(message, _owner_email(session, message)):
        return None
    text = message.reply_text or message.body_text or message.snippet or ""
    index = match_acceptance(text, _offered(offer), _offer_zones(offer))
    return (offer, index) if index is not None else None


def draft_context(
    session: Session,
    message: Message,
    *,
    tier: IntelligenceTier,
    attendee_busy: service.AttendeeBusy | None = None,
    now: datetime | None = None,
) -> DraftContext | None:
    """Scheduling's part of a reply draft, or None when the message is not about meeting
    (or no calendar is synced: then the drafter cannot promise times)."""
    if accepted_slot(session, message) is not None:
        return DraftContext(skip=True)
    if not has_calendar(session, message.user_id):
        return None
    owner_email = _owner_email(session, message)
    email = email_input(message, user_email=owner_email)
    # No scheduling word at all ("meet", "call", "available", ...): not a meeting request,
    # and no extraction call (with an LLM tier, a paid one) for every other draft.
    if not meeting_evidence(f"{email.subject}\n{newest_text(email.body_text)}"):
        return None
    extraction = tier.extract(email)
    if not extraction.meeting_request:
        return None
    now = now or utcnow()
    prefs = service.get_preferences(session, message.user_id)
    owner_zone = slots.zone_of(prefs.time_zone)
    request = parse_meeting_request(
        email,
        extraction,
        owner_zone=owner_zone,
        owner_email=owner_email,
        now=now,
        text=f"{email.subject}\n{email.body_text}",
    )
    requested = free_requested_slot(
        session, message.user_id, extraction, request, prefs=prefs, now=now
    )
    picked = (
        [requested]
        if requested is not None
        else pick_slots(
            session,
            message.user_id,
            request,
            prefs=prefs,
            attendee_busy=attendee_busy,
            now=now,
        )
    )
    return DraftContext(
        slots=[TimeSlot(start=s.start, end=s.end) for s in picked],
        requester_time_zone=request.requester_time_zone,
        owner_time_zone=prefs.time_zone,
        request=request,
    )


def free_requested_slot(
    session: Session,
    user_id: int,
    extraction: Extraction,
    request: MeetingRequest,
    *,
    prefs: Any,
    now: datetime,
) -> slots.Slot | None:
    """The first time the sender proposed that is a valid free slot, if any: then the
    draft confirms it ("Tuesday 9 March, 10:00 works for me") instead of offering others."""
    # Only a named day and time is a proposal ("Tuesday 9 March at 10am"); a bare "after
    # 3pm" is a preference the extractors resolve to some default day.
    proposed = sorted(
        {
            t.start
            for t in extraction.proposed_times
            if t.start
            and t.start > now
            and NAMED_DAY.search(t.text)
            and request.window.start <= t.start < request.window.end
        }
    )
    if not proposed:
        return None
    span = slots.Interval(proposed[0], proposed[-1] + timedelta(minutes=request.duration_minutes))
    valid = {
        s.start: s
        for s in service.compute_slots(
            session,
            user_id,
            window=span,
            duration=timedelta(minutes=request.duration_minutes),
            now=now,
            prefs=prefs,
        )
    }
    for start in proposed:
        if start in valid:
            return valid[start]
    return None


def pick_slots(
    session: Session,
    user_id: int,
    request: MeetingRequest,
    *,
    prefs: Any = None,
    attendee_busy: service.AttendeeBusy | None = None,
    now: datetime | None = None,
    exclude: Sequence[datetime] = (),
) -> list[slots.Slot]:
    """2-3 of the best free slots, on different days where possible."""
    prefs = prefs or service.get_preferences(session, user_id)
    found = service.compute_slots(
        session,
        user_id,
        window=request.window,
        duration=timedelta(minutes=request.duration_minutes),
        attendees=request.attendees,
        attendee_busy=attendee_busy,
        now=now,
        prefs=prefs,
    )
    if exclude:
        found = [s for s in found if s.start not in exclude]
    zone = slots.zone_of(request.requester_time_zone or prefs.time_zone)
    return slots.spread_over_days(found, zone, SLOTS_IN_A_DRAFT)


def record_offer(
    session: Session, message: Message, context: DraftContext, draft: Draft | None
) -> MeetingOffer | None:
    """Remember the slots a draft offered in this thread (replacing an older offer)."""
    if draft is None or not context.slots or context.request is None:
        return None
    if draft.intent not in ("propose_times", "confirm"):
        return None
    offer = repository.get_offer(session, message.account_id, message.gmail_thread_id)
    if offer is None:
        offer = MeetingOffer(
            user_id=message.user_id,
            account_id=message.account_id,
            gmail_thread_id=message.gmail_thread_id,
            event_google_id=event_id_for(message.account_id, message.gmail_thread_id),
        )
        session.add(offer)
    request = context.request
    offer.request_message_id = message.id
    offer.status = MeetingOfferStatus.OFFERED
    offer.duration_minutes = request.duration_minutes
    offer.owner_time_zone = context.owner_time_zone
    offer.requester_time_zone = request.requester_time_zone
    offer.slots = [
        {"start": s.start.astimezone(UTC).isoformat(), "end": s.end.astimezone(UTC).isoformat()}
        for s in context.slots
    ]
    offer.attendees = list(request.attendees)
    offer.subject = _SUBJECT_PREFIX.sub("", message.subject or "").strip()
    offer.location = request.location
    offer.video = request.video
    session.flush()
    log.info("meeting_offered", offer_id=offer.id, slots=len(offer.slots))
    return offer


# -- the reply that accepts a slot ------------------------------------------------------


def handle_reply(session: Session, message_id: int) -> ProposedAction | None:
    """A booking proposal when this message accepts one of the offered slots, else None."""
    message = session.get(Message, message_id)
    if message is None:
        return None
    found = accepted_slot(session, message)
    if found is None:
        return None
    offer, index = found
    return propose_booking(session, offer, index, reply=message)


def _confirmation_body(session: Session, offer: MeetingOffer, reply: Message, when: str) -> str:
    user = session.get(User, offer.user_id)
    name = (reply.from_name or "").replace('"', "").strip()
    first = name.split()[0] if name and "@" not in name else ""
    greeting = f"Hi {first}," if first.isalpha() else "Hi,"
    place = f" at {offer.location}" if offer.location else ""
    signature = (user.display_name or "").split()[0] if user and user.display_name else ""
    return (
        f"{greeting}\n\nGreat, that's booked: {when}{place}. "
        "You'll get a calendar invitation shortly.\n\n"
        f"Best,\n{signature}".rstrip()
        + "\n"
    )


def propose_booking(
    session: Session, offer: MeetingOffer, index: int, *, reply: Message
) -> ProposedAction:
    """The ``create_event`` proposal: event, attendees and the confirmation reply."""
    from secretary.drafting.addressing import build_reply

    start, end = _offered(offer)[index]
    zones = _offer_zones(offer)
    when = describe_slot(start, end, zones)
    owner_email = _owner_email(session, reply)
    envelope = build_reply(
        user_email=owner_email,
        from_addr=reply.from_addr,
        reply_to=reply.reply_to,
        to=reply.to_addrs or [],
        cc=reply.cc_addrs or [],
        subject=reply.subject,
        message_id_header=reply.message_id_header,
        references=reply.references or [],
    )
    title = offer.subject or "Meeting"
    attendees = list(dict.fromkeys([*offer.attendees, *(a.lower() for a in envelope.to)]))
    attendees = [a for a in attendees if a.lower() != owner_email.lower()]
    owner_zone = offer.owner_time_zone
    event: dict[str, Any] = {
        "id": offer.event_google_id,
        "summary": title,
        "start": {
            "dateTime": slots.to_rfc3339(start, slots.zone_of(owner_zone)),
            "timeZone": owner_zone,
        },
        "end": {
            "dateTime": slots.to_rfc3339(end, slots.zone_of(owner_zone)),
            "timeZone": owner_zone,
        },
        "attendees": [{"email": a} for a in attendees],
        "description": "Booked by Secretary from the email thread of the same subject.",
    }
    if offer.location:
        event["location"] = offer.location
    if offer.video:
        # The request asked for a video call: ask Calendar for a Meet link with the event
        # (the request id is the event id, so a retried insert asks for the same one).
        event["conferenceData"] = {
            "createRequest": {
                "requestId": offer.event_google_id,
                "conferenceSolutionKey": {"type": "hangoutsMeet"},
            }
        }
    payload = {
        "calendar_id": "primary",
        "event": event,
        "offer_id": offer.id,
        "slot": {"start": start.isoformat(), "end": end.isoformat()},
        "when": when,
        "confirmation": {
            "thread_id": reply.gmail_thread_id,
            "to": envelope.to,
            "cc": envelope.cc,
            "subject": envelope.subject,
            "in_reply_to": envelope.in_reply_to,
            "references": envelope.references,
            "body": _confirmation_body(session, offer, reply, when),
        },
    }
    summary = (
        f"Book “{title}” {when} with {', '.join(attendees) or 'no other attendees'}"
        + (", with a Google Meet link" if offer.video else "")
        + (f", at {offer.location}" if offer.location else "")
        + ", and confirm in the thread"
    )
    action = approvals.propose(
        session,
        user_id=offer.user_id,
        account_id=offer.account_id,
        kind="create_event",
        summary=summary,
        payload=payload,
        dedupe_key=f"booking:{offer.id}:{start.astimezone(UTC).isoformat()}",
        source="scheduling",
        gmail_thread_id=offer.gmail_thread_id,
    )
    offer.status = MeetingOfferStatus.PROPOSED
    session.flush()
    log.info("booking_proposed", offer_id=offer.id, action_id=action.id)
    return action
