"""The UI's pages: ``/`` (dashboard), ``/triage``, ``/drafts`` (the approval queue) and
``/accounts``, plus the queue's form posts, which redirect back with a flash message."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, unquote

from fastapi import APIRouter, Cookie, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader
from sqlalchemy.orm import Session

from secretary import __version__
from secretary.accounts import service as accounts
from secretary.db.models import Draft, DraftStatus, Message
from secretary.drafting import service as drafting
from secretary.errors import SecretaryError
from secretary.kit.logging import get_logger
from secretary.llm.schemas import Category
from secretary.sync import service as sync
from secretary.sync.schemas import SyncStatus
from secretary.triage import repository as triage_repo
from secretary.triage import service as triage
from secretary.web.api.drafts import _gmail_factory, _tier
from secretary.web.app import register_routes
from secretary.web.deps import AppState, SessionDep, StateDep
from secretary.web.ui import csrf
from secretary.worker import repository as tasks

log = get_logger(__name__)

HERE = Path(__file__).parent
FLASH_COOKIE = "secretary_flash"
CATEGORIES = [c.value for c in Category]

# Autoescape everything: subjects, senders, reasons and draft bodies are untrusted text.
templates = Jinja2Templates(
    env=Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=True)
)

router = APIRouter(include_in_schema=False)


def _render(
    request: Request, state: AppState, name: str, context: dict[str, Any], *, active: str
) -> HTMLResponse:
    nonce = request.cookies.get(csrf.COOKIE_NAME) or csrf.new_nonce()
    flash = None
    if raw := request.cookies.get(FLASH_COOKIE):
        kind, _, text = unquote(raw).partition(":")
        flash = {"kind": "error" if kind == "error" else "ok", "text": text}
    context = {
        **context,
        "active": active,
        "csrf_token": csrf.token_for(state.settings, nonce),
        "flash": flash,
        "version": __version__,
    }
    response = templates.TemplateResponse(request, name, context)
    response.set_cookie(
        csrf.COOKIE_NAME,
        nonce,
        httponly=True,
        samesite="strict",
        path="/",
        # Behind HTTPS the cookie must never travel in clear text.
        secure=state.settings.base_url.startswith("https://"),
    )
    if flash:
        response.delete_cookie(FLASH_COOKIE, path="/")
    return response


def _back(to: str, kind: str, text: str) -> RedirectResponse:
    # 303: the browser follows a POST's redirect with a GET (no resubmission on reload).
    response = RedirectResponse(to, status_code=303)
    response.set_cookie(
        FLASH_COOKIE, quote(f"{kind}:{text}"), httponly=True, samesite="strict", path="/"
    )
    return response


def _sync_status(session: Session, account_id: int) -> SyncStatus | None:
    try:
        return sync.status(session, account_id)
    except SecretaryError:
        return None


@router.get("/", response_class=HTMLResponse)
def dashboard(request: Request, session: SessionDep, state: StateDep) -> HTMLResponse:
    listed = accounts.list_accounts(session, base_url=state.settings.base_url)
    counts: dict[str, int] = dict.fromkeys(CATEGORIES, 0)
    for user_id in sorted({a.user_id for a in listed}):
        for category, n in triage.count_results(session, user_id).items():
            counts[category] = counts.get(category, 0) + n
    context = {
        "accounts": [(a, _sync_status(session, a.id)) for a in listed],
        "counts": counts,
        "triaged": sum(counts.values()),
        "pending_drafts": len(drafting.list_drafts(session, limit=1000)),
        "dead_tasks": tasks.counts_by_status(session).get("dead", 0),
    }
    return _render(request, state, "dashboard.html", context, active="home")


@router.get("/triage", response_class=HTMLResponse)
def triage_page(
    request: Request, session: SessionDep, state: StateDep, category: str | None = None
) -> HTMLResponse:
    chosen = category if category in CATEGORIES else None
    rows = triage_repo.list_results(session, user_id=None, category=chosen, since=None, limit=200)
    context = {"rows": rows, "categories": CATEGORIES, "chosen": chosen}
    return _render(request, state, "triage.html", context, active="triage")


@router.get("/drafts", response_class=HTMLResponse)
def drafts_page(request: Request, session: SessionDep, state: StateDep) -> HTMLResponse:
    pending = drafting.list_drafts(session, status=DraftStatus.PENDING, limit=200)
    # The original message, for its sender and subject (one primary-key lookup each).
    items = [(d, session.get(Message, d.message_id)) for d in pending]
    return _render(request, state, "drafts.html", {"items": items}, active="drafts")


@router.get("/accounts", response_class=HTMLResponse)
def accounts_page(request: Request, session: SessionDep, state: StateDep) -> HTMLResponse:
    listed = accounts.list_accounts(session, base_url=state.settings.base_url)
    context = {
        "accounts": [(a, _sync_status(session, a.id)) for a in listed],
        "start_path": accounts.START_PATH,
    }
    return _render(request, state, "accounts.html", context, active="accounts")


# --- the approval queue's form posts ------------------------------------------------------

Nonce = Annotated[str | None, Cookie(alias=csrf.COOKIE_NAME)]
Token = Annotated[str, Form()]


def _act(
    state: AppState, draft_id: int, done: str, work: Callable[[Session, Any], Draft]
) -> Response:
    """Run one queue action in its own transaction; a ``SecretaryError`` (e.g. 409, the draft
    was edited by hand in Gmail) rolls it back and comes back as a readable flash."""
    try:
        with state.sessions() as session, session.begin():
            draft = drafting.get_draft(session, draft_id)
            gmail = _gmail_factory(state)(session, draft.account_id)
            work(session, gmail)
    except SecretaryError as exc:
        log.info("ui.draft_action_refused", draft_id=draft_id, code=exc.code)
        return _back("/drafts", "error", exc.message)
    return _back("/drafts", "ok", done)


@router.post("/drafts/{draft_id}/approve")
def approve(
    draft_id: int, state: StateDep, csrf_token: Token = "", nonce: Nonce = None
) -> Response:
    csrf.verify(state.settings, nonce, csrf_token)
    return _act(
        state,
        draft_id,
        "Reply sent.",
        lambda s, g: drafting.approve_draft(s, draft_id, gmail=g),
    )


@router.post("/drafts/{draft_id}/reject")
def reject(draft_id: int, state: StateDep, csrf_token: Token = "", nonce: Nonce = None) -> Response:
    csrf.verify(state.settings, nonce, csrf_token)
    return _act(
        state,
        draft_id,
        "Draft rejected and removed from Gmail.",
        lambda s, g: drafting.reject_draft(s, draft_id, gmail=g),
    )


@router.post("/drafts/{draft_id}/edit")
def edit(
    draft_id: int,
    state: StateDep,
    body: Annotated[str, Form()],
    csrf_token: Token = "",
    nonce: Nonce = None,
) -> Response:
    csrf.verify(state.settings, nonce, csrf_token)
    # Browsers submit textareas with CRLF line ends; store what the user sees.
    text = body.replace("\r\n", "\n")
    return _act(
        state,
        draft_id,
        "Edit saved to the Gmail draft.",
        lambda s, g: drafting.edit_draft(s, draft_id, text, gmail=g),
    )


@router.post("/drafts/{draft_id}/regenerate")
def regenerate(
    draft_id: int, state: StateDep, csrf_token: Token = "", nonce: Nonce = None
) -> Response:
    csrf.verify(state.settings, nonce, csrf_token)

    def work(session: Session, gmail: Any) -> Draft:
        return drafting.regenerate_draft(session, draft_id, tier=_tier(state), gmail=gmail)

    return _act(state, draft_id, "A new suggestion replaced the draft.", work)


@register_routes
def _routes(app: FastAPI) -> None:
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
