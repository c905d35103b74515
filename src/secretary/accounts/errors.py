"""Errors of the accounts domain. ``AccountNeedsReauth`` lives in ``google.errors`` (it is a
Google authorization condition the sync engine also meets) and is re-exported here."""

from __future__ import annotations

from secretary.errors import NotFound
from secretary.google.errors import AccountNeedsReauth

__all__ = ["AccountNeedsReauth", "AccountNotFound"]


class AccountNotFound(NotFound):
    code = "account_not_found"

    def __init__(self, account_id: int):
        super().__init__(f"No connected Google account with id {account_id}")
        self.account_id = account_id
