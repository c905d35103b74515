"""The triage, rules, tasks and events endpoints over the real app and database."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session, sessionmaker
from workspace_emulator.faults import EndpointFaults, FaultConfig, fault_injector

from secretary.bootstrap import compose
from secretary.config import Settings
from secretary.db.models import Message, TaskRecord, TaskStatus, User
from secretary.db.session import make_sessionmaker
from secretary.web.app import create_app
from secretary.web.deps import AppState
from secretary.worker import events
from tests.auth import authenticate, authenticate_account_owner, create_user
from tests.triage.conftest import Connected, InlineThread
from tests.triage.helpers import drafts_by_thread, gmail_api, raw_message, sync_now


@pytest.fixture
def client(settings: Settings, engine: Engine) -> Iterator[TestClient]:
    state = AppState(root=compose(settings, engine=engine, sessions=make_sessionmaker(engine)))
    with TestClient(create_app(settings, state=state)) as c:
        yield c


def test_rules_crud_and_preview(client: TestClient, sessions: sessionmaker[Session]) -> None:
    email = f"rules-{uuid.uuid4().hex[:8]}@example.com"
    with sessions.begin() as s:
        user = User(email=email)
        s.add(user)
        s.flush()
        uid = user.id
    authenticate(client, sessions, uid)
    try:
        body = {
            "name": "Vendors are FYI",
            "conditions": {"domain": ["vendor.com"], "subject": "invoice"},
            "actions": {"category": "fyi", "labels": ["Vendors"], "draft": "never"},
        }
        r = client.post("/api/v1/rules", json=body)
        assert r.status_code == 201, r.text
        rule = r.json()
        assert rule["conditions"]["domain"] == ["vendor.com"]
        assert client.get("/api/v1/rules").json()[0]["id"] == rule["id"]
        body["name"] = "Renamed"
        r = client.put(f"/api/v1/rules/{rule['id']}", json=body)
        assert r.json()["name"] == "Renamed"
        bad = client.post(
            "/api/v1/rules",
            json={"name": "x", "conditions": {}, "actions": {"archive": True}},
        )
        assert bad.status_code == 422
        preview = client.post(
            "/api/v1/rules/preview",
            json={"conditions": {"domain": ["vendor.com"]}},
        )
        assert preview.status_code == 200
        assert preview.json() == {"matched": 0, "scanned": 0, "messages": []}
        assert client.delete(f"/api/v1/rules/{rule['id']}").status_code == 204
        missing = client.get(f"/api/v1/rules/{rule['id']}")
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "rule_not_found"
    finally:
        with sessions.begin() as s:
            s.execute(delete(User).where(User.id == uid))


def test_triage_listing_dead_letter_retry_and_reprocess_over_http(
    client: TestClient,
    connected: Connected,
    sessions: sessionmaker[Session],
    inline: InlineThread,
) -> None:
    state = connected.emulator.state
    authenticate_account_owner(client, sessions, connected.account_id)
    sync_now(sessions, connected.account_id, connected.settings)
    fault_injector(state).configure(
        FaultConfig(endpoints={"gmail.users.drafts.create": EndpointFaults(error_500=1.0)})
    )
    raw, _ = raw_message(to=connected.email, subject="Can we talk?")
    stored = state.users[connected.email].mailbox.add_message(raw, label_ids={"INBOX"})
    sync_now(sessions, connected.account_id, connected.settings)
    inline.wait_idle()
    with sessions() as s:
        message_id = s.scalar(select(Message.id).where(Message.gmail_id == stored.id))
    assert message_id is not None

    listed = client.get("/api/v1/triage", params={"category": "needs_reply", "limit": 1000})
    assert listed.status_code == 200
    mine = [t for t in listed.json() if t["message_id"] == message_id]
    assert mine
    assert mine[0]["subject"] == "Can we talk?"

    dead = client.get("/api/v1/tasks", params={"status": "dead", "message_id": message_id}).json()
    assert [d["name"] for d in dead] == ["drafting.create_gmail_draft"]
    detail = client.get(f"/api/v1/tasks/{dead[0]['id']}").json()
    assert "500" in detail["last_error"]
    assert "Traceback" in detail["last_traceback"]

    fault_injector(state).configure(FaultConfig())
    r = client.post(f"/api/v1/tasks/{dead[0]['id']}/retry")
    assert r.status_code == 200
    assert r.json()["status"] == "queued"
    inline.wait_idle()
    assert client.get(f"/api/v1/tasks/{dead[0]['id']}").json()["status"] == "succeeded"
    again = client.post(f"/api/v1/tasks/{dead[0]['id']}/retry")
    assert again.status_code == 409

    r = client.post(f"/api/v1/messages/{message_id}/reprocess")
    assert r.status_code == 202
    inline.wait_idle()
    with sessions() as s:
        classify = s.get(TaskRecord, r.json()["task_id"])
        assert classify is not None
        assert classify.status == TaskStatus.SUCCEEDED
        assert classify.queue == "priority"
    api = gmail_api(state, connected.emulator.base_url, connected.email)
    assert [len(v) for v in drafts_by_thread(api).values()] == [1]  # reused, not duplicated
    assert client.post("/api/v1/messages/999999999/reprocess").status_code == 404


def test_events_stream_delivers_committed_events(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    marker = uuid.uuid4().hex
    uid = create_user(sessions)
    authenticate(client, sessions, uid)

    def publish_later() -> None:
        time.sleep(0.5)
        with sessions.begin() as s:
            events.publish(s, "test.rolled_back", user_id=uid, marker=marker)
            s.rollback()
        with sessions.begin() as s:
            events.publish(s, "triage.completed", user_id=None, marker="not-yours")
            events.publish(s, "triage.completed", user_id=uid, marker=marker)

    seen: list[tuple[str, dict[str, object]]] = []
    with client.stream("GET", "/api/v1/events") as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        threading.Thread(target=publish_later, daemon=True).start()
        kind = ""
        for line in response.iter_lines():
            if line.startswith("event:"):
                kind = line.split(":", 1)[1].strip()
            elif line.startswith("data:"):
                seen.append((kind, json.loads(line.split(":", 1)[1])))
                if kind == "triage.completed":
                    break
    assert seen[0][0] == "ready"
    assert seen[-1][0] == "triage.completed"
    assert seen[-1][1]["marker"] == marker
    assert all(k != "test.rolled_back" for k, _ in seen)
