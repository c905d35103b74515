"""Pydantic out of the task system (API and CLI)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class TaskOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    stage: str
    status: str
    queue: str
    attempts: int
    max_attempts: int
    correlation_id: str
    message_id: int | None
    args: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    run_after: datetime | None
    last_error: str | None


class TaskDetail(TaskOut):
    last_traceback: str | None
