"""OAuth 2.0 with Google through the official libraries: client config, flow, credentials.

Everything here speaks HTTP to Google's OAuth server (or the emulator, chosen by
``Settings.google.oauth_base_url`` only) and never touches the database; storage is
``secretary.accounts``. Failures are translated into ``secretary.google.errors``.

CSRF protection of the authorization-code flow (issue #2, §3):
``state`` is ``nonce.issued_at.hmac``; the HMAC (keyed from the newest encryption key) covers
the nonce, the time and the user the flow is bound to. The PKCE ``code_verifier`` and that
binding travel in a ``PendingAuthorization`` sealed with Fernet (encrypted and authenticated)
in an HttpOnly browser cookie. The callback accepts a ``state`` only if its HMAC verifies,
it is younger than ``STATE_TTL``, and it names the nonce sealed in that browser's cookie.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import secrets
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import requests
from google.auth.exceptions import RefreshError, TransportError
from google.auth.transport.requests import Request as GoogleAuthRequest
from google.oauth2.credentials import Credentials
from google_auth_oauthlib.flow import Flow
from oauthlib.oauth2.rfc6749 import errors as oauth_errors

from secretary.config import Settings
from secretary.google.errors import (
    GoogleUnavailable,
    OAuthAccessDenied,
    OAuthError,
    OAuthInvalidGrant,
    OAuthStateInvalid,
    OAuthUserinfoFailed,
    from_refresh_error,
)
from secretary.kit.clock import utcnow
from secretary.kit.crypto import TokenCipher
from secretary.kit.logging import get_logger

log = get_logger(__name__)

# requests-oauthlib logs token request bodies and token responses (code, client secret,
# tokens) at DEBUG; `secretary -v` must not print them.
for _name in ("requests_oauthlib", "oauthlib"):
    logging.getLogger(_name).setLevel(logging.WARNING)

GMAIL_MODIFY = "https://www.googleapis.com/auth/gmail.modify"
GMAIL_COMPOSE = "https://www.googleapis.com/auth/gmail.compose"
CALENDAR = "https://www.googleapis.com/auth/calendar"
DRIVE_READONLY = "https://www.googleapis.com/auth/drive.readonly"
USERINFO_EMAIL = "https://www.googleapis.com/auth/userinfo.email"
USERINFO_PROFILE = "https://www.googleapis.com/auth/userinfo.profile"
OPENID = "openid"

#: What Secretary asks for: read/label mail, write drafts, events + free/busy, read Drive,
#: and who the user is.
SCOPES: tuple[str, ...] = (
    GMAIL_MODIFY,
    GMAIL_COMPOSE,
    CALENDAR,
    DRIVE_READONLY,
    OPENID,
    USERINFO_EMAIL,
    USERINFO_PROFILE,
)
#: Without these the product cannot work; a grant lacking one is a partial grant.
REQUIRED_SCOPES: tuple[str, ...] = (GMAIL_MODIFY, GMAIL_COMPOSE, CALENDAR, DRIVE_READONLY)

# Google answers "email"/"profile" with their long forms; broader scopes imply narrower ones
# (Gmail's drafts methods accept gmail.modify, and https://mail.google.com/ covers all).
_SCOPE_ALIASES = {"email": USERINFO_EMAIL, "profile": USERINFO_PROFILE}
_IMPLIED_BY: dict[str, tuple[str, ...]] = {
    GMAIL_MODIFY: ("https://mail.google.com/",),
    GMAIL_COMPOSE: (GMAIL_MODIFY, "https://mail.google.com/"),
    DRIVE_READONLY: ("https://www.googleapis.com/auth/drive",),
}

GOOGLE_AUTH_URI = "https://accounts.google.com/o/oauth2/v2/auth"
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"  # noqa: S105 - a URL, not a secret
GOOGLE_REVOKE_URI = "https://oauth2.googleapis.com/revoke"
GOOGLE_USERINFO_URI = "https://openidconnect.googleapis.com/v1/userinfo"

STATE_TTL = timedelta(minutes=10)
#: Refresh this long before Google's expiry so a token never dies mid-request.
REFRESH_MARGIN = timedelta(minutes=5)
HTTP_TIMEOUT_SECONDS = 15.0


@dataclass(frozen=True)
class OAuthEndpoints:
    auth_uri: str
    token_uri: str
    revoke_uri: str
    userinfo_uri: str


def oauth_endpoints(settings: Settings) -> OAuthEndpoints:
    """Google's endpoints, or the same paths under ``google.oauth_base_url`` (the emulator)."""
    base = settings.google.oauth_base_url
    if not base:
        return OAuthEndpoints(
            GOOGLE_AUTH_URI, GOOGLE_TOKEN_URI, GOOGLE_REVOKE_URI, GOOGLE_USERINFO_URI
        )
    base = base.rstrip("/")
    return OAuthEndpoints(
        auth_uri=f"{base}/o/oauth2/v2/auth",
        token_uri=f"{base}/token",
        revoke_uri=f"{base}/revoke",
        userinfo_uri=f"{base}/oauth2/v3/userinfo",
    )


def client_config(settings: Settings, *, redirect_uri: str | None = None) -> dict[str, Any]:
    """The client in Google's ``client_secrets.json`` ("web") format."""
    ep = oauth_endpoints(settings)
    return {
        "web": {
            "client_id": settings.google.client_id,
            "client_secret": settings.google.client_secret.get_secret_value(),
            "auth_uri": ep.auth_uri,
            "token_uri": ep.token_uri,
            "redirect_uris": [redirect_uri or settings.google.redirect_uri],
        }
    }


def _configure_oauthlib(endpoints: OAuthEndpoints) -> None:
    # oauthlib reads these process-wide switches from the environment (there is no per-call
    # option). Relaxed scope: Google returns granted scopes in long form and, with
    # include_granted_scopes, may return more or fewer than requested; we check the grant
    # ourselves (``missing_scopes``) instead of letting oauthlib raise a bare ``Warning``.
    os.environ.setdefault("OAUTHLIB_RELAX_TOKEN_SCOPE", "1")
    # Plain HTTP only when an explicitly configured OAuth server (the local emulator) uses
    # it; Google's endpoints are HTTPS, so production keeps oauthlib's HTTPS check.
    if urlsplit(endpoints.token_uri).scheme == "http":
        os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")


def build_flow(settings: Settings, *, redirect_uri: str, code_verifier: str | None = None) -> Flow:
    """A google-auth-oauthlib ``Flow`` with PKCE for our scopes and ``redirect_uri``."""
    _configure_oauthlib(oauth_endpoints(settings))
    return Flow.from_client_config(
        client_config(settings, redirect_uri=redirect_uri),
        scopes=list(SCOPES),
        redirect_uri=redirect_uri,
        code_verifier=code_verifier,
        autogenerate_code_verifier=code_verifier is None,
    )


def authorization_url(flow: Flow, *, state: str, login_hint: str | None = None) -> str:
    """The consent URL: offline access, forced consent (so a refresh token is always issued)."""
    kwargs: dict[str, Any] = {
        "state": state,
        "access_type": "offline",
        "prompt": "consent",
        "include_granted_scopes": "true",
    }
    if login_hint:
        kwargs["login_hint"] = login_hint
    url, _ = flow.authorization_url(**kwargs)
    return str(url)


# --- CSRF state and the pending authorization --------------------------------------------


@dataclass(frozen=True)
class PendingAuthorization:
    """What the callback needs from the start: sealed in a cookie, never in the URL."""

    nonce: str
    issued_at: int
    code_verifier: str
    redirect_uri: str
    user_id: int | None = None
    account_id: int | None = None
    login_hint: str | None = None


def _state_key(settings: Settings) -> bytes:
    # A dedicated key derived from the newest encryption key: no extra secret to configure,
    # and it never equals the Fernet key itself.
    root = settings.encryption_keys[0].get_secret_value().encode()
    return hmac.new(root, b"secretary/oauth-state/v1", hashlib.sha256).digest()


def _state_mac(settings: Settings, nonce: str, issued_at: int, user_id: int | None) -> str:
    msg = f"{nonce}.{issued_at}.{user_id if user_id is not None else '-'}".encode()
    digest = hmac.new(_state_key(settings), msg, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def new_pending_authorization(
    settings: Settings,
    *,
    redirect_uri: str,
    code_verifier: str,
    user_id: int | None = None,
    account_id: int | None = None,
    login_hint: str | None = None,
) -> tuple[PendingAuthorization, str]:
    """A fresh pending authorization and its signed ``state`` value."""
    pending = PendingAuthorization(
        nonce=secrets.token_urlsafe(24),
        issued_at=int(utcnow().timestamp()),
        code_verifier=code_verifier,
        redirect_uri=redirect_uri,
        user_id=user_id,
        account_id=account_id,
        login_hint=login_hint,
    )
    mac = _state_mac(settings, pending.nonce, pending.issued_at, user_id)
    return pending, f"{pending.nonce}.{pending.issued_at}.{mac}"


def seal_pending(settings: Settings, pending: PendingAuthorization) -> str:
    cipher = TokenCipher([k.get_secret_value() for k in settings.encryption_keys])
    return cipher.encrypt(json.dumps(asdict(pending))).decode()


def unseal_pending(settings: Settings, sealed: str | None) -> PendingAuthorization:
    """Open the cookie; anything missing, tampered with or undecryptable is a state error."""
    if not sealed:
        raise OAuthStateInvalid(
            "This sign-in link was not started in this browser (or its cookie expired). "
            "Start again."
        )
    cipher = TokenCipher([k.get_secret_value() for k in settings.encryption_keys])
    try:
        data = json.loads(cipher.decrypt(sealed.encode()))
        return PendingAuthorization(**data)
    except Exception as exc:  # any tampering or stale key lands here; the user just retries
        raise OAuthStateInvalid("The sign-in session could not be verified. Start again.") from exc


def verify_state(
    settings: Settings,
    state: str | None,
    pending: PendingAuthorization,
    *,
    now: float | None = None,
) -> None:
    """Raise ``OAuthStateInvalid`` unless ``state`` is ours, fresh, and bound to ``pending``."""
    parts = (state or "").split(".")
    if len(parts) != 3:
        raise OAuthStateInvalid("The sign-in response did not match this browser. Start again.")
    nonce, issued_raw, mac = parts
    try:
        issued_at = int(issued_raw)
    except ValueError:
        raise OAuthStateInvalid(
            "The sign-in response did not match this browser. Start again."
        ) from None
    expected = _state_mac(settings, nonce, issued_at, pending.user_id)
    if not (
        hmac.compare_digest(mac, expected)
        and hmac.compare_digest(nonce, pending.nonce)
        and issued_at == pending.issued_at
    ):
        raise OAuthStateInvalid("The sign-in response did not match this browser. Start again.")
    current = utcnow().timestamp() if now is None else now
    if current - issued_at > STATE_TTL.total_seconds() or issued_at - current > 60:
        raise OAuthStateInvalid("The sign-in took too long and expired. Start again.")


# --- token exchange, userinfo, refresh, revoke ------------------------------------------


@dataclass(frozen=True)
class TokenGrant:
    access_token: str
    refresh_token: str | None
    expires_at: datetime | None
    scopes: list[str]

    def __repr__(self) -> str:  # never let a token reach a log through repr()
        return f"TokenGrant(expires_at={self.expires_at!r}, scopes={self.scopes!r})"


@dataclass(frozen=True)
class UserInfo:
    sub: str
    email: str
    name: str | None


def normalize_scopes(scopes: Any) -> list[str]:
    if scopes is None:
        return []
    items = scopes.split() if isinstance(scopes, str) else list(scopes)
    return sorted({_SCOPE_ALIASES.get(s, s) for s in items if s})


def missing_scopes(granted: list[str] | tuple[str, ...]) -> list[str]:
    """Required scopes not covered by ``granted`` (directly or by a broader scope)."""
    have = set(normalize_scopes(granted))
    return [
        s
        for s in REQUIRED_SCOPES
        if s not in have and not any(b in have for b in _IMPLIED_BY.get(s, ()))
    ]


def short_scope(scope: str) -> str:
    """``gmail.compose`` for ``https://www.googleapis.com/auth/gmail.compose`` (for messages)."""
    return scope.rsplit("/", 1)[-1] or scope


def callback_error(error: str, description: str | None = None) -> OAuthError:
    """The error a redirect carried back (``?error=access_denied``) as our exception."""
    if error == "access_denied":
        return OAuthAccessDenied(
            "You declined access, so Secretary did not connect your Google account. "
            "Connect again and choose Allow to continue."
        )
    detail = f" ({description})" if description else ""
    return OAuthError(f"Google could not complete the sign-in: {error}{detail}. Start again.")


def exchange_code(flow: Flow, code: str) -> TokenGrant:
    """Trade the authorization code (with the PKCE verifier) for tokens."""
    try:
        token = flow.fetch_token(code=code)
    except oauth_errors.InvalidGrantError as exc:
        raise OAuthInvalidGrant(
            "This sign-in link was already used or has expired. Start again to get a new one."
        ) from exc
    except oauth_errors.AccessDeniedError as exc:
        raise callback_error("access_denied") from exc
    except oauth_errors.OAuth2Error as exc:
        raise OAuthError(
            f"Google refused the sign-in ({exc.error}). Start again.", reason=exc.error
        ) from exc
    except requests.RequestException as exc:
        raise GoogleUnavailable(
            "Could not reach Google's sign-in service. Try again in a moment."
        ) from exc
    expires_at = None
    if token.get("expires_at"):
        expires_at = datetime.fromtimestamp(float(token["expires_at"]), tz=UTC)
    elif token.get("expires_in"):
        expires_at = utcnow() + timedelta(seconds=float(token["expires_in"]))
    # RFC 6749 §3.3: no "scope" in the answer means exactly the requested scopes.
    granted = token.get("scope")
    scopes = normalize_scopes(granted if granted is not None else flow.oauth2session.scope)
    return TokenGrant(
        access_token=str(token["access_token"]),
        refresh_token=token.get("refresh_token"),
        expires_at=expires_at,
        scopes=scopes,
    )


def fetch_userinfo(settings: Settings, access_token: str) -> UserInfo:
    """OpenID Connect userinfo: the stable ``sub``, the address and the display name."""
    url = oauth_endpoints(settings).userinfo_uri
    try:
        resp = requests.get(
            url,
            headers={"Authorization": f"Bearer {access_token}"},
            timeout=HTTP_TIMEOUT_SECONDS,
        )
    except requests.RequestException as exc:
        raise OAuthUserinfoFailed(
            "Signed in, but Google's profile service could not be reached. Start again."
        ) from exc
    if resp.status_code != 200:
        raise OAuthUserinfoFailed(
            f"Signed in, but Google did not share your profile (HTTP {resp.status_code}). "
            "Start again and allow access to your email address.",
            http_status=resp.status_code,
        )
    try:
        data = resp.json()
        sub, email = str(data["sub"]), str(data["email"])
    except (ValueError, KeyError, TypeError) as exc:
        raise OAuthUserinfoFailed(
            "Signed in, but Google's profile answer lacked your account id or address. "
            "Start again and allow access to your email address."
        ) from exc
    name = data.get("name")
    return UserInfo(sub=sub, email=email, name=str(name) if name else None)


def _naive_utc(dt: datetime | None) -> datetime | None:
    # google-auth compares ``expiry`` with a naive UTC "now"; we store aware datetimes.
    return None if dt is None else dt.astimezone(UTC).replace(tzinfo=None)


def build_credentials(
    settings: Settings,
    *,
    access_token: str | None,
    refresh_token: str | None,
    expires_at: datetime | None,
    scopes: list[str] | None,
) -> Credentials:
    """``google.oauth2.credentials.Credentials`` for the official API clients."""
    return Credentials(  # type: ignore[no-untyped-call]
        token=access_token,
        refresh_token=refresh_token,
        token_uri=oauth_endpoints(settings).token_uri,
        client_id=settings.google.client_id,
        client_secret=settings.google.client_secret.get_secret_value(),
        scopes=scopes or None,
        expiry=_naive_utc(expires_at),
    )


def refresh_access_token(
    settings: Settings, refresh_token: str, *, account_id: int | None = None
) -> TokenGrant:
    """Use the refresh token once. Raises ``AccountNeedsReauth`` on ``invalid_grant``.

    Scopes are not sent: the refresh then returns exactly what the user granted, which is
    what Google documents for the refresh grant.
    """
    creds = build_credentials(
        settings, access_token=None, refresh_token=refresh_token, expires_at=None, scopes=None
    )
    try:
        creds.refresh(GoogleAuthRequest())  # type: ignore[no-untyped-call]
    except RefreshError as exc:
        raise from_refresh_error(exc, account_id=account_id) from exc
    except TransportError as exc:
        raise GoogleUnavailable("Could not reach Google's token service") from exc
    expires_at = creds.expiry.replace(tzinfo=UTC) if creds.expiry else None
    granted = getattr(creds, "granted_scopes", None)
    return TokenGrant(
        access_token=str(creds.token),
        # Google may rotate the refresh token; keep the old one when it does not.
        refresh_token=creds.refresh_token or refresh_token,
        expires_at=expires_at,
        scopes=normalize_scopes(granted) if granted else [],
    )


def revoke_token(settings: Settings, token: str) -> bool:
    """Revoke at Google. True if revoked or already invalid; False if Google was unreachable."""
    url = oauth_endpoints(settings).revoke_uri
    try:
        resp = requests.post(
            url,
            data={"token": token},
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            timeout=HTTP_TIMEOUT_SECONDS,
        )
    except requests.RequestException:
        log.warning("oauth_revoke_unreachable")
        return False
    if resp.status_code == 200:
        return True
    # Google answers 400 invalid_token for a token that is already revoked or expired.
    if resp.status_code == 400:
        return True
    log.warning("oauth_revoke_failed", http_status=resp.status_code)
    return False
