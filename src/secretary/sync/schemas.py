"""What sync reports to the API, the CLI and the scheduler."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class SyncReport(BaseModel):
    account: int = Field(description="Account id.")
    phase: str = Field(description="Phase after the run: initial or incremental.")
    listed: int = 0
    fetched: int = 0
    deleted: int = 0
    relabelled: int = 0
    history_id: int | None = None
    seconds: float = 0.0
    full_resync: bool = False
    changes: bool = Field(default=False, description="Whether the run changed the store.")
    units: int = Field(default=0, description="Gmail quota units charged by this run.")
    http_requests: int = 0
    retries: int = 0


class SyncStatus(BaseModel):
    account: int
    phase: str
    history_id: int | None
    messages: int
    fetched: int
    pending: int
    full_resyncs: int
    last_synced_at: datetime | None
    last_error: str | None
    watch_expires_at: datetime | None
    next_poll_at: datetime | None
    running: bool = False
