"""Credentials for sync clients: tokens come from the accounts service, which stores them
encrypted, refreshes them and marks revoked accounts ``needs_reauth``."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from secretary.config import Settings
from secretary.db.session import unit_of_work
from secretary.google.client import ManagedCredentials
from secretary.google.gmail import GmailClient


def open_gmail(sessions: sessionmaker[Session], account_id: int, settings: Settings) -> GmailClient:
    """A Gmail client whose 401s refresh the token through the accounts service."""
    from secretary.accounts import service as accounts

    with unit_of_work(sessions) as session:
        token = accounts.get_access_token(session, account_id, settings=settings)
    refresher = accounts.make_token_refresher(
        sessions, account_id, settings=settings, current_token=token
    )
    credentials = ManagedCredentials(token, refresher)
    return GmailClient(credentials, settings=settings, account_key=str(account_id))
