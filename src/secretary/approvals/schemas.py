"""The proposed-action shape other tools (the assistant, the UI) rely on."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

ActionKind = Literal[
    "draft_email",
    "send_email",
    "create_event",
    "update_event",
    "respond_to_invite",
    "share_file",
]
ActionStatus = Literal[
    "pending_approval", "applying", "applied", "rejected", "failed", "superseded"
]
KINDS: tuple[str, ...] = ActionKind.__args__  # type: ignore[attr-defined]


class ProposedActionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    status: str
    summary: str
    payload: dict[str, Any]
    result: dict[str, Any] | None = None
    error: str | None = None
    created_at: datetime
    updated_at: datetime


class ApproveIn(BaseModel):
    """Optional choices made while approving (e.g. another answer to an invitation)."""

    model_config = ConfigDict(extra="forbid")

    response: Literal["accepted", "declined", "tentative"] | None = None
