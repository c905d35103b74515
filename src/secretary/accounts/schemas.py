"""What the accounts domain returns to the edges (API, CLI, demo)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class AccountOut(BaseModel):
    id: int
    user_id: int
    email: str
    status: str = Field(description="active, needs_reauth or disconnected")
    status_reason: str | None = Field(
        default=None, description="Why the account needs re-authorization"
    )
    scopes: list[str] = Field(default_factory=list, description="Granted scopes (short names)")
    missing_scopes: list[str] = Field(
        default_factory=list, description="Required scopes not granted (short names)"
    )
    token_expires_at: datetime | None = None
    reauth_url: str | None = Field(
        default=None, description="Where to send the browser to re-authorize, when needed"
    )
    created_at: datetime
    updated_at: datetime


class ConnectResult(BaseModel):
    account_id: int
    user_id: int
    email: str
    name: str | None = None
    status: str
    status_reason: str | None = None
    missing_scopes: list[str] = Field(default_factory=list)
    created: bool = Field(description="A new account row (False: an existing one reconnected)")


class RemoveResult(BaseModel):
    account_id: int
    revoked: bool = Field(description="Google confirmed the grant is revoked")


class ReauthStart(BaseModel):
    account_id: int
    authorization_url: str = Field(description="Open this URL in the browser to reconnect")
