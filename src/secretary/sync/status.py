"""Per-service sync status for ``GET /api/v1/sync``: one entry per account and service.

``state`` is ``needs_reauth`` when the account must be connected again, ``running`` while a
sync of the pair holds its lock in any process (a PostgreSQL advisory lock, visible in
``pg_locks``), ``error`` when the last run failed, else ``idle``. ``items`` counts what the
store holds: messages (Gmail), events (Calendar), files (Drive).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from secretary.db.models import (
    AccountStatus,
    CalendarEvent,
    DriveFile,
    GoogleAccount,
    Message,
    SyncState,
)
from secretary.sync import repository as gmail_repo
from secretary.sync.workspace import _advisory_key, granted_services

ServiceName = Literal["gmail", "calendar", "drive"]
ServiceState = Literal["idle", "running", "error", "needs_reauth"]


class ServiceStatus(BaseModel):
    account: int = Field(description="Account id.")
    service: ServiceName
    state: ServiceState
    last_synced_at: datetime | None = Field(description="End of the last successful sync.")
    items: int = Field(description="Messages, events or files in the store.")
    error: str | None = Field(description="The last failure, if the last run failed.")


class ServicesStatus(BaseModel):
    services: list[ServiceStatus]


def _lock_key(service: str, account_id: int) -> int:
    return (
        gmail_repo.advisory_key(account_id)
        if service == "gmail"
        else _advisory_key(service, account_id)
    )


def _held(session: Session, keys: list[int]) -> set[int]:
    if not keys:
        return set()
    rows = session.execute(
        text(
            "select ((classid::bigint << 32) | objid::bigint) from pg_locks "
            "where locktype = 'advisory' and objsubid = 1 and granted "
            "and ((classid::bigint << 32) | objid::bigint) = any(:keys)"
        ),
        {"keys": keys},
    ).scalars()
    return {int(k) for k in rows}


def _items(session: Session, service: str, account_id: int) -> int:
    if service == "gmail":
        stmt = select(func.count()).where(Message.account_id == account_id)
    elif service == "calendar":
        stmt = select(func.count()).where(
            CalendarEvent.account_id == account_id, CalendarEvent.status != "cancelled"
        )
    else:
        stmt = select(func.count()).where(DriveFile.account_id == account_id)
    return int(session.scalar(stmt) or 0)


def services_status(session: Session, accounts: list[GoogleAccount]) -> ServicesStatus:
    pairs = [
        (a, s) for a in accounts for s in (granted_services(list(a.scopes or [])) or ["gmail"])
    ]
    held = _held(session, [_lock_key(s, a.id) for a, s in pairs])
    states = {
        (st.account_id, st.service): st
        for st in session.scalars(
            select(SyncState).where(SyncState.account_id.in_([a.id for a in accounts]))
        )
    }
    out: list[ServiceStatus] = []
    for account, service in pairs:
        st = states.get((account.id, service))
        error = st.last_error if st is not None else None
        state: ServiceState
        if account.status == AccountStatus.NEEDS_REAUTH:
            state = "needs_reauth"
            error = error or account.status_reason
        elif _lock_key(service, account.id) in held:
            state = "running"
        elif error:
            state = "error"
        else:
            state = "idle"
        out.append(
            ServiceStatus(
                account=account.id,
                service=service,
                state=state,
                last_synced_at=st.last_synced_at if st is not None else None,
                items=_items(session, service, account.id),
                error=error,
            )
        )
    return ServicesStatus(services=out)
