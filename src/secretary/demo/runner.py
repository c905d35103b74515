"""Run the demo end to end and report a summary.

The demo uses its own database (``secretary_demo`` on the embedded server), recreated on
every run, because the emulator's mailbox is in memory and re-seeded each time: keeping an
old store would compare two different mailboxes.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

import uvicorn
from sqlalchemy import Engine, create_engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from secretary.config import Settings
from secretary.db import migrate
from secretary.db.engine import embedded_database_url, make_engine
from secretary.db.models import Calendar, CalendarEvent, DriveFile, Label, Message, Thread
from secretary.db.models.draft import Draft
from secretary.db.models.task_record import TaskRecord, TaskStatus
from secretary.db.models.triage_result import TriageResult
from secretary.db.session import unit_of_work
from secretary.errors import SecretaryError
from secretary.kit.clock import utcnow
from secretary.kit.logging import get_logger

log = get_logger(__name__)

DEMO_DATABASE = "secretary_demo"
# The service account the emulator signs the demo's pushes as; the webhook accepts no other.
DEMO_PUSH_ACCOUNT = "gmail-push@secretary-demo.iam.gserviceaccount.com"
Progress = Callable[[str, int, int], None]


@dataclass
class DemoSummary:
    emulator_url: str
    api_url: str
    account_email: str
    messages: int
    threads: int
    labels: int
    sync_seconds: float
    triaged: dict[str, int]
    drafts: int
    tasks_open: int
    tasks_dead: int
    live_message_seconds: float | None
    live_message_drafted: bool
    timings: dict[str, float] = field(default_factory=dict)
    # Calendar and Drive as synced into the store (the first sync of each service).
    calendars: int = 0
    events: int = 0
    files: int = 0
    # An access token of the workspace user for the emulated Google APIs (for scripts).
    emulator_token: str = ""
    # A personal API token of the signed-in demo user, for ``Authorization: Bearer``.
    api_token: str = ""

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def json_line(summary: DemoSummary) -> str:
    """The one line ``secretary demo --json`` prints once ready (scripts wait for it): compact
    JSON of ``as_dict()``, so a new summary field reaches it without another edit."""
    return json.dumps(summary.as_dict(), separators=(",", ":"), default=str)


def sign_in_demo_user(api_url: str, sessions: sessionmaker[Session]) -> str:
    """Sign the demo user in the way a browser does (OpenID Connect against the emulator,
    which approves on its own), then give them a personal API token. Returns the token."""
    import httpx

    from secretary.identity import service as identity
    from secretary.identity.oidc import COOKIE_NAME
    from secretary.identity.schemas import ALL_SCOPES
    from secretary.web.auth import SESSION_COOKIE

    with httpx.Client(base_url=api_url, follow_redirects=False, timeout=30) as http:
        start = http.get("/auth/google/start")
        consent = httpx.get(start.headers["location"], follow_redirects=False, timeout=30)
        callback = consent.headers.get("location", "")
        # Cookies by header: the pending sign-in's cookie is scoped to /auth/google.
        pending = start.cookies.get(COOKIE_NAME) or ""
        done = http.get(callback, headers={"Cookie": f"{COOKIE_NAME}={pending}"})
        session_cookie = done.cookies.get(SESSION_COOKIE)
        if done.status_code != 303 or not session_cookie:
            raise SecretaryError(f"the demo user could not sign in (HTTP {done.status_code})")
        me = http.get("/api/v1/me", headers={"Cookie": f"{SESSION_COOKIE}={session_cookie}"})
        me.raise_for_status()
        user_id = int(me.json()["id"])
    with unit_of_work(sessions) as session:
        secret, _row = identity.create_token(session, user_id, name="demo", scopes=ALL_SCOPES)
    return secret


def shipped_workspace() -> Path:
    """The demo workspace folder shipped inside the emulator package."""
    from workspace_emulator.demo import DEMO_WORKSPACE

    return DEMO_WORKSPACE


def _listen(preferred: int) -> socket.socket:
    """A bound socket on ``preferred``, or on any free port when it is taken.

    Binding here (not in uvicorn) closes the race between "is it free?" and "bind it".
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", preferred))
    except OSError:
        sock.bind(("127.0.0.1", 0))
    return sock


def _demo_engine(settings: Settings) -> Engine:
    """A fresh demo database (embedded), or the configured external one as is."""
    if settings.database_url:
        engine = make_engine(settings)
    else:
        admin_url = embedded_database_url(settings.home_path, database="postgres")
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'drop database if exists "{DEMO_DATABASE}" with (force)'))
            conn.execute(text(f'create database "{DEMO_DATABASE}"'))
        admin.dispose()
        url = admin_url.replace("/postgres?", f"/{DEMO_DATABASE}?")
        engine = make_engine(settings, url=url)
    migrate.upgrade(engine)
    return engine


class _ApiServer:
    """The real API (with background services) on a real port, in a thread."""

    def __init__(self, app: Any, sock: socket.socket) -> None:
        # log_config=None: uvicorn's records reach the root logger and so the redactor.
        config = uvicorn.Config(app, log_level="warning", access_log=False, log_config=None)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [sock]}, name="secretary-api", daemon=True
        )

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise SecretaryError("the Secretary API did not start", code="demo_failed")
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


def _open_tasks(sessions: sessionmaker[Session]) -> tuple[int, int]:
    with unit_of_work(sessions) as session:
        rows = session.execute(
            select(TaskRecord.status, func.count()).group_by(TaskRecord.status)
        ).all()
    counts: dict[str, int] = {str(status): int(n) for status, n in rows}
    open_ = sum(counts.get(status, 0) for status in TaskStatus.ACTIVE)
    return open_, counts.get(TaskStatus.DEAD, 0)


def _wait_for_tasks(
    sessions: sessionmaker[Session], *, timeout: float, progress: Progress | None
) -> None:
    deadline = time.monotonic() + timeout
    total: int | None = None
    while time.monotonic() < deadline:
        open_, _dead = _open_tasks(sessions)
        total = max(total or 0, open_)
        if progress is not None:
            progress("triage", total - open_, total)
        if open_ == 0:
            return
        time.sleep(0.25)
    log.warning("demo_tasks_still_open_after_timeout")


def _live_message(to_addr: str, now_offset_minutes: int = 0) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Priya Shah <priya.shah@partner.example>"
    msg["To"] = to_addr
    msg["Subject"] = "Can we meet next week about the Q3 plan?"
    msg["Date"] = format_datetime(utcnow() + timedelta(minutes=now_offset_minutes))
    msg["Message-ID"] = make_msgid(domain="partner.example")
    msg.set_content(
        "Hi Alex,\n\nCould we find 30 minutes next week to go through the Q3 plan? "
        "Tuesday or Wednesday afternoon would work well for me.\n\n"
        "Could you also send me the latest draft of the proposal before then?\n\n"
        "Thanks,\nPriya\n"
    )
    return msg.as_bytes()


def run_demo(
    settings: Settings,
    *,
    port: int = 8000,
    emulator_port: int = 0,
    progress: Progress | None = None,
    on_ready: Callable[[DemoSummary], None] | None = None,
    keep_serving: Callable[[], None] | None = None,
    workspace: Path | None = None,
    quota: str = "default",
) -> DemoSummary:
    """Run the demo. ``keep_serving`` blocks while the API should stay up (None = stop).

    ``workspace`` is a workspace folder (see ``workspace_emulator.workspace``); without one
    the shipped demo workspace is used. A folder's ``[clock] now`` pins ``SECRETARY_NOW``
    unless it is already set. ``quota`` is the emulator's quota mode (``off``/``default``).
    """
    from workspace_emulator import oauth as emulator_oauth
    from workspace_emulator.control import EmulatorControl, mint_access_token
    from workspace_emulator.quota import QuotaConfig, quota_book
    from workspace_emulator.server import run_in_thread
    from workspace_emulator.state import EmulatorState
    from workspace_emulator.workspace import load_workspace, read_config

    from secretary.accounts.service import connect_via_loopback
    from secretary.bootstrap import compose
    from secretary.sync.calendar import sync_calendar
    from secretary.sync.drive import sync_drive
    from secretary.sync.service import run_sync
    from secretary.sync.tasks import renew_watch_if_due
    from secretary.web.app import create_app
    from secretary.web.deps import AppState

    timings: dict[str, float] = {}
    started = time.perf_counter()

    def mark(name: str) -> None:
        timings[name] = round(time.perf_counter() - started, 2)

    # 1. The outside world: Google, emulated, loaded from a workspace folder.
    folder = workspace if workspace is not None else shipped_workspace()
    pinned = read_config(folder).now
    if pinned is not None and not os.environ.get("SECRETARY_NOW"):
        os.environ["SECRETARY_NOW"] = pinned.isoformat().replace("+00:00", "Z")
    emulator_state = EmulatorState()
    quota_book(emulator_state).configure(QuotaConfig(mode=quota))
    user, _counts = load_workspace(emulator_state, folder)
    emulator = run_in_thread(emulator_state, port=emulator_port)
    emulator_oauth.configure(emulator.state, auto_approve=True, login_hint=user.email)
    emulator_token = mint_access_token(emulator.state, user.email, ttl=24 * 3600)
    mark("emulator")

    api_socket = _listen(port)
    api_url = f"http://127.0.0.1:{api_socket.getsockname()[1]}"
    settings = settings.model_copy(
        update={
            "base_url": api_url,
            "google": settings.google.model_copy(
                update={
                    "api_base_url": emulator.base_url,
                    "oauth_base_url": emulator.base_url,
                    "redirect_uri": f"{api_url}/oauth/google/callback",
                    "pubsub_service_account": settings.google.pubsub_service_account
                    or DEMO_PUSH_ACCOUNT,
                }
            ),
        }
    )

    # 2. Our store: PostgreSQL 18 + pgvector, embedded.
    engine = _demo_engine(settings)
    # Everything that opens its own connection (the shared quota bucket, the CLI profile)
    # must reach the demo database, not the default one.
    settings = settings.model_copy(
        update={"database_url": engine.url.render_as_string(hide_password=False)}
    )
    root = compose(settings, engine=engine)
    sessions = root.sessions
    mark("database")

    api: _ApiServer | None = None
    try:
        # 3. Connect the account through the real authorization-code flow.
        with unit_of_work(sessions) as session:
            connected = connect_via_loopback(
                session, settings=settings, login_hint=user.email, open_browser=False
            )
        account_id = connected.account_id
        mark("connected")

        # 4. Initial sync (metadata first, then bodies newest first).
        report = run_sync(
            sessions,
            account_id,
            settings,
            progress=progress,
            on_stored=root.components.on_messages_stored,
        )
        # The first sync of Calendar and Drive, so the summary (and the --json line)
        # comes only after every service holds the workspace.
        sync_calendar(sessions, account_id, settings, progress=progress)
        sync_drive(sessions, account_id, settings, progress=progress)
        mark("synced")

        # 5. The API with its background services: task workers, sync scheduler, webhooks.
        with EmulatorControl(emulator.base_url) as control:
            control.configure_push(
                settings.google.pubsub_topic,
                f"{api_url}/webhooks/google/pubsub",
                settings.google.pubsub_audience,
                service_account_email=settings.google.pubsub_service_account,
            )
        state = AppState(root=root, run_background=True)
        api = _ApiServer(create_app(settings, state=state), api_socket)
        api.start()
        # Subscribe to pushes now rather than on the scheduler's first tick, so the live
        # message below is announced by a push and not found by the safety poll.
        renew_watch_if_due(sessions, account_id, settings)
        _wait_for_tasks(sessions, timeout=120, progress=progress)
        mark("triaged")

        # 6. Live: a new message arrives; push -> sync -> triage -> draft.
        live_seconds, live_drafted = _deliver_live_message(
            emulator.base_url, user.email, sessions, timeout=30
        )
        mark("live")

        summary = _summarize(
            sessions,
            emulator_url=emulator.base_url,
            api_url=api_url,
            account_email=connected.email,
            sync_seconds=report.seconds,
            live_seconds=live_seconds,
            live_drafted=live_drafted,
            timings=timings,
        )
        summary.emulator_token = emulator_token
        summary.api_token = sign_in_demo_user(api_url, sessions)
        if on_ready is not None:
            on_ready(summary)
        if keep_serving is not None:
            keep_serving()
        return summary
    finally:
        if api is not None:
            api.stop()
        emulator.stop()
        engine.dispose()


def _deliver_live_message(
    emulator_url: str, email: str, sessions: sessionmaker[Session], *, timeout: float
) -> tuple[float | None, bool]:
    from workspace_emulator.control import EmulatorControl

    with EmulatorControl(emulator_url) as control:
        delivered = control.deliver(email, _live_message(email))
    gmail_id = str(delivered.get("id"))
    started = time.monotonic()
    deadline = started + timeout
    seen_at: float | None = None
    while time.monotonic() < deadline:
        with unit_of_work(sessions) as session:
            message_id = session.scalar(select(Message.id).where(Message.gmail_id == gmail_id))
            drafted = message_id is not None and bool(
                session.scalar(
                    select(func.count())
                    .select_from(Draft)
                    .where(Draft.message_id == message_id, Draft.gmail_draft_id.is_not(None))
                )
            )
            triaged = message_id is not None and bool(
                session.scalar(
                    select(func.count())
                    .select_from(TriageResult)
                    .where(TriageResult.message_id == message_id)
                )
            )
        if triaged and seen_at is None:
            seen_at = time.monotonic() - started
        if drafted:
            return time.monotonic() - started, True
        if triaged and _open_tasks(sessions)[0] == 0:
            return seen_at, False
        time.sleep(0.1)
    return seen_at, False


def _summarize(
    sessions: sessionmaker[Session],
    *,
    emulator_url: str,
    api_url: str,
    account_email: str,
    sync_seconds: float,
    live_seconds: float | None,
    live_drafted: bool,
    timings: dict[str, float],
) -> DemoSummary:
    with unit_of_work(sessions) as session:
        messages = session.scalar(select(func.count()).select_from(Message)) or 0
        threads = session.scalar(select(func.count()).select_from(Thread)) or 0
        labels = session.scalar(select(func.count()).select_from(Label)) or 0
        rows = session.execute(
            select(TriageResult.category, func.count()).group_by(TriageResult.category)
        ).all()
        triaged = {str(category): int(n) for category, n in rows}
        drafts = (
            session.scalar(
                select(func.count()).select_from(Draft).where(Draft.gmail_draft_id.is_not(None))
            )
            or 0
        )
        calendars = session.scalar(select(func.count()).select_from(Calendar)) or 0
        events = session.scalar(select(func.count()).select_from(CalendarEvent)) or 0
        files = session.scalar(select(func.count()).select_from(DriveFile)) or 0
    open_, dead = _open_tasks(sessions)
    return DemoSummary(
        emulator_url=emulator_url,
        api_url=api_url,
        account_email=account_email,
        messages=messages,
        threads=threads,
        labels=labels,
        sync_seconds=round(sync_seconds, 2),
        triaged=dict(sorted(triaged.items())),
        drafts=drafts,
        tasks_open=open_,
        tasks_dead=dead,
        live_message_seconds=round(live_seconds, 2) if live_seconds is not None else None,
        live_message_drafted=live_drafted,
        timings=timings,
        calendars=calendars,
        events=events,
        files=files,
    )
