"""Pydantic in and out of drafting."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

# PostgreSQL text cannot hold NUL, and no reply needs one: refuse it as input (422).
_NUL = "\x00"
MAX_BODY_CHARS = 100_000


def _no_nul(value: str | None) -> str | None:
    if value is not None and _NUL in value:
        raise ValueError("must not contain NUL characters")
    return value


class DraftFlag(BaseModel):
    """A warning shown on the draft: ``many_recipients``, ``external_recipient``, or
    ``unsupported_url|email|phone|iban|card`` (the exfiltration check)."""

    kind: str
    value: str | None = None
    message: str


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
    bcc_addrs: list[str] = Field(default_factory=list)
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
    sent_at: datetime | None = None
    digest: str = Field(
        default="",
        description="Digest of what is shown (To, Cc, Bcc, Subject, body): send it back to approve.",
    )
    flags: list[DraftFlag] = Field(default_factory=list)
    changes: dict[str, Any] | None = Field(
        default=None,
        description="What changed in Gmail since the version you last saw (recipients added "
        "and removed, subject, and the text as equal/insert/delete lines), if anything.",
    )


class DraftEdit(BaseModel):
    body: str = Field(min_length=1, max_length=MAX_BODY_CHARS)

    _check_nul = field_validator("body")(_no_nul)


class DraftApprove(BaseModel):
    """Approve exactly what was shown: ``digest`` from the draft as you saw it; ``body`` the
    text you want sent, if you changed it (it is saved and sent in one step)."""

    digest: str = Field(min_length=64, max_length=64, pattern=r"^[0-9a-f]{64}$")
    body: str | None = Field(default=None, min_length=1, max_length=MAX_BODY_CHARS)

    _check_nul = field_validator("body")(_no_nul)
