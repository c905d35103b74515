"""``GET /api/v1/sync``: the sync status of every service of the signed-in user's accounts.

``{"services": [{"account", "service", "state", "last_synced_at", "items", "error"}]}``
(``secretary.sync.status``). ``POST /api/v1/sync`` (in ``web/api/sync.py``) starts a sync
of every service.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, FastAPI

from secretary.accounts import repository as accounts_repo
from secretary.sync.status import ServicesStatus, services_status
from secretary.web.app import register_routes
from secretary.web.auth import CurrentUser, current_user
from secretary.web.deps import SessionDep

router = APIRouter(prefix="/api/v1/sync", tags=["sync"], dependencies=[Depends(current_user)])


@router.get("", response_model=ServicesStatus)
def sync_services(session: SessionDep, user: CurrentUser) -> ServicesStatus:
    """Per account and service: idle, running, error or needs_reauth; last sync; counts."""
    accounts = list(accounts_repo.list_accounts(session, user_id=user.user_id))
    return services_status(session, accounts)


@register_routes
def _install(app: FastAPI) -> None:
    app.include_router(router)
