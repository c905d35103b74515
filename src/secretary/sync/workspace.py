"""What Calendar and Drive sync share: credentials, the per-service lock and sync state,
error recording (``needs_reauth`` on a dead grant) and the run report.

State lives in ``sync_states`` (one row per account and service: ``calendar``/``drive``):
``phase`` is ``initial`` until the first complete sync, then ``incremental``; ``progress``
holds resumable positions (Drive), ``last_error`` the last failure.
"""

from __future__ import annotations

import threading
import zlib
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from googleapiclient.errors import HttpError
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session, sessionmaker

from secretary.config import Settings
from secretary.db.models import AccountStatus, GoogleAccount, SyncState
from secretary.db.session import unit_of_work
from secretary.google.client import ManagedCredentials
from secretary.google.resilience import http_status
from secretary.kit.logging import get_logger
from secretary.sync import repository
from secretary.sync.errors import AccountNotFound, AccountNotSyncable, SyncAlreadyRunning

if TYPE_CHECKING:
    from secretary.google.calendar import CalendarClient
    from secretary.google.drive import DriveClient

log = get_logger(__name__)

CALENDAR = "calendar"
DRIVE = "drive"
ProgressFn = Callable[[str, int, int], None]


class WorkspaceSyncReport(BaseModel):
    account: int = Field(description="Account id.")
    service: str = Field(description="calendar or drive.")
    phase: str = Field(description="Phase after the run: initial or incremental.")
    items: int = Field(default=0, description="Events or files stored after the run.")
    changed: int = Field(default=0, description="Items written or deleted by this run.")
    full_syncs: int = Field(default=0, description="Full listings done by this run.")
    texts: int = Field(default=0, description="Drive: file texts fetched by this run.")
    seconds: float = 0.0
    units: int = Field(default=0, description="Quota units charged by this run.")
    http_requests: int = 0
    retries: int = 0


def open_credentials(
    sessions: sessionmaker[Session], account_id: int, settings: Settings
) -> ManagedCredentials:
    """Credentials whose 401s refresh through the accounts service (encrypted store)."""
    from secretary.accounts import service as accounts

    with unit_of_work(sessions) as session:
        token = accounts.get_access_token(session, account_id, settings=settings)
    refresher = accounts.make_token_refresher(
        sessions, account_id, settings=settings, current_token=token
    )
    return ManagedCredentials(token, refresher)


def syncable_account(session: Session, account_id: int) -> GoogleAccount:
    account = session.get(GoogleAccount, account_id)
    if account is None:
        raise AccountNotFound(f"no account {account_id}")
    if account.status != AccountStatus.ACTIVE:
        raise AccountNotSyncable(
            f"account {account_id} is {account.status}; re-authorize it to resume sync"
        )
    return account


def get_state(
    session: Session, account: GoogleAccount, service: str, *, for_update: bool = False
) -> SyncState:
    """The account's sync state for ``service``, created on first use."""
    return repository.get_state(session, account, for_update=for_update, service=service)


def save_state(session: Session, state: SyncState, **values: Any) -> None:
    for key, value in values.items():
        setattr(state, key, value)
    session.flush()


def _advisory_key(service: str, account_id: int) -> int:
    return (zlib.crc32(f"secretary.sync.{service}".encode()) << 31) ^ account_id


_local_locks: dict[tuple[str, int], threading.Lock] = defaultdict(threading.Lock)


@contextmanager
def service_lock(sessions: sessionmaker[Session], service: str, account_id: int) -> Iterator[None]:
    """One sync per account and service at a time, across threads and processes (an
    in-process lock plus a session-level PostgreSQL advisory lock, which dies with its
    connection when a process is killed). Raises ``SyncAlreadyRunning``."""
    from sqlalchemy import text

    local = _local_locks[(service, account_id)]
    if not local.acquire(blocking=False):
        raise SyncAlreadyRunning(f"a {service} sync of account {account_id} is already running")
    try:
        engine = sessions.kw["bind"]
        key = _advisory_key(service, account_id)
        with engine.connect() as conn:
            if not conn.execute(text("select pg_try_advisory_lock(:k)"), {"k": key}).scalar():
                conn.rollback()
                raise SyncAlreadyRunning(
                    f"a {service} sync of account {account_id} is already running"
                )
            conn.commit()
            try:
                yield
            finally:
                conn.execute(text("select pg_advisory_unlock(:k)"), {"k": key})
                conn.commit()
    finally:
        local.release()


def is_running(service: str, account_id: int) -> bool:
    return _local_locks[(service, account_id)].locked()


def is_unauthorized(exc: BaseException) -> bool:
    if isinstance(exc, HttpError) and http_status(exc) == 401:
        return True
    cause = exc.__cause__
    return isinstance(cause, HttpError) and http_status(cause) == 401


def record_error(
    sessions: sessionmaker[Session], account_id: int, service: str, exc: BaseException
) -> None:
    """Keep the failure on the service's state; a dead grant marks the account
    ``needs_reauth`` so that sync skips it (no crash loop) and the user sees "reconnect"."""
    if is_unauthorized(exc):
        from secretary.accounts import service as accounts

        try:
            with unit_of_work(sessions) as session:
                accounts.mark_needs_reauth(
                    session,
                    account_id,
                    reason="Google rejected this account's credentials; connect it again.",
                    code="unauthorized",
                )
        except Exception:
            log.exception("needs_reauth_not_recorded", account_id=account_id)
    try:
        with unit_of_work(sessions) as session:
            account = session.get(GoogleAccount, account_id)
            if account is not None:
                state = get_state(session, account, service)
                state.last_error = f"{type(exc).__name__}: {str(exc)[:400]}"
    except Exception:  # the original error matters more than failing to record it
        log.exception("sync_error_not_recorded", account_id=account_id, service=service)


SERVICES = ("gmail", CALENDAR, DRIVE)
_SCOPE_HINTS = {
    "gmail": ("gmail", "mail.google.com"),
    CALENDAR: ("auth/calendar",),
    DRIVE: ("auth/drive",),
}


def granted_services(scopes: list[str] | None) -> list[str]:
    """The services an account's granted scopes allow us to sync (in display order)."""
    granted = scopes or []
    return [
        service
        for service in SERVICES
        if any(hint in scope for scope in granted for hint in _SCOPE_HINTS[service])
    ]


def _client_factory(
    settings: Settings, sessions: sessionmaker[Session], build: Callable[..., Any]
) -> Callable[[Session, int], Any]:
    cache: dict[int, Any] = {}
    lock = threading.Lock()

    def factory(session: Session, account_id: int) -> Any:
        with lock:
            hit = cache.get(account_id)
        if hit is not None:
            return hit
        from secretary.accounts import service as accounts

        token = accounts.get_access_token(session, account_id, settings=settings)
        refresher = accounts.make_token_refresher(
            sessions, account_id, settings=settings, current_token=token
        )
        client = build(
            ManagedCredentials(token, refresher), settings=settings, account_key=str(account_id)
        )
        with lock:
            return cache.setdefault(account_id, client)

    return factory


def calendar_client_factory(
    settings: Settings, sessions: sessionmaker[Session]
) -> Callable[[Session, int], CalendarClient]:
    """Per-process factory (``bootstrap``): one ``CalendarClient`` per account, reused."""
    from secretary.google.calendar import CalendarClient

    return _client_factory(settings, sessions, CalendarClient)


def drive_client_factory(
    settings: Settings, sessions: sessionmaker[Session]
) -> Callable[[Session, int], DriveClient]:
    """Per-process factory (``bootstrap``): one ``DriveClient`` per account, reused."""
    from secretary.google.drive import DriveClient

    return _client_factory(settings, sessions, DriveClient)
