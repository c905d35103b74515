"""Use cases of connected Google accounts: list, re-authorize, remove.

The rest lives beside this module, one job each: ``tokens`` (the credentials provider:
refresh, encrypted storage, ``needs_reauth``), ``oauth`` (the authorization-code flow and
storing a grant), ``loopback`` (the CLI's one-shot redirect server) and ``keys`` (token key
rotation). Their public names are re-exported here for callers of the old single module.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from secretary.accounts import repository as repo
from secretary.accounts.errors import AccountNotFound
from secretary.accounts.keys import rotate_token_keys
from secretary.accounts.loopback import connect_via_loopback
from secretary.accounts.oauth import (
    StartedAuthorization,
    complete_authorization,
    start_authorization,
)
from secretary.accounts.schemas import AccountOut, ReauthStart, RemoveResult
from secretary.accounts.tokens import (
    LOOPBACK_TIMEOUT_SECONDS,
    REASON_NO_OFFLINE_GRANT,
    REASON_REVOKED,
    START_PATH,
    cipher_for,
    get_access_token,
    get_credentials,
    make_token_refresher,
    mark_needs_reauth,
    reauth_path,
    refresh_after_unauthorized,
)
from secretary.config import Settings
from secretary.db.models import AccountStatus, GoogleAccount
from secretary.errors import ConfigurationError
from secretary.google import auth
from secretary.kit.logging import get_logger

log = get_logger(__name__)

__all__ = [
    "LOOPBACK_TIMEOUT_SECONDS",
    "REASON_NO_OFFLINE_GRANT",
    "REASON_REVOKED",
    "START_PATH",
    "StartedAuthorization",
    "begin_reauth",
    "cipher_for",
    "complete_authorization",
    "connect_via_loopback",
    "get_access_token",
    "get_credentials",
    "list_accounts",
    "make_token_refresher",
    "mark_needs_reauth",
    "reauth_path",
    "refresh_after_unauthorized",
    "remove_account",
    "rotate_token_keys",
    "start_authorization",
    "to_out",
]


def to_out(account: GoogleAccount, *, base_url: str | None = None) -> AccountOut:
    scopes = list(account.scopes or [])
    needs = account.status != AccountStatus.ACTIVE
    return AccountOut(
        id=account.id,
        user_id=account.user_id,
        email=account.email,
        status=account.status,
        status_reason=account.status_reason,
        scopes=[auth.short_scope(s) for s in scopes],
        missing_scopes=[auth.short_scope(s) for s in auth.missing_scopes(scopes)],
        token_expires_at=account.token_expires_at,
        reauth_url=(f"{(base_url or '').rstrip('/')}{reauth_path(account.id)}" if needs else None),
        created_at=account.created_at,
        updated_at=account.updated_at,
    )


def list_accounts(
    session: Session, *, user_id: int | None = None, base_url: str | None = None
) -> list[AccountOut]:
    return [to_out(a, base_url=base_url) for a in repo.list_accounts(session, user_id=user_id)]


def begin_reauth(session: Session, account_id: int, *, settings: Settings) -> ReauthStart:
    """Where the browser goes to re-authorize (the start route sets the state cookie)."""
    if repo.get_account(session, account_id) is None:
        raise AccountNotFound(account_id)
    return ReauthStart(
        account_id=account_id,
        authorization_url=f"{settings.base_url.rstrip('/')}{reauth_path(account_id)}",
    )


def remove_account(session: Session, account_id: int, *, settings: Settings) -> RemoveResult:
    """Revoke the grant at Google, then delete the account and all its synced data.

    Removal proceeds even if Google cannot be reached (``revoked`` is then False and the
    user can revoke at myaccount.google.com); keeping data the user asked to delete would
    be worse than a dangling grant.
    """
    account = repo.get_account(session, account_id)
    if account is None:
        raise AccountNotFound(account_id)
    revoked = False
    token_enc = account.refresh_token_enc or account.access_token_enc
    if token_enc is not None:
        try:
            token = cipher_for(settings).decrypt(token_enc)
        except ConfigurationError:
            token = None
        if token is not None:
            revoked = auth.revoke_token(settings, token)
    user_id = account.user_id
    repo.delete_account(session, account_id)
    # account_id stays NULL: the FK would cascade this row away with the account.
    repo.add_audit(
        session,
        action="account.removed",
        user_id=user_id,
        account_id=None,
        actor="user",
        details={"removed_account_id": account_id, "revoked": revoked},
    )
    log.info("google_account_removed", account_id=account_id, revoked=revoked)
    return RemoveResult(account_id=account_id, revoked=revoked)
