"""Applying an event proposed outside a meeting thread (ask, MCP ``propose_event``).

The approval queue's ``create_event`` kind is shared with bookings; a proposal without a
meeting offer is a plain event: created once, under an id derived from the proposal (in
Google's id alphabet), so approving twice or retrying after a crash finds it instead of
creating a second one.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from secretary.approvals.service import ApplyContext, Outcome
from secretary.db.models import ProposedAction
from secretary.errors import BadRequest, ConfigurationError


def event_id_for(action_id: int) -> str:
    """Google event ids use the characters a-v and 0-9 and are 5 to 1024 long."""
    return f"sec{action_id:010d}"  # s, e and c are inside a-v


def apply_proposed_event(
    session: Session, action: ProposedAction, context: ApplyContext
) -> Outcome:
    payload = action.payload
    if action.account_id is None:
        raise BadRequest("this event proposal names no Google account", code="no_account")
    if context.calendar is None:
        raise ConfigurationError("approving an event needs the Calendar client")
    calendar = context.calendar(session, action.account_id)
    body: dict[str, Any] = {
        "id": event_id_for(action.id),
        "summary": str(payload.get("summary") or "Event"),
        "start": {"dateTime": str(payload["start"])},
        "end": {"dateTime": str(payload["end"])},
        "attendees": [{"email": str(email)} for email in payload.get("attendees") or []],
    }
    for key in ("description", "location"):
        if payload.get(key):
            body[key] = str(payload[key])
    calendar_id = str(payload.get("calendar_id") or "primary")
    existing = calendar.get_event(calendar_id, body["id"])
    if existing is None or existing.get("status") == "cancelled":
        existing = calendar.insert_event(calendar_id, body)
    return Outcome(result={"event_id": existing.get("id"), "html_link": existing.get("htmlLink")})
