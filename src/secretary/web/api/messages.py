"""``/api/v1/messages``: bulk inbox actions (archive, mark read/unread, label), applied
through Gmail first and then mirrored in the local store."""

from __future__ import annotations

from fastapi import APIRouter, Depends, FastAPI
from pydantic import BaseModel, Field

from secretary.inbox import service
from secretary.web.api.drafts import _gmail_factory
from secretary.web.app import register_routes
from secretary.web.auth import CurrentUser, current_user
from secretary.web.deps import SessionDep, StateDep

# Signed-in callers only; row-level security limits the ids to the caller's messages.
router = APIRouter(
    prefix="/api/v1/messages", tags=["messages"], dependencies=[Depends(current_user)]
)


class BulkIn(BaseModel):
    message_ids: list[int] = Field(min_length=1, max_length=service.MAX_BULK)
    action: service.BulkAction
    label: str | None = Field(default=None, max_length=225)


class BulkOut(BaseModel):
    action: str
    changed: int


@router.post("/bulk")
def bulk(body: BulkIn, session: SessionDep, state: StateDep, user: CurrentUser) -> BulkOut:
    """Apply one action to many messages (Gmail ``messages.modify`` for each)."""
    changed = service.apply_bulk(
        session,
        body.message_ids,
        body.action,
        label=body.label,
        gmail_for=_gmail_factory(state),
        user_id=user.user_id,
    )
    return BulkOut(action=body.action, changed=changed)


@register_routes
def _routes(app: FastAPI) -> None:
    app.include_router(router)
