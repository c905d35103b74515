"""``/api/v1/drafts``: the approval queue. List, show, approve (send), reject, edit and
regenerate reply suggestions; every Gmail send or delete happens only on these explicit
calls, never because of what an email says."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from secretary.drafting import service
from secretary.drafting.gmail import GmailPort
from secretary.drafting.schemas import DraftApprove, DraftEdit, DraftOut
from secretary.llm.schemas import IntelligenceTier
from secretary.web.app import register_routes
from secretary.web.auth import CurrentUser, current_user
from secretary.web.deps import AppState, SessionDep, StateDep
from secretary.web.errors import secretary_error_response

# Every route needs a signed-in caller; a draft id of another user is a 404 (web/auth.py).
router = APIRouter(prefix="/api/v1/drafts", tags=["drafts"], dependencies=[Depends(current_user)])

Status = Literal["pending", "approved", "rejected", "sent", "superseded"]


class RejectIn(BaseModel):
    reason: str | None = Field(default=None, max_length=1000)


class RegenerateIn(BaseModel):
    instruction: str | None = Field(default=None, max_length=500)


def _gmail_factory(state: AppState) -> Callable[[Session, int], GmailPort]:
    """The process's Gmail factory (``bootstrap.Components``)."""
    return state.components.gmail


def _tier(state: AppState) -> IntelligenceTier:
    """The process's tier; a ``ConfigurationError`` when none can be built."""
    return state.components.require_tier()


def _gmail(state: AppState, session: SessionDep, draft_id: int) -> GmailPort:
    draft = service.get_draft(session, draft_id)
    return state.components.gmail(session, draft.account_id)


@router.get("")
def list_drafts(
    session: SessionDep,
    user: CurrentUser,
    status: Status | None = "pending",
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[DraftOut]:
    """Your drafts newest first; by default the approval queue (``?status=pending``)."""
    drafts = service.list_drafts(session, status=status, user_id=user.user_id, limit=limit)
    return [service.describe(session, d) for d in drafts]


@router.get("/{draft_id}")
def get_draft(
    draft_id: int, session: SessionDep, state: StateDep, refresh: bool = False
) -> DraftOut:
    """One draft with its body, every recipient, warnings, model, tokens and cost.

    ``?refresh=true`` re-reads the Gmail draft first: an edit made in Gmail is adopted and
    shown in ``changes`` (approving re-reads it anyway)."""
    draft = service.get_draft(session, draft_id)
    if refresh:
        service.refresh_quietly(session, draft, gmail=_gmail(state, session, draft_id))
    return service.describe(session, draft)


@router.post(
    "/{draft_id}/approve",
    response_model=DraftOut,
    responses={
        409: {
            "description": "Already sent (``draft_already_sent``, with ``sent_at``), "
            "or changed since you saw it (``draft_changed``, with the new ``digest`` and the "
            "``changes``): nothing was sent."
        }
    },
)
def approve_draft(
    draft_id: int, approval: DraftApprove, request: Request, session: SessionDep, state: StateDep
) -> Response | DraftOut:
    """Send exactly what you saw: ``digest`` is the draft's ``digest`` as shown to you.

    The Gmail draft is re-read first and sent only if it still matches; otherwise 409 and the
    draft now shows Gmail's version with ``changes`` highlighted. ``body``, if given, is
    saved and sent in one step. Approving a sent draft answers 409 ``draft_already_sent``."""
    gmail = _gmail(state, session, draft_id)
    try:
        sent = service.approve_draft(
            session, draft_id, gmail=gmail, digest=approval.digest, body=approval.body
        )
    except service.DraftChanged as exc:
        # Answer 409 but commit: the queue must show the Gmail version from now on.
        return secretary_error_response(request, exc)
    return service.describe(session, sent)


@router.post("/{draft_id}/reject")
def reject_draft(
    draft_id: int, session: SessionDep, state: StateDep, body: RejectIn | None = None
) -> DraftOut:
    """Delete the Gmail draft and mark the suggestion rejected; an optional ``reason`` is
    kept to learn from."""
    gmail = _gmail(state, session, draft_id)
    reason = body.reason if body else None
    rejected = service.reject_draft(session, draft_id, gmail=gmail, reason=reason)
    return service.describe(session, rejected)


@router.patch(
    "/{draft_id}",
    response_model=DraftOut,
    responses={
        409: {
            "description": "Edited in Gmail meanwhile (``draft_edited_in_gmail``, "
            "with the new ``digest`` and the ``changes``): nothing was written."
        }
    },
)
def edit_draft(
    draft_id: int, edit: DraftEdit, request: Request, session: SessionDep, state: StateDep
) -> Response | DraftOut:
    """Replace the body, here and in the Gmail draft; it is then never regenerated over."""
    gmail = _gmail(state, session, draft_id)
    try:
        edited = service.edit_draft(session, draft_id, edit.body, gmail=gmail)
    except service.DraftChanged as exc:
        # Answer 409 but commit: the draft now shows Gmail's version.
        return secretary_error_response(request, exc)
    return service.describe(session, edited)


@router.post("/{draft_id}/regenerate")
def regenerate_draft(
    draft_id: int, session: SessionDep, state: StateDep, body: RegenerateIn | None = None
) -> DraftOut:
    """A new suggestion replaces this one (now superseded) in the same Gmail draft; an
    optional ``instruction`` ("shorter", "decline politely") steers it."""
    gmail = _gmail(state, session, draft_id)
    instruction = body.instruction if body else None
    new = service.regenerate_draft(
        session, draft_id, tier=_tier(state), gmail=gmail, instruction=instruction
    )
    return service.describe(session, new)


@register_routes
def _routes(app: FastAPI) -> None:
    app.include_router(router)
