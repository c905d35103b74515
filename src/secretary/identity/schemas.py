"""Identity in and out: the caller of a request, and personal API tokens."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Scope = Literal["read", "draft", "send", "admin"]
ALL_SCOPES: tuple[Scope, ...] = ("read", "draft", "send", "admin")


@dataclass(frozen=True)
class Principal:
    """The authenticated caller: a user, through a session cookie or a bearer token."""

    user_id: int
    via: Literal["session", "token"]
    scopes: frozenset[str] = field(default_factory=lambda: frozenset(ALL_SCOPES))
    session_id: int | None = None
    token_id: int | None = None
    csrf_token: str | None = None
    rate_tier: str | None = None


def _read_only() -> list[Scope]:
    return ["read"]


class TokenIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    scopes: list[Scope] = Field(default_factory=_read_only, min_length=1)
    expires_in_days: int | None = Field(default=None, ge=1, le=3650)


class TokenOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    prefix: str
    scopes: list[str]
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None


class TokenCreated(TokenOut):
    token: str = Field(description="The secret: shown this once, stored only as its hash.")


class AuditOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    created_at: datetime
    actor: str
    action: str
    account_id: int | None
    details: dict[str, object]


class MeOut(BaseModel):
    id: int
    email: str
    display_name: str | None
    via: str
    scopes: list[str]
