"""The push webhook against issue 7's attacks, through the real app and the emulator's
signing keys: a token signed for another service account, a forged ``historyId`` of 10^15,
and a 200 MB body (streamed, never allocated) with and without a valid token."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from workspace_emulator.push import signing_key

from secretary.bootstrap import compose
from secretary.config import Settings
from secretary.db.models import GoogleAccount
from secretary.sync import repository as repo
from secretary.sync import service
from secretary.web.app import create_app
from secretary.web.deps import AppState
from tests.sync.conftest import Connected
from tests.sync.tasks import sync_records
from tests.sync.test_webhook import URL, push_body
from tests.triage.helpers import raw_message
from tests.web.test_body_limits import MiB, Stream, asgi_request

PUSH_ACCOUNT = "gmail-push@secretary-prod.iam.gserviceaccount.com"


def _token(connected: Connected, settings: Settings, *, email: str = PUSH_ACCOUNT) -> str:
    now = int(time.time())
    return str(
        signing_key(connected.emulator.state).sign(
            {
                "iss": "https://accounts.google.com",
                "aud": settings.google.pubsub_audience,
                "email": email,
                "email_verified": True,
                "iat": now,
                "exp": now + 600,
            }
        )
    )


@pytest.fixture
def hardened(connected: Connected) -> Settings:
    google = connected.settings.google.model_copy(update={"pubsub_service_account": PUSH_ACCOUNT})
    return connected.settings.model_copy(update={"google": google})


@pytest.fixture
def client(
    engine: Engine, sessions: sessionmaker[Session], hardened: Settings
) -> Iterator[TestClient]:
    state = AppState(root=compose(hardened, engine=engine, sessions=sessions))
    with TestClient(create_app(hardened, state=state)) as c:
        yield c


def test_a_token_signed_for_another_service_account_is_refused(
    client: TestClient, connected: Connected, hardened: Settings, sessions: sessionmaker[Session]
) -> None:
    forged = _token(connected, hardened, email="attacker@evil-project.iam.gserviceaccount.com")
    r = client.post(
        URL,
        json=push_body(connected.email, 5000, "m-forged"),
        headers={"Authorization": f"Bearer {forged}"},
    )
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "invalid_push_token"
    assert sync_records(sessions, connected.account_id) == []

    genuine = _token(connected, hardened)
    ok = client.post(
        URL,
        json=push_body(connected.email, 5000, "m-genuine"),
        headers={"Authorization": f"Bearer {genuine}"},
    )
    assert ok.status_code == 204
    assert ok.headers["x-secretary-push"] == "sync"


def test_a_forged_history_id_only_triggers_a_sync(
    client: TestClient, connected: Connected, hardened: Settings, sessions: sessionmaker[Session]
) -> None:
    """A captured token replayed with historyId 10^15 used to advance state and blind the
    safety poll. Now it queues a sync and nothing else: the cursor stays Gmail's own."""
    report = service.run_sync(sessions, connected.account_id, connected.settings)
    real = report.history_id
    assert real is not None
    headers = {"Authorization": f"Bearer {_token(connected, hardened)}"}
    r = client.post(URL, json=push_body(connected.email, 10**15, "m-1e15"), headers=headers)
    assert r.status_code == 204
    assert r.headers["x-secretary-push"] == "sync"
    # Nothing keeps the pushed number: not the queued sync, not the account's sync state.
    (record,) = sync_records(sessions, connected.account_id)
    assert str(10**15) not in json.dumps(record.args)
    with sessions() as s:
        account = s.get(GoogleAccount, connected.account_id)
        assert account is not None
        state = repo.get_state(s, account)
        assert str(10**15) not in json.dumps(
            {c.name: str(getattr(state, c.name)) for c in state.__table__.columns}
        )
    # The sync it triggers reads Gmail's history; the stored cursor is Gmail's, not 10^15.
    after = service.run_sync(sessions, connected.account_id, connected.settings)
    with sessions() as s:
        account = s.get(GoogleAccount, connected.account_id)
        assert account is not None
        cursor = repo.get_state(s, account).cursor
    assert cursor is not None
    assert int(cursor) < 10**15
    assert after.history_id is not None
    assert after.history_id < 10**15
    # A genuine change afterwards is still announced and synced, not dropped as stale.
    mailbox = connected.emulator.state.users[connected.email].mailbox
    mailbox.add_message(raw_message(to=connected.email)[0], label_ids={"INBOX"})
    fresh = client.post(
        URL, json=push_body(connected.email, int(cursor) + 1, "m-real"), headers=headers
    )
    assert fresh.headers["x-secretary-push"] == "sync"


def _webhook_headers(token: str | None) -> dict[str, str]:
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    return headers


def test_a_200_mb_push_without_a_token_is_refused_before_reading(
    client: TestClient, connected: Connected
) -> None:
    body = Stream(200 * MiB)
    status, payload = asgi_request(client, "POST", URL, body, _webhook_headers(None))
    assert status == 401
    assert json.loads(payload)["error"]["code"] == "invalid_push_token"
    assert body.pulled == 0  # Authorization first: not a byte of the body was read


def test_a_200_mb_push_with_a_token_is_cut_off_at_64_kib(
    client: TestClient, connected: Connected, hardened: Settings
) -> None:
    body = Stream(200 * MiB)
    status, payload = asgi_request(
        client, "POST", URL, body, _webhook_headers(_token(connected, hardened))
    )
    assert status == 413
    error: dict[str, Any] = json.loads(payload)["error"]
    assert error["code"] == "payload_too_large"
    assert body.pulled <= 2 * 64 * 1024


def test_prod_requires_the_audience_and_the_push_service_account(tmp_path: Any) -> None:
    base: dict[str, Any] = {
        "env": "prod",
        "home": tmp_path,
        "encryption_keys": ["A" * 43 + "="],
        "google": {"client_secret": "real-secret"},
    }
    with pytest.raises(ValueError, match="PUBSUB_AUDIENCE"):
        Settings(**base)
    base["google"]["pubsub_audience"] = "https://secretary.example.com/webhooks/google/pubsub"
    with pytest.raises(ValueError, match="PUBSUB_SERVICE_ACCOUNT"):
        Settings(**base)
    base["google"]["pubsub_service_account"] = PUSH_ACCOUNT
    assert Settings(**base).google.pubsub_service_account == PUSH_ACCOUNT
