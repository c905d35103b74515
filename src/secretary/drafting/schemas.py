"""Pydantic in and out of drafting."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class DraftOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    user_id: int
    account_id: int
    message_id: int
    status: str
    gmail_thread_id: str
    gmail_draft_id: str | None
    gmail_message_id: str | None
    subject: str
    to_addrs: list[str]
    cc_addrs: list[str]
    body: str
    human_edited: bool
    intent: str
    confidence: float
    model: str
    input_tokens: int
    output_tokens: int
    cost_usd: float
    created_at: datetime
    updated_at: datetime


class DraftEdit(BaseModel):
    body: str = Field(min_length=1)
