"""``POST /webhooks/google/pubsub``: OIDC verification against the emulator's JWKS,
duplicate dropping and scheduling, through the real FastAPI app."""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker
from workspace_emulator.push import _new_signing_key, signing_key

from secretary.bootstrap import compose
from secretary.db.models import PushReceipt
from secretary.sync import engine as sync_engine
from secretary.sync import service
from secretary.web.app import create_app
from secretary.web.deps import AppState
from tests.sync.conftest import Connected
from tests.sync.tasks import sync_records

URL = "/webhooks/google/pubsub"


@pytest.fixture
def app_client(
    engine: Engine, sessions: sessionmaker[Session], connected: Connected
) -> Iterator[TestClient]:
    state = AppState(root=compose(connected.settings, engine=engine, sessions=sessions))
    with TestClient(create_app(connected.settings, state=state)) as client:
        yield client


def push_body(email: str, history_id: int, message_id: str) -> dict[str, Any]:
    data = json.dumps({"emailAddress": email, "historyId": history_id}).encode()
    return {
        "message": {"data": base64.b64encode(data).decode(), "messageId": message_id},
        "subscription": "projects/secretary/subscriptions/gmail-push",
    }


def token(connected: Connected, *, audience: str | None = None, key: Any = None) -> str:
    now = int(time.time())
    signer = key or signing_key(connected.emulator.state)
    return str(
        signer.sign(
            {
                "iss": "https://accounts.google.com",
                "aud": audience or connected.settings.google.pubsub_audience,
                "email": "gmail-push@example.iam.gserviceaccount.com",
                "email_verified": True,
                "iat": now,
                "exp": now + 600,
            }
        )
    )


def test_valid_push_schedules_a_sync_once(
    app_client: TestClient, connected: Connected, sessions: sessionmaker[Session]
) -> None:
    client = app_client
    headers = {"Authorization": f"Bearer {token(connected)}"}
    r = client.post(URL, json=push_body(connected.email, 5000, "m-1"), headers=headers)
    assert r.status_code == 204
    assert r.headers["x-secretary-push"] == "sync"
    # A durable sync task, committed with the request (run by whichever runtime is up).
    (record,) = sync_records(sessions, connected.account_id)
    assert record.args == {"account_id": connected.account_id, "service": "gmail"}
    assert record.queue == "sync"
    assert record.status == "queued"
    again = client.post(URL, json=push_body(connected.email, 5000, "m-1"), headers=headers)
    assert again.status_code == 204
    assert again.headers["x-secretary-push"] == "duplicate"
    # A new push while that sync is still queued coalesces into it.
    more = client.post(URL, json=push_body(connected.email, 5001, "m-2"), headers=headers)
    assert more.headers["x-secretary-push"] == "sync"
    assert len(sync_records(sessions, connected.account_id)) == 1


@pytest.mark.parametrize("case", ["missing", "audience", "foreign_key", "garbage"])
def test_bad_tokens_are_rejected(
    app_client: TestClient, connected: Connected, case: str, sessions: sessionmaker[Session]
) -> None:
    client = app_client
    headers = {
        "missing": {},
        "audience": {"Authorization": f"Bearer {token(connected, audience='someone-else')}"},
        "foreign_key": {"Authorization": f"Bearer {token(connected, key=_new_signing_key())}"},
        "garbage": {"Authorization": "Bearer not.a.jwt"},
    }[case]
    r = client.post(URL, json=push_body(connected.email, 1, f"m-{case}"), headers=headers)
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "invalid_push_token"
    assert sync_records(sessions, connected.account_id) == []


def test_stale_and_unknown_pushes_are_dropped(
    app_client: TestClient,
    connected: Connected,
    sessions: sessionmaker[Session],
) -> None:
    client = app_client
    report = service.run_sync(sessions, connected.account_id, connected.settings)
    assert report.history_id is not None
    headers = {"Authorization": f"Bearer {token(connected)}"}
    stale = client.post(
        URL, json=push_body(connected.email, report.history_id, "m-stale"), headers=headers
    )
    assert stale.headers["x-secretary-push"] == "stale"
    unknown = client.post(URL, json=push_body("nobody@example.com", 9, "m-u"), headers=headers)
    assert unknown.headers["x-secretary-push"] == "unknown_account"
    assert sync_records(sessions, connected.account_id) == []


def test_signing_keys_are_cached_and_refetched_on_rotation(
    connected: Connected, monkeypatch: pytest.MonkeyPatch
) -> None:
    from secretary.web.api import webhooks

    certs = webhooks._CachedCerts(min_refetch=0)
    monkeypatch.setattr(webhooks, "_certs_transport", certs)
    # Only the keys' cache here: every token is verified against them.
    monkeypatch.setattr(webhooks._verified_tokens, "capacity", 0)
    settings = connected.settings
    url = webhooks.certs_url(settings)

    webhooks.verify_push_token(f"Bearer {token(connected)}", settings)
    first_fetch = certs._fetched_at[url]
    webhooks.verify_push_token(f"Bearer {token(connected)}", settings)
    assert certs._fetched_at[url] == first_fetch  # served from the cache

    # Google rotates its keys: a token signed by the new key triggers one refetch.
    connected.emulator.state.extras["signing_key"] = _new_signing_key()
    claims = webhooks.verify_push_token(f"Bearer {token(connected)}", settings)
    assert claims["aud"] == settings.google.pubsub_audience
    assert certs._fetched_at[url] > first_fetch

    # A token from a key Google never published is still refused.
    with pytest.raises(webhooks.InvalidPushToken):
        webhooks.verify_push_token(f"Bearer {token(connected, key=_new_signing_key())}", settings)


def test_verified_tokens_are_reused_until_they_expire_and_only_for_the_same_checks(
    connected: Connected, monkeypatch: pytest.MonkeyPatch
) -> None:
    from secretary.web.api import webhooks

    monkeypatch.setattr(webhooks, "_verified_tokens", webhooks._VerifiedTokens())
    settings = connected.settings
    bearer = f"Bearer {token(connected)}"
    assert webhooks.cached_claims(bearer, settings) is None
    claims = webhooks.verify_push_token(bearer, settings)
    assert webhooks.cached_claims(bearer, settings) == claims  # no RSA for the next push

    # The same token under stricter settings (a required push service account it was not
    # signed for) is checked again, and refused.
    strict = settings.model_copy(
        update={
            "google": settings.google.model_copy(
                update={"pubsub_service_account": "other@proj.iam.gserviceaccount.com"}
            )
        }
    )
    assert webhooks.cached_claims(bearer, strict) is None
    with pytest.raises(webhooks.InvalidPushToken):
        webhooks.verify_push_token(bearer, strict)

    # Once exp has passed the cached claims are gone; google-auth then refuses the token.
    now = int(time.time())
    expired = str(
        signing_key(connected.emulator.state).sign(
            {
                "iss": "https://accounts.google.com",
                "aud": settings.google.pubsub_audience,
                "email": "gmail-push@example.iam.gserviceaccount.com",
                "email_verified": True,
                "iat": now - 7200,
                "exp": now - 3600,
            }
        )
    )
    key = webhooks._VerifiedTokens.key(expired, settings)
    webhooks._verified_tokens.put(key, {"exp": now - 1, "aud": "x"})
    assert webhooks.cached_claims(f"Bearer {expired}", settings) is None
    with pytest.raises(webhooks.InvalidPushToken):
        webhooks.verify_push_token(f"Bearer {expired}", settings)


def test_a_verified_token_is_not_reused_under_other_signing_keys(
    connected: Connected, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Settings that verify against other keys (the emulator's vs. Google's) check the token
    again: a verdict reached with one set of keys says nothing about another."""
    from secretary.web.api import webhooks

    monkeypatch.setattr(webhooks, "_verified_tokens", webhooks._VerifiedTokens())
    settings = connected.settings
    bearer = f"Bearer {token(connected)}"
    webhooks.verify_push_token(bearer, settings)
    assert webhooks.cached_claims(bearer, settings) is not None

    elsewhere = settings.model_copy(
        update={
            "google": settings.google.model_copy(
                update={"oauth_base_url": "http://127.0.0.1:9", "api_base_url": None}
            )
        }
    )
    assert webhooks.certs_url(elsewhere) != webhooks.certs_url(settings)
    assert webhooks.cached_claims(bearer, elsewhere) is None
    # Nothing answers at those keys' address: the token cannot be verified there.
    with pytest.raises(webhooks.InvalidPushToken):
        webhooks.verify_push_token(bearer, elsewhere)


def _db_down(*_args: Any, **_kwargs: Any) -> Any:
    raise OperationalError("insert", {}, Exception("the database went away"))


def test_a_push_that_cannot_be_recorded_is_refused_and_recorded_nowhere(
    engine: Engine,
    sessions: sessionmaker[Session],
    connected: Connected,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No 2xx before the commit: Pub/Sub must redeliver what we failed to record, and the
    redelivery is then a first delivery (no receipt was left behind)."""
    real = sync_engine.request_syncs
    monkeypatch.setattr(sync_engine, "request_syncs", _db_down)
    state = AppState(root=compose(connected.settings, engine=engine, sessions=sessions))
    headers = {"Authorization": f"Bearer {token(connected)}"}
    message_id = f"m-{uuid.uuid4().hex}"
    app = create_app(connected.settings, state=state)
    with TestClient(app, raise_server_exceptions=False) as client:
        refused = client.post(
            URL, json=push_body(connected.email, 9100, message_id), headers=headers
        )
        assert refused.status_code >= 500
        with sessions() as session:
            assert session.get(PushReceipt, message_id) is None
        monkeypatch.setattr(sync_engine, "request_syncs", real)
        again = client.post(URL, json=push_body(connected.email, 9100, message_id), headers=headers)
    assert again.status_code == 204
    assert again.headers["x-secretary-push"] == "sync"


def test_a_batch_failing_with_the_database_gets_5xx_for_every_push_in_one_attempt(
    engine: Engine,
    sessions: sessionmaker[Session],
    connected: Connected,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    attempts: list[int] = []

    def db_down(session: Any, to_sync: Any, service: str) -> Any:
        attempts.append(1)
        _db_down()

    monkeypatch.setattr(sync_engine, "request_syncs", db_down)
    state = AppState(root=compose(connected.settings, engine=engine, sessions=sessions))
    app = create_app(connected.settings, state=state)
    app.state.secretary = state  # what the lifespan sets; ASGITransport runs none
    headers = {"Authorization": f"Bearer {token(connected)}"}
    ids = [f"m-{uuid.uuid4().hex}" for _ in range(20)]

    async def push_all() -> list[int]:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            answers = await asyncio.gather(
                *(
                    client.post(URL, json=push_body(connected.email, 9200 + i, m), headers=headers)
                    for i, m in enumerate(ids)
                )
            )
        return [a.status_code for a in answers]

    codes = asyncio.run(push_all())
    assert all(code >= 500 for code in codes), codes
    with sessions() as session:
        assert not session.scalars(select(PushReceipt).where(PushReceipt.message_id.in_(ids))).all()
    committer = app.state.push_committer
    assert committer.batches == 0  # nothing committed
    # A dead database is not the pushes' fault: no retry push by push (20 more attempts).
    assert len(attempts) <= 3, len(attempts)
