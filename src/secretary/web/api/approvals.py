"""``/api/v1/approvals``: the proposed-action queue (bookings, invitation answers, and the
assistant's actions). Nothing here acts until ``approve``; ``approve`` is idempotent."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, FastAPI, Query

from secretary.approvals import service
from secretary.approvals.schemas import ActionKind, ActionStatus, ApproveIn, ProposedActionOut
from secretary.web.app import register_routes
from secretary.web.auth import CurrentUser
from secretary.web.deps import SessionDep, StateDep

router = APIRouter(prefix="/api/v1/approvals", tags=["approvals"])


@router.get("")
def list_approvals(
    user: CurrentUser,
    session: SessionDep,
    status: ActionStatus | None = "pending_approval",
    kind: ActionKind | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[ProposedActionOut]:
    """Proposed actions newest first; by default those waiting for approval."""
    rows = service.list_actions(session, user.user_id, status=status, kind=kind, limit=limit)
    return [ProposedActionOut.model_validate(r) for r in rows]


@router.get("/{action_id}")
def get_approval(action_id: int, user: CurrentUser, session: SessionDep) -> ProposedActionOut:
    return ProposedActionOut.model_validate(service.get_action(session, user.user_id, action_id))


@router.post("/{action_id}/approve")
def approve(
    action_id: int,
    user: CurrentUser,
    session: SessionDep,
    state: StateDep,
    choices: Annotated[ApproveIn | None, Body()] = None,
) -> ProposedActionOut:
    """Apply it now: book the meeting and send the confirmation, or answer the invitation.
    A booking whose slot was taken meanwhile comes back ``superseded`` with new slots."""
    from secretary.scheduling.tasks import apply_context

    context = apply_context(
        state.components.gmail, state.settings, state.sessions, drive=state.components.drive
    )
    if choices is not None:
        context.choices = choices.model_dump(exclude_none=True)
    row = service.approve_action(session, user.user_id, action_id, context=context)
    return ProposedActionOut.model_validate(row)


@router.post("/{action_id}/reject")
def reject(action_id: int, user: CurrentUser, session: SessionDep) -> ProposedActionOut:
    return ProposedActionOut.model_validate(service.reject_action(session, user.user_id, action_id))


@register_routes
def _routes(app: FastAPI) -> None:
    app.include_router(router)
