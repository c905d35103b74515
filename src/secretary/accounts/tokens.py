"""The token provider: credentials for a connected account, refreshed and stored encrypted.

Transactions: like every service these functions ``flush()`` and leave the commit to the edge,
with one deliberate exception. Token writes and the ``needs_reauth`` mark made while
refreshing (``get_credentials``, ``refresh_after_unauthorized``, ``mark_needs_reauth``) commit
in their own short transaction on a second connection. Google may rotate the refresh token on
refresh, and losing the new one to the caller's rollback would break the account; and a
``needs_reauth`` mark rolled back together with the failing sync would be retried forever.
When the session is bound to a connection rather than an engine (the tests' rolled-back
transaction), the work joins the caller's transaction instead.

Refreshes of one account are serialized with ``SELECT … FOR UPDATE``; whoever gets the lock
second re-reads the row and uses the token the first one stored.

Sync contract: an account whose status is not ``active`` raises ``AccountNeedsReauth`` from
``get_credentials`` without any call to Google. Sync skips such accounts until the user
re-authorizes (which sets ``active`` again), so a revoked grant never causes a crash loop.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from google.oauth2.credentials import Credentials
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from secretary.accounts import repository as repo
from secretary.accounts.errors import AccountNotFound
from secretary.config import Settings
from secretary.db.models import AccountStatus, GoogleAccount
from secretary.google import auth
from secretary.google.errors import (
    AccountNeedsReauth,
)
from secretary.kit.clock import utcnow
from secretary.kit.crypto import TokenCipher
from secretary.kit.logging import get_logger

log = get_logger(__name__)

T = TypeVar("T")

START_PATH = "/oauth/google/start"
LOOPBACK_TIMEOUT_SECONDS = 300.0

REASON_REVOKED = (
    "Google revoked or expired this account's authorization (invalid_grant). "
    "Connect the account again."
)
REASON_NO_OFFLINE_GRANT = (
    "Google did not issue a long-lived authorization for this account. Connect it again."
)


def cipher_for(settings: Settings) -> TokenCipher:
    return TokenCipher([k.get_secret_value() for k in settings.encryption_keys])


def reauth_path(account_id: int) -> str:
    return f"{START_PATH}?account_id={account_id}"


# --- the credentials provider ------------------------------------------------------------


@dataclass(frozen=True)
class _Tokens:
    access_token: str
    refresh_token: str | None
    expires_at: datetime | None
    scopes: list[str]


@dataclass(frozen=True)
class _Reauth:
    reason: str


def _is_fresh(expires_at: datetime | None) -> bool:
    return expires_at is not None and expires_at - auth.REFRESH_MARGIN > utcnow()


def _is_unexpired(expires_at: datetime | None) -> bool:
    return expires_at is not None and expires_at > utcnow()


def _in_token_transaction(session: Session, work: Callable[[Session], T]) -> T:
    """Run ``work`` in its own committed transaction (see the module docstring)."""
    bind = session.get_bind()
    if not isinstance(bind, Engine):
        return work(session)
    try:
        with Session(bind, expire_on_commit=False) as own, own.begin():
            # If the caller's own transaction holds the row lock, waiting would deadlock
            # against ourselves; give up quickly and do the work in the caller's transaction.
            own.execute(text("SET LOCAL lock_timeout = '5s'"))
            return work(own)
    except OperationalError as exc:
        if getattr(exc.orig, "sqlstate", None) != "55P03":  # lock_not_available
            raise
        return work(session)


def _set_needs_reauth(session: Session, account: GoogleAccount, *, reason: str, code: str) -> None:
    if account.status == AccountStatus.NEEDS_REAUTH and account.status_reason == reason:
        return
    account.status = AccountStatus.NEEDS_REAUTH
    account.status_reason = reason
    repo.add_audit(
        session,
        action="account.needs_reauth",
        user_id=account.user_id,
        account_id=account.id,
        details={"reason": code},
    )
    session.flush()
    log.warning("google_account_needs_reauth", account_id=account.id, reason=code)


def _tokens_of(account: GoogleAccount, cipher: TokenCipher) -> _Tokens | None:
    if account.access_token_enc is None:
        return None
    refresh = (
        cipher.decrypt(account.refresh_token_enc) if account.refresh_token_enc is not None else None
    )
    return _Tokens(
        access_token=cipher.decrypt(account.access_token_enc),
        refresh_token=refresh,
        expires_at=account.token_expires_at,
        scopes=list(account.scopes or []),
    )


def _refresh_locked(
    session: Session,
    account_id: int,
    *,
    settings: Settings,
    force: bool,
    rejected_token: str | None,
) -> _Tokens | _Reauth:
    account = repo.lock_account(session, account_id)
    if account is None:
        raise AccountNotFound(account_id)
    if account.status != AccountStatus.ACTIVE:
        return _Reauth(account.status_reason or "The account needs to be connected again.")
    cipher = cipher_for(settings)
    current = _tokens_of(account, cipher)
    if current is not None:
        # ``rejected_token`` is the token the caller saw fail or go stale; a different one
        # means another worker refreshed while we waited for the lock: use theirs.
        replaced = rejected_token is not None and current.access_token != rejected_token
        if (not force and _is_fresh(current.expires_at)) or (
            replaced and _is_unexpired(current.expires_at)
        ):
            return current
    refresh_token = (
        cipher.decrypt(account.refresh_token_enc) if account.refresh_token_enc is not None else None
    )
    if refresh_token is None:
        _set_needs_reauth(session, account, reason=REASON_NO_OFFLINE_GRANT, code="no_refresh_token")
        return _Reauth(REASON_NO_OFFLINE_GRANT)
    try:
        grant = auth.refresh_access_token(settings, refresh_token, account_id=account_id)
    except AccountNeedsReauth:
        _set_needs_reauth(session, account, reason=REASON_REVOKED, code="invalid_grant")
        return _Reauth(REASON_REVOKED)
    account.access_token_enc = cipher.encrypt(grant.access_token)
    if grant.refresh_token and grant.refresh_token != refresh_token:
        account.refresh_token_enc = cipher.encrypt(grant.refresh_token)
    account.token_expires_at = grant.expires_at
    if grant.scopes:
        account.scopes = grant.scopes
    session.flush()
    log.info("google_token_refreshed", account_id=account_id, forced=force)
    return _Tokens(
        access_token=grant.access_token,
        refresh_token=grant.refresh_token or refresh_token,
        expires_at=grant.expires_at,
        scopes=list(account.scopes or []),
    )


def _credentials(settings: Settings, tokens: _Tokens) -> Credentials:
    return auth.build_credentials(
        settings,
        access_token=tokens.access_token,
        refresh_token=tokens.refresh_token,
        expires_at=tokens.expires_at,
        scopes=tokens.scopes,
    )


def _obtain(
    session: Session,
    account_id: int,
    *,
    settings: Settings,
    force: bool,
    rejected_token: str | None,
) -> _Tokens:
    outcome = _in_token_transaction(
        session,
        lambda s: _refresh_locked(
            s, account_id, settings=settings, force=force, rejected_token=rejected_token
        ),
    )
    # Let the caller's session see what the token transaction committed.
    repo.reload_account(session, account_id)
    if isinstance(outcome, _Reauth):
        raise AccountNeedsReauth(outcome.reason, account_id=account_id)
    return outcome


def get_credentials(session: Session, account_id: int, *, settings: Settings) -> Credentials:
    """Credentials for the official Google clients, valid for at least five more minutes.

    Refreshes (and stores, encrypted) a token that expires within ``REFRESH_MARGIN``.
    The returned object can refresh itself in memory if a long job outlives the token, but
    such refreshes are not stored; long-running clients should use
    ``google.client.ManagedCredentials`` with ``make_token_refresher`` instead.

    Raises:
        AccountNotFound: no such account.
        AccountNeedsReauth: the account is ``needs_reauth`` (no Google call is made), or
            Google answered ``invalid_grant`` just now (the account is then marked, with an
            audit row, before this raises). Do not retry; skip the account.
        GoogleUnavailable: Google's token endpoint could not be reached; retry later.
    """
    account = repo.get_account(session, account_id)
    if account is None:
        raise AccountNotFound(account_id)
    if account.status != AccountStatus.ACTIVE:
        raise AccountNeedsReauth(
            account.status_reason or "The account needs to be connected again.",
            account_id=account_id,
        )
    current = _tokens_of(account, cipher_for(settings))
    if current is not None and _is_fresh(current.expires_at):
        return _credentials(settings, current)
    tokens = _obtain(
        session,
        account_id,
        settings=settings,
        force=False,
        rejected_token=current.access_token if current is not None else None,
    )
    return _credentials(settings, tokens)


def get_access_token(session: Session, account_id: int, *, settings: Settings) -> str:
    """The bearer token of ``get_credentials`` (for ``google.client.ManagedCredentials``)."""
    token = get_credentials(session, account_id, settings=settings).token
    return str(token)


def refresh_after_unauthorized(
    session: Session, account_id: int, *, settings: Settings, rejected_token: str | None
) -> Credentials:
    """Call when Google answered 401 to ``rejected_token``: refresh even if not yet expired.

    If another worker already replaced ``rejected_token``, its token is returned without a
    new refresh. If a 401 persists with the token returned here, call ``mark_needs_reauth``.
    """
    tokens = _obtain(
        session, account_id, settings=settings, force=True, rejected_token=rejected_token
    )
    return _credentials(settings, tokens)


def make_token_refresher(
    sessions: sessionmaker[Session],
    account_id: int,
    *,
    settings: Settings,
    current_token: str | None = None,
) -> Callable[[], str]:
    """A ``google.client.TokenRefresher``: each call forces a refresh in its own transaction
    (googleapiclient calls it after a 401) and returns the new access token."""
    last = [current_token]

    def refresh() -> str:
        with sessions() as session, session.begin():
            creds = refresh_after_unauthorized(
                session, account_id, settings=settings, rejected_token=last[0]
            )
        token = str(creds.token)
        last[0] = token
        return token

    return refresh


def mark_needs_reauth(
    session: Session, account_id: int, *, reason: str, code: str = "unauthorized"
) -> None:
    """Mark the account ``needs_reauth`` (committed at once, audited). Idempotent.

    For callers that see Google reject a freshly refreshed token (401 after refresh).
    ``reason`` is shown to the user; it must not contain addresses.
    """

    def work(s: Session) -> None:
        account = repo.lock_account(s, account_id)
        if account is None:
            raise AccountNotFound(account_id)
        _set_needs_reauth(s, account, reason=reason, code=code)

    _in_token_transaction(session, work)
    repo.reload_account(session, account_id)
