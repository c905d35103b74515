"""What search returns: the API's result shape and the typed hit other domains consume."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field


class SearchHit(BaseModel):
    """One result. ``id`` is the Gmail message id, the Calendar event id or the Drive file id;
    ``score`` is higher-is-better and comparable within one response only."""

    kind: Literal["email", "event", "file"]
    id: str
    title: str
    snippet: str
    score: float
    # Beyond the API contract, for callers in-process (ask, the UI): never serialised by it.
    source_id: int = Field(default=0, exclude=True)
    thread_id: str | None = Field(default=None, exclude=True)
    at: datetime | None = Field(default=None, exclude=True)
    sender: str | None = Field(default=None, exclude=True)


class SearchResults(BaseModel):
    results: list[SearchHit]
