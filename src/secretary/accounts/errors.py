"""Errors of the accounts domain. ``AccountNeedsReauth`` lives in ``google.errors`` (it is a
Google authorization condition the sync engine also meets) and is re-exported here."""

from __future__ import annotations

from secretary.errors import NotFound
from secretary.google.errors import AccountNeedsReauth

__all__ = ["AccountNeedsReauth", "AccountNotFound"]


class AccountNotFound(NotFound):
    """The one "no such connected account" error (accounts, sync, the API and the CLI)."""

    code = "account_not_found"

    def __init__(self, account: int | str):
        # An id gets the standard message; callers that only know what the user typed (an
        # address, an id of someone else's account) pass their own message.
        if isinstance(account, int):
            super().__init__(f"No connected Google account with id {account}")
            self.account_id: int | None = account
        else:
            super().__init__(account)
            self.account_id = None
