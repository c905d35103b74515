"""``/api/v1/drafts``: the approval queue. List, show, approve (send), reject, edit and
regenerate reply suggestions; every Gmail send or delete happens only on these explicit
calls, never because of what an email says."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, FastAPI, Query

from secretary.drafting import service
from secretary.drafting.gmail import GmailFactory, google_gmail_factory
from secretary.drafting.schemas import DraftEdit, DraftOut
from secretary.errors import ConfigurationError
from secretary.web.app import register_routes
from secretary.web.deps import AppState, SessionDep, StateDep

router = APIRouter(prefix="/api/v1/drafts", tags=["drafts"])

Status = Literal["pending", "approved", "rejected", "sent", "superseded"]

# ``AppState.extras`` keys: a test or a deployment may put its own tier / Gmail factory
# here; otherwise the background runtime's are used, else they are built once and cached.
TIER_KEY = "drafting_tier"
GMAIL_KEY = "drafting_gmail"


def _gmail_factory(state: AppState) -> GmailFactory:
    factory: GmailFactory | None = state.extras.get(GMAIL_KEY)
    if factory is None:
        runtime = state.extras.get("runtime")
        factory = runtime.deps.get("gmail") if runtime is not None else None
        if factory is None:
            factory = google_gmail_factory(state.settings, state.sessions)
        state.extras[GMAIL_KEY] = factory
    return factory


def _tier(state: AppState) -> Any:
    tier = state.extras.get(TIER_KEY)
    if tier is None:
        runtime = state.extras.get("runtime")
        tier = runtime.deps.get("tier") if runtime is not None else None
        if tier is None:
            from secretary.worker.boot import default_tier

            tier = default_tier(state.settings)
        if tier is None:
            raise ConfigurationError("no intelligence tier is configured to draft replies")
        state.extras[TIER_KEY] = tier
    return tier


def _gmail(state: AppState, session: SessionDep, draft_id: int) -> Any:
    draft = service.get_draft(session, draft_id)
    return _gmail_factory(state)(session, draft.account_id)


@router.get("")
def list_drafts(
    session: SessionDep,
    status: Status | None = "pending",
    user_id: int | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[DraftOut]:
    """Drafts newest first; by default the approval queue (``?status=pending``)."""
    drafts = service.list_drafts(session, status=status, user_id=user_id, limit=limit)
    return [DraftOut.model_validate(d) for d in drafts]


@router.get("/{draft_id}")
def get_draft(draft_id: int, session: SessionDep) -> DraftOut:
    """One draft with its body, recipients, model, tokens and cost."""
    return DraftOut.model_validate(service.get_draft(session, draft_id))


@router.post("/{draft_id}/approve")
def approve_draft(draft_id: int, session: SessionDep, state: StateDep) -> DraftOut:
    """Send the Gmail draft (idempotent: approving a sent draft returns it unchanged)."""
    gmail = _gmail(state, session, draft_id)
    return DraftOut.model_validate(service.approve_draft(session, draft_id, gmail=gmail))


@router.post("/{draft_id}/reject")
def reject_draft(draft_id: int, session: SessionDep, state: StateDep) -> DraftOut:
    """Delete the Gmail draft and mark the suggestion rejected."""
    gmail = _gmail(state, session, draft_id)
    return DraftOut.model_validate(service.reject_draft(session, draft_id, gmail=gmail))


@router.patch("/{draft_id}")
def edit_draft(draft_id: int, edit: DraftEdit, session: SessionDep, state: StateDep) -> DraftOut:
    """Replace the body, here and in the Gmail draft; it is then never regenerated over."""
    gmail = _gmail(state, session, draft_id)
    return DraftOut.model_validate(service.edit_draft(session, draft_id, edit.body, gmail=gmail))


@router.post("/{draft_id}/regenerate")
def regenerate_draft(draft_id: int, session: SessionDep, state: StateDep) -> DraftOut:
    """A new suggestion replaces this one (now superseded) in the same Gmail draft."""
    gmail = _gmail(state, session, draft_id)
    new = service.regenerate_draft(session, draft_id, tier=_tier(state), gmail=gmail)
    return DraftOut.model_validate(new)


@register_routes
def _routes(app: FastAPI) -> None:
    app.include_router(router)
