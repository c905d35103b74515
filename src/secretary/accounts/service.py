"""Use cases of connected Google accounts: connect, re-authorize, refresh, list, remove.

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

import secrets
import threading
import webbrowser
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urljoin, urlsplit

import requests
from cryptography.fernet import InvalidToken
from google.oauth2.credentials import Credentials
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from secretary.accounts import repository as repo
from secretary.accounts.errors import AccountNotFound
from secretary.accounts.schemas import AccountOut, ConnectResult, ReauthStart, RemoveResult
from secretary.config import Settings
from secretary.db.models import AccountStatus, GoogleAccount, User
from secretary.errors import ConfigurationError, NotFound
from secretary.google import auth
from secretary.google.errors import (
    AccountNeedsReauth,
    OAuthError,
    OAuthUserinfoFailed,
    OAuthWrongAccount,
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


# --- connecting ----------------------------------------------------------------------------


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


# --- the loopback (CLI / demo) flow ---------------------------------------------------------


class _LoopbackReceiver:
    """Receives the OAuth redirect on ``http://127.0.0.1:<port>/``.

    Hand-rolled rather than ``InstalledAppFlow.run_local_server``: that helper makes its own
    ``state``, exchanges the code itself and blocks on the browser, leaving no room for our
    signed state, the headless emulator path, or storing through this service.
    """

    def __init__(self) -> None:
        self.params: dict[str, str] | None = None
        self.received = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                query = dict(parse_qsl(urlsplit(self.path).query))
                if not ({"code", "error", "state"} & query.keys()):
                    self.send_response(404)
                    self.end_headers()
                    return
                receiver.params = query
                receiver.received.set()
                body = (
                    b"<!doctype html><title>Secretary</title><p>Secretary received Google's "
                    b"answer. You can close this window and return to the terminal.</p>"
                )
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                # The stdlib logs the request line, which carries the authorization code.
                return

        self._server = HTTPServer(("127.0.0.1", 0), Handler)
        self.redirect_uri = f"http://127.0.0.1:{self._server.server_port}/"
        # A short poll interval: shutdown() waits for the next poll, and the CLI (and the demo)
        # should not idle half a second per connect.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def wait(self, timeout: float) -> dict[str, str] | None:
        return self.params if self.received.wait(timeout) else None

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@contextmanager
def _loopback() -> Iterator[_LoopbackReceiver]:
    receiver = _LoopbackReceiver()
    try:
        yield receiver
    finally:
        receiver.close()


def _follow_headless(url: str, redirect_uri: str) -> dict[str, str] | None:
    """Follow the consent URL's redirects over HTTP. Ends at our redirect URI only when the
    OAuth server approves without a human (the emulator with auto-approve, the demo)."""
    with requests.Session() as http:
        for _ in range(10):
            try:
                resp = http.get(url, allow_redirects=False, timeout=auth.HTTP_TIMEOUT_SECONDS)
            except requests.RequestException:
                return None
            location = resp.headers.get("location")
            if resp.status_code not in (301, 302, 303, 307, 308) or not location:
                return None
            url = urljoin(url, location)
            if url.startswith(redirect_uri):
                return dict(parse_qsl(urlsplit(url).query))
    return None


def connect_via_loopback(
    session: Session,
    *,
    settings: Settings,
    login_hint: str | None = None,
    user_email: str | None = None,
    account_id: int | None = None,
    open_browser: bool = True,
    timeout_seconds: float = LOOPBACK_TIMEOUT_SECONDS,
    on_url: Callable[[str], None] | None = None,
) -> ConnectResult:
    """Run the real authorization-code flow with a loopback redirect and store the account.

    Auth URL → consent → redirect to ``http://127.0.0.1:<port>/`` with the code → token
    exchange → userinfo → store. When the OAuth server approves without a human (the
    emulator with auto-approve, as in the demo) the redirect is followed over HTTP and no
    browser is involved. Otherwise the URL goes to ``on_url`` (and the browser, unless
    ``open_browser`` is False) and this waits up to ``timeout_seconds`` for the redirect.

    Args:
        user_email: attach the account to this user (created if new); default: see
            ``complete_authorization`` (single-user install → its one user).
        account_id: re-authorize this account (must come back as the same Google account).
    """
    user_id = None
    if user_email and account_id is None:
        user = repo.get_user_by_email(session, user_email) or repo.create_user(
            session, email=user_email, display_name=None
        )
        user_id = user.id
    with _loopback() as receiver:
        started = start_authorization(
            session,
            settings=settings,
            redirect_uri=receiver.redirect_uri,
            login_hint=login_hint,
            account_id=account_id,
            user_id=user_id,
        )
        params = _follow_headless(started.url, receiver.redirect_uri)
        if params is None:
            if on_url is not None:
                on_url(started.url)
            if open_browser:
                with suppress(webbrowser.Error):
                    webbrowser.open(started.url, new=1, autoraise=True)
            params = receiver.wait(timeout_seconds)
        if params is None:
            raise OAuthError(
                "No answer from Google's consent page before the time limit. Run the "
                "command again and finish the sign-in in the browser.",
                recovery_url=reauth_path(account_id) if account_id else START_PATH,
            )
    return complete_authorization(
        session,
        settings=settings,
        pending=started.pending,
        state=params.get("state"),
        code=params.get("code"),
        error=params.get("error"),
        error_description=params.get("error_description"),
    )


# --- listing, re-auth, removal, key rotation ---------------------------------------------


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


def rotate_token_keys(session: Session, *, settings: Settings) -> int:
    """Re-encrypt every stored token under the newest key; returns how many accounts.

    Keep the old key in ``SECRETARY_ENCRYPTION_KEYS`` (after the new one) until this has
    run; afterwards it can be removed.
    """
    cipher = cipher_for(settings)
    count = 0
    for account in repo.accounts_with_tokens(session):
        try:
            if account.access_token_enc is not None:
                account.access_token_enc = cipher.rotate(account.access_token_enc)
            if account.refresh_token_enc is not None:
                account.refresh_token_enc = cipher.rotate(account.refresh_token_enc)
        except InvalidToken as exc:
            raise ConfigurationError(
                f"The tokens of account {account.id} cannot be decrypted with any configured "
                "key; keep the old key in SECRETARY_ENCRYPTION_KEYS (after the new one) "
                "until rotation has run"
            ) from exc
        count += 1
    session.flush()
    repo.add_audit(
        session,
        action="keys.rotated",
        user_id=None,
        account_id=None,
        actor="user",
        details={"accounts": count},
    )
    log.info("token_keys_rotated", accounts=count)
    return count
