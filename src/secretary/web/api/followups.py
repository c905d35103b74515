"""``/api/v1/followups``: your mail awaiting a reply, and mail you have not answered
(``drafting.followups`` has the rules)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI
from pydantic import BaseModel, Field

from secretary.drafting import followups, service
from secretary.drafting.schemas import DraftOut
from secretary.web.app import register_routes
from secretary.web.auth import CurrentUser
from secretary.web.deps import SessionDep, StateDep

router = APIRouter(prefix="/api/v1/followups", tags=["followups"])


class FollowupDaysIn(BaseModel):
    days: float | None = Field(default=None, gt=0, le=365)


class FollowupDaysOut(BaseModel):
    thread_id: str
    followup_days: float | None


@router.get("")
def list_followups(user: CurrentUser, session: SessionDep, state: StateDep) -> dict[str, Any]:
    """``{"awaiting_reply": [...], "unanswered": [...]}``, the longest waiting first.

    Each item: ``account_id``, ``thread_id``, ``message_id``, ``subject``, ``counterpart``,
    ``last_message_at``, ``days_waiting``, ``followup_days`` and ``draft_id`` (the pending
    nudge or reply draft, if any). With ``followups.auto_nudge`` on, each thread awaiting a
    reply gets a nudge draft in the approval queue."""
    settings = state.settings.followups
    found = followups.list_followups(session, user.user_id, settings)
    if settings.auto_nudge:
        found = followups.with_auto_nudges(
            session, user.user_id, found, gmail_for=state.components.gmail
        )
    return found.to_json()


@router.post("/{thread_id}/nudge", status_code=201)
def nudge(thread_id: str, user: CurrentUser, session: SessionDep, state: StateDep) -> DraftOut:
    """Write a nudge for a thread whose newest message is yours: a pending draft in the
    approval queue and in Gmail, in the same thread, to the same people."""
    draft = followups.nudge(session, user.user_id, thread_id, gmail_for=state.components.gmail)
    return service.describe(session, draft)


@router.put("/{thread_id}")
def set_days(
    thread_id: str, body: FollowupDaysIn, user: CurrentUser, session: SessionDep
) -> FollowupDaysOut:
    """This thread's own delay in days (``null``: the settings' default)."""
    followups.set_thread_days(session, user.user_id, thread_id, body.days)
    return FollowupDaysOut(thread_id=thread_id, followup_days=body.days)


@register_routes
def _routes(app: FastAPI) -> None:
    app.include_router(router)
