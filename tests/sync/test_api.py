"""``GET /api/v1/sync/status`` and ``POST /api/v1/sync`` through the real app."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from secretary.bootstrap import compose
from secretary.sync import service
from secretary.web.app import create_app
from secretary.web.deps import AppState
from tests.auth import authenticate_account_owner
from tests.sync.conftest import Connected, seed_mailbox
from tests.sync.tasks import sync_records


def test_status_and_request(
    engine: Engine, sessions: sessionmaker[Session], connected: Connected
) -> None:
    seed_mailbox(connected.emulator.state, connected.email, singles=12, threads=1)
    service.run_sync(sessions, connected.account_id, connected.settings)
    state = AppState(root=compose(connected.settings, engine=engine, sessions=sessions))
    with TestClient(create_app(connected.settings, state=state)) as client:
        authenticate_account_owner(client, sessions, connected.account_id)
        one = client.get(f"/api/v1/sync/status/{connected.account_id}")
        assert one.status_code == 200
        body = one.json()
        assert body["phase"] == "incremental"
        assert body["messages"] == 15
        assert body["pending"] == 0
        assert body["history_id"] > 0
        listed = client.get("/api/v1/sync/status").json()
        assert connected.account_id in [s["account"] for s in listed]
        accepted = client.post("/api/v1/sync", json={"account": connected.account_id})
        assert accepted.status_code == 202
        assert accepted.json() == {"scheduled": [connected.account_id]}
        # A durable sync task per service the account granted, committed with the request.
        (record,) = sync_records(sessions, connected.account_id)
        assert record.args["service"] == "gmail"
        assert record.status == "queued"
        missing = client.post("/api/v1/sync", json={"account": 999_999})
        assert missing.status_code == 404
