"""The UI's pages beyond the inbox and the queue: home, accounts, rules, settings (with the
learned style preferences), follow-ups, tasks, tokens, audit log, search, ask, schedule, the
local API docs and the HTML error pages.
Pages only call domain services; every state-changing form is a POST guarded by a signed
CSRF token. Search, ask and scheduling call their JSON APIs from ``static/app.js`` and say
so plainly while a route is not there yet."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import ValidationError
from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from secretary.accounts import service as accounts
from secretary.db.models import AuditLog, DraftStatus, StylePreference
from secretary.drafting import followups
from secretary.drafting import service as drafting
from secretary.errors import SecretaryError
from secretary.identity.schemas import Principal
from secretary.kit.clock import utcnow
from secretary.kit.logging import get_logger
from secretary.llm.schemas import Category, Priority
from secretary.sync import service as sync
from secretary.sync.schemas import SyncStatus
from secretary.triage import service as triage
from secretary.triage.schemas import RuleActions, RuleConditions, RuleIn
from secretary.web.api.style import StylePreferenceIn
from secretary.web.app import register_routes
from secretary.web.auth import PageUser, check_form
from secretary.web.deps import AppState, SessionDep, StateDep
from secretary.web.ui import inbox, queue
from secretary.web.ui.render import HERE, back, fragment, render
from secretary.worker import repository as tasks

log = get_logger(__name__)

CATEGORIES = [c.value for c in Category]
PRIORITIES = [p.value for p in Priority]
SWAGGER = "/static/vendor/swagger-ui-5.36.0"

router = APIRouter(include_in_schema=False)
Token = Annotated[str, Form()]
T = TypeVar("T")


@dataclass(frozen=True)
class _Button:
    """A button's POST whose CSRF token checked out: who pressed it, in which app."""

    state: AppState
    user: Principal

    def run(
        self,
        action: Callable[[Session], T],
        *,
        back_to: str,
        done: str,
        then: Callable[[T], str] | None = None,
    ) -> Response:
        """Run ``action`` in one transaction, then redirect with a flash: to ``back_to``
        with the error when the service refused, else to ``then(result)`` (or ``back_to``)
        with ``done``."""
        try:
            with self.state.sessions() as session, session.begin():
                result = action(session)
        except SecretaryError as exc:
            return back(back_to, "error", exc.message)
        return back(then(result) if then else back_to, "ok", done)


def _pressed(request: Request, state: StateDep, user: PageUser, csrf_token: Token = "") -> _Button:
    check_form(request, state.settings, user, csrf_token)
    return _Button(state, user)


# The shape the pages' buttons share (retry, move, delete, nudge): sign-in, CSRF, one
# service call, a redirect with a flash. Each handler says only what differs.
Button = Annotated[_Button, Depends(_pressed)]


def _sync_status(session: Session, account_id: int) -> SyncStatus | None:
    try:
        return sync.status(session, account_id)
    except SecretaryError:
        return None


def has_route(request: Request, path: str) -> bool:
    """Whether another stream's API route is mounted in this build (search, ask, ...):
    read from the OpenAPI schema, which FastAPI builds once and caches."""
    paths: dict[str, Any] = request.app.openapi().get("paths", {})
    return path in paths


@router.get("/", response_class=HTMLResponse)
def dashboard(
    request: Request, session: SessionDep, state: StateDep, user: PageUser
) -> HTMLResponse:
    listed = accounts.list_accounts(session, base_url=state.settings.base_url)
    counts: dict[str, int] = dict.fromkeys(CATEGORIES, 0)
    for user_id in sorted({a.user_id for a in listed}):
        for category, n in triage.count_results(session, user_id).items():
            counts[category] = counts.get(category, 0) + n
    pending = len(drafting.list_drafts(session, status=DraftStatus.PENDING, limit=1000))
    context = {
        "accounts": [(a, _sync_status(session, a.id)) for a in listed],
        "counts": counts,
        "triaged": sum(counts.values()),
        "pending_drafts": pending,
        "pending_count": pending,
        "dead_tasks": tasks.counts_by_status(session).get("dead", 0),
    }
    return render(request, state, "dashboard.html", context, active="home")


@router.get("/accounts", response_class=HTMLResponse)
def accounts_page(
    request: Request, session: SessionDep, state: StateDep, user: PageUser
) -> HTMLResponse:
    listed = accounts.list_accounts(session, base_url=state.settings.base_url)
    context = {
        "accounts": [(a, _sync_status(session, a.id)) for a in listed],
        "start_path": accounts.START_PATH,
    }
    return render(request, state, "accounts.html", context, active="accounts")


# --- tasks (the dashboard's dead-letter tile) ---------------------------------------------


@router.get("/tasks", response_class=HTMLResponse)
def tasks_page(
    request: Request, session: SessionDep, state: StateDep, user: PageUser, status: str = "dead"
) -> HTMLResponse:
    chosen = status if status in ("queued", "running", "retrying", "succeeded", "dead") else "dead"
    records = tasks.list_records(session, status=chosen, name=None, message_id=None, limit=200)
    context = {"records": records, "status": chosen, "counts": tasks.counts_by_status(session)}
    return render(request, state, "tasks.html", context, active="settings")


@router.post("/tasks/{task_id}/retry")
def retry_task(task_id: int, button: Button) -> Response:
    return button.run(
        lambda session: tasks.retry(session, task_id, queue="priority"),
        back_to="/tasks",
        done=f"Task {task_id} queued again.",
    )


# --- rules --------------------------------------------------------------------------------


def _split(value: str) -> list[str] | None:
    items = [v.strip() for v in value.replace("\n", ",").split(",") if v.strip()]
    return items or None


def _conditions_from_form(form: dict[str, str]) -> RuleConditions | None:
    """The form's conditions (None when it has only a plain-English instruction)."""
    cond: dict[str, Any] = {
        "from": _split(form.get("from", "")),
        "domain": _split(form.get("domain", "")),
        "subject": form.get("subject") or None,
        "body": form.get("body") or None,
    }
    if form.get("is_list"):
        cond["is_list"] = True
    if form.get("has_attachment"):
        cond["has_attachment"] = True
    instruction = (form.get("instruction") or "").strip() or None
    present = {k: v for k, v in cond.items() if v is not None}
    return RuleConditions.model_validate(present) if present or not instruction else None


def _rule_from_form(form: dict[str, str]) -> RuleIn:
    """A ``RuleIn`` from the rules form; ``ValidationError`` carries what is wrong."""
    conditions = _conditions_from_form(form)
    instruction = (form.get("instruction") or "").strip() or None
    actions = RuleActions.model_validate(
        {
            "category": form.get("category") or None,
            "priority": form.get("priority") or None,
            "labels": _split(form.get("labels", "")) or [],
            "archive": bool(form.get("archive")),
        }
    )
    return RuleIn(
        name=(form.get("name") or "").strip() or "Untitled rule",
        conditions=conditions,
        actions=actions,
        stop=bool(form.get("stop")),
        instruction=instruction,
    )


def _validation_text(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ()) if p != "__root__")
    msg = str(first.get("msg", "invalid")).removeprefix("Value error, ")
    return f"{where}: {msg}" if where else msg


def _preview(session: Session, uid: int, form: dict[str, str]) -> dict[str, Any]:
    """The rule form's preview: which stored mail it would match, or what is wrong."""
    try:
        conditions = _conditions_from_form(form)
        preview = triage.preview_rule(
            session, uid, conditions, instruction=None, tier=None, since=None, limit=20
        )
    except ValidationError as exc:
        return {"preview": None, "error": _validation_text(exc)}
    except SecretaryError as exc:
        return {"preview": None, "error": exc.message}
    return {"preview": preview, "error": None}


@router.get("/rules", response_class=HTMLResponse)
def rules_page(
    request: Request, session: SessionDep, state: StateDep, user: PageUser
) -> HTMLResponse:
    uid = user.user_id
    form = dict(request.query_params)
    shown = (
        _preview(session, uid, form) if form.get("preview") else {"preview": None, "error": None}
    )
    context = {
        "rules": triage.list_rules(session, uid),
        "form": form,
        **shown,
        "categories": CATEGORIES,
        "priorities": PRIORITIES,
    }
    return render(request, state, "rules.html", context, active="rules")


@router.get("/rules/preview", response_class=HTMLResponse)
def rule_preview(request: Request, session: SessionDep, user: PageUser) -> HTMLResponse:
    """The preview alone (htmx swaps it in under the form)."""
    uid = user.user_id
    return fragment(
        request, "_rule_preview.html", _preview(session, uid, dict(request.query_params))
    )


@router.post("/rules")
async def add_rule(request: Request, state: StateDep, user: PageUser) -> Response:
    form = {k: str(v) for k, v in (await request.form()).items()}
    check_form(request, state.settings, user, form.get("csrf_token", ""))
    try:
        rule = _rule_from_form(form)
    except ValidationError as exc:
        return back("/rules", "error", f"The rule was not added: {_validation_text(exc)}")
    with state.sessions() as session, session.begin():
        uid = user.user_id
        created = triage.create_rule(session, uid, rule)
        name = created.name
    return back("/rules", "ok", f"Rule “{name}” added.")


@router.post("/rules/{rule_id}/move")
def move_rule(rule_id: int, offset: Annotated[int, Form()], button: Button) -> Response:
    return button.run(
        lambda session: triage.move_rule(
            session, button.user.user_id, rule_id, offset=max(-1, min(1, offset))
        ),
        back_to="/rules",
        done="Rule order saved.",
    )


@router.post("/rules/{rule_id}/delete")
def delete_rule(rule_id: int, button: Button) -> Response:
    return button.run(
        lambda session: triage.delete_rule(session, button.user.user_id, rule_id),
        back_to="/rules",
        done="Rule deleted.",
    )


# --- settings, tokens, audit ---------------------------------------------------------------


def _settings_context(request: Request, state: Any, user_id: int) -> dict[str, Any]:
    s = state.settings
    llm = s.llm
    configured = {
        "openai": llm.openai_api_key is not None,
        "anthropic": llm.anthropic_api_key is not None,
        "gemini": llm.gemini_api_key is not None,
        "ollama": "ollama" in llm.chain,
        "local": True,
    }
    models = {
        "openai": llm.openai_model,
        "anthropic": llm.anthropic_model,
        "gemini": llm.gemini_model,
        "ollama": llm.ollama_model,
        "local": "built-in (offline)",
    }
    return {
        "settings": s,
        "chain": list(llm.chain),
        "configured": configured,
        "models": models,
        "checks": None,
        "rate": getattr(s, "rate", None),
        "has_tokens": has_route(request, "/tokens"),
        "has_audit_api": has_route(request, "/api/v1/audit"),
        "style": _style_rows(state, user_id),
        "style_keys": STYLE_KEYS,
    }


@router.get("/settings", response_class=HTMLResponse)
def settings_page(request: Request, state: StateDep, user: PageUser) -> HTMLResponse:
    context = _settings_context(request, state, user.user_id)
    return render(request, state, "settings.html", context, active="settings")


@router.post("/settings/llm-test", response_class=HTMLResponse)
def llm_test(
    request: Request, state: StateDep, user: PageUser, csrf_token: Token = ""
) -> HTMLResponse:
    """Send one tiny request to each provider in the chain (``secretary llm test``)."""
    check_form(request, state.settings, user, csrf_token)
    from secretary.llm.chain import check_providers

    checks = check_providers(state.settings)
    context = {**_settings_context(request, state, user.user_id), "checks": checks}
    return render(request, state, "settings.html", context, active="settings")


# --- learned style preferences (``/api/v1/preferences/style``, drafting.learning) -----------

# The form's keys, in the words the page shows; "avoid" becomes ``avoid:<phrase>``.
STYLE_KEYS = {
    "greeting": "Greeting",
    "closing": "Closing",
    "signature": "Signature",
    "max_words": "At most (words)",
    "avoid": "Never write",
}


def _style_rows(state: Any, user_id: int) -> list[StylePreference]:
    with state.sessions() as session:
        return list(
            session.scalars(
                select(StylePreference)
                .where(StylePreference.user_id == user_id)
                .order_by(StylePreference.scope, StylePreference.key)
            ).all()
        )


def _style_from_form(form: dict[str, str]) -> StylePreferenceIn:
    """The settings form's preference, validated as the API validates it."""
    key = form.get("key", "")
    value = form.get("value", "").strip()
    if key == "avoid":  # the phrase is the key, as ``learning.preferences_from_edit`` keeps it
        key = f"avoid:{value.lower().rstrip('.!')[:180]}" if value else ""
    if key == "max_words" and not (value.isdigit() and 0 < int(value) <= 2000):
        raise ValueError("At most (words) takes a number of words, e.g. 120.")
    if key in ("greeting", "closing", "signature") and not value:
        raise ValueError("Give a value, or forget the preference instead.")
    address = form.get("to", "").strip()
    scope = form.get("scope") or (f"to:{address}" if address else "all")
    return StylePreferenceIn(scope=scope, key=key, value=value)


@router.post("/settings/style")
async def save_style(request: Request, state: StateDep, user: PageUser) -> Response:
    """Add or change a style preference; yours wins until an edit of a draft changes it."""
    form = {k: str(v) for k, v in (await request.form()).items()}
    check_form(request, state.settings, user, form.get("csrf_token", ""))
    try:
        pref = _style_from_form(form)
    except ValidationError as exc:
        return back("/settings", "error", f"Not saved: {_validation_text(exc)}")
    except ValueError as exc:
        return back("/settings", "error", f"Not saved: {exc}")
    stmt = insert(StylePreference).values(
        user_id=user.user_id, scope=pref.scope, key=pref.key, value=pref.value, evidence=1,
        source="user",
    )  # fmt: skip
    with state.sessions() as session, session.begin():
        session.execute(
            stmt.on_conflict_do_update(
                index_elements=["user_id", "scope", "key"],
                set_={"value": stmt.excluded.value, "source": "user"},
            )
        )
    return back("/settings", "ok", "Style preference saved.")


@router.post("/settings/style/{preference_id}/delete")
def forget_style(
    preference_id: int, request: Request, state: StateDep, user: PageUser, csrf_token: Token = ""
) -> Response:
    check_form(request, state.settings, user, csrf_token)
    with state.sessions() as session, session.begin():
        gone = session.execute(
            delete(StylePreference)
            .where(StylePreference.id == preference_id, StylePreference.user_id == user.user_id)
            .returning(StylePreference.id)
        ).first()
    if gone is None:
        return back("/settings", "error", "That preference was already forgotten.")
    return back("/settings", "ok", "Style preference forgotten.")


# --- follow-ups: mail awaiting a reply, and mail you have not answered ----------------------


@router.get("/followups", response_class=HTMLResponse)
def followups_page(
    request: Request, session: SessionDep, state: StateDep, user: PageUser
) -> HTMLResponse:
    """``GET /api/v1/followups`` as a page, with a nudge button per thread."""
    settings = state.settings.followups
    found = followups.list_followups(session, user.user_id, settings)
    if settings.auto_nudge:  # as the API does: the user asked for nudges without asking
        found = followups.with_auto_nudges(
            session, user.user_id, found, gmail_for=state.components.gmail
        )
    context = {"awaiting": found.awaiting_reply, "unanswered": found.unanswered}
    return render(request, state, "followups.html", context, active="followups")


@router.post("/followups/{thread_id}/nudge")
def nudge_thread(thread_id: str, button: Button) -> Response:
    return button.run(
        # Only the id leaves the transaction: the draft is detached once the session closes.
        lambda session: (
            followups.nudge(
                session, button.user.user_id, thread_id, gmail_for=button.state.components.gmail
            ).id
        ),
        back_to="/followups",
        done="A nudge is ready: read it, then approve or reject.",
        then=lambda draft_id: f"/drafts/{draft_id}",
    )


@router.get("/audit", response_class=HTMLResponse)
def audit_page(
    request: Request, session: SessionDep, state: StateDep, user: PageUser
) -> HTMLResponse:
    rows = session.scalars(select(AuditLog).order_by(AuditLog.id.desc()).limit(200)).all()
    return render(request, state, "audit.html", {"rows": rows}, active="settings")


# --- search, ask, schedule -----------------------------------------------------------------


@router.get("/search", response_class=HTMLResponse)
def search_page(
    request: Request, state: StateDep, user: PageUser, q: str = "", kind: str = ""
) -> HTMLResponse:
    context = {
        "query": q,
        "kind": kind if kind in ("email", "event", "file") else "",
        "available": has_route(request, "/api/v1/search"),
    }
    return render(request, state, "search.html", context, active="search")


@router.get("/ask", response_class=HTMLResponse)
def ask_page(request: Request, state: StateDep, user: PageUser) -> HTMLResponse:
    context = {"available": has_route(request, "/api/v1/ask")}
    return render(request, state, "ask.html", context, active="ask")


@router.get("/schedule", response_class=HTMLResponse)
def schedule_page(
    request: Request, session: SessionDep, state: StateDep, user: PageUser
) -> HTMLResponse:
    today = utcnow().date()
    monday = today - timedelta(days=today.weekday())
    days = [monday + timedelta(days=i) for i in range(7)]
    events = _week_events(session, days[0], days[-1] + timedelta(days=1))
    context = {
        "days": days,
        "events": events,
        "week_start": days[0].isoformat(),
        "week_end": (days[-1] + timedelta(days=1)).isoformat(),
        "available": has_route(request, "/api/v1/preferences/scheduling"),
        "weekdays": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
    }
    return render(request, state, "schedule.html", context, active="schedule")


def _week_events(session: Session, start: Any, end: Any) -> dict[str, list[dict[str, Any]]]:
    """Calendar events of the week by day (ISO date), when the Calendar store exists."""
    by_day: dict[str, list[dict[str, Any]]] = {}
    try:  # occurrences, recurring series expanded (the Calendar store, issue 8)
        from secretary.db.models import CalendarInstance as CalendarEvent
    except ImportError:  # the Calendar store is another stream's; absent in older builds
        return by_day
    start_col = getattr(CalendarEvent, "start_at", None)
    if start_col is None:
        return by_day
    from datetime import UTC, datetime, time

    lo = datetime.combine(start, time(0), tzinfo=UTC)
    hi = datetime.combine(end, time(0), tzinfo=UTC)
    try:
        rows = session.scalars(
            select(CalendarEvent)
            .where(start_col >= lo, start_col < hi)
            .order_by(start_col)
            .limit(300)
        ).all()
    except Exception as exc:  # a schema mid-migration must not take the page down
        log.info("ui.week_events_unavailable", error=type(exc).__name__)
        session.rollback()
        return by_day
    for ev in rows:
        at = ev.start_at
        if at is None:
            continue
        by_day.setdefault(at.date().isoformat(), []).append(
            {"title": getattr(ev, "summary", None) or "(busy)", "at": at.strftime("%H:%M")}
        )
    return by_day


# --- the API docs, served from vendored assets ---------------------------------------------


@router.get("/docs", response_class=HTMLResponse)
def api_docs() -> HTMLResponse:
    """Swagger UI from the vendored ``swagger-ui-dist`` (no CDN); its start-up is a static
    file because the CSP allows no inline script."""
    page = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>Secretary API</title>"
        f'<link rel="stylesheet" href="{SWAGGER}/swagger-ui.css">'
        f'<link rel="icon" href="{SWAGGER}/favicon-32x32.png"></head>'
        '<body><div id="swagger-ui"></div>'
        f'<script src="{SWAGGER}/swagger-ui-bundle.js"></script>'
        '<script src="/static/docs.js"></script></body></html>'
    )
    return HTMLResponse(page)


@register_routes
def _routes(app: FastAPI) -> None:
    app.include_router(router)
    app.include_router(inbox.router)
    app.include_router(queue.router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
