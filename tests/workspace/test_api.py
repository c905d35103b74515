"""``GET /api/v1/sync``: the per-service status contract, through the real app."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import Engine, update
from sqlalchemy.orm import Session, sessionmaker

from secretary.bootstrap import compose
from secretary.db.models import GoogleAccount, SyncState
from secretary.sync.calendar import sync_calendar
from secretary.sync.drive import sync_drive
from secretary.sync.workspace import service_lock
from secretary.web.app import create_app
from secretary.web.deps import AppState
from tests.auth import authenticate_account_owner
from tests.sync.conftest import Connected
from tests.workspace.conftest import seed_calendars, seed_drive


def test_sync_status_per_service(
    engine: Engine, sessions: sessionmaker[Session], workspace: Connected
) -> None:
    emu, email = workspace.emulator.state, workspace.email
    seed_calendars(emu, email, calendars=2, events=20)
    seed_drive(emu, email, files=10)
    sync_calendar(sessions, workspace.account_id, workspace.settings)
    sync_drive(sessions, workspace.account_id, workspace.settings)
    state = AppState(root=compose(workspace.settings, engine=engine, sessions=sessions))
    with TestClient(create_app(workspace.settings, state=state)) as client:
        authenticate_account_owner(client, sessions, workspace.account_id)
        body = client.get("/api/v1/sync").json()
        assert set(body) == {"services"}
        by_service = {s["service"]: s for s in body["services"]}
        assert set(by_service) == {"gmail", "calendar", "drive"}
        for entry in body["services"]:
            assert set(entry) == {
                "account",
                "service",
                "state",
                "last_synced_at",
                "items",
                "error",
            }
            assert entry["account"] == workspace.account_id
        assert by_service["gmail"]["state"] == "idle"
        assert by_service["gmail"]["last_synced_at"] is None
        assert by_service["calendar"]["state"] == "idle"
        assert by_service["calendar"]["items"] >= 20
        assert by_service["calendar"]["last_synced_at"] is not None
        assert by_service["drive"]["items"] == 11  # 10 files and their folder
        assert by_service["drive"]["error"] is None

        with service_lock(sessions, "drive", workspace.account_id):
            running = {
                s["service"]: s["state"] for s in client.get("/api/v1/sync").json()["services"]
            }
        assert running == {"gmail": "idle", "calendar": "idle", "drive": "running"}

        with sessions.begin() as session:
            session.execute(
                update(SyncState)
                .where(
                    SyncState.account_id == workspace.account_id, SyncState.service == "calendar"
                )
                .values(last_error="GoogleUnavailable: Google is unavailable (HTTP 503)")
            )
        errored = {s["service"]: s for s in client.get("/api/v1/sync").json()["services"]}
        assert errored["calendar"]["state"] == "error"
        assert "503" in errored["calendar"]["error"]

        with sessions.begin() as session:
            session.execute(
                update(GoogleAccount)
                .where(GoogleAccount.id == workspace.account_id)
                .values(status="needs_reauth", status_reason="Connect the account again.")
            )
        states = {s["state"] for s in client.get("/api/v1/sync").json()["services"]}
        assert states == {"needs_reauth"}
