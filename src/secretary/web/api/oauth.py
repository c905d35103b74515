"""Connecting Google accounts over the web: the OAuth browser routes and the accounts API.

Browser routes (HTML): ``GET /oauth/google/start`` redirects to Google's consent page and
sets the sealed state cookie; ``GET /oauth/google/callback`` finishes the flow and shows
what happened, with a link to start again on every failure.
API (JSON): ``GET /api/v1/accounts``, ``POST /api/v1/accounts/{id}/reauth``,
``DELETE /api/v1/accounts/{id}``.
"""

from __future__ import annotations

import html
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Cookie, Depends, FastAPI, Query
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from secretary.accounts import service
from secretary.accounts.schemas import AccountOut, ConnectResult, ReauthStart, RemoveResult
from secretary.google.auth import STATE_TTL, unseal_pending
from secretary.google.errors import AccountNeedsReauth, GoogleError, OAuthAccessDenied
from secretary.web.app import register_routes
from secretary.web.auth import CurrentUser, PageUser, current_user
from secretary.web.deps import SessionDep, StateDep

COOKIE_NAME = "secretary_oauth"
COOKIE_PATH = "/oauth/google"

browser = APIRouter(prefix="/oauth/google", tags=["oauth"], include_in_schema=True)
api = APIRouter(prefix="/api/v1/accounts", tags=["accounts"], dependencies=[Depends(current_user)])


def _page(title: str, paragraphs: list[str], *, link: tuple[str, str], status: int) -> HTMLResponse:
    """A minimal page; every text is escaped (Google's error descriptions are not ours)."""
    body = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    href, label = link
    return HTMLResponse(
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)} · Secretary</title>"
        # No inline style: the Content-Security-Policy allows only our stylesheet.
        "<link rel='stylesheet' href='/static/app.css'></head>"
        "<body><main id='main'>"
        f"<h1>{html.escape(title)}</h1>{body}"
        f"<p><a href='{html.escape(href, quote=True)}'>{html.escape(label)}</a></p>"
        "</main></body></html>",
        status_code=status,
    )


def _error_page(exc: GoogleError) -> HTMLResponse:
    recovery = getattr(exc, "recovery_url", None) or service.START_PATH
    label = (
        "Connect again"
        if isinstance(exc, OAuthAccessDenied | AccountNeedsReauth)
        else "Start again"
    )
    return _page(
        "Google account not connected",
        [exc.message],
        link=(recovery, label),
        status=exc.status_code,
    )


def _success_page(result: ConnectResult) -> HTMLResponse:
    if result.missing_scopes:
        return _page(
            "Almost there: some access is missing",
            [
                f"Connected {result.email}, but without: {', '.join(result.missing_scopes)}.",
                "Secretary needs all the requested access to sync and draft, so it will not "
                "use this account until you grant the rest.",
            ],
            link=(service.reauth_path(result.account_id), "Grant the missing access"),
            status=200,
        )
    verb = "Connected" if result.created else "Reconnected"
    return _page(
        f"{verb} your Google account",
        [f"{verb} {result.email}. Secretary starts syncing your mail now."],
        link=("/", "Back to Secretary"),
        status=200,
    )


@browser.get("/start", response_class=RedirectResponse, status_code=302)
def start(
    session: SessionDep,
    state: StateDep,
    user: PageUser,
    account_id: Annotated[int | None, Query(description="Re-authorize this account")] = None,
    login_hint: Annotated[str | None, Query(description="Suggest this Google account")] = None,
) -> Response:
    """Redirect the browser to Google's consent page (state cookie set here). The account
    is connected to the signed-in user (a re-authorization: only one of their own)."""
    settings = state.settings
    started = service.start_authorization(
        session,
        settings=settings,
        account_id=account_id,
        login_hint=login_hint,
        user_id=None if account_id is not None else user.user_id,
    )
    response = RedirectResponse(started.url, status_code=302)
    response.set_cookie(
        COOKIE_NAME,
        started.sealed,
        max_age=int(STATE_TTL.total_seconds()),
        path=COOKIE_PATH,
        httponly=True,
        # Lax: the cookie must ride along on the top-level GET redirect back from Google.
        samesite="lax",
        secure=urlsplit(settings.google.redirect_uri).scheme == "https",
    )
    return response


@browser.get("/callback", response_class=HTMLResponse)
def callback(
    session: SessionDep,
    state: StateDep,
    oauth_state: Annotated[str | None, Query(alias="state")] = None,
    code: Annotated[str | None, Query()] = None,
    error: Annotated[str | None, Query()] = None,
    error_description: Annotated[str | None, Query()] = None,
    sealed: Annotated[str | None, Cookie(alias=COOKIE_NAME)] = None,
) -> Response:
    """Google redirects here with ``code`` and ``state`` (or ``error``)."""
    settings = state.settings
    try:
        pending = unseal_pending(settings, sealed)
        result = service.complete_authorization(
            session,
            settings=settings,
            pending=pending,
            state=oauth_state,
            code=code,
            error=error,
            error_description=error_description,
        )
        response = _success_page(result)
    except GoogleError as exc:
        # Nothing was written on these paths (they fail before storing), so the
        # request's transaction has nothing to roll back.
        response = _error_page(exc)
    # The pending authorization is single use, whatever happened.
    response.delete_cookie(COOKIE_NAME, path=COOKIE_PATH)
    return response


@api.get("", response_model=list[AccountOut])
def list_accounts(session: SessionDep, state: StateDep, user: CurrentUser) -> list[AccountOut]:
    """Your connected accounts with their status (``active`` / ``needs_reauth`` and why)."""
    return service.list_accounts(session, user_id=user.user_id, base_url=state.settings.base_url)


@api.post("/{account_id}/reauth", response_model=ReauthStart)
def reauth(account_id: int, session: SessionDep, state: StateDep) -> ReauthStart:
    """The URL to open in the browser to re-authorize this account."""
    return service.begin_reauth(session, account_id, settings=state.settings)


@api.delete("/{account_id}", response_model=RemoveResult)
def remove(account_id: int, session: SessionDep, state: StateDep) -> RemoveResult:
    """Revoke the grant at Google and delete the account with all its synced data."""
    return service.remove_account(session, account_id, settings=state.settings)


@register_routes
def _install(app: FastAPI) -> None:
    app.include_router(browser)
    app.include_router(api)
