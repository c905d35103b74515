"""Sync errors; all ``SecretaryError`` so the API and the CLI render them."""

from __future__ import annotations

from secretary.accounts.errors import AccountNotFound
from secretary.errors import Conflict, SecretaryError

__all__ = ["AccountNotFound", "AccountNotSyncable", "SyncAlreadyRunning", "SyncFailed"]


class AccountNotSyncable(Conflict):
    """The account needs re-authorization (or is disconnected): sync skips it, no retry loop."""

    code = "account_not_syncable"


class SyncAlreadyRunning(Conflict):
    code = "sync_already_running"


class SyncFailed(SecretaryError):
    status_code = 502
    code = "sync_failed"
