"""Rendering shared by every page: the Jinja environment, the layout's context (navigation,
CSRF token, flash message, the pending-drafts badge) and the redirect-with-flash helper."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader
from sqlalchemy import func, select

from secretary import __version__
from secretary.db.models import Draft, DraftStatus
from secretary.web.deps import AppState

HERE = Path(__file__).parent
FLASH_COOKIE = "secretary_flash"

# (href, key, label): the key marks the current page (``aria-current``).
NAV = [
    ("/", "home", "Home"),
    ("/triage", "triage", "Inbox"),
    ("/drafts", "drafts", "Drafts"),
    ("/followups", "followups", "Follow-ups"),
    ("/search", "search", "Search"),
    ("/ask", "ask", "Ask"),
    ("/schedule", "schedule", "Schedule"),
    ("/rules", "rules", "Rules"),
    ("/accounts", "accounts", "Accounts"),
    ("/settings", "settings", "Settings"),
]

# Autoescape everything: subjects, senders, reasons and draft bodies are untrusted text.
templates = Jinja2Templates(
    env=Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=True)
)


def _fmt_time(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value is not None else ""


def _fmt_size(n: int | None) -> str:
    size = float(n or 0)
    for unit in ("B", "KB", "MB"):
        if size < 1024 or unit == "MB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} MB"


# Defaults for every template, so pages rendered by other modules (identity's sign-in and
# tokens pages) get the layout too; a page's own context overrides them.
templates.env.globals.update(
    nav=NAV, version=__version__, pending_count=0, query="", active="", flash=None, csrf_token=""
)
templates.env.filters["utc"] = _fmt_time
templates.env.filters["size"] = _fmt_size


def pending_count(state: AppState) -> int:
    with state.sessions() as session:
        return int(
            session.scalar(
                select(func.count()).select_from(Draft).where(Draft.status == DraftStatus.PENDING)
            )
            or 0
        )


def render(
    request: Request,
    state: AppState,
    name: str,
    context: dict[str, Any],
    *,
    active: str,
    status_code: int = 200,
) -> HTMLResponse:
    flash = context.get("flash")  # a page rendered in answer to a post brings its own
    if flash is None and (raw := request.cookies.get(FLASH_COOKIE)):
        kind, _, text = unquote(raw).partition(":")
        flash = {"kind": "error" if kind == "error" else "ok", "text": text}
    # The signed-in session's CSRF token: forms post it, app.js sends it as X-CSRF-Token.
    principal = getattr(request.state, "principal", None)
    context = {
        "query": "",
        **context,
        "active": active,
        "nav": NAV,
        "pending_count": context.get("pending_count", pending_count(state)),
        "csrf_token": getattr(principal, "csrf_token", None) or "",
        "flash": flash,
        "version": __version__,
    }
    response = templates.TemplateResponse(request, name, context, status_code=status_code)
    response.headers["Cache-Control"] = "no-store"
    if flash:
        response.delete_cookie(FLASH_COOKIE, path="/")
    return response


def fragment(request: Request, name: str, context: dict[str, Any]) -> HTMLResponse:
    """A partial (one row, one card) for the live updates: no layout, no cookies."""
    return templates.TemplateResponse(request, name, context)


def back(to: str, kind: str, text: str) -> RedirectResponse:
    # 303: the browser follows a POST's redirect with a GET (no resubmission on reload).
    response = RedirectResponse(to, status_code=303)
    response.set_cookie(
        FLASH_COOKIE, quote(f"{kind}:{text}"), httponly=True, samesite="strict", path="/"
    )
    return response


_TITLES = {
    401: "Please sign in",
    403: "Not allowed",
    404: "Page not found",
    405: "Not allowed here",
    409: "This changed meanwhile",
    413: "Too large",
    422: "Something in the request is not valid",
    429: "Slow down a little",
}


def error_page(
    request: Request, *, status_code: int, message: str, request_id: str | None = None
) -> HTMLResponse:
    """The HTML error page in the layout. Touches no database (it may be what failed)."""
    title = _TITLES.get(status_code, "Something went wrong" if status_code >= 500 else "Error")
    if status_code == 404 and message in ("Not Found", "not found"):
        message = "There is no page at this address. It may have moved, or the link is mistyped."
    context = {
        "query": "",
        "active": "",
        "nav": NAV,
        "pending_count": 0,
        "csrf_token": "",
        "flash": None,
        "version": __version__,
        "status_code": status_code,
        "title": title,
        "message": message,
        "request_id": request_id,
    }
    return templates.TemplateResponse(request, "error.html", context, status_code=status_code)
