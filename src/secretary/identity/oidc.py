"""Sign in with Google: OpenID Connect's authorization-code flow on the same OAuth client.

The start seals (Fernet) the PKCE verifier, the ``state`` and the OIDC ``nonce`` into an
HttpOnly cookie; the callback opens it, checks ``state``, exchanges the code, and verifies
the ID token with google-auth (``google.oauth2.id_token``): RS256 signature against Google's
JWKS (``/oauth2/v3/certs``; the emulator serves the same), ``aud`` = our client id, ``iss``
= Google, ``exp``, then our ``nonce`` and ``email_verified``. The user is Google's ``sub``.
Only ``openid email profile`` are asked here; mail access is the separate "connect an
account" flow, so signing in never grants Secretary a mailbox by itself.
"""

from __future__ import annotations

import hmac
import json
import secrets
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlsplit

from google.auth.transport import requests as ga_requests
from google.oauth2 import id_token as google_id_token

from secretary.config import Settings
from secretary.google import auth
from secretary.identity.errors import SignInFailed
from secretary.kit.clock import utcnow
from secretary.kit.crypto import TokenCipher

SIGN_IN_SCOPES = ("openid", auth.USERINFO_EMAIL, auth.USERINFO_PROFILE)
GOOGLE_CERTS_URL = "https://www.googleapis.com/oauth2/v3/certs"
GOOGLE_ISSUERS = frozenset({"accounts.google.com", "https://accounts.google.com"})
CALLBACK_PATH = "/auth/google/callback"
COOKIE_NAME = "secretary_signin"
COOKIE_PATH = "/auth/google"
PENDING_TTL_SECONDS = 600


@dataclass(frozen=True)
class PendingSignIn:
    state: str
    nonce: str
    code_verifier: str
    redirect_uri: str
    issued_at: int
    next_path: str = "/"


@dataclass(frozen=True)
class GoogleIdentity:
    sub: str
    email: str
    name: str | None


def certs_url(settings: Settings) -> str:
    base = settings.google.oauth_base_url or settings.google.api_base_url
    return f"{base.rstrip('/')}/oauth2/v3/certs" if base else GOOGLE_CERTS_URL


def redirect_uri(settings: Settings) -> str:
    """Beside the connect flow's registered redirect: same origin, ``/auth/google/callback``
    (register both with the OAuth client)."""
    parts = urlsplit(settings.google.redirect_uri)
    return f"{parts.scheme}://{parts.netloc}{CALLBACK_PATH}"


def safe_next(path: str | None) -> str:
    """Only a local path: ``next`` must never send the browser to another site."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/"
    return path


def _cipher(settings: Settings) -> TokenCipher:
    return TokenCipher([k.get_secret_value() for k in settings.encryption_keys])


def _flow(settings: Settings, pending_redirect: str, verifier: str) -> Any:
    flow = auth.build_flow(settings, redirect_uri=pending_redirect, code_verifier=verifier)
    flow.oauth2session.scope = list(SIGN_IN_SCOPES)
    return flow


def start(settings: Settings, *, next_path: str | None = None) -> tuple[str, str]:
    """The Google URL to send the browser to, and the sealed cookie value."""
    pending = PendingSignIn(
        state=secrets.token_urlsafe(24),
        nonce=secrets.token_urlsafe(24),
        code_verifier=secrets.token_urlsafe(72),
        redirect_uri=redirect_uri(settings),
        issued_at=int(utcnow().timestamp()),
        next_path=safe_next(next_path),
    )
    flow = _flow(settings, pending.redirect_uri, pending.code_verifier)
    url, _ = flow.authorization_url(
        state=pending.state, nonce=pending.nonce, prompt="select_account"
    )
    sealed = _cipher(settings).encrypt(json.dumps(asdict(pending))).decode()
    return str(url), sealed


def open_pending(settings: Settings, sealed: str | None) -> PendingSignIn:
    if not sealed:
        raise SignInFailed("This sign-in was not started in this browser. Start again.")
    try:
        pending = PendingSignIn(**json.loads(_cipher(settings).decrypt(sealed.encode())))
    except Exception as exc:  # tampered, or sealed under a retired key
        raise SignInFailed("The sign-in could not be verified. Start again.") from exc
    if utcnow().timestamp() - pending.issued_at > PENDING_TTL_SECONDS:
        raise SignInFailed("The sign-in took too long and expired. Start again.")
    return pending


def verify_id_token(settings: Settings, token: str, *, nonce: str) -> GoogleIdentity:
    """The verified identity in ``token``, or ``SignInFailed``."""
    try:
        claims: dict[str, Any] = dict(
            google_id_token.verify_token(
                token,
                ga_requests.Request(),
                audience=settings.google.client_id,
                certs_url=certs_url(settings),
                clock_skew_in_seconds=30,
            )
        )
    except Exception as exc:  # google-auth raises ValueError and transport errors
        raise SignInFailed("Google's sign-in answer did not verify. Start again.") from exc
    if claims.get("iss") not in GOOGLE_ISSUERS:
        raise SignInFailed("The sign-in answer came from an unexpected issuer.")
    if not hmac.compare_digest(str(claims.get("nonce", "")), nonce):
        raise SignInFailed("The sign-in answer was not for this browser. Start again.")
    if not claims.get("sub") or not claims.get("email"):
        raise SignInFailed("Google did not share your account id and address.")
    if claims.get("email_verified") is not True:
        raise SignInFailed("Your Google address is not verified.")
    name = claims.get("name")
    return GoogleIdentity(
        sub=str(claims["sub"]), email=str(claims["email"]), name=str(name) if name else None
    )


def complete(
    settings: Settings,
    pending: PendingSignIn,
    *,
    state: str | None,
    code: str | None,
    error: str | None = None,
) -> GoogleIdentity:
    """Check ``state``, exchange ``code`` and verify the ID token."""
    if not state or not hmac.compare_digest(state, pending.state):
        raise SignInFailed("The sign-in answer did not match this browser. Start again.")
    if error:
        raise SignInFailed(
            "Google did not sign you in (access was denied)."
            if error == "access_denied"
            else f"Google refused the sign-in ({error[:40]})."
        )
    if not code:
        raise SignInFailed("Google's answer carried no authorization code. Start again.")
    flow = _flow(settings, pending.redirect_uri, pending.code_verifier)
    try:
        token = flow.fetch_token(code=code)
    except Exception as exc:  # oauthlib errors, transport errors
        raise SignInFailed("Google refused the sign-in code. Start again.") from exc
    raw = token.get("id_token")
    if not raw:
        raise SignInFailed("Google's answer carried no ID token.")
    return verify_id_token(settings, str(raw), nonce=pending.nonce)
