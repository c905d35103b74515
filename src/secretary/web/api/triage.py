"""``/api/v1/triage`` (verdicts) and ``/api/v1/messages/{id}/reprocess``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Query
from pydantic import BaseModel

from secretary.llm.schemas import Category
from secretary.triage import repository, service
from secretary.triage.schemas import TriageOut
from secretary.web.app import register_routes
from secretary.web.auth import CurrentUser, current_user
from secretary.web.deps import SessionDep

router = APIRouter(prefix="/api/v1", tags=["triage"], dependencies=[Depends(current_user)])


class TriageItem(TriageOut):
    gmail_id: str
    gmail_thread_id: str
    subject: str | None
    from_addr: str | None
    received_at: datetime | None


class ReprocessOut(BaseModel):
    task_id: int


@router.get("/triage")
def list_triage(
    session: SessionDep,
    user: CurrentUser,
    category: Category | None = None,
    since: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[TriageItem]:
    """Triaged messages, newest verdict first."""
    rows = repository.list_results(
        session,
        user_id=user.user_id,
        category=category.value if category else None,
        since=since,
        limit=limit,
    )
    return [
        TriageItem(
            **TriageOut.model_validate(result).model_dump(),
            gmail_id=message.gmail_id,
            gmail_thread_id=message.gmail_thread_id,
            subject=message.subject,
            from_addr=message.from_addr,
            received_at=message.internal_date,
        )
        for result, message in rows
    ]


@router.post("/messages/{message_id}/reprocess", status_code=202)
def reprocess(message_id: int, session: SessionDep) -> ReprocessOut:
    """Run the pipeline again for one message (on the ``priority`` queue)."""
    return ReprocessOut(task_id=service.reprocess(session, message_id))


@register_routes
def _routes(app: FastAPI) -> None:
    app.include_router(router)
