"""Follow-ups (issue 13): mail you sent that got no answer, mail you have not answered,
per-thread delays and nudge drafts, over the real app, database and Gmail emulator."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

import pytest
import structlog
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from secretary.bootstrap import compose
from secretary.cli import context
from secretary.cli.main import app as root_app
from secretary.config import Settings
from secretary.db.models import DraftKind, DraftStatus
from secretary.db.session import make_sessionmaker
from secretary.drafting.followups import expects_answer, nudge_body
from secretary.kit.clock import utcnow
from secretary.web.app import create_app
from secretary.web.deps import AppState
from secretary.worker.runner import Runtime
from tests.auth import authenticate, authenticate_account_owner, create_user
from tests.drafting.queue import draft_row, gmail_body
from tests.sync.conftest import Connected
from tests.triage.conftest import InlineThread
from tests.triage.helpers import drafts_by_thread, gmail_api, sync_now


def test_expects_answer() -> None:
    assert expects_answer("Could you send me the Q3 numbers by Friday?")
    assert expects_answer("Please confirm the venue.")
    assert expects_answer("Let me know what works")
    assert not expects_answer("Thanks, that's all I needed.\n\n> Can you send it?")
    assert not expects_answer("Great, see you then.")


def test_nudge_body_is_specific_and_in_the_users_words() -> None:
    when = utcnow().replace(year=2026, month=11, day=30)
    body = nudge_body(
        first_name="Priya", subject="Re: Q3 numbers", sent_at=when,
        greeting="Hello {first_name},", closing="Kind regards,", signature="Dana",
    )  # fmt: skip
    assert body.startswith("Hello Priya,\n")
    assert "my note from Monday, 30 November about Q3 numbers." in body
    assert body.rstrip().endswith("Kind regards,\nDana")
    assert nudge_body(
        first_name=None, subject="", sent_at=when, greeting=None, closing=None, signature=None
    ).startswith("Hi,\n")


def _raw(sender: str, to: str, subject: str, body: str, days_ago: float, **headers: str) -> Any:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, to, subject
    msg["Date"] = format_datetime(utcnow() - timedelta(days=days_ago))
    msg["Message-ID"] = make_msgid(domain="example.org")
    for k, v in headers.items():
        msg[k.replace("_", "-")] = v
    msg.set_content(body)
    return bytes(msg)


@pytest.fixture
def mailbox(
    connected: Connected, sessions: sessionmaker[Session], inline: InlineThread
) -> dict[str, str]:
    """Old threads: asked and unanswered, closed, recent, received; and a newsletter."""
    box = connected.emulator.state.users[connected.email].mailbox
    me = connected.email
    threads: dict[str, str] = {}

    def add(name: str, raw: bytes, labels: set[str], days_ago: float) -> None:
        when = int((utcnow() - timedelta(days=days_ago)).timestamp() * 1000)
        threads[name] = box.add_message(raw, label_ids=labels, internal_date=when).thread_id

    # Someone wrote to me first, so the nudge greets them by the name they use.
    add("priya_hello", _raw("Priya Shah <priya.shah@example.org>", me, "Hello", "Hi!", 20),
        {"INBOX"}, 20)  # fmt: skip
    add("asked", _raw(me, "priya.shah@example.org", "Q3 numbers",
        "Hi Priya,\n\nCould you send me the Q3 numbers by Friday?\n\nDana", 5), {"SENT"}, 5)  # fmt: skip
    add("closed", _raw(me, "sam@example.org", "Lunch", "Great, see you then.", 5), {"SENT"}, 5)
    add("recent", _raw(me, "lee@example.org", "Venue", "Can you confirm the venue?", 1),
        {"SENT"}, 1)  # fmt: skip
    add("received", _raw("Sam Ortiz <sam@example.org>", me, "Contract",
        "Hi Dana, can you review the contract by Tuesday?", 4), {"INBOX"}, 4)  # fmt: skip
    # A stranger's old question without list headers and never triaged (a promotion or
    # spam that slipped past Gmail's filter): not someone the user corresponds with.
    add("stranger", _raw("Offers <deals@shop.example.net>", me, "Your order",
        "Did you want to claim your reward?", 4), {"INBOX"}, 4)  # fmt: skip
    add("newsletter", _raw("News <news@list.example.com>", me, "Weekly digest",
        "What do you think of our new look?", 4, List_Id="<weekly.list.example.com>",
        List_Unsubscribe="<mailto:u@list.example.com>"), {"INBOX"}, 4)  # fmt: skip
    sync_now(sessions, connected.account_id, connected.settings)
    inline.wait_idle()
    return threads


@pytest.fixture
def client(
    pipeline_settings: Settings,
    engine: Engine,
    pipeline_runtime: Runtime,
    connected: Connected,
    sessions: sessionmaker[Session],
) -> Iterator[TestClient]:
    root = compose(
        pipeline_settings, engine=engine, sessions=make_sessionmaker(engine),
        gmail=pipeline_runtime.deps.google.gmail,
    )  # fmt: skip
    with TestClient(create_app(pipeline_settings, state=AppState(root=root))) as c:
        authenticate_account_owner(c, sessions, connected.account_id)
        yield c


def _threads(items: list[dict[str, Any]]) -> list[str]:
    return [i["thread_id"] for i in items]


def test_followups_lists_nudges_and_per_thread_delay(
    client: TestClient,
    mailbox: dict[str, str],
    connected: Connected,
    sessions: sessionmaker[Session],
) -> None:
    r = client.get("/api/v1/followups")
    assert r.status_code == 200, r.text
    found = r.json()
    assert set(found) == {"awaiting_reply", "unanswered"}
    assert _threads(found["awaiting_reply"]) == [mailbox["asked"]]  # not closed, not recent
    asked = found["awaiting_reply"][0]
    assert asked["counterpart"] == "priya.shah@example.org"
    assert asked["subject"] == "Q3 numbers"
    assert asked["days_waiting"] >= 4.9
    assert asked["followup_days"] == 3
    assert asked["draft_id"] is None  # no nudge unless asked (auto_nudge is off)
    # Neither the newsletter nor the stranger's untriaged question.
    assert _threads(found["unanswered"]) == [mailbox["received"]]
    assert found["unanswered"][0]["counterpart"] == "sam@example.org"

    # A thread's own delay: the recent question counts after half a day.
    put = client.put(f"/api/v1/followups/{mailbox['recent']}", json={"days": 0.5})
    assert put.status_code == 200, put.text
    awaiting = client.get("/api/v1/followups").json()["awaiting_reply"]
    assert _threads(awaiting) == [mailbox["asked"], mailbox["recent"]]
    assert awaiting[1]["followup_days"] == 0.5
    assert client.put("/api/v1/followups/no-such-thread", json={"days": 2}).status_code == 404

    # Asked for a nudge: a pending draft in the queue and in Gmail, in the same thread.
    made = client.post(f"/api/v1/followups/{mailbox['asked']}/nudge")
    assert made.status_code == 201, made.text
    nudge = made.json()
    assert nudge["status"] == DraftStatus.PENDING
    assert nudge["to_addrs"] == ["priya.shah@example.org"]
    assert nudge["subject"] == "Re: Q3 numbers"
    assert nudge["body"].startswith("Hi Priya,")
    assert "about Q3 numbers" in nudge["body"]
    row = draft_row(sessions, nudge["id"])
    assert row.kind == DraftKind.NUDGE
    api = gmail_api(connected.emulator.state, connected.emulator.base_url, connected.email)
    assert row.gmail_draft_id
    assert gmail_body(api, row.gmail_draft_id).startswith("Hi Priya,")
    assert mailbox["asked"] in drafts_by_thread(api)
    again = client.post(f"/api/v1/followups/{mailbox['asked']}/nudge").json()
    assert again["id"] == nudge["id"]  # one nudge per message
    listed = client.get("/api/v1/followups").json()["awaiting_reply"]
    assert listed[0]["draft_id"] == nudge["id"]
    assert client.get("/api/v1/drafts").json()[0]["id"] == nudge["id"]  # in the queue
    # Not my mail's thread: nothing to nudge.
    assert client.post(f"/api/v1/followups/{mailbox['received']}/nudge").status_code == 404

    # Another user sees nothing of this.
    authenticate(client, sessions, create_user(sessions))
    assert client.get("/api/v1/followups").json() == {"awaiting_reply": [], "unanswered": []}


def test_auto_nudge_and_cli(
    pipeline_settings: Settings,
    mailbox: dict[str, str],
    connected: Connected,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = pipeline_settings.model_copy(
        update={"followups": pipeline_settings.followups.model_copy(update={"auto_nudge": True})}
    )
    ctx = context.CliContext(settings=settings)
    monkeypatch.setattr(context, "_ctx", ctx)
    try:
        with structlog.testing.capture_logs():
            result = CliRunner().invoke(root_app, ["followups", "--json"])
        assert result.exit_code == 0, (result.output, result.exception)
        out = json.loads(result.stdout)
        assert _threads(out["awaiting_reply"]) == [mailbox["asked"]]
        assert out["awaiting_reply"][0]["draft_id"] is not None  # the setting asked for it
        assert _threads(out["unanswered"]) == [mailbox["received"]]
        table = CliRunner().invoke(root_app, ["followups"])
        assert table.exit_code == 0
        assert "Awaiting a reply (1)" in table.output
    finally:
        ctx.close()
