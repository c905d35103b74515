"""``/api/v1/drafts`` and ``secretary drafts`` over the real app, database and Gmail
emulator: the approval queue's edges, their status codes and their ``--json`` output."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
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
from secretary.db.models import DraftStatus
from secretary.db.session import make_sessionmaker
from secretary.drafting.gmail import body_hash
from secretary.web.app import create_app
from secretary.web.deps import AppState
from secretary.worker.runner import Runtime
from tests.auth import authenticate_account_owner
from tests.drafting.queue import (  # noqa: F401 (pending_fixture registers the `pending` fixture)
    Pending,
    RephrasingTier,
    draft_row,
    edit_in_gmail,
    gmail_body,
    pending_fixture,
    sent_in_thread,
)
from tests.sync.conftest import Connected
from tests.triage.helpers import drafts_by_thread


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
        # Every API call is the connected account's owner's (tests/auth.py).
        authenticate_account_owner(c, sessions, connected.account_id)
        yield c


def test_queue_edit_regenerate_approve_over_http(
    client: TestClient, pending: Pending, sessions: sessionmaker[Session]
) -> None:
    did = pending.draft_id
    queue = client.get("/api/v1/drafts", params={"status": "pending"})
    assert queue.status_code == 200
    assert did in [d["id"] for d in queue.json()]
    shown = client.get(f"/api/v1/drafts/{did}").json()
    assert shown["status"] == "pending"
    assert shown["gmail_draft_id"] == pending.gmail_draft_id
    assert shown["model"] == "keyword:test"

    # Regenerate: the old suggestion is superseded, the new one holds the Gmail draft.
    r = client.post(f"/api/v1/drafts/{did}/regenerate")
    assert r.status_code == 200, r.text
    new = r.json()
    assert new["id"] != did
    assert new["model"] == "rephrase:v1"
    assert new["gmail_draft_id"] == pending.gmail_draft_id
    assert client.get(f"/api/v1/drafts/{did}").json()["status"] == "superseded"
    stale = {"digest": shown["digest"]}
    assert client.post(f"/api/v1/drafts/{did}/approve", json=stale).status_code == 409
    assert client.post(f"/api/v1/drafts/{did}/approve").status_code == 422  # no digest

    # Edit through the API: written to Gmail, and never regenerated over.
    text = "Here is the report you asked for.\n\nAlex"
    r = client.patch(f"/api/v1/drafts/{new['id']}", json={"body": text})
    assert r.status_code == 200, r.text
    assert r.json()["human_edited"] is True
    assert body_hash(gmail_body(pending.api, pending.gmail_draft_id)) == body_hash(text)
    refused = client.post(f"/api/v1/drafts/{new['id']}/regenerate")
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "draft_human_edited"
    assert client.patch(f"/api/v1/drafts/{new['id']}", json={"body": ""}).status_code == 422

    # Approve what is shown; a second approve says when it was sent, and sends nothing.
    seen = client.get(f"/api/v1/drafts/{new['id']}").json()
    r = client.post(f"/api/v1/drafts/{new['id']}/approve", json={"digest": seen["digest"]})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "sent"
    assert r.json()["sent_at"]
    again = client.post(f"/api/v1/drafts/{new['id']}/approve", json={"digest": seen["digest"]})
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "draft_already_sent"
    assert again.json()["error"]["message"].startswith("Already sent at ")
    when = datetime.fromisoformat(again.json()["error"]["details"]["sent_at"])
    assert when == datetime.fromisoformat(r.json()["sent_at"])
    (sent,) = sent_in_thread(pending.api, pending.thread_id)
    assert body_hash(sent["message"].get_content()) == body_hash(text)
    assert drafts_by_thread(pending.api) == {}
    wrong = client.post(f"/api/v1/drafts/{new['id']}/reject")
    assert wrong.status_code == 409
    assert wrong.json()["error"]["code"] == "draft_wrong_state"
    assert did not in [d["id"] for d in client.get("/api/v1/drafts").json()]


def test_reject_gmail_edit_and_unknown_over_http(
    client: TestClient, pending: Pending, sessions: sessionmaker[Session]
) -> None:
    did = pending.draft_id
    edit_in_gmail(pending.api, pending, "My own reply, written in Gmail.")
    refused = client.post(f"/api/v1/drafts/{did}/regenerate")
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "draft_human_edited"
    assert client.patch(f"/api/v1/drafts/{did}", json={"body": "x"}).status_code == 409
    assert body_hash(gmail_body(pending.api, pending.gmail_draft_id)) == body_hash(
        "My own reply, written in Gmail."
    )

    r = client.post(f"/api/v1/drafts/{did}/reject")
    assert r.status_code == 200
    assert r.json()["status"] == "rejected"
    assert drafts_by_thread(pending.api) == {}
    digest = {"digest": "0" * 64}
    assert client.post(f"/api/v1/drafts/{did}/approve", json=digest).status_code == 409
    assert sent_in_thread(pending.api, pending.thread_id) == []
    listed = client.get("/api/v1/drafts", params={"status": "rejected"}).json()
    assert did in [d["id"] for d in listed]

    missing = client.get("/api/v1/drafts/999999999")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "draft_not_found"
    assert client.post("/api/v1/drafts/999999999/approve", json=digest).status_code == 404
    assert client.get("/api/v1/drafts", params={"status": "bogus"}).status_code == 422


runner = CliRunner()


@pytest.fixture
def cli(pipeline_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    ctx = context.CliContext(settings=pipeline_settings)
    monkeypatch.setattr(context, "_ctx", ctx)
    with structlog.testing.capture_logs():
        yield
    ctx.close()


def _json(args: list[str]) -> Any:
    result = runner.invoke(root_app, [*args, "--json"])
    assert result.exit_code == 0, (result.output, result.exception)
    return json.loads(result.stdout)


def test_cli_list_show_edit_regenerate_approve(
    cli: None, pending: Pending, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    did = pending.draft_id
    listed = _json(["drafts", "list", "--user-id", str(draft_row(sessions, did).user_id)])
    assert [d["id"] for d in listed] == [did]
    table = runner.invoke(root_app, ["drafts", "list"])
    assert table.exit_code == 0
    assert "Drafts: pending" in table.output
    shown = _json(["drafts", "show", str(did)])
    assert shown["status"] == "pending"

    new = _json(["drafts", "regenerate", str(did), "--tier", "tests.drafting.queue:RephrasingTier"])
    assert new["model"] == "rephrase:v1"
    assert draft_row(sessions, did).status == DraftStatus.SUPERSEDED
    new_id = str(new["id"])

    body = tmp_path / "reply.txt"
    body.write_text("Edited from the command line.\n", encoding="utf-8")
    edited = _json(["drafts", "edit", new_id, "--body-file", str(body)])
    assert edited["human_edited"] is True
    assert body_hash(gmail_body(pending.api, pending.gmail_draft_id)) == body_hash(
        "Edited from the command line."
    )

    digest = _json(["drafts", "show", new_id])["digest"]
    assert _json(["drafts", "approve", new_id, "--digest", digest])["status"] == "sent"
    again = runner.invoke(root_app, ["drafts", "approve", new_id, "--digest", digest, "--json"])
    assert again.exit_code != 0
    assert getattr(again.exception, "code", None) == "draft_already_sent"
    assert len(sent_in_thread(pending.api, pending.thread_id)) == 1

    refused = runner.invoke(root_app, ["drafts", "reject", new_id])
    assert refused.exit_code != 0
    assert getattr(refused.exception, "code", None) == "draft_wrong_state"


def test_cli_reject(cli: None, pending: Pending, sessions: sessionmaker[Session]) -> None:
    out = runner.invoke(root_app, ["drafts", "reject", str(pending.draft_id)])
    assert out.exit_code == 0, out.output
    assert "rejected" in out.output
    assert draft_row(sessions, pending.draft_id).status == DraftStatus.REJECTED
    assert drafts_by_thread(pending.api) == {}
