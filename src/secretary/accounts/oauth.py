"""Connecting an account: the OAuth authorization-code flow (start, then complete on the
callback) and storing the grant (encrypted tokens, scopes, the user it belongs to)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from secretary.accounts import repository as repo
from secretary.accounts.errors import AccountNotFound
from secretary.accounts.schemas import ConnectResult
from secretary.accounts.tokens import REASON_NO_OFFLINE_GRANT, cipher_for, reauth_path
from secretary.config import Settings
from secretary.db.models import AccountStatus, GoogleAccount, User
from secretary.errors import NotFound
from secretary.google import auth
from secretary.google.errors import (
    OAuthError,
    OAuthUserinfoFailed,
    OAuthWrongAccount,
)
from secretary.kit.logging import get_logger

log = get_logger(__name__)


@dataclass(frozen=True)
class StartedAuthorization:
    """``url`` goes to the browser; ``sealed`` into the HttpOnly cookie (web) or memory (CLI)."""

    url: str
    state: str
    pending: auth.PendingAuthorization
    sealed: str


def start_authorization(
    session: Session,
    *,
    settings: Settings,
    redirect_uri: str | None = None,
    login_hint: str | None = None,
    account_id: int | None = None,
    user_id: int | None = None,
) -> StartedAuthorization:
    """Begin the authorization-code flow (PKCE, offline, forced consent, signed state).

    With ``account_id`` this is a re-authorization: the flow is bound to that account's
    user and must come back with the same Google account.
    """
    if account_id is not None:
        account = repo.get_account(session, account_id)
        if account is None:
            raise AccountNotFound(account_id)
        user_id = account.user_id
        login_hint = login_hint or account.email
    elif user_id is not None and repo.get_user(session, user_id) is None:
        raise NotFound(f"No user with id {user_id}")
    redirect = redirect_uri or settings.google.redirect_uri
    # RFC 7636: 43-128 characters of [A-Za-z0-9-._~]; token_urlsafe(72) gives 96.
    verifier = secrets.token_urlsafe(72)
    pending, state = auth.new_pending_authorization(
        settings,
        redirect_uri=redirect,
        code_verifier=verifier,
        user_id=user_id,
        account_id=account_id,
        login_hint=login_hint,
    )
    flow = auth.build_flow(settings, redirect_uri=redirect, code_verifier=verifier)
    url = auth.authorization_url(flow, state=state, login_hint=login_hint)
    return StartedAuthorization(
        url=url, state=state, pending=pending, sealed=auth.seal_pending(settings, pending)
    )


def complete_authorization(
    session: Session,
    *,
    settings: Settings,
    pending: auth.PendingAuthorization,
    state: str | None,
    code: str | None,
    error: str | None = None,
    error_description: str | None = None,
) -> ConnectResult:
    """Finish the flow from the redirect's query: check state, exchange the code, store.

    Partial grant (a required scope unticked on the consent screen): the account is stored
    with status ``needs_reauth``, the missing scopes in ``status_reason`` and
    ``ConnectResult.missing_scopes``; the tokens are kept so the reconnect (with
    ``include_granted_scopes``) only has to add what is missing. Sync skips it until then.

    Raises:
        OAuthStateInvalid, OAuthAccessDenied, OAuthInvalidGrant, OAuthUserinfoFailed,
        OAuthWrongAccount, OAuthError: each with a user-facing message and ``recovery_url``.
    """
    try:
        auth.verify_state(settings, state, pending)
        if error:
            raise auth.callback_error(error, error_description)
        if not code:
            raise OAuthError("Google's answer carried no authorization code. Start again.")
        flow = auth.build_flow(
            settings, redirect_uri=pending.redirect_uri, code_verifier=pending.code_verifier
        )
        grant = auth.exchange_code(flow, code)
        try:
            info = auth.fetch_userinfo(settings, grant.access_token)
        except OAuthUserinfoFailed:
            # Don't leave an orphan grant at Google for an account we cannot identify.
            auth.revoke_token(settings, grant.refresh_token or grant.access_token)
            raise
        return _store_grant(
            session,
            settings=settings,
            grant=grant,
            info=info,
            user_id=pending.user_id,
            account_id=pending.account_id,
        )
    except OAuthError as exc:
        if pending.account_id is not None:
            exc.recovery_url = reauth_path(pending.account_id)
        log.info("oauth_connect_failed", error_code=exc.code)
        raise


def _resolve_user(
    session: Session, info: auth.UserInfo, *, user_id: int | None
) -> tuple[User, GoogleAccount | None]:
    """Whose account this is. Single-user default: the first account's address names the
    user, and later accounts join that user; with several users, an explicit binding (or
    a matching address) decides, else the account gets a user of its own."""
    if user_id is not None:
        user = repo.get_user(session, user_id)
        if user is None:
            raise NotFound(f"No user with id {user_id}")
        existing = repo.find_accounts_by_sub(session, info.sub, user_id=user.id)
        return user, existing[0] if existing else None
    existing = repo.find_accounts_by_sub(session, info.sub)
    if existing:
        account = existing[0]
        user = repo.get_user(session, account.user_id)
        if user is not None:
            return user, account
    user = (
        repo.get_user_by_email(session, info.email)
        or repo.only_user(session)
        or repo.create_user(session, email=info.email, display_name=info.name)
    )
    return user, None


def _store_grant(
    session: Session,
    *,
    settings: Settings,
    grant: auth.TokenGrant,
    info: auth.UserInfo,
    user_id: int | None,
    account_id: int | None,
) -> ConnectResult:
    cipher = cipher_for(settings)
    account: GoogleAccount | None
    if account_id is not None:
        account = repo.get_account(session, account_id)
        if account is None:
            raise AccountNotFound(account_id)
        if account.google_sub != info.sub:
            auth.revoke_token(settings, grant.refresh_token or grant.access_token)
            raise OAuthWrongAccount(
                "You signed in with a different Google account than the one being "
                "reconnected. Start again and choose the same account.",
                recovery_url=reauth_path(account_id),
            )
        user = repo.get_user(session, account.user_id)
        if user is None:  # pragma: no cover - the FK makes this impossible
            raise AccountNotFound(account_id)
    else:
        user, account = _resolve_user(session, info, user_id=user_id)

    missing = auth.missing_scopes(grant.scopes)
    refresh_enc = cipher.encrypt(grant.refresh_token) if grant.refresh_token else None
    if refresh_enc is None and account is not None:
        refresh_enc = account.refresh_token_enc  # Google kept the earlier one valid
    status, reason = AccountStatus.ACTIVE, None
    if missing:
        status = AccountStatus.NEEDS_REAUTH
        reason = (
            "Missing permissions: "
            + ", ".join(auth.short_scope(s) for s in missing)
            + ". Connect again and allow all the requested access."
        )
    elif refresh_enc is None:
        status, reason = AccountStatus.NEEDS_REAUTH, REASON_NO_OFFLINE_GRANT

    values: dict[str, Any] = {
        "email": info.email,
        "scopes": grant.scopes,
        "access_token_enc": cipher.encrypt(grant.access_token),
        "refresh_token_enc": refresh_enc,
        "token_expires_at": grant.expires_at,
        "status": status,
        "status_reason": reason,
    }
    created = account is None
    if account is None:
        account = repo.create_account(session, user_id=user.id, google_sub=info.sub, **values)
    else:
        for key, value in values.items():
            setattr(account, key, value)
        session.flush()
    if user.display_name is None and info.name:
        user.display_name = info.name
    repo.add_audit(
        session,
        action="account.connected" if created else "account.reconnected",
        user_id=user.id,
        account_id=account.id,
        actor="user",
        details={
            "status": status,
            "missing_scopes": [auth.short_scope(s) for s in missing],
            "granted_scopes": len(grant.scopes),
        },
    )
    log.info(
        "google_account_connected",
        account_id=account.id,
        user_id=user.id,
        created=created,
        status=status,
    )
    return ConnectResult(
        account_id=account.id,
        user_id=user.id,
        email=info.email,
        name=info.name,
        status=status,
        status_reason=reason,
        missing_scopes=[auth.short_scope(s) for s in missing],
        created=created,
    )
