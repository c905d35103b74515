"""``/api/v1/preferences/scheduling`` and ``/api/v1/availability`` (issue 10 §2).

Thin: authenticate, call ``scheduling.service``, return its shapes. Attendees' busy time
comes from Calendar ``freebusy.query`` through the process's Calendar client factory.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from secretary.scheduling import service
from secretary.scheduling.schemas import (
    AvailabilityIn,
    AvailabilityOut,
    SchedulingPreferencesIn,
    SchedulingPreferencesOut,
)
from secretary.web.app import register_routes
from secretary.web.auth import CurrentUser
from secretary.web.deps import SessionDep, StateDep

router = APIRouter(prefix="/api/v1", tags=["scheduling"])


@router.get("/preferences/scheduling")
def get_scheduling_preferences(user: CurrentUser, session: SessionDep) -> SchedulingPreferencesOut:
    """Working hours, buffers, notice, no-meeting days, overrides, cap, step, calendars."""
    return service.get_preferences(session, user.user_id)


@router.put("/preferences/scheduling")
def put_scheduling_preferences(
    body: SchedulingPreferencesIn, user: CurrentUser, session: SessionDep
) -> SchedulingPreferencesOut:
    """Replace the preferences; a key left out returns to its default."""
    return service.put_preferences(session, user.user_id, body)


@router.post("/availability")
def post_availability(
    body: AvailabilityIn, user: CurrentUser, session: SessionDep, state: StateDep
) -> AvailabilityOut:
    """Free slots, best first, in ``time_zone`` (default: the owner's). Windows up to 62
    days and ``max_slots`` up to 500; larger ones are a 422."""
    from secretary.scheduling.calendar_api import attendee_busy_source

    return service.find_availability(
        session,
        user.user_id,
        body,
        attendee_busy=attendee_busy_source(session, user.user_id, state.settings, state.sessions),
    )


@register_routes
def _routes(app: FastAPI) -> None:
    app.include_router(router)
