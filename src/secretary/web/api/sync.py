"""Sync status and on-demand sync: ``GET /api/v1/sync/status``, ``POST /api/v1/sync``."""

from __future__ import annotations

from fastapi import APIRouter, Depends, FastAPI
from pydantic import BaseModel, Field

from secretary.accounts import repository as accounts_repo
from secretary.sync import engine, service
from secretary.sync.errors import AccountNotFound
from secretary.sync.schemas import SyncStatus
from secretary.web.app import register_routes
from secretary.web.auth import CurrentUser, current_user
from secretary.web.deps import SessionDep

router = APIRouter(prefix="/api/v1/sync", tags=["sync"], dependencies=[Depends(current_user)])


class SyncRequest(BaseModel):
    account: int | None = Field(default=None, description="Account id; all active if omitted.")


class SyncAccepted(BaseModel):
    scheduled: list[int]


@router.get("/status", response_model=list[SyncStatus])
def sync_status(session: SessionDep, user: CurrentUser) -> list[SyncStatus]:
    accounts = accounts_repo.list_accounts(session, user_id=user.user_id)
    return [service.status(session, account.id) for account in accounts]


@router.get("/status/{account_id}", response_model=SyncStatus)
def sync_status_one(account_id: int, session: SessionDep) -> SyncStatus:
    return service.status(session, account_id)


@router.post("", response_model=SyncAccepted, status_code=202)
def request_sync(body: SyncRequest, session: SessionDep, user: CurrentUser) -> SyncAccepted:
    """Queue a sync of every service now (durable ``sync.run`` tasks, committed with this
    request and run by the task runtime); returns at once."""
    mine = accounts_repo.list_accounts(session, user_id=user.user_id)
    if body.account is not None:
        if body.account not in {a.id for a in mine}:  # another user's account is unknown too
            raise AccountNotFound(f"no account {body.account}")
        ids = [body.account]
    else:
        ids = [a.id for a in mine if a.status == "active"]
    engine.request_all(session, ids)
    return SyncAccepted(scheduled=ids)


@register_routes
def _install(app: FastAPI) -> None:
    app.include_router(router)
