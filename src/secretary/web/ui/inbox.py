"""The inbox (``/triage``), the thread reader (``/messages/{id}``) and its sandboxed body
frame, and the inbox's bulk-action form post."""

from __future__ import annotations

import html
import re
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from secretary.db.models import GoogleAccount, Message
from secretary.drafting import service as drafting
from secretary.errors import SecretaryError
from secretary.inbox import service as inbox
from secretary.kit.logging import get_logger
from secretary.llm.schemas import Category
from secretary.mail.html_text import sanitize_html
from secretary.web.api.drafts import _gmail_factory
from secretary.web.auth import PageUser, check_form
from secretary.web.deps import AppState, SessionDep, StateDep
from secretary.web.ui.render import back, fragment, render

log = get_logger(__name__)
router = APIRouter(include_in_schema=False)

CATEGORIES = [c.value for c in Category]
PRIORITIES = ["urgent", "high", "normal", "low"]
GMAIL_THREAD_URL = "https://mail.google.com/mail/u/{email}/#all/{thread}"

# The frame's own policy: nothing runs, nothing loads but inline styles and data: images;
# remote images only after "show images" (they are trackers). Framed by our pages only.
FRAME_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data: cid:{extra}; "
    "font-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'self'"
)
_REMOTE_IMG = re.compile(r"<img\b[^>]*\bsrc\s*=\s*[\"']?\s*https?:", re.IGNORECASE)
FRAME_STYLE = (
    "body{font:15px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1d2330;"
    "margin:12px 16px;overflow-wrap:anywhere}img{max-width:100%;height:auto}"
    "pre{white-space:pre-wrap;font:inherit;margin:0}table{max-width:100%}"
    "a{color:#2449c4}blockquote{border-left:3px solid #d9dde3;margin:0 0 0 .25rem;"
    "padding-left:.75rem;color:#5b6474}"
)


def _opt_int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


@router.get("/triage", response_class=HTMLResponse)
def inbox_page(
    request: Request,
    session: SessionDep,
    state: StateDep,
    user: PageUser,
    category: str | None = None,
    priority: str | None = None,
    account: str | None = None,
    unread: str | None = None,
) -> HTMLResponse:
    flt = inbox.InboxFilter(
        category=category if category in CATEGORIES else None,
        priority=priority if priority in PRIORITIES else None,
        account_id=_opt_int(account),
        unread=unread in ("1", "on", "true"),
        user_id=user.user_id,
    )
    rows = inbox.list_inbox(session, flt, limit=300)
    # Grouped by category in the classifier's order; newest first inside each group.
    groups: dict[str, list[tuple[Any, Message]]] = {c: [] for c in CATEGORIES}
    for result, message in rows:
        groups.setdefault(result.category, []).append((result, message))
    accounts = session.scalars(select(GoogleAccount).order_by(GoogleAccount.email)).all()
    context = {
        "groups": [(c, items) for c, items in groups.items() if items],
        "total": len(rows),
        "flt": flt,
        "categories": CATEGORIES,
        "priorities": PRIORITIES,
        "accounts": accounts,
        "query_string": request.url.query,
    }
    return render(request, state, "inbox.html", context, active="triage")


@router.get("/fragments/inbox/{message_id}", response_class=HTMLResponse)
def inbox_row_fragment(
    message_id: int, request: Request, session: SessionDep, user: PageUser
) -> Response:
    row = inbox.inbox_row(session, message_id)
    if row is None:
        return Response(status_code=204)
    result, message = row
    return fragment(request, "_inbox_row.html", {"result": result, "message": message})


@router.post("/triage/bulk")
def bulk_form(
    request: Request,
    state: StateDep,
    user: PageUser,
    action: Annotated[str, Form()],
    message_id: Annotated[list[int] | None, Form()] = None,
    label: Annotated[str, Form()] = "",
    back_to: Annotated[str, Form()] = "/triage",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    check_form(request, state.settings, user, csrf_token)
    to = back_to if back_to.startswith("/triage") else "/triage"
    if action not in ("archive", "read", "unread", "label"):
        return back(to, "error", "Unknown action.")
    try:
        with state.sessions() as session, session.begin():
            n = inbox.apply_bulk(
                session,
                message_id or [],
                action,  # type: ignore[arg-type]  # checked just above
                label=label,
                gmail_for=_gmail_factory(state),
                user_id=user.user_id,
            )
    except SecretaryError as exc:
        return back(to, "error", exc.message)
    done = {
        "archive": "Archived",
        "read": "Marked as read",
        "unread": "Marked as unread",
        "label": f"Labelled “{label.strip()}”",
    }[action]
    return back(to, "ok", f"{done}: {n} message{'s' if n != 1 else ''} (in Gmail too).")


@router.get("/messages/by-gmail/{gmail_id}")
def by_gmail_id(gmail_id: str, session: SessionDep, user: PageUser) -> RedirectResponse:
    message = inbox.find_by_gmail_id(session, gmail_id, user_id=user.user_id)
    return RedirectResponse(f"/messages/{message.id}#m{message.id}", status_code=303)


@router.get("/messages/{message_id}", response_class=HTMLResponse)
def thread_page(
    message_id: int, request: Request, session: SessionDep, state: StateDep, user: PageUser
) -> HTMLResponse:
    message = inbox.get_message(session, message_id)
    thread = inbox.thread_of(session, message)
    ids = [m.id for m in thread]
    account = session.get(GoogleAccount, message.account_id)
    draft = drafting.active_draft(session, message.id)
    context = {
        "message": message,
        "thread": thread,
        "attachments": inbox.attachments_of(session, ids),
        "verdicts": inbox.triage_of(session, ids),
        "draft": draft,
        "gmail_url": GMAIL_THREAD_URL.format(
            email=account.email if account else "0", thread=message.gmail_thread_id
        ),
    }
    return render(request, state, "thread.html", context, active="triage")


def _fetch_html(state: AppState, session: Any, message: Message) -> str | None:
    """The message's HTML part, fetched from Gmail on demand (the store keeps text only).

    Any failure (offline, quota, a port without a client) falls back to the stored text:
    reading a message must not depend on Gmail being reachable."""
    try:
        from secretary.google.gmail import FetchItem
        from secretary.mail.mime import parse_message

        port = _gmail_factory(state)(session, message.account_id)
        client = getattr(port, "client", None)
        if client is None:
            return None
        item = FetchItem("message", message.gmail_id)
        found = client.fetch([item]).found.get(item)
        if not found or "raw" not in found:
            return None
        import base64

        parsed = parse_message(base64.urlsafe_b64decode(found["raw"]))
        return parsed.html
    except Exception as exc:  # a reader fallback, logged and shown as text
        log.info("ui.html_fetch_failed", message_id=message.id, error=type(exc).__name__)
        return None


@router.get("/messages/{message_id}/frame")
def message_frame(
    message_id: int, session: SessionDep, state: StateDep, user: PageUser, images: int = 0
) -> Response:
    """The body for the reader's ``<iframe sandbox>``: sanitized HTML (or the text in a
    ``<pre>``), under a CSP that runs nothing and loads no remote image unless asked."""
    message = inbox.get_message(session, message_id)
    raw_html = _fetch_html(state, session, message) if message.body_fetched_at else None
    if raw_html:
        content = sanitize_html(raw_html)
        remote = bool(_REMOTE_IMG.search(content))
    else:
        content = f"<pre>{html.escape(message.body_text or message.snippet or '')}</pre>"
        remote = False
    doc = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<base target="_blank"><meta name="referrer" content="no-referrer">'
        f"<style>{FRAME_STYLE}</style></head><body>{content}</body></html>"
    )
    allow_remote = bool(images)
    headers = {
        "Content-Security-Policy": FRAME_CSP.format(extra=" https: http:" if allow_remote else ""),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "private, no-store",
        "X-Remote-Images": "1" if remote else "0",
        # Our own pages frame it (the app's default is DENY / frame-ancestors 'none').
        "X-Frame-Options": "SAMEORIGIN",
    }
    return HTMLResponse(doc, headers=headers)
