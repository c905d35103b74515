"""``/api/v1/tasks``: inspect task records, list the dead letters, retry them."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, FastAPI, Query

from secretary.web.app import register_routes
from secretary.web.auth import CurrentUser, current_user
from secretary.web.deps import SessionDep
from secretary.worker import repository
from secretary.worker.schemas import TaskDetail, TaskOut

router = APIRouter(prefix="/api/v1/tasks", tags=["tasks"], dependencies=[Depends(current_user)])

Status = Literal["queued", "running", "retrying", "succeeded", "dead"]


@router.get("")
def list_tasks(
    session: SessionDep,
    user: CurrentUser,
    status: Status | None = None,
    name: str | None = None,
    message_id: int | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[TaskOut]:
    """Your task records, newest first (``?status=dead`` is the dead-letter queue)."""
    records = repository.list_records(
        session,
        status=status,
        name=name,
        message_id=message_id,
        limit=limit,
        user_id=user.user_id,
    )
    return [TaskOut.model_validate(r) for r in records]


@router.get("/{task_id}")
def get_task(task_id: int, session: SessionDep) -> TaskDetail:
    """One task record with its last error and traceback."""
    return TaskDetail.model_validate(repository.get(session, task_id))


@router.post("/{task_id}/retry")
def retry_task(task_id: int, session: SessionDep) -> TaskOut:
    """Give a dead task a fresh set of attempts; it is dispatched once this commits."""
    return TaskOut.model_validate(repository.retry(session, task_id, queue="priority"))


@register_routes
def _routes(app: FastAPI) -> None:
    app.include_router(router)
