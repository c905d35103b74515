"""Signing in and who you are: the browser's sign-in with Google, logout, personal API
tokens and the audit log, as pages and as ``/api/v1`` (ADR 0013).

Browser (HTML): ``GET /login``, ``GET /auth/google/start``, ``GET /auth/google/callback``,
``POST /logout``, ``GET /settings/tokens`` (+ create / revoke posts). The audit page is the
UI's ``/audit``, scoped to the user like every page.
API (JSON, ``CurrentUser``): ``GET /api/v1/me``, ``GET|POST /api/v1/tokens``,
``DELETE /api/v1/tokens/{id}``, ``GET /api/v1/audit``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Cookie, Depends, FastAPI, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from secretary.db import tenancy
from secretary.db.models import User
from secretary.identity import oidc
from secretary.identity import service as identity
from secretary.identity.errors import SignInFailed
from secretary.identity.schemas import (
    ALL_SCOPES,
    AuditOut,
    MeOut,
    Principal,
    TokenCreated,
    TokenIn,
    TokenOut,
)
from secretary.kit.logging import get_logger
from secretary.web import auth
from secretary.web.app import register_routes
from secretary.web.deps import SessionDep, StateDep
from secretary.web.ui.render import templates as ui_templates

log = get_logger(__name__)

# The UI's environment: identity.html extends the UI's layout (web/ui/render.py).
TEMPLATES = ui_templates

browser = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api/v1", tags=["identity"], dependencies=[Depends(auth.current_user)])


def _page(request: Request, context: dict[str, Any], *, status: int = 200) -> HTMLResponse:
    response = TEMPLATES.TemplateResponse(
        request, "identity.html", {"all_scopes": ALL_SCOPES, **context}, status_code=status
    )
    response.headers["Cache-Control"] = "no-store"
    return response


# --- signing in -----------------------------------------------------------------------------


@browser.get("/login", response_class=HTMLResponse)
def login(request: Request, next: str = "/", message: str | None = None) -> HTMLResponse:
    return _page(
        request,
        {
            "page": "login",
            "title": "Sign in",
            "signed_in": False,
            "next_path": oidc.safe_next(next),
            "message": message,
        },
    )


@browser.get("/auth/google/start")
def sign_in_start(state: StateDep, next: str = "/") -> Response:
    """Redirect to Google's sign-in (OpenID Connect; PKCE, state and nonce sealed in a cookie)."""
    settings = state.settings
    url, sealed = oidc.start(settings, next_path=next)
    response = RedirectResponse(url, status_code=302)
    response.set_cookie(
        oidc.COOKIE_NAME,
        sealed,
        max_age=oidc.PENDING_TTL_SECONDS,
        path=oidc.COOKIE_PATH,
        httponly=True,
        samesite="lax",  # it must come back on Google's top-level redirect
        secure=settings.base_url.startswith("https://"),
    )
    return response


@browser.get(oidc.CALLBACK_PATH)
def sign_in_callback(
    request: Request,
    session: SessionDep,
    state: StateDep,
    oauth_state: Annotated[str | None, Query(alias="state")] = None,
    code: str | None = None,
    error: str | None = None,
    sealed: Annotated[str | None, Cookie(alias=oidc.COOKIE_NAME)] = None,
) -> Response:
    """Google redirects here: verify the ID token, find the user by ``sub``, start a session."""
    settings = state.settings
    try:
        pending = oidc.open_pending(settings, sealed)
        who = oidc.complete(settings, pending, state=oauth_state, code=code, error=error)
        tenancy.act_as_system(session)  # finding the user by sub spans users
        user, created = identity.find_or_create_user(
            session, sub=who.sub, email=who.email, name=who.name
        )
    except SignInFailed as exc:
        log.info("identity.sign_in_failed", code=exc.code)
        response: Response = _page(
            request,
            {
                "page": "login",
                "title": "Sign in",
                "signed_in": False,
                "next_path": "/",
                "message": exc.message,
            },
            status=400,
        )
        response.delete_cookie(oidc.COOKIE_NAME, path=oidc.COOKIE_PATH)
        return response
    secret, row = identity.create_session(
        session, user.id, ttl=timedelta(hours=settings.identity.session_ttl_hours)
    )
    identity.record_audit(
        session,
        user_id=user.id,
        action="auth.signed_in",
        details={"session_id": row.id, "new_user": created},
    )
    log.info("identity.signed_in", user_id=user.id, new_user=created)
    response = RedirectResponse(pending.next_path, status_code=303)
    auth.set_session_cookie(response, settings, secret)
    response.delete_cookie(oidc.COOKIE_NAME, path=oidc.COOKIE_PATH)
    return response


@browser.post("/logout")
def logout(
    request: Request,
    session: SessionDep,
    state: StateDep,
    user: auth.PageUser,
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    auth.check_form(request, state.settings, user, csrf_token)
    identity.record_audit(session, user_id=user.user_id, action="auth.signed_out")
    tenancy.act_as_system(session)
    identity.end_session(session, request.cookies.get(auth.SESSION_COOKIE))
    response = RedirectResponse("/login", status_code=303)
    auth.clear_session_cookie(response)
    return response


# --- the pages ------------------------------------------------------------------------------


def _tokens_page(
    request: Request, session: SessionDep, user: Principal, **extra: Any
) -> HTMLResponse:
    return _page(
        request,
        {
            "page": "tokens",
            "title": "API tokens",
            "signed_in": True,
            "csrf_token": user.csrf_token,
            "tokens": identity.list_tokens(session, user.user_id),
            **extra,
        },
    )


@browser.get("/settings/tokens", response_class=HTMLResponse)
def tokens_page(request: Request, session: SessionDep, user: auth.PageUser) -> HTMLResponse:
    return _tokens_page(request, session, user)


@browser.post("/settings/tokens", response_class=HTMLResponse)
def tokens_create(
    request: Request,
    session: SessionDep,
    state: StateDep,
    user: auth.PageUser,
    name: Annotated[str, Form(min_length=1, max_length=100)],
    scopes: Annotated[list[str] | None, Form()] = None,
    csrf_token: Annotated[str, Form()] = "",
) -> HTMLResponse:
    auth.check_form(request, state.settings, user, csrf_token)
    chosen = [s for s in ALL_SCOPES if s in (scopes or ["read"])] or ["read"]
    secret, row = identity.create_token(session, user.user_id, name=name, scopes=chosen)
    # Shown once, in this response only (no redirect: the secret must not sit in a cookie).
    return _tokens_page(request, session, user, created=row, created_secret=secret)


@browser.post("/settings/tokens/{token_id}/revoke")
def tokens_revoke(
    token_id: int,
    request: Request,
    session: SessionDep,
    state: StateDep,
    user: auth.PageUser,
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    auth.check_form(request, state.settings, user, csrf_token)
    identity.revoke_token(session, user.user_id, token_id)
    return RedirectResponse("/settings/tokens", status_code=303)


# --- the API --------------------------------------------------------------------------------


@api.get("/me")
def me(session: SessionDep, user: auth.CurrentUser) -> MeOut:
    """Who the credentials belong to, and what they may do."""
    row = session.get(User, user.user_id)
    assert row is not None  # the session or token's user; RLS shows it its own row
    return MeOut(
        id=row.id,
        email=row.email,
        display_name=row.display_name,
        via=user.via,
        scopes=sorted(user.scopes),
    )


@api.get("/tokens")
def list_tokens(session: SessionDep, user: auth.CurrentUser) -> list[TokenOut]:
    """Your personal API tokens (never their secrets)."""
    return [TokenOut.model_validate(t) for t in identity.list_tokens(session, user.user_id)]


@api.post("/tokens", status_code=201)
def create_token(body: TokenIn, session: SessionDep, user: auth.CurrentUser) -> TokenCreated:
    """A new token; ``token`` is in this answer only. Needs the ``admin`` scope."""
    secret, row = identity.create_token(
        session,
        user.user_id,
        name=body.name,
        scopes=body.scopes,
        expires_in_days=body.expires_in_days,
    )
    return TokenCreated(**TokenOut.model_validate(row).model_dump(), token=secret)


@api.delete("/tokens/{token_id}")
def revoke_token(token_id: int, session: SessionDep, user: auth.CurrentUser) -> TokenOut:
    """Revoke a token at once (idempotent)."""
    return TokenOut.model_validate(identity.revoke_token(session, user.user_id, token_id))


@api.get("/audit")
def list_audit(
    session: SessionDep,
    user: auth.CurrentUser,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before_id: int | None = None,
) -> list[AuditOut]:
    """Your audit log, newest first (``before_id`` pages back)."""
    rows = identity.list_audit(session, user.user_id, limit=limit, before_id=before_id)
    return [AuditOut.model_validate(r) for r in rows]


@register_routes
def _routes(app: FastAPI) -> None:
    app.include_router(browser)
    app.include_router(api)
