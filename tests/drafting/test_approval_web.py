"""Approval integrity at the edges (issue 7): the drafts API and the queue page over the
real app, Postgres and the Gmail emulator. A Gmail-side edit with added Cc answers 409
with the change (and the queue shows it highlighted); the page's Approve sends the text in
the box; a second approve says "already sent at"; hidden Cc and Bcc are listed."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from urllib.parse import unquote

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from secretary.bootstrap import compose
from secretary.config import Settings
from secretary.db.session import make_sessionmaker
from secretary.drafting.gmail import body_hash
from secretary.web.app import create_app
from secretary.web.deps import AppState
from secretary.worker.runner import Runtime
from tests.auth import authenticate, owner_of_account, sign_in
from tests.drafting.queue import (  # noqa: F401 (pending_fixture registers the `pending` fixture)
    Pending,
    RephrasingTier,
    draft_row,
    gmail_body,
    pending_fixture,
)
from tests.sync.conftest import Connected

ADDED_CC = ["counsel@lawfirm.test", "board@acme.test", "press@news.test"]


@pytest.fixture
def app_state(pipeline_settings: Settings, engine: Engine, pipeline_runtime: Runtime) -> AppState:
    root = compose(
        pipeline_settings,
        engine=engine,
        sessions=make_sessionmaker(engine),
        gmail=pipeline_runtime.deps.google.gmail,
        tier=RephrasingTier(),
    )
    return AppState(root=root)


@pytest.fixture
def api(
    app_state: AppState, connected: Connected, sessions: sessionmaker[Session]
) -> Iterator[TestClient]:
    with TestClient(create_app(app_state.settings, state=app_state)) as c:
        authenticate(c, sessions, owner_of_account(sessions, connected.account_id))
        yield c


@pytest.fixture
def browser(
    app_state: AppState, connected: Connected, sessions: sessionmaker[Session]
) -> Iterator[tuple[TestClient, str]]:
    with TestClient(create_app(app_state.settings, state=app_state)) as c:
        csrf = sign_in(c, sessions, owner_of_account(sessions, connected.account_id))
        yield c, csrf


def _edit_in_gmail(p: Pending, *, to: str, subject: str, body: str, cc: str = "") -> None:
    msg = EmailMessage()
    msg["To"] = to
    if cc:
        msg["Cc"] = cc
    msg["Subject"] = subject
    msg.set_content(body)
    raw = base64.urlsafe_b64encode(bytes(msg)).decode()
    p.api.users().drafts().update(
        userId="me", id=p.gmail_draft_id, body={"message": {"raw": raw, "threadId": p.thread_id}}
    ).execute()


def _sent_body(p: Pending, gmail_id: str) -> str:
    full = p.api.users().messages().get(userId="me", id=gmail_id, format="raw").execute()
    msg = message_from_bytes(base64.urlsafe_b64decode(full["raw"]), policy=policy.default)
    return str(msg.get_content())


def test_api_refuses_a_gmail_edit_with_added_cc_and_shows_the_change(
    api: TestClient, pending: Pending
) -> None:
    url = f"/api/v1/drafts/{pending.draft_id}"
    seen = api.get(url).json()
    assert seen["bcc_addrs"] == []
    assert len(seen["digest"]) == 64
    _edit_in_gmail(
        pending,
        to=seen["to_addrs"][0],
        subject=seen["subject"],
        cc=", ".join(ADDED_CC),
        body="Sending this to everyone on the list.",
    )
    r = api.post(f"{url}/approve", json={"digest": seen["digest"]})
    assert r.status_code == 409, r.text
    error = r.json()["error"]
    assert error["code"] == "draft_changed"
    assert error["request_id"]
    assert error["details"]["changes"]["added"] == {"cc": sorted(ADDED_CC)}
    assert "3 Cc added" in error["message"]
    assert draft_row_status(api, url) == "pending"  # nothing was sent

    # The 409 was committed: the queue shows Gmail's version and highlights the change.
    now = api.get(url).json()
    assert now["cc_addrs"] == sorted(ADDED_CC)
    assert now["digest"] == error["details"]["digest"]
    assert now["changes"]["added"] == {"cc": sorted(ADDED_CC)}
    assert {"op": "insert", "text": "Sending this to everyone on the list."} in now["changes"][
        "body"
    ]
    assert any(f["kind"] == "external_recipient" for f in now["flags"])
    queue = api.get("/api/v1/drafts").json()
    assert next(d for d in queue if d["id"] == pending.draft_id)["cc_addrs"] == sorted(ADDED_CC)

    ok = api.post(f"{url}/approve", json={"digest": now["digest"]})
    assert ok.status_code == 200, ok.text
    assert ok.json()["status"] == "sent"


def draft_row_status(api: TestClient, url: str) -> str:
    return str(api.get(url).json()["status"])


def test_api_input_checks(api: TestClient, pending: Pending) -> None:
    url = f"/api/v1/drafts/{pending.draft_id}"
    nul = api.patch(url, json={"body": "hello\u0000world"})
    assert nul.status_code == 422
    assert nul.json()["error"]["code"] == "validation_error"
    assert api.post(f"{url}/approve", json={"digest": "not-a-digest"}).status_code == 422
    assert api.post(f"{url}/approve", json={}).status_code == 422
    assert api.get("/api/v1/drafts/99999999999999999999999").status_code in (404, 422)


def test_queue_page_sends_the_typed_text_and_then_says_already_sent(
    browser: tuple[TestClient, str], pending: Pending, sessions: sessionmaker[Session]
) -> None:
    client, csrf = browser
    page = client.get("/drafts").text
    row = draft_row(sessions, pending.draft_id)
    for address in row.to_addrs:
        assert address in page
    digest = page.split('name="digest" value="', 1)[1].split('"', 1)[0]
    typed = "Typed in the box, never saved.\r\n\r\nAlex"
    form = {"csrf_token": csrf, "digest": digest, "body": typed}
    r = client.post(f"/drafts/{pending.draft_id}/approve", data=form, follow_redirects=False)
    assert r.status_code == 303
    assert unquote(r.cookies.get("secretary_flash", "")).startswith("ok:")
    sent = draft_row(sessions, pending.draft_id)
    assert sent.status == "sent"
    assert sent.gmail_message_id
    assert body_hash(_sent_body(pending, sent.gmail_message_id)) == body_hash(typed)

    # The same (stale) form again: not "Reply sent", but when it was sent.
    again = client.post(f"/drafts/{pending.draft_id}/approve", data=form, follow_redirects=False)
    assert again.status_code == 303
    flash = unquote(again.cookies.get("secretary_flash", ""))
    assert flash.startswith("error:Already sent at ")
    assert "Reply sent" not in flash


def test_queue_page_lists_hidden_cc_and_bcc_with_warnings(
    browser: tuple[TestClient, str], pending: Pending, sessions: sessionmaker[Session]
) -> None:
    client, _csrf = browser
    row = draft_row(sessions, pending.draft_id)
    msg = EmailMessage()
    msg["To"] = row.to_addrs[0]
    msg["Cc"] = ", ".join(f"partner{i}@firm{i}.test" for i in range(5))
    msg["Bcc"] = "leak@outside.test"
    msg["Subject"] = row.subject
    msg.set_content(row.body)
    raw = base64.urlsafe_b64encode(bytes(msg)).decode()
    pending.api.users().drafts().update(
        userId="me",
        id=pending.gmail_draft_id,
        body={"message": {"raw": raw, "threadId": pending.thread_id}},
    ).execute()
    # Any approve (here a stale one) re-reads Gmail and adopts its version for the queue.
    client.post(
        f"/drafts/{pending.draft_id}/approve",
        data={"csrf_token": _csrf, "digest": "0" * 64},
        follow_redirects=False,
    )
    page = client.get(f"/drafts/{pending.draft_id}").text
    assert "leak@outside.test" in page
    assert "partner4@firm4.test" in page
    assert 'data-flag="many_recipients"' in page
    assert 'data-flag="external_recipient"' in page
    assert "Bcc added: leak@outside.test" in page


def test_typed_text_is_kept_when_gmail_changed_meanwhile(
    browser: tuple[TestClient, str], pending: Pending, sessions: sessionmaker[Session]
) -> None:
    """Typed, then Approve, but the draft had changed in Gmail: nothing is sent, the page
    shows Gmail's version highlighted, and the text box still holds the typed words."""
    client, csrf = browser
    page = client.get("/drafts").text
    digest = page.split('name="digest" value="', 1)[1].split('"', 1)[0]
    row = draft_row(sessions, pending.draft_id)
    _edit_in_gmail(
        pending,
        to=row.to_addrs[0],
        subject=row.subject,
        cc=", ".join(ADDED_CC),
        body="Changed in Gmail by someone else.",
    )
    typed = "My careful answer, typed in the queue."
    r = client.post(
        f"/drafts/{pending.draft_id}/approve",
        data={"csrf_token": csrf, "digest": digest, "body": typed},
        follow_redirects=False,
    )
    assert r.status_code == 409
    assert typed in r.text  # the text box keeps it
    assert "Not sent:" in r.text
    assert "3 Cc added" in r.text
    assert "<ins>+ Changed in Gmail by someone else.</ins>" in r.text
    assert draft_row(sessions, pending.draft_id).status == "pending"


def test_save_edit_over_a_gmail_edit_keeps_both(
    browser: tuple[TestClient, str],
    api: TestClient,
    pending: Pending,
    sessions: sessionmaker[Session],
) -> None:
    """ "Save edit" when the draft was edited in Gmail meanwhile: neither edit is lost. Gmail's
    stays in Gmail and is shown; the typed text stays in the box (and the API says 409)."""
    client, csrf = browser
    row = draft_row(sessions, pending.draft_id)
    _edit_in_gmail(pending, to=row.to_addrs[0], subject=row.subject, body="Gmail words.")
    typed = "Queue words, typed before seeing the Gmail edit."
    r = client.post(
        f"/drafts/{pending.draft_id}/edit",
        data={"csrf_token": csrf, "body": typed},
        follow_redirects=False,
    )
    assert r.status_code == 409
    assert typed in r.text
    assert "Not saved:" in r.text
    assert "<ins>+ Gmail words.</ins>" in r.text
    assert body_hash(_gmail_text(pending)) == body_hash("Gmail words.")
    refused = api.patch(f"/api/v1/drafts/{pending.draft_id}", json={"body": "API words"})
    assert refused.status_code == 200  # the Gmail version is the shown one now: editable
    assert body_hash(_gmail_text(pending)) == body_hash("API words")


def _gmail_text(p: Pending) -> str:
    return gmail_body(p.api, p.gmail_draft_id)


def test_viewing_a_draft_shows_a_gmail_edit_before_any_approve(
    browser: tuple[TestClient, str],
    api: TestClient,
    pending: Pending,
    sessions: sessionmaker[Session],
) -> None:
    """The queue kept showing the old text after an edit in Gmail; the draft's page and
    ``?refresh=true`` now re-read Gmail and highlight the change."""
    client, _csrf = browser
    row = draft_row(sessions, pending.draft_id)
    _edit_in_gmail(
        pending,
        to=row.to_addrs[0],
        subject=row.subject,
        cc=", ".join(ADDED_CC),
        body="Rewritten in Gmail.",
    )
    stale = api.get(f"/api/v1/drafts/{pending.draft_id}").json()
    assert stale["cc_addrs"] == []  # no Gmail read without asking
    fresh = api.get(f"/api/v1/drafts/{pending.draft_id}", params={"refresh": "true"}).json()
    assert fresh["cc_addrs"] == sorted(ADDED_CC)
    assert fresh["changes"]["added"] == {"cc": sorted(ADDED_CC)}
    page = client.get(f"/drafts/{pending.draft_id}").text
    assert "Rewritten in Gmail." in page
    assert "<ins>+ Rewritten in Gmail.</ins>" in page
    assert "Cc added: " in page
