"""Invitations waiting for the owner's answer get an accept / decline / tentative suggestion.

Source: events in the synced store where the owner is an attendee with ``needsAction``.
A ``text/calendar`` invitation in mail lands there too (Google adds invitations to the
invitee's calendar), so a message with an invite triggers a scan rather than a second
parser. The suggestion names the conflicts; the answer is written through the Calendar
API (``events.patch`` of the owner's ``responseStatus``) only after approval.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from secretary.approvals import service as approvals
from secretary.approvals.service import ApplyContext, Outcome, register_applier
from secretary.db.models import Calendar, CalendarEvent, GoogleAccount, ProposedAction
from secretary.errors import ConfigurationError, NotFound
from secretary.kit.clock import utcnow
from secretary.kit.logging import get_logger
from secretary.scheduling import repository, service, slots
from secretary.scheduling.requests import describe_slot

log = get_logger(__name__)

_VERB = {"accepted": "Accept", "declined": "Decline", "tentative": "Tentatively accept"}


def _span(event: CalendarEvent, zone: Any) -> slots.Interval | None:
    if event.all_day and event.start_date and event.end_date:
        return slots.event_interval(
            slots.CalendarEvent(start=event.start_date, end=event.end_date), zone
        )
    if event.start_at and event.end_at:
        return slots.Interval(event.start_at, event.end_at)
    return None


def suggest_response(
    invitation: slots.Interval,
    conflicts: list[tuple[slots.CalendarEvent, slots.Interval]],
    *,
    in_working_hours: bool,
) -> str:
    """Decline over a firm conflict, tentative over a soft one or outside working hours,
    else accept."""
    firm = [
        e
        for e, _ in conflicts
        if e.status == "confirmed" and e.response_status in (None, "accepted")
    ]
    if firm:
        return "declined"
    if conflicts or not in_working_hours:
        return "tentative"
    return "accepted"


def _in_working_hours(span: slots.Interval, prefs: slots.Preferences) -> bool:
    zone = slots.zone_of(prefs.time_zone)
    local = span.start.astimezone(zone)
    for a, b in prefs.intervals_on(local.date()):
        if slots.local_instant(
            local.date(), a, zone
        ) <= span.start and span.end <= slots.local_instant(local.date(), b, zone):
            return True
    return False


def scan_invitations(
    session: Session, user_id: int, *, now: datetime | None = None
) -> list[ProposedAction]:
    """One ``respond_to_invite`` proposal per pending invitation (idempotent per version)."""
    now = now or utcnow()
    prefs_out = service.get_preferences(session, user_id)
    prefs = service.engine_preferences(prefs_out)
    zone = slots.zone_of(prefs.time_zone)
    rows = session.execute(
        select(CalendarEvent, Calendar.google_id)
        .join(Calendar, Calendar.id == CalendarEvent.calendar_id)
        .where(
            CalendarEvent.user_id == user_id,
            CalendarEvent.self_response_status == "needsAction",
            CalendarEvent.status != "cancelled",
            CalendarEvent.organizer_self.is_(False),
        )
    ).all()
    proposals = []
    for event, calendar_google_id in rows:
        span = _span(event, zone)
        if span is None or span.end <= now:
            continue
        window = slots.Interval(span.start, span.end)
        others = [
            e
            for e in slots.blocking_events(
                repository.engine_events(session, user_id, window), prefs, window
            )
            if e.event_id != event.google_id and e.recurring_event_id != event.google_id
        ]
        conflicts = []
        for other in others:
            other_span = slots.event_interval(other, zone)
            if other_span.start < span.end and span.start < other_span.end:
                conflicts.append((other, other_span))
        titles = _titles(session, user_id, [c.event_id for c, _ in conflicts])
        response = suggest_response(
            span, conflicts, in_working_hours=_in_working_hours(span, prefs)
        )
        when = describe_slot(span.start, span.end, [zone])
        listed = [
            {
                "summary": titles.get(c.event_id) or "(busy)",
                "start": slots.to_rfc3339(s.start, zone),
                "end": slots.to_rfc3339(s.end, zone),
            }
            for c, s in conflicts
        ]
        title = event.summary or "(no title)"
        summary = f"{_VERB[response]} “{title}” {when}"
        if listed:
            summary += " — conflicts with " + ", ".join(f"“{c['summary']}”" for c in listed)
        proposals.append(
            approvals.propose(
                session,
                user_id=user_id,
                account_id=event.account_id,
                kind="respond_to_invite",
                summary=summary,
                payload={
                    "calendar_id": calendar_google_id,
                    "event_id": event.google_id,
                    "response": response,
                    "conflicts": listed,
                    "event": {
                        "summary": title,
                        "start": slots.to_rfc3339(span.start, zone),
                        "end": slots.to_rfc3339(span.end, zone),
                        "organizer": event.organizer_email,
                    },
                },
                dedupe_key=f"invite:{calendar_google_id}:{event.google_id}:{event.sequence}",
                source="scheduling",
            )
        )
    return proposals


def _titles(session: Session, user_id: int, google_ids: list[str]) -> dict[str, str]:
    if not google_ids:
        return {}
    rows = session.execute(
        select(CalendarEvent.google_id, CalendarEvent.summary).where(
            CalendarEvent.user_id == user_id, CalendarEvent.google_id.in_(google_ids)
        )
    ).all()
    return {g: s or "" for g, s in rows}


@register_applier("respond_to_invite")
def apply_response(session: Session, action: ProposedAction, context: ApplyContext) -> Outcome:
    if context.calendar is None or action.account_id is None:
        raise ConfigurationError("answering an invitation needs the Calendar client")
    account = session.get(GoogleAccount, action.account_id)
    owner = (account.email if account else "").lower()
    payload = action.payload
    response = str(context.choices.get("response") or payload["response"])
    calendar = context.calendar(session, action.account_id)
    event = calendar.get_event(payload["calendar_id"], payload["event_id"])
    if event is None:
        raise NotFound("the invitation's event no longer exists", code="event_not_found")
    attendees = [dict(a) for a in event.get("attendees", [])]
    for attendee in attendees:
        if attendee.get("self") or str(attendee.get("email", "")).lower() == owner:
            attendee["responseStatus"] = response
            break
    else:
        raise NotFound("the owner is not an attendee of this event", code="not_an_attendee")
    updated = calendar.patch_event(
        payload["calendar_id"], payload["event_id"], {"attendees": attendees}
    )
    _mark_answered(session, action, response)
    log.info("invitation_answered", action_id=action.id, response=response)
    return Outcome(result={"event_id": updated.get("id"), "response": response})


def _mark_answered(session: Session, action: ProposedAction, response: str) -> None:
    """Reflect the answer in the store at once (the next sync confirms it)."""
    row = session.scalars(
        select(CalendarEvent).where(
            CalendarEvent.user_id == action.user_id,
            CalendarEvent.google_id == action.payload["event_id"],
        )
    ).first()
    if row is not None:
        row.self_response_status = response
        session.flush()
