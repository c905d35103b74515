"""Google OAuth 2.0 as the emulator speaks it: consent page, token, revoke, userinfo.

Endpoints and response shapes follow accounts.google.com / oauth2.googleapis.com, so
google-auth-oauthlib and google-auth work unchanged against ``base_url``:

- ``GET /o/oauth2/v2/auth`` (and ``/o/oauth2/auth``): an HTML consent page listing the
  requested scopes with checkboxes, Allow and Deny. Unchecking a scope is Google's
  granular consent: the token response's ``scope`` then holds only what was granted.
- ``POST /token``: ``authorization_code`` (single use, 10 minutes, PKCE S256/plain) and
  ``refresh_token`` grants; errors are Google's (``invalid_grant``, ``invalid_client``,
  ``redirect_uri_mismatch``, ...).
- ``POST /revoke``, ``GET /oauth2/v3/userinfo`` (+ v2, v1), OpenID discovery.
- OpenID Connect: with the ``openid`` scope the token response carries an RS256
  ``id_token`` (``iss``, ``aud``, ``azp``, ``sub``, ``iat``, ``exp``, ``email``,
  ``email_verified``, ``name`` and the request's ``nonce``), verifiable against the JWKS at
  ``/oauth2/v3/certs`` (served by ``push.py``), as Google's is.
- ``GET|POST /emulator/oauth/config`` and ``POST /emulator/oauth/clients`` (control).

State lives under ``state.extras["oauth"]`` (an ``OAuthState``); access tokens live in
``state.access_tokens`` so every API module authenticates through ``authenticate``.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets
import time
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape
from pydantic import BaseModel, Field

from workspace_emulator.errors import GoogleApiError, error_response, install_error_handlers
from workspace_emulator.push import signing_key
from workspace_emulator.state import EmulatorState, EmulatorUser, TokenRecord

DEFAULT_CLIENT_ID = "secretary-dev-client"
DEFAULT_CLIENT_SECRET = "secretary-dev-secret"  # noqa: S105 -- a public, well-known dev credential of the emulator
CODE_TTL_S = 600  # Google's authorization codes are valid for 10 minutes and single use.
ISSUER = "https://accounts.google.com"
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]", "::1"})

# What the consent page says for the scopes Secretary asks for; anything else shows its URL.
SCOPE_DESCRIPTIONS: dict[str, str] = {
    "openid": "Associate you with your personal info on Google",
    "email": "See your primary Google Account email address",
    "profile": "See your personal info, including any personal info you've made publicly available",
    "https://www.googleapis.com/auth/userinfo.email": "See your primary Google Account email address",
    "https://www.googleapis.com/auth/userinfo.profile": "See your personal info",
    "https://mail.google.com/": "Read, compose, send, and permanently delete all your email from Gmail",
    "https://www.googleapis.com/auth/gmail.readonly": "View your email messages and settings",
    "https://www.googleapis.com/auth/gmail.modify": "Read, compose, and send emails from your Gmail account",
    "https://www.googleapis.com/auth/gmail.compose": "Manage drafts and send emails",
    "https://www.googleapis.com/auth/gmail.send": "Send email on your behalf",
    "https://www.googleapis.com/auth/gmail.labels": "See and edit your email labels",
    "https://www.googleapis.com/auth/gmail.metadata": "View your email message metadata such as labels and headers, but not the email body",
    "https://www.googleapis.com/auth/calendar": "See, edit, share, and permanently delete all the calendars you can access using Google Calendar",
    "https://www.googleapis.com/auth/calendar.readonly": "See and download any calendar you can access using your Google Calendar",
    "https://www.googleapis.com/auth/calendar.events": "View and edit events on all your calendars",
    "https://www.googleapis.com/auth/calendar.events.readonly": "View events on all your calendars",
    "https://www.googleapis.com/auth/calendar.freebusy": "View your availability in your calendars",
    "https://www.googleapis.com/auth/drive": "See, edit, create, and delete all of your Google Drive files",
    "https://www.googleapis.com/auth/drive.readonly": "See and download all your Google Drive files",
    "https://www.googleapis.com/auth/drive.metadata.readonly": "See information about your Google Drive files",
    "https://www.googleapis.com/auth/drive.file": "See, edit, create, and delete only the specific Google Drive files you use with this app",
}

# Google normalises the short OpenID scopes to their URL forms in token responses.
_SCOPE_ALIASES = {
    "email": "https://www.googleapis.com/auth/userinfo.email",
    "profile": "https://www.googleapis.com/auth/userinfo.profile",
}


# --------------------------------------------------------------------------- state


@dataclass
class OAuthClient:
    client_id: str
    client_secret: str
    # Exact redirect URIs; loopback clients (installed apps) also accept any
    # http://127.0.0.1:<port>/... or http://localhost:<port>/..., as Google does.
    redirect_uris: list[str] = field(default_factory=list)
    allow_loopback: bool = True

    def accepts_redirect(self, uri: str) -> bool:
        if uri in self.redirect_uris:
            return True
        if not self.allow_loopback:
            return False
        parts = urlsplit(uri)
        return parts.scheme == "http" and (parts.hostname or "") in _LOOPBACK_HOSTS


@dataclass
class AuthCode:
    code: str
    client_id: str
    email: str
    scopes: list[str]
    redirect_uri: str
    offline: bool
    force_consent: bool
    code_challenge: str | None
    code_challenge_method: str | None
    expires_at: float
    used: bool = False
    # OpenID Connect: the request's ``nonce``, echoed in the ID token's ``nonce`` claim.
    nonce: str | None = None


@dataclass
class RefreshRecord:
    token: str
    client_id: str
    email: str
    scopes: list[str]
    revoked: bool = False


@dataclass
class PendingConsent:
    """An authorization request waiting on the consent page (server-side, so the form
    cannot smuggle in scopes that were never requested)."""

    request_id: str
    client_id: str
    redirect_uri: str
    scopes: list[str]
    state: str | None
    offline: bool
    force_consent: bool
    login_hint: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    include_granted_scopes: bool = False
    nonce: str | None = None


class OAuthConfig(BaseModel):
    """Switches for headless tests and the demo (``/emulator/oauth/config``)."""

    auto_approve: bool = Field(
        default=False, description="Skip the consent page and approve immediately."
    )
    grant_scopes: list[str] | None = Field(
        default=None,
        description="With auto_approve: grant only these of the requested scopes (None = all).",
    )
    deny: bool = Field(default=False, description="Answer every request with access_denied.")
    login_hint: str | None = Field(
        default=None, description="The user who 'signs in' when the request names none."
    )
    access_token_ttl: int = Field(default=3600, ge=1, description="Access token lifetime (s).")


@dataclass
class OAuthState:
    config: OAuthConfig = field(default_factory=OAuthConfig)
    clients: dict[str, OAuthClient] = field(default_factory=dict)
    codes: dict[str, AuthCode] = field(default_factory=dict)
    refresh_tokens: dict[str, RefreshRecord] = field(default_factory=dict)
    pending: dict[str, PendingConsent] = field(default_factory=dict)
    # access token -> the refresh token it was minted from (revoking either revokes both).
    access_origin: dict[str, str] = field(default_factory=dict)
    # (client_id, email) -> every scope the user has granted that client and not revoked;
    # include_granted_scopes=true folds these into a new grant (incremental authorization).
    grants: dict[tuple[str, str], list[str]] = field(default_factory=dict)


def oauth_state(state: EmulatorState) -> OAuthState:
    with state.lock:
        current = state.extras.get("oauth")
        if current is None:
            current = OAuthState()
            current.clients[DEFAULT_CLIENT_ID] = OAuthClient(
                DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
            )
            state.extras["oauth"] = current
        assert isinstance(current, OAuthState)
        return current


# --------------------------------------------------------------------------- public API


def configure(state: EmulatorState, **changes: Any) -> OAuthConfig:
    """Update the consent switches (validated); returns the new config."""
    st = oauth_state(state)
    with state.lock:
        st.config = OAuthConfig.model_validate({**st.config.model_dump(), **changes})
        return st.config


def register_client(
    state: EmulatorState,
    client_id: str,
    client_secret: str,
    redirect_uris: list[str] | None = None,
    *,
    allow_loopback: bool = True,
) -> OAuthClient:
    client = OAuthClient(client_id, client_secret, list(redirect_uris or []), allow_loopback)
    with state.lock:
        oauth_state(state).clients[client_id] = client
    return client


def issue_tokens(
    state: EmulatorState,
    email: str,
    scopes: list[str],
    *,
    client_id: str = DEFAULT_CLIENT_ID,
    offline: bool = True,
) -> dict[str, Any]:
    """Mint tokens directly, as a completed consent would (tests and the demo seeding use
    it to skip the browser). Returns Google's token response."""
    st = oauth_state(state)
    with state.lock:
        if email not in state.users:
            state.add_user(email)
        refresh = _new_refresh_token(st, client_id, email, scopes) if offline else None
        return _token_response(state, st, client_id, email, scopes, refresh)


def revoke_user_tokens(state: EmulatorState, email: str) -> int:
    """Revoke every refresh and access token of ``email`` (fault injection). Returns how
    many tokens were revoked."""
    st = oauth_state(state)
    count = 0
    with state.lock:
        for rec in st.refresh_tokens.values():
            if rec.email == email and not rec.revoked:
                rec.revoked = True
                count += 1
        for token in [t for t, r in state.access_tokens.items() if r.email == email]:
            del state.access_tokens[token]
            st.access_origin.pop(token, None)
            count += 1
        for key in [k for k in st.grants if k[1] == email]:
            del st.grants[key]
    return count


def expire_access_tokens(state: EmulatorState, email: str) -> int:
    """Make every access token of ``email`` expired now (the client must refresh)."""
    now = time.time()
    count = 0
    with state.lock:
        for rec in state.access_tokens.values():
            if rec.email == email and rec.expires_at > now:
                rec.expires_at = now - 1
                count += 1
    return count


def authenticate(request: Request, scopes_any: frozenset[str] | None = None) -> EmulatorUser:
    """The user behind the request's Bearer token, else ``GoogleApiError`` 401; 403
    ``insufficientPermissions`` when the token holds none of ``scopes_any``."""
    state: EmulatorState = request.app.state.emulator
    header = request.headers.get("authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else ""
    token = token or request.query_params.get("access_token", "")
    with state.lock:
        record = state.access_tokens.get(token)
        user = state.user_for_token(token) if token else None
        if user is None or record is None:
            raise GoogleApiError(
                401,
                "Request had invalid authentication credentials. Expected OAuth 2 access "
                "token, login cookie or other valid authentication credential.",
                reason="authError",
            )
        if scopes_any and not scopes_any.intersection(record.scopes):
            raise GoogleApiError(
                403,
                "Request had insufficient authentication scopes.",
                reason="insufficientPermissions",
            )
        return user


def install(app: FastAPI, state: EmulatorState) -> None:
    oauth_state(state)

    # Idempotent: every emulator module may install the shared Google error rendering.
    install_error_handlers(app)


# --------------------------------------------------------------------------- internals


def _normalise_scopes(raw: str) -> list[str]:
    seen: dict[str, None] = {}
    for s in raw.replace(",", " ").split():
        seen[_SCOPE_ALIASES.get(s, s)] = None
    return list(seen)


def _new_refresh_token(st: OAuthState, client_id: str, email: str, scopes: list[str]) -> str:
    token = "1//" + secrets.token_urlsafe(48)
    st.refresh_tokens[token] = RefreshRecord(token, client_id, email, list(scopes))
    return token


def _token_response(
    state: EmulatorState,
    st: OAuthState,
    client_id: str,
    email: str,
    scopes: list[str],
    refresh_token: str | None,
    *,
    origin: str | None = None,
    nonce: str | None = None,
) -> dict[str, Any]:
    ttl = st.config.access_token_ttl
    access = "ya29." + secrets.token_urlsafe(64)
    state.access_tokens[access] = TokenRecord(
        token=access,
        email=email,
        client_id=client_id,
        scopes=list(scopes),
        expires_at=time.time() + ttl,
    )
    if refresh_token or origin:
        st.access_origin[access] = refresh_token or origin or ""
    body: dict[str, Any] = {
        "access_token": access,
        "expires_in": ttl,
        "scope": " ".join(scopes),
        "token_type": "Bearer",
    }
    if refresh_token:
        body["refresh_token"] = refresh_token
    user = state.users.get(email)
    if "openid" in scopes and user is not None:
        # Signed with the key whose JWKS push.py serves at /oauth2/v3/certs.
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "azp": client_id,
            "aud": client_id,
            "sub": user.sub,
            "iat": now,
            "exp": now + ttl,
        }
        if _SCOPE_ALIASES["email"] in scopes:
            claims.update({"email": email, "email_verified": True})
        if _SCOPE_ALIASES["profile"] in scopes:
            claims["name"] = user.name
        if nonce is not None:
            # OIDC Core 3.1.3.6: the nonce of the authentication request, unchanged.
            claims["nonce"] = nonce
        body["id_token"] = signing_key(state).sign(claims)
    return body


def _token_error(error: str, description: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


def _error_page(title: str, detail: str, status: int) -> HTMLResponse:
    html = _templates().get_template("oauth_error.html").render(title=title, detail=detail)
    return HTMLResponse(html, status_code=status)


def _redirect(uri: str, params: dict[str, str | None]) -> RedirectResponse:
    parts = urlsplit(uri)
    query = parse_qsl(parts.query, keep_blank_values=True)
    query.extend((k, v) for k, v in params.items() if v is not None)
    return RedirectResponse(urlunsplit(parts._replace(query=urlencode(query))), status_code=302)


@functools.cache
def _templates() -> Environment:
    return Environment(
        loader=PackageLoader("workspace_emulator", "templates"),
        autoescape=select_autoescape(["html"]),
    )


def _resolve_user(state: EmulatorState, hint: str | None) -> EmulatorUser | None:
    """Who 'signs in': the request's login_hint, the configured one, else the first user.
    An unknown hint creates the account: the emulator has no sign-up page."""
    with state.lock:
        if hint:
            return state.users.get(hint) or state.add_user(hint)
        configured = oauth_state(state).config.login_hint
        if configured:
            return state.users.get(configured) or state.add_user(configured)
        return next(iter(state.users.values()), None)


def _approve(
    state: EmulatorState, pending: PendingConsent, email: str, granted: list[str]
) -> RedirectResponse:
    st = oauth_state(state)
    with state.lock:
        key = (pending.client_id, email)
        remembered = st.grants.get(key, [])
        st.grants[key] = list(dict.fromkeys([*remembered, *granted]))
        if pending.include_granted_scopes:
            granted = list(dict.fromkeys([*granted, *remembered]))
        code = "4/" + secrets.token_urlsafe(40)
        st.codes[code] = AuthCode(
            code=code,
            client_id=pending.client_id,
            email=email,
            scopes=granted,
            redirect_uri=pending.redirect_uri,
            offline=pending.offline,
            force_consent=pending.force_consent,
            code_challenge=pending.code_challenge,
            code_challenge_method=pending.code_challenge_method,
            expires_at=time.time() + CODE_TTL_S,
            nonce=pending.nonce,
        )
    # Google appends authuser/prompt too; clients only rely on code, state and scope.
    return _redirect(
        pending.redirect_uri,
        {
            "state": pending.state,
            "code": code,
            "scope": " ".join(granted),
            "authuser": "0",
            "prompt": "consent",
        },
    )


def _deny(pending: PendingConsent) -> RedirectResponse:
    return _redirect(pending.redirect_uri, {"error": "access_denied", "state": pending.state})


def _verify_pkce(code: AuthCode, verifier: str | None) -> str | None:
    """None when PKCE passes (or was not used), else the error description."""
    if code.code_challenge is None:
        return None
    if not verifier:
        return "Missing code verifier."
    if code.code_challenge_method == "S256":
        digest = hashlib.sha256(verifier.encode()).digest()
        computed = base64.urlsafe_b64encode(digest).decode().rstrip("=")
    else:
        computed = verifier
    if not hmac.compare_digest(computed, code.code_challenge):
        return "Invalid code verifier."
    return None


def _bearer_user(request: Request) -> EmulatorUser | None:
    try:
        return authenticate(request)
    except GoogleApiError:
        return None


# --------------------------------------------------------------------------- routes

router = APIRouter(tags=["oauth"])


@router.get("/o/oauth2/v2/auth", response_model=None)
@router.get("/o/oauth2/auth", response_model=None)
def authorize(request: Request) -> Response:
    state: EmulatorState = request.app.state.emulator
    st = oauth_state(state)
    q = request.query_params
    client_id = q.get("client_id", "")
    redirect_uri = q.get("redirect_uri", "")
    with state.lock:
        client = st.clients.get(client_id)
    # Like Google, client and redirect errors are shown to the user, never redirected:
    # redirecting to an unverified URI would make the server an open redirector.
    if client is None:
        return _error_page("Error 401: invalid_client", "The OAuth client was not found.", 401)
    if not redirect_uri or not client.accepts_redirect(redirect_uri):
        return _error_page(
            "Error 400: redirect_uri_mismatch",
            "You can't sign in to this app because it doesn't comply with Google's OAuth 2.0 "
            "policy. The redirect_uri is not registered for this client.",
            400,
        )
    pending = PendingConsent(
        request_id=secrets.token_urlsafe(16),
        client_id=client_id,
        redirect_uri=redirect_uri,
        scopes=_normalise_scopes(q.get("scope", "")),
        state=q.get("state"),
        offline=q.get("access_type") == "offline",
        force_consent="consent" in q.get("prompt", "").split(),
        include_granted_scopes=q.get("include_granted_scopes", "").lower() == "true",
        login_hint=q.get("login_hint"),
        nonce=q.get("nonce"),
        code_challenge=q.get("code_challenge"),
        code_challenge_method=q.get("code_challenge_method", "plain")
        if q.get("code_challenge")
        else None,
    )
    if q.get("response_type", "code") != "code":
        return _redirect(
            redirect_uri, {"error": "unsupported_response_type", "state": pending.state}
        )
    if not pending.scopes:
        return _redirect(redirect_uri, {"error": "invalid_scope", "state": pending.state})
    if pending.code_challenge_method not in (None, "S256", "plain"):
        return _redirect(redirect_uri, {"error": "invalid_request", "state": pending.state})
    cfg = st.config
    if cfg.deny:
        return _deny(pending)
    user = _resolve_user(state, pending.login_hint)
    if cfg.auto_approve:
        if user is None:
            return _error_page("No account", "The emulator has no user to sign in as.", 400)
        granted = pending.scopes
        if cfg.grant_scopes is not None:
            allowed = set(_normalise_scopes(" ".join(cfg.grant_scopes)))
            granted = [s for s in pending.scopes if s in allowed]
            if not granted:
                return _deny(pending)
        return _approve(state, pending, user.email, granted)
    with state.lock:
        st.pending[pending.request_id] = pending
        users = sorted(state.users)
    html = (
        _templates()
        .get_template("consent.html")
        .render(
            request_id=pending.request_id,
            client_id=client_id,
            scopes=[(s, SCOPE_DESCRIPTIONS.get(s, s)) for s in pending.scopes],
            users=users,
            selected=user.email if user else "",
        )
    )
    return HTMLResponse(html)


@router.post("/o/oauth2/v2/auth/consent", response_model=None)
async def consent(request: Request) -> Response:
    state: EmulatorState = request.app.state.emulator
    st = oauth_state(state)
    form = await request.form()
    request_id = str(form.get("request_id", ""))
    with state.lock:
        pending = st.pending.pop(request_id, None)
    if pending is None:
        return _error_page("Error 400: invalid_request", "This consent request has expired.", 400)
    if form.get("decision") != "allow":
        return _deny(pending)
    ticked = {str(v) for v in form.getlist("scope")}
    granted = [s for s in pending.scopes if s in ticked]
    if not granted:
        return _deny(pending)
    email = str(form.get("email", "")).strip()
    user = _resolve_user(state, email or pending.login_hint)
    if user is None:
        return _error_page("No account", "Enter the account to sign in with.", 400)
    return _approve(state, pending, user.email, granted)


@router.post("/token", response_model=None)
@router.post("/o/oauth2/token", response_model=None)
@router.post("/oauth2/v4/token", response_model=None)
async def token(request: Request) -> Response:
    state: EmulatorState = request.app.state.emulator
    st = oauth_state(state)
    form = {k: str(v) for k, v in (await request.form()).items()}
    client_id, client_secret = form.get("client_id", ""), form.get("client_secret", "")
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(auth[6:]).decode()
        except ValueError:
            return _token_error("invalid_client", "Unauthorized", 401)
        client_id, _, client_secret = decoded.partition(":")
    with state.lock:
        client = st.clients.get(client_id)
        if client is None or not hmac.compare_digest(client.client_secret, client_secret):
            return _token_error("invalid_client", "Unauthorized", 401)
        grant_type = form.get("grant_type", "")
        if grant_type == "authorization_code":
            return _exchange_code(state, st, client, form)
        if grant_type == "refresh_token":
            rec = st.refresh_tokens.get(form.get("refresh_token", ""))
            if rec is None or rec.revoked or rec.client_id != client.client_id:
                return _token_error("invalid_grant", "Token has been expired or revoked.")
            if rec.email not in state.users:
                return _token_error("invalid_grant", "Account has been deleted")
            return JSONResponse(
                _token_response(
                    state, st, rec.client_id, rec.email, rec.scopes, None, origin=rec.token
                ),
                headers={"Cache-Control": "no-store"},
            )
        if not grant_type:
            return _token_error("invalid_request", "Missing required parameter: grant_type")
        return _token_error("unsupported_grant_type", f"Invalid grant_type: {grant_type}")


def _exchange_code(
    state: EmulatorState, st: OAuthState, client: OAuthClient, form: dict[str, str]
) -> Response:
    raw = form.get("code", "")
    if not raw:
        return _token_error("invalid_request", "Missing required parameter: code")
    code = st.codes.get(raw)
    if code is None or code.client_id != client.client_id:
        return _token_error("invalid_grant", "Malformed auth code.")
    if code.used or code.expires_at <= time.time():
        return _token_error("invalid_grant", "Bad Request")
    if form.get("redirect_uri", "") != code.redirect_uri:
        return _token_error("redirect_uri_mismatch", "Bad Request")
    problem = _verify_pkce(code, form.get("code_verifier"))
    if problem:
        return _token_error("invalid_grant", problem)
    code.used = True
    # Google issues a refresh token on the first offline consent for this client, and again
    # whenever prompt=consent forces the screen; otherwise the old one stays valid.
    has_one = any(
        r.email == code.email and r.client_id == code.client_id and not r.revoked
        for r in st.refresh_tokens.values()
    )
    refresh = None
    if code.offline and (code.force_consent or not has_one):
        refresh = _new_refresh_token(st, code.client_id, code.email, code.scopes)
    body = _token_response(
        state, st, code.client_id, code.email, code.scopes, refresh, nonce=code.nonce
    )
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


@router.post("/revoke", response_model=None)
@router.post("/o/oauth2/revoke", response_model=None)
async def revoke(request: Request) -> Response:
    state: EmulatorState = request.app.state.emulator
    st = oauth_state(state)
    form = await request.form()
    tok = str(form.get("token") or request.query_params.get("token") or "")
    with state.lock:
        refresh = st.refresh_tokens.get(tok)
        if refresh is None and tok in state.access_tokens:
            origin = st.access_origin.get(tok)
            refresh = st.refresh_tokens.get(origin) if origin else None
            if refresh is None:
                del state.access_tokens[tok]
                st.access_origin.pop(tok, None)
                return Response(status_code=200)
        if refresh is None or refresh.revoked:
            return _token_error("invalid_token", "Token expired or revoked")
        # Revoking either half of a grant revokes the refresh token, its access tokens and
        # the remembered grant.
        refresh.revoked = True
        st.grants.pop((refresh.client_id, refresh.email), None)
        for access in [a for a, o in st.access_origin.items() if o == refresh.token]:
            state.access_tokens.pop(access, None)
            del st.access_origin[access]
    return Response(status_code=200)


def _userinfo(request: Request, v2: bool) -> Response:
    user = _bearer_user(request)
    if user is None:
        return error_response(
            GoogleApiError(
                401, "Request is missing required authentication credential.", reason="authError"
            )
        )
    given, _, family = user.name.partition(" ")
    body: dict[str, Any] = {
        "email": user.email,
        "name": user.name,
        "given_name": given,
        "family_name": family,
        "picture": "",
    }
    if v2:
        body.update({"id": user.sub, "verified_email": True})
    else:
        body.update({"sub": user.sub, "email_verified": True})
    return JSONResponse(body)


@router.get("/oauth2/v3/userinfo", response_model=None)
@router.get("/v1/userinfo", response_model=None)
def userinfo_v3(request: Request) -> Response:
    return _userinfo(request, v2=False)


@router.get("/oauth2/v2/userinfo", response_model=None)
def userinfo_v2(request: Request) -> Response:
    return _userinfo(request, v2=True)


@router.get("/.well-known/openid-configuration")
def openid_configuration(request: Request) -> dict[str, Any]:
    base = str(request.base_url).rstrip("/")
    return {
        "issuer": ISSUER,
        "authorization_endpoint": f"{base}/o/oauth2/v2/auth",
        "device_authorization_endpoint": f"{base}/device/code",
        "token_endpoint": f"{base}/token",
        "userinfo_endpoint": f"{base}/v1/userinfo",
        "revocation_endpoint": f"{base}/revoke",
        "jwks_uri": f"{base}/oauth2/v3/certs",
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid", "email", "profile"],
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        "claims_supported": [
            "aud",
            "email",
            "email_verified",
            "exp",
            "family_name",
            "given_name",
            "iat",
            "iss",
            "name",
            "nonce",
            "picture",
            "sub",
        ],
        "code_challenge_methods_supported": ["plain", "S256"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
    }


class ClientIn(BaseModel):
    client_id: str
    client_secret: str
    redirect_uris: list[str] = Field(default_factory=list)
    allow_loopback: bool = True


@router.get("/emulator/oauth/config")
def get_config(request: Request) -> dict[str, Any]:
    return oauth_state(request.app.state.emulator).config.model_dump()


@router.post("/emulator/oauth/config")
def set_config(request: Request, changes: dict[str, Any]) -> dict[str, Any]:
    return configure(request.app.state.emulator, **changes).model_dump()


@router.post("/emulator/oauth/clients")
def add_client(request: Request, body: ClientIn) -> dict[str, Any]:
    client = register_client(
        request.app.state.emulator,
        body.client_id,
        body.client_secret,
        body.redirect_uris,
        allow_loopback=body.allow_loopback,
    )
    out = asdict(client)
    out.pop("client_secret")
    return out
