"""Applying an approved booking: re-check, ``events.insert`` exactly once, confirm in thread.

Exactly once, even across retries and crashes:

- the event id is derived from the thread (``calendar_api.event_id_for``): a retry's
  ``events.insert`` gets 409 and adopts the event the first attempt made;
- the confirmation carries ``X-Secretary-Draft-Key: booking-<action id>``: a retry finds
  the sent message (or the unsent draft) with that key instead of writing another.

If the slot was taken meanwhile (the owner's calendars, read fresh with ``freebusy.query``,
or an internal attendee's), nothing is booked: new slots are offered instead, as a reply
draft in the same thread waiting in the drafts queue, and the proposal is ``superseded``.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from secretary.approvals.service import ApplyContext, Outcome, register_applier
from secretary.db.models import (
    Draft,
    DraftStatus,
    GoogleAccount,
    MeetingOffer,
    MeetingOfferStatus,
    Message,
    ProposedAction,
    ProposedActionStatus,
)
from secretary.errors import ConfigurationError, NotFound
from secretary.kit.clock import utcnow
from secretary.kit.logging import get_logger
from secretary.scheduling import calendar_api, repository, service, slots
from secretary.scheduling.requests import MeetingRequest, describe_slot

log = get_logger(__name__)


def _ports(context: ApplyContext, session: Session, account_id: int) -> tuple[Any, Any]:
    if context.calendar is None or context.gmail is None:
        raise ConfigurationError("approving a booking needs the Calendar and Gmail clients")
    return context.calendar(session, account_id), context.gmail(session, account_id)


def slot_still_free(
    session: Session,
    calendar: calendar_api.CalendarPort,
    *,
    user_id: int,
    owner_email: str,
    start: datetime,
    end: datetime,
    attendees: list[str],
) -> bool:
    """Fresh check: the store's events and Google's freebusy for the counting calendars and
    the internal attendees (Google is the truth; the store may lag a sync behind)."""
    prefs = service.get_preferences(session, user_id)
    engine_prefs = service.engine_preferences(prefs)
    pad = timedelta(minutes=prefs.buffer_minutes)
    window = slots.Interval(start - pad, end + pad)
    own = list(dict.fromkeys(prefs.calendars or ["primary"]))
    domain = calendar_api.domain_of(owner_email)
    internal = [
        a
        for a in attendees
        if calendar_api.domain_of(a) == domain and a.lower() != owner_email.lower()
    ]
    busy = calendar_api.query_busy(calendar, own, window)
    others = (
        calendar_api.query_busy(calendar, internal, slots.Interval(start, end)) if internal else []
    )
    padded = [slots.Interval(b.start - pad, b.end + pad) for b in busy]
    return slots.is_free(
        events=repository.engine_events(session, user_id, window),
        preferences=engine_prefs,
        start=start,
        end=end,
        attendee_busy=[*padded, *others],
    )


@register_applier("create_event")
def apply_booking(session: Session, action: ProposedAction, context: ApplyContext) -> Outcome:
    payload = action.payload
    if "offer_id" not in payload:  # an event proposed by ask or MCP, not a booking
        from secretary.scheduling.proposed_events import apply_proposed_event

        return apply_proposed_event(session, action, context)
    offer = session.get(MeetingOffer, payload.get("offer_id"))
    if offer is None or action.account_id is None:
        raise NotFound("the meeting offer behind this booking is gone", code="offer_not_found")
    account = session.get(GoogleAccount, action.account_id)
    owner_email = account.email if account else ""
    calendar, gmail = _ports(context, session, action.account_id)
    calendar_id = str(payload.get("calendar_id") or "primary")
    event_body: dict[str, Any] = dict(payload["event"])
    start = slots.parse_rfc3339(payload["slot"]["start"])
    end = slots.parse_rfc3339(payload["slot"]["end"])

    existing = calendar.get_event(calendar_id, event_body["id"])
    if existing is None or existing.get("status") == "cancelled":
        attendees = [a["email"] for a in event_body.get("attendees", [])]
        if not slot_still_free(
            session,
            calendar,
            user_id=action.user_id,
            owner_email=owner_email,
            start=start,
            end=end,
            attendees=attendees,
        ):
            return _offer_new_slots(session, action, offer, gmail)
        existing = calendar.insert_event(calendar_id, event_body)
    sent_id = _send_confirmation(session, action, gmail, owner_email)
    offer.status = MeetingOfferStatus.BOOKED
    offer.booked_at = offer.booked_at or utcnow()
    offer.slots = [
        {**item, "booked": item["start"] == start.astimezone(UTC).isoformat()}
        for item in offer.slots
    ]
    session.flush()
    log.info("meeting_booked", action_id=action.id, offer_id=offer.id)
    return Outcome(
        result={
            "event_id": existing.get("id"),
            "html_link": existing.get("htmlLink"),
            "confirmation_message_id": sent_id,
        }
    )


def _send_confirmation(
    session: Session, action: ProposedAction, gmail: Any, owner_email: str
) -> str:
    """Send the confirmation once: adopt a sent message or a draft carrying our key."""
    from secretary.drafting.gmail import compose_raw
    from secretary.drafting.service import find_gmail_draft

    confirmation = action.payload["confirmation"]
    key = f"booking-{action.id}"
    thread_id = confirmation["thread_id"]
    sent = gmail.find_sent_with_key(
        key, thread_id=thread_id, sent_after=action.created_at - timedelta(days=1)
    )
    if sent:
        return str(sent)
    found = find_gmail_draft(gmail, thread_id=thread_id, draft_key=key)
    if found is not None:
        draft_id = found["id"]
    else:
        raw = compose_raw(
            from_addr=owner_email,
            to=confirmation["to"],
            cc=confirmation["cc"],
            subject=confirmation["subject"],
            body=confirmation["body"],
            in_reply_to=confirmation["in_reply_to"],
            references=confirmation["references"],
            draft_key=key,
        )
        draft_id = str(gmail.create_draft(raw, thread_id=thread_id)["id"])
    result = gmail.send_draft(draft_id)
    return str(result.get("id", ""))


def _offer_new_slots(
    session: Session, action: ProposedAction, offer: MeetingOffer, gmail: Any
) -> Outcome:
    """The accepted slot is gone: offer new ones in a reply draft (the drafts queue)."""
    from secretary.drafting.service import mirror_to_gmail
    from secretary.scheduling.meetings import pick_slots

    now = utcnow()
    request = MeetingRequest(
        duration_minutes=offer.duration_minutes,
        window=slots.Interval(now, now + timedelta(days=14)),
        requester_time_zone=offer.requester_time_zone,
        attendees=tuple(offer.attendees),
        location=offer.location,
        video=offer.video,
    )
    taken = [slots.parse_rfc3339(item["start"]) for item in offer.slots]
    picked = pick_slots(session, offer.user_id, request, now=now, exclude=taken)
    zones = [
        slots.zone_of(n)
        for n in dict.fromkeys(z for z in (offer.requester_time_zone, offer.owner_time_zone) if z)
    ]
    confirmation = action.payload["confirmation"]
    lines = "\n".join(f"- {describe_slot(s.start, s.end, zones)}" for s in picked)
    greeting = confirmation["body"].split("\n", 1)[0]
    if picked:
        text = (
            f"{greeting}\n\nI'm sorry, that time has just been taken. "
            f"Would one of these work instead?\n{lines}\n"
        )
    else:
        text = (
            f"{greeting}\n\nI'm sorry, that time has just been taken, and I have no other "
            "free time in the next two weeks. Could you suggest a few times further out?\n"
        )
    reply_to = session.get(Message, offer.request_message_id) if offer.request_message_id else None
    message_id = _latest_message_id(session, offer) or (reply_to.id if reply_to else None)
    draft_id = None
    if message_id is not None:
        draft = Draft(
            user_id=offer.user_id,
            account_id=offer.account_id,
            message_id=message_id,
            draft_key=uuid.uuid4().hex,
            status=DraftStatus.PENDING,
            gmail_thread_id=offer.gmail_thread_id,
            subject=confirmation["subject"],
            to_addrs=list(confirmation["to"]),
            cc_addrs=list(confirmation["cc"]),
            in_reply_to=confirmation["in_reply_to"],
            references=list(confirmation["references"]),
            body=text,
            intent="propose_times",
            confidence=0.7,
            model="scheduling",
        )
        session.add(draft)
        session.flush()
        mirror_to_gmail(session, draft.id, gmail=gmail, first_attempt=True)
        draft_id = draft.id
    offer.slots = [
        {"start": s.start.astimezone(UTC).isoformat(), "end": s.end.astimezone(UTC).isoformat()}
        for s in picked
    ]
    offer.status = MeetingOfferStatus.OFFERED
    session.flush()
    log.info("booking_slot_taken", action_id=action.id, offer_id=offer.id, new=len(picked))
    return Outcome(
        status=ProposedActionStatus.SUPERSEDED,
        result={
            "slot_taken": True,
            "new_slots": offer.slots,
            "draft_id": draft_id,
        },
    )


def _latest_message_id(session: Session, offer: MeetingOffer) -> int | None:
    from sqlalchemy import select

    return session.scalar(
        select(Message.id)
        .where(
            Message.account_id == offer.account_id,
            Message.gmail_thread_id == offer.gmail_thread_id,
        )
        .order_by(Message.internal_date.desc().nulls_last(), Message.id.desc())
        .limit(1)
    )


def on_rejected(session: Session, action: ProposedAction) -> None:
    """A rejected booking closes the offer: later replies in the thread book nothing."""
    offer = session.get(MeetingOffer, action.payload.get("offer_id"))
    if offer is not None and offer.status == MeetingOfferStatus.PROPOSED:
        offer.status = MeetingOfferStatus.CLOSED
        session.flush()
