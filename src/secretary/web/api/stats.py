"""``/api/v1/stats``: how the suggestions fared (``drafting.stats`` has the formulas)."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from pydantic import BaseModel

from secretary.drafting.stats import draft_stats
from secretary.web.app import register_routes
from secretary.web.auth import CurrentUser
from secretary.web.deps import SessionDep

router = APIRouter(prefix="/api/v1/stats", tags=["stats"])


class StatsOut(BaseModel):
    drafts_suggested: int
    approved_as_is: int
    edited: int
    rejected: int
    pending: int
    average_edit_size: float | None
    time_saved_minutes: float


@router.get("")
def get_stats(user: CurrentUser, session: SessionDep) -> StatsOut:
    """Drafts suggested, sent as suggested, sent after an edit, rejected and still pending;
    the average edit size of the edited ones (normalised character edit distance between
    suggestion and what was sent); and an estimate of the minutes saved: per sent draft
    ``max(0, words/20 - (10 s review + edit_size*chars/4 per s) / 60)``, minus 10 s per
    rejected one."""
    s = draft_stats(session, user.user_id)
    return StatsOut(
        drafts_suggested=s.drafts_suggested, approved_as_is=s.approved_as_is, edited=s.edited,
        rejected=s.rejected, pending=s.pending, average_edit_size=s.average_edit_size,
        time_saved_minutes=s.time_saved_minutes,
    )  # fmt: skip


@register_routes
def _routes(app: FastAPI) -> None:
    app.include_router(router)
