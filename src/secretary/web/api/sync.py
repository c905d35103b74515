"""Sync status and on-demand sync: ``GET /api/v1/sync/status``, ``POST /api/v1/sync``."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from pydantic import BaseModel, Field

from secretary.sync import repository as repo
from secretary.sync import service
from secretary.sync.schemas import SyncStatus
from secretary.sync.tasks import SyncScheduler
from secretary.web.api.webhooks import sync_in_background
from secretary.web.app import register_routes
from secretary.web.deps import SessionDep, StateDep

router = APIRouter(prefix="/api/v1/sync", tags=["sync"])


class SyncRequest(BaseModel):
    account: int | None = Field(default=None, description="Account id; all active if omitted.")


class SyncAccepted(BaseModel):
    scheduled: list[int]


@router.get("/status", response_model=list[SyncStatus])
def sync_status(session: SessionDep) -> list[SyncStatus]:
    return [service.status(session, account.id) for account in repo.list_accounts(session)]


@router.get("/status/{account_id}", response_model=SyncStatus)
def sync_status_one(account_id: int, session: SessionDep) -> SyncStatus:
    return service.status(session, account_id)


@router.post("", response_model=SyncAccepted, status_code=202)
def request_sync(body: SyncRequest, session: SessionDep, state: StateDep) -> SyncAccepted:
    """Schedule an incremental sync now (in the background); returns at once."""
    if body.account is not None:
        service.status(session, body.account)  # 404 for an unknown account
        ids = [body.account]
    else:
        ids = [a.id for a in repo.list_accounts(session, status="active")]
    scheduler = state.extras.get("sync_scheduler")
    for account_id in ids:
        if isinstance(scheduler, SyncScheduler):
            scheduler.request(account_id)
        else:
            sync_in_background(state, account_id)
    return SyncAccepted(scheduled=ids)


@register_routes
def _install(app: FastAPI) -> None:
    app.include_router(router)
