"""The approval queue: ``/drafts`` (every pending suggestion beside the message it answers),
``/drafts/{id}`` (one draft, any status) and the queue's form posts (approve, edit, reject
with a reason, regenerate with an instruction), each one transaction, redirecting back with
a flash message."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from secretary.db.models import Draft, DraftStatus, GoogleAccount, Message
from secretary.drafting import service as drafting
from secretary.errors import SecretaryError
from secretary.inbox import service as inbox
from secretary.kit.logging import get_logger
from secretary.web.api.drafts import _gmail_factory, _tier
from secretary.web.auth import PageUser, check_form
from secretary.web.deps import AppState, SessionDep, StateDep
from secretary.web.ui.render import back, fragment, render

log = get_logger(__name__)
router = APIRouter(include_in_schema=False)

Token = Annotated[str, Form()]


def _card(session: Session, draft: Draft) -> dict[str, Any]:
    """Everything one queue card shows: the draft, the message it answers, that message's
    triage verdict, the account it is sent from."""
    message = session.get(Message, draft.message_id)
    verdict = inbox.triage_of(session, [draft.message_id]).get(draft.message_id)
    account = session.get(GoogleAccount, draft.account_id)
    return {
        "draft": draft,
        "message": message,
        "verdict": verdict,
        "account": account,
        # Approval integrity (issue 7): the digest of exactly this version rides in the
        # approve form; a change made in Gmail since the user last saw it is highlighted.
        "digest": drafting.draft_digest(draft),
        # Every warning: the exfiltration check's and the recipients' (many, unexpected).
        "flags": drafting.describe(session, draft).flags,
        "changes": drafting.pending_changes(draft) if draft.status == DraftStatus.PENDING else None,
    }


@router.get("/drafts", response_class=HTMLResponse)
def drafts_page(
    request: Request, session: SessionDep, state: StateDep, user: PageUser
) -> HTMLResponse:
    pending = drafting.list_drafts(session, status=DraftStatus.PENDING, limit=200)
    cards = [_card(session, d) for d in pending]
    context = {"cards": cards, "pending_count": len(cards)}
    return render(request, state, "drafts.html", context, active="drafts")


@router.get("/drafts/{draft_id}", response_class=HTMLResponse)
def draft_page(
    draft_id: int, request: Request, session: SessionDep, state: StateDep, user: PageUser
) -> HTMLResponse:
    draft = drafting.get_draft(session, draft_id)
    # One draft: worth a Gmail read, so an edit made in Gmail shows here (highlighted).
    try:
        gmail = _gmail_factory(state)(session, draft.account_id)
    except SecretaryError as exc:  # e.g. the account needs reauth: show what we have
        log.info("ui.draft_refresh_skipped", draft_id=draft_id, code=exc.code)
    else:
        drafting.refresh_quietly(session, draft, gmail=gmail)
    context = {"card": _card(session, draft)}
    return render(request, state, "draft.html", context, active="drafts")


@router.get("/fragments/drafts/for-message/{message_id}", response_class=HTMLResponse)
def draft_fragment(
    message_id: int, request: Request, session: SessionDep, user: PageUser
) -> Response:
    draft = drafting.active_draft(session, message_id)
    if draft is None or draft.status != DraftStatus.PENDING:
        return Response(status_code=204)
    context = {**_card(session, draft), "csrf_token": user.csrf_token}
    return fragment(request, "_draft_card.html", context)


def _back_to(draft_id: int, origin: str) -> str:
    return f"/drafts/{draft_id}" if origin == "page" else "/drafts"


def _act(
    state: AppState,
    draft_id: int,
    done: str,
    work: Callable[[Session, Any], Draft],
    *,
    origin: str = "queue",
    on_changed: Callable[[SecretaryError], Response] | None = None,
) -> Response:
    """Run one queue action in its own transaction; a ``SecretaryError`` (e.g. 409, the draft
    changed in Gmail) rolls it back and comes back as a readable flash."""
    refused: SecretaryError | None = None
    new_id = draft_id
    try:
        with state.sessions() as session, session.begin():
            draft = drafting.get_draft(session, draft_id)
            gmail = _gmail_factory(state)(session, draft.account_id)
            try:
                new_id = work(session, gmail).id
            except drafting.DraftChanged as exc:
                # Nothing was sent; the row now holds Gmail's version and remembers the one
                # the user saw. Commit that refresh so the page shows what changed.
                refused = exc
    except SecretaryError as exc:
        log.info("ui.draft_action_refused", draft_id=draft_id, code=exc.code)
        return back(_back_to(draft_id, origin), "error", exc.message)
    if refused is not None:
        log.info("ui.draft_action_refused", draft_id=draft_id, code=refused.code)
        if on_changed is not None:
            return on_changed(refused)
        return back(
            _back_to(draft_id, origin),
            "error",
            refused.message,
        )
    return back(_back_to(new_id, origin), "ok", done)


def _shown(body: str | None) -> str | None:
    # Browsers submit textareas with CRLF line ends; store what the user sees.
    return body.replace("\r\n", "\n") if body is not None else None


def _keep_typed(
    state: AppState,
    request: Request,
    draft_id: int,
    origin: str,
    shown: str | None,
    *,
    verb: str = "sent",
) -> Callable[[SecretaryError], Response] | None:
    """When the draft changed in Gmail under an approve or an edit: never drop typed text.
    Show the draft again (Gmail's version, its change highlighted) with the text box still
    holding what the user typed, and answer 409."""
    if not shown or not shown.strip():
        return None

    def keep(refused: SecretaryError) -> Response:
        with state.sessions() as session:
            draft = drafting.get_draft(session, draft_id)
            card = {**_card(session, draft), "typed": shown}
            context: dict[str, Any] = {
                "flash": {
                    "kind": "error",
                    "text": f"Not {verb}: {refused.message} Your text is kept below.",
                },
            }
            if origin == "page":
                return render(
                    request,
                    state,
                    "draft.html",
                    {**context, "card": card},
                    active="drafts",
                    status_code=409,
                )
            cards = [
                card if d.id == draft_id else _card(session, d)
                for d in drafting.list_drafts(session, status=DraftStatus.PENDING, limit=200)
            ]
            return render(
                request,
                state,
                "drafts.html",
                {**context, "cards": cards, "pending_count": len(cards)},
                active="drafts",
                status_code=409,
            )

    return keep


@router.post("/drafts/{draft_id}/approve")
def approve(
    draft_id: int,
    state: StateDep,
    request: Request,
    user: PageUser,
    digest: Annotated[str, Form()] = "",
    body: Annotated[str | None, Form()] = None,
    origin: Annotated[str, Form()] = "queue",
    csrf_token: Token = "",
) -> Response:
    """Send exactly what the page shows: ``digest`` names the version on screen (refused
    with the difference when Gmail holds another), and the text box's content, edited or
    not, is what goes out."""
    check_form(request, state.settings, user, csrf_token)
    shown = _shown(body)

    def work(session: Session, gmail: Any) -> Draft:
        return drafting.approve_draft(
            session,
            draft_id,
            gmail=gmail,
            digest=digest,
            body=shown if shown and shown.strip() else None,
        )

    return _act(
        state,
        draft_id,
        "Reply sent.",
        work,
        origin=origin,
        on_changed=_keep_typed(state, request, draft_id, origin, shown),
    )


@router.post("/drafts/{draft_id}/reject")
def reject(
    draft_id: int,
    state: StateDep,
    request: Request,
    user: PageUser,
    reason: Annotated[str, Form(max_length=1000)] = "",
    origin: Annotated[str, Form()] = "queue",
    csrf_token: Token = "",
) -> Response:
    check_form(request, state.settings, user, csrf_token)
    return _act(
        state,
        draft_id,
        "Draft rejected and removed from Gmail.",
        lambda s, g: drafting.reject_draft(s, draft_id, gmail=g, reason=reason),
        origin=origin,
    )


@router.post("/drafts/{draft_id}/edit")
def edit(
    draft_id: int,
    state: StateDep,
    request: Request,
    user: PageUser,
    body: Annotated[str, Form()],
    origin: Annotated[str, Form()] = "queue",
    csrf_token: Token = "",
) -> Response:
    check_form(request, state.settings, user, csrf_token)
    text = _shown(body) or ""
    return _act(
        state,
        draft_id,
        "Edit saved to the Gmail draft.",
        lambda s, g: drafting.edit_draft(s, draft_id, text, gmail=g),
        origin=origin,
        on_changed=_keep_typed(state, request, draft_id, origin, text, verb="saved"),
    )


@router.post("/drafts/{draft_id}/regenerate")
def regenerate(
    draft_id: int,
    state: StateDep,
    request: Request,
    user: PageUser,
    instruction: Annotated[str, Form(max_length=500)] = "",
    origin: Annotated[str, Form()] = "queue",
    csrf_token: Token = "",
) -> Response:
    check_form(request, state.settings, user, csrf_token)

    def work(session: Session, gmail: Any) -> Draft:
        return drafting.regenerate_draft(
            session, draft_id, tier=_tier(state), gmail=gmail, instruction=instruction or None
        )

    return _act(state, draft_id, "A new suggestion replaced the draft.", work, origin=origin)
