"""The browser UI over the real app, database and Gmail emulator: each page renders real
rows with email content escaped, the queue's forms approve and reject for real, and a form
post without its CSRF token is refused."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from secretary.accounts import service as accounts
from secretary.bootstrap import compose
from secretary.config import Settings
from secretary.db.models import DraftStatus
from secretary.db.session import make_sessionmaker
from secretary.web.app import create_app
from secretary.web.deps import AppState
from secretary.worker.runner import Runtime
from tests.auth import owner_of_account, sign_in
from tests.drafting.queue import (  # noqa: F401 (pending_fixture registers the `pending` fixture)
    Pending,
    RephrasingTier,
    draft_row,
    edit_in_gmail,
    pending_fixture,
    sent_in_thread,
)
from tests.sync.conftest import Connected
from tests.triage.conftest import InlineThread
from tests.triage.helpers import drafts_by_thread, raw_message, sync_now

HOSTILE_SUBJECT = '<script>alert("x")</script> report & <b>numbers</b>'


@pytest.fixture
def client(
    pipeline_settings: Settings,
    engine: Engine,
    pipeline_runtime: Runtime,
    connected: Connected,
    sessions: sessionmaker[Session],
) -> Iterator[TestClient]:
    root = compose(
        pipeline_settings,
        engine=engine,
        sessions=make_sessionmaker(engine),
        gmail=pipeline_runtime.deps.google.gmail,
        tier=RephrasingTier(),
    )
    state = AppState(root=root)
    with TestClient(create_app(pipeline_settings, state=state)) as c:
        # A browser signed in as the connected account's owner (tests/auth.py).
        sign_in(c, sessions, owner_of_account(sessions, connected.account_id))
        yield c


@pytest.fixture
def hostile(
    pending: Pending,
    connected: Connected,
    sessions: sessionmaker[Session],
    inline: InlineThread,
) -> Pending:
    """Beside ``pending``, a second message needing a reply whose subject is HTML."""
    mailbox = connected.emulator.state.users[connected.email].mailbox
    raw, _mid = raw_message(to=connected.email, subject=HOSTILE_SUBJECT)
    mailbox.add_message(raw, label_ids={"INBOX"})
    sync_now(sessions, connected.account_id, connected.settings)
    inline.wait_idle()
    return pending


def csrf_token(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([A-Za-z0-9_-]+)"', page)
    assert found, "the page carries no CSRF token"
    return found.group(1)


def test_pages_render_real_rows_with_email_content_escaped(
    client: TestClient, hostile: Pending, connected: Connected
) -> None:
    escaped = (
        "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; report &amp; &lt;b&gt;numbers&lt;/b&gt;"
    )

    home = client.get("/")
    assert home.status_code == 200
    assert "text/html" in home.headers["content-type"]
    assert connected.email in home.text
    assert re.search(r'class="tile-n">2</span><span class="tile-label">drafts awaiting', home.text)
    assert re.search(r"needs reply</span> <strong>2</strong>", home.text)

    triage = client.get("/triage", params={"category": "needs_reply"})
    assert triage.status_code == 200
    assert escaped in triage.text
    assert "<script>alert" not in triage.text
    assert "Quarterly report" in triage.text
    # Another category's filter leaves these two out.
    assert "Quarterly report" not in client.get("/triage?category=newsletter").text

    drafts = client.get("/drafts")
    assert drafts.status_code == 200
    assert escaped in drafts.text
    assert "<script>alert" not in drafts.text
    assert f'action="/drafts/{hostile.draft_id}/edit"' in drafts.text
    assert re.search(r"From pat\d+@example.org · ", drafts.text)

    accounts = client.get("/accounts")
    assert accounts.status_code == 200
    assert connected.email in accounts.text
    assert "Reconnect" not in accounts.text  # the account is active

    css = client.get("/static/app.css")
    assert css.status_code == 200
    assert "--accent" in css.text


def test_form_post_without_a_valid_csrf_token_is_refused(
    client: TestClient, pending: Pending, sessions: sessionmaker[Session]
) -> None:
    did = pending.draft_id
    assert client.post(f"/drafts/{did}/approve").status_code == 403
    token = csrf_token(client.get("/drafts").text)
    forged = client.post(f"/drafts/{did}/approve", data={"csrf_token": "0" * len(token)})
    assert forged.status_code == 403
    assert "did not come from Secretary" in forged.text
    # A valid token without its cookie (another browser, a cross-site form) fails too.
    bare = TestClient(client.app)
    # Without the signed-in session cookie the post is not even authenticated (401).
    assert bare.post(f"/drafts/{did}/reject", data={"csrf_token": token}).status_code == 401
    assert draft_row(sessions, did).status == DraftStatus.PENDING
    assert sent_in_thread(pending.api, pending.thread_id) == []


def test_edit_then_approve_through_the_form_sends_once(
    client: TestClient, pending: Pending, sessions: sessionmaker[Session]
) -> None:
    did = pending.draft_id
    token = csrf_token(client.get("/drafts").text)

    edited = client.post(
        f"/drafts/{did}/edit",
        data={"csrf_token": token, "body": "Attached is the report.\r\n\r\nAlex"},
        follow_redirects=False,
    )
    assert edited.status_code == 303
    assert edited.headers["location"] == "/drafts"
    page = client.get("/drafts").text
    assert "Edit saved to the Gmail draft." in page
    assert "Attached is the report." in page
    assert draft_row(sessions, did).body == "Attached is the report.\n\nAlex"

    # Approve names the version on the page (issue 7: what you see is what is sent).
    digest = page.split('name="digest" value="', 1)[1].split('"', 1)[0]
    sent = client.post(f"/drafts/{did}/approve", data={"csrf_token": token, "digest": digest})
    assert sent.status_code == 200  # followed the redirect back to the queue
    assert "Reply sent." in sent.text
    assert draft_row(sessions, did).status == DraftStatus.SENT
    messages = sent_in_thread(pending.api, pending.thread_id)
    assert len(messages) == 1
    assert "Attached is the report." in messages[0]["message"].get_content()
    # Sent drafts leave the queue; the flash is shown once.
    after = client.get("/drafts").text
    assert f"draft-{did}" not in after
    assert "Reply sent." not in after


def test_editing_in_the_box_and_approving_teaches_the_style_shown_in_settings(
    client: TestClient, pending: Pending, sessions: sessionmaker[Session]
) -> None:
    # The queue's usual path: type over the suggestion, press Approve (no separate save).
    did = pending.draft_id
    page = client.get("/drafts").text
    token = csrf_token(page)
    digest = page.split('name="digest" value="', 1)[1].split('"', 1)[0]
    typed = "Here is the report you asked for.\r\n\r\nCheers,\r\nAlex"
    sent = client.post(
        f"/drafts/{did}/approve", data={"csrf_token": token, "digest": digest, "body": typed}
    )
    assert "Reply sent." in sent.text
    assert draft_row(sessions, did).status == DraftStatus.SENT
    learned = client.get("/api/v1/preferences/style").json()["preferences"]
    closing = [p for p in learned if p["key"] == "closing" and p["scope"] == "all"]
    assert [(p["value"], p["source"]) for p in closing] == [("Cheers,", "edit")], learned
    settings = client.get("/settings").text
    assert 'value="Cheers,"' in settings
    assert "learned from 1 edit" in settings


def test_reject_regenerate_and_a_refusal_read_as_flash_messages(
    client: TestClient, pending: Pending, sessions: sessionmaker[Session]
) -> None:
    did = pending.draft_id
    token = csrf_token(client.get("/drafts").text)

    # A human edit in Gmail: regenerating would overwrite it, so it is refused (409).
    edit_in_gmail(pending.api, pending, "My own reply, written in Gmail.")
    refused = client.post(f"/drafts/{did}/regenerate", data={"csrf_token": token})
    assert refused.status_code == 200
    assert 'class="flash flash-error"' in refused.text
    assert draft_row(sessions, did).status == DraftStatus.PENDING

    rejected = client.post(f"/drafts/{did}/reject", data={"csrf_token": token})
    assert "Draft rejected and removed from Gmail." in rejected.text
    assert draft_row(sessions, did).status == DraftStatus.REJECTED
    assert drafts_by_thread(pending.api) == {}
    assert sent_in_thread(pending.api, pending.thread_id) == []

    unknown = client.post("/drafts/999999/approve", data={"csrf_token": token})
    assert "draft 999999 not found" in unknown.text


def test_regenerate_through_the_form_replaces_the_suggestion(
    client: TestClient, pending: Pending, sessions: sessionmaker[Session]
) -> None:
    token = csrf_token(client.get("/drafts").text)
    page = client.post(f"/drafts/{pending.draft_id}/regenerate", data={"csrf_token": token})
    assert "A new suggestion replaced the draft." in page.text
    assert "(version 1)" in page.text
    assert draft_row(sessions, pending.draft_id).status == DraftStatus.SUPERSEDED


def test_an_account_that_needs_reauth_offers_reconnect(
    client: TestClient, connected: Connected, sessions: sessionmaker[Session]
) -> None:
    with sessions() as s:
        accounts.mark_needs_reauth(s, connected.account_id, reason="Google revoked the grant")
    for url in ("/", "/accounts"):
        page = client.get(url).text
        assert "needs reauth" in page
        assert "Google revoked the grant" in page
        assert f'/oauth/google/start?account_id={connected.account_id}">Reconnect</a>' in page


def test_reject_reason_and_regenerate_instruction_are_kept_through_the_api(
    client: TestClient, pending: Pending, sessions: sessionmaker[Session]
) -> None:
    from sqlalchemy import select

    from secretary.db.models import DraftFeedback
    from tests.auth import csrf_headers

    csrf = client.get("/drafts").text.split('data-csrf="', 1)[1].split('"', 1)[0]
    regenerated = client.post(
        f"/api/v1/drafts/{pending.draft_id}/regenerate",
        json={"instruction": "shorter"},
        headers=csrf_headers(csrf),
    )
    assert regenerated.status_code == 200, regenerated.text
    new_id = regenerated.json()["id"]
    assert new_id != pending.draft_id
    rejected = client.post(
        f"/api/v1/drafts/{new_id}/reject",
        json={"reason": "not my tone"},
        headers=csrf_headers(csrf),
    )
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["status"] == "rejected"
    with sessions() as s:
        kept = s.scalars(
            select(DraftFeedback).where(DraftFeedback.draft_id.in_([pending.draft_id, new_id]))
        ).all()
        assert sorted((f.kind, f.text) for f in kept) == [
            ("regenerate", "shorter"),
            ("rejected", "not my tone"),
        ]
    # A body-less POST still works (the reason is optional).
    assert client.post(
        f"/api/v1/drafts/{new_id}/reject", headers=csrf_headers(csrf)
    ).status_code in (200, 409)


def test_bulk_actions_change_the_labels_in_gmail(
    client: TestClient, hostile: Pending, connected: Connected, sessions: sessionmaker[Session]
) -> None:
    from sqlalchemy import select

    from secretary.db.models import Message

    with sessions() as s:
        rows = s.scalars(select(Message).where(Message.account_id == connected.account_id)).all()
        ids = [m.id for m in rows if "INBOX" in (m.label_ids or [])][:2]
        gmail_ids = {m.id: m.gmail_id for m in rows}
    assert len(ids) == 2
    page = client.get("/triage").text
    csrf = page.split('data-csrf="', 1)[1].split('"', 1)[0]
    done = client.post(
        "/triage/bulk",
        data={"csrf_token": csrf, "action": "archive", "message_id": [str(i) for i in ids]},
    )
    assert "Archived: 2 messages (in Gmail too)." in done.text
    mailbox = connected.emulator.state.users[connected.email].mailbox
    for mid in ids:
        assert "INBOX" not in mailbox.messages[gmail_ids[mid]].label_ids
    labelled = client.post(
        "/triage/bulk",
        data={
            "csrf_token": csrf,
            "action": "label",
            "label": "Follow up",
            "message_id": [str(ids[0])],
        },
    )
    assert "Labelled “Follow up”: 1 message" in labelled.text
    names = {lab.id: lab.name for lab in mailbox.labels.values()}
    assert "Follow up" in {names.get(x) for x in mailbox.messages[gmail_ids[ids[0]]].label_ids}
    # The API does the same for scripts.
    from tests.auth import csrf_headers

    read = client.post(
        "/api/v1/messages/bulk",
        json={"message_ids": [ids[1]], "action": "read"},
        headers=csrf_headers(csrf),
    )
    assert read.json() == {"action": "read", "changed": 1}
    assert "UNREAD" not in mailbox.messages[gmail_ids[ids[1]]].label_ids
    # Each bulk action is in the audit log: ids and counts only, the caller as the actor.
    from secretary.db.models import AuditLog

    with sessions() as s:
        entries = s.scalars(
            select(AuditLog)
            .where(
                AuditLog.action.in_(
                    ["messages.archive", "messages.label", "messages.read", "messages.unread"]
                )
            )
            .order_by(AuditLog.id)
        ).all()
    assert [(e.action, e.details["count"]) for e in entries][-3:] == [
        ("messages.archive", 2),
        ("messages.label", 1),
        ("messages.read", 1),
    ]
    assert entries[-1].actor != "system"
    with sessions() as s:  # the API's route-level entry would count it twice
        assert s.scalar(select(AuditLog.id).where(AuditLog.action == "messages.bulk")) is None
