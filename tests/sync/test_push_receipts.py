"""Durable de-duplication of Gmail pushes (issue 14): a receipt per Pub/Sub ``messageId``,
committed with the push, so a redelivery is a ``duplicate`` after a restart, on another
server and after any number of other pushes; receipts older than Pub/Sub's retention go."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from secretary.bootstrap import compose
from secretary.db.models import GoogleAccount, PushReceipt, TaskRecord, User
from secretary.db.session import unit_of_work
from secretary.sync import push as push_service
from secretary.sync import tasks as sync_tasks
from secretary.sync.push import Push, accept_pushes
from secretary.web.app import create_app
from secretary.web.deps import AppState
from secretary.worker.schedule import all_jobs
from tests.sync.conftest import Connected
from tests.sync.tasks import sync_records
from tests.sync.test_webhook import URL, push_body, token


def _app(connected: Connected, engine: Engine, sessions: sessionmaker[Session]) -> Any:
    """A fresh app process-equivalent: its own composition, caches and group commit."""
    state = AppState(root=compose(connected.settings, engine=engine, sessions=sessions))
    app = create_app(connected.settings, state=state)
    app.state.secretary = state  # what the lifespan does; httpx's transport runs none
    return app


def new_id() -> str:
    """A messageId no other test (or earlier run on this database) has used."""
    return f"m-{uuid.uuid4().hex}"


def _data(email: str, history_id: int) -> str:
    raw = json.dumps({"emailAddress": email, "historyId": history_id}).encode()
    return base64.b64encode(raw).decode()


def test_a_redelivery_to_a_restarted_server_is_a_duplicate(
    engine: Engine, sessions: sessionmaker[Session], connected: Connected
) -> None:
    message_id = new_id()
    headers = {"Authorization": f"Bearer {token(connected)}"}
    with TestClient(_app(connected, engine, sessions)) as first:
        r = first.post(URL, json=push_body(connected.email, 7000, message_id), headers=headers)
    assert r.headers["x-secretary-push"] == "sync"
    with sessions() as s:  # the receipt is in the database, not in the process
        assert s.get(PushReceipt, message_id) is not None

    # A new server (or a second one behind the same subscription) knows it too.
    with TestClient(_app(connected, engine, sessions)) as restarted:
        again = restarted.post(
            URL, json=push_body(connected.email, 7000, message_id), headers=headers
        )
    assert again.status_code == 204
    assert again.headers["x-secretary-push"] == "duplicate"
    with unit_of_work(sessions) as s:  # and so does the service, from any process
        (decision,) = accept_pushes(s, [Push(message_id, _data(connected.email, 7000))])
    assert decision.reason == "duplicate"
    assert len(sync_records(sessions, connected.account_id)) == 1


def test_a_redelivery_after_more_than_10k_other_pushes_is_a_duplicate(
    engine: Engine, sessions: sessionmaker[Session], connected: Connected
) -> None:
    """The in-memory de-duplication this replaced forgot a messageId after 10,000 others."""
    app = _app(connected, engine, sessions)
    headers = {"Authorization": f"Bearer {token(connected)}"}
    first = new_id()
    others = [new_id() for _ in range(10_050)]

    async def deliver() -> tuple[str, list[str], str]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:

            async def post(message_id: str, history_id: int) -> str:
                r = await client.post(
                    URL, json=push_body(connected.email, history_id, message_id), headers=headers
                )
                assert r.status_code == 204, r.text
                return r.headers["x-secretary-push"]

            opening = await post(first, 8000)
            reasons: list[str] = []
            for start in range(0, len(others), 64):  # 64 in flight: they share transactions
                chunk = others[start : start + 64]
                reasons += await asyncio.gather(
                    *(post(m, 8001 + start + i) for i, m in enumerate(chunk))
                )
            return opening, reasons, await post(first, 8000)

    opening, reasons, redelivered = asyncio.run(deliver())
    assert opening == "sync"
    assert set(reasons) == {"sync"}
    assert redelivered == "duplicate"
    committer = app.state.push_committer
    assert committer.batches < committer.items  # pushes in flight together shared commits
    with sessions() as s:
        stored = s.scalar(
            select(func.count())
            .select_from(PushReceipt)
            .where(PushReceipt.message_id.in_([first, *others]))
        )
    assert stored == 1 + len(others)
    assert len(sync_records(sessions, connected.account_id)) == 1  # all coalesced


def test_copies_in_one_batch_and_pushes_without_an_id(session: Session) -> None:
    message_id = new_id()
    data = _data("nobody-here@example.com", 5)
    decisions = accept_pushes(
        session,
        [Push(message_id, data), Push(message_id, data), Push(None, data), Push(None, "%%")],
    )
    assert [d.reason for d in decisions] == [
        "unknown_account",
        "duplicate",
        "unknown_account",  # no messageId: cannot be recognised again, so never dropped
        "malformed",
    ]


def test_receipts_older_than_pubsub_retention_are_pruned(sessions: sessionmaker[Session]) -> None:
    old, recent = new_id(), new_id()
    with sessions.begin() as s:
        s.execute(
            text(
                "insert into push_receipts (message_id, received_at) values "
                "(:old, now() - interval '7 days 1 minute'), (:recent, now() - interval '6 days')"
            ),
            {"old": old, "recent": recent},
        )
    assert "sync.prune_push_receipts" in all_jobs()
    result = sync_tasks.prune_push_receipts(SimpleNamespace(sessions=sessions))  # type: ignore[arg-type]
    assert result["pruned"] >= 1
    with sessions() as s:
        assert s.get(PushReceipt, old) is None
        assert s.get(PushReceipt, recent) is not None
    with sessions.begin() as s:
        assert push_service.prune_receipts(s, older_than=timedelta(days=5)) >= 1
        assert s.get(PushReceipt, recent) is None


def test_a_batch_costs_one_statement_once_its_syncs_are_queued(session: Session) -> None:
    """The hot path (issue 14): receipts, accounts, cursors and waiting syncs in one round
    trip, whatever the batch size; a sync.run record only for accounts with none waiting."""
    emails = []
    for i in range(3):
        user = User(email=f"batch-{i}-{uuid.uuid4().hex[:8]}@example.com")
        session.add(user)
        session.flush()
        session.add(GoogleAccount(user_id=user.id, google_sub=f"b{i}", email=user.email))
        emails.append(user.email)
    session.flush()

    statements: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_rest: object) -> None:
        statements.append(statement)

    def batch(size: int) -> list[str]:
        pushes = [Push(new_id(), _data(emails[i % 3].upper(), 100 + i)) for i in range(size)]
        return [d.reason for d in accept_pushes(session, pushes)]

    conn = session.connection()
    event.listen(conn, "before_cursor_execute", count)
    try:
        assert batch(6) == ["sync"] * 6
        first = len(statements)
        statements.clear()
        assert batch(64) == ["sync"] * 64  # every account has a sync waiting now
        again = len(statements)
    finally:
        event.remove(conn, "before_cursor_execute", count)
    assert first == 1 + 1 + 3  # the batch, one coalescing lookup, a record per account
    assert again == 1
    queued = session.scalar(
        select(func.count())
        .select_from(TaskRecord)
        .where(
            TaskRecord.name == "sync.run",
            TaskRecord.user_id.in_(select(User.id).where(User.email.in_(emails))),
        )
    )
    assert queued == 3


def test_pruning_goes_in_short_transactions_until_nothing_old_is_left(
    sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Millions of receipts expire per hour at high push rates: the job deletes them in
    batches, each its own transaction, and stops once a batch comes back short."""
    olds = [new_id() for _ in range(5)]
    with sessions.begin() as s:
        for message_id in olds:
            s.execute(
                text(
                    "insert into push_receipts (message_id, received_at) "
                    "values (:m, now() - interval '8 days')"
                ),
                {"m": message_id},
            )
    batches: list[int] = []
    real = push_service.prune_receipts

    def counting(session: Session, **kwargs: Any) -> int:
        deleted = real(session, **kwargs)
        batches.append(deleted)
        return deleted

    monkeypatch.setattr(sync_tasks, "PRUNE_RECEIPTS_BATCH", 2)
    monkeypatch.setattr(push_service, "prune_receipts", counting)
    result = sync_tasks.prune_push_receipts(SimpleNamespace(sessions=sessions))  # type: ignore[arg-type]
    assert result["pruned"] >= 5
    assert len(batches) >= 3  # 2 + 2 + 1 (more if other tests left old receipts)
    assert all(n <= 2 for n in batches)
    assert batches[-1] < 2
    with sessions() as s:
        assert all(s.get(PushReceipt, m) is None for m in olds)
