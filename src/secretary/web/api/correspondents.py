"""``/api/v1/correspondents/{address}``: one correspondent's threads, your response rate
and median response time to them, and what is open (``drafting.correspondents``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI

from secretary.drafting.correspondents import correspondent
from secretary.errors import NotFound
from secretary.web.app import register_routes
from secretary.web.auth import CurrentUser
from secretary.web.deps import SessionDep, StateDep

router = APIRouter(prefix="/api/v1/correspondents", tags=["correspondents"])


@router.get("/{address}")
def get_correspondent(
    address: str, user: CurrentUser, session: SessionDep, state: StateDep
) -> dict[str, Any]:
    """``address``, ``name``, ``messages_from_them``, ``messages_to_them``,
    ``response_rate`` (0..1), ``median_response_hours``, ``threads`` (newest first) and
    ``open_items`` (``pending_drafts``, ``unanswered``). 404 when no mail of yours
    involves the address."""
    found = correspondent(session, user.user_id, address, state.settings.followups)
    if found is None:
        raise NotFound("no mail with this correspondent", code="correspondent_not_found")
    return found.to_json()


@register_routes
def _routes(app: FastAPI) -> None:
    app.include_router(router)
