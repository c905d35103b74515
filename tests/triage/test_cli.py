"""`secretary rules …`, `secretary tasks dead|retry` and `secretary triage --json` on the test
database (committed through the CLI's own engine; a unique user is removed afterwards)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
import structlog
from sqlalchemy import delete
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from secretary.cli import context
from secretary.cli.main import app as root_app
from secretary.config import Settings
from secretary.db.models import GoogleAccount, Message, TaskRecord, TaskStatus, User
from secretary.kit.clock import utcnow
from secretary.worker import repository
from secretary.worker.runner import Outcome, Runtime, execute
from tests.worker import tasks_for_tests

runner = CliRunner()


@pytest.fixture
def cli(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    ctx = context.CliContext(settings=settings)
    monkeypatch.setattr(context, "_ctx", ctx)
    with structlog.testing.capture_logs():
        yield
    ctx.close()


@pytest.fixture
def mailbox_user(sessions: sessionmaker[Session]) -> Iterator[int]:
    email = f"cli-{uuid.uuid4().hex[:8]}@example.com"
    with sessions.begin() as s:
        user = User(email=email)
        s.add(user)
        s.flush()
        account = GoogleAccount(user_id=user.id, google_sub="x", email=email, scopes=[])
        s.add(account)
        s.flush()
        for i, sender in enumerate(["a@vendor.com", "b@vendor.com", "c@friends.net"]):
            s.add(
                Message(
                    user_id=user.id,
                    account_id=account.id,
                    gmail_id=f"cli{i}",
                    gmail_thread_id=f"cli{i}",
                    from_addr=sender,
                    subject=f"Invoice {i}",
                    internal_date=utcnow(),
                    label_ids=[],
                    to_addrs=[email],
                    cc_addrs=[],
                    references=[],
                )
            )
        uid = user.id
    yield uid
    with sessions.begin() as s:
        s.execute(delete(User).where(User.id == uid))


def _json(args: list[str]) -> object:
    result = runner.invoke(root_app, args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_rules_preview_add_list_delete(cli: None, mailbox_user: int) -> None:
    uid = str(mailbox_user)
    preview = _json(["rules", "preview", "--domain", "vendor.com", "--user-id", uid, "--json"])
    assert isinstance(preview, dict)
    assert preview["matched"] == 2
    assert preview["scanned"] == 3
    assert {m["from_addr"] for m in preview["messages"]} == {"a@vendor.com", "b@vendor.com"}

    added = _json(
        [
            "rules", "add", "--name", "Vendors", "--domain", "vendor.com",
            "--category", "fyi", "--apply-label", "Vendors", "--draft", "never",
            "--user-id", uid, "--json",
        ]
    )  # fmt: skip
    assert isinstance(added, dict)
    assert added["actions"]["category"] == "fyi"
    listed = _json(["rules", "list", "--user-id", uid, "--json"])
    assert isinstance(listed, list)
    assert [r["id"] for r in listed] == [added["id"]]
    table = runner.invoke(root_app, ["rules", "list", "--user-id", uid])
    assert "Vendors" in table.stdout
    _json(["rules", "delete", str(added["id"]), "--user-id", uid, "--json"])
    assert _json(["rules", "list", "--user-id", uid, "--json"]) == []

    bad = runner.invoke(root_app, ["rules", "add", "--name", "x", "--user-id", uid])
    assert bad.exit_code != 0  # no condition and no action


def test_dead_task_is_listed_and_retried_from_the_cli(
    cli: None, settings: Settings, sessions: sessionmaker[Session]
) -> None:
    key = uuid.uuid4().hex
    tasks_for_tests.failures_left[key] = 99
    runtime = Runtime(settings=settings, sessions=sessions)
    with sessions.begin() as s:
        rid = repository.enqueue(s, "test.flaky", {"key": key})
        assert rid is not None
        s.execute(TaskRecord.__table__.update().where(TaskRecord.id == rid).values(max_attempts=1))
    try:
        assert execute(runtime, rid) is Outcome.DEAD
        dead = _json(["tasks", "dead", "--json"])
        assert isinstance(dead, list)
        assert rid in [d["id"] for d in dead]
        shown = _json(["tasks", "show", str(rid), "--json"])
        assert isinstance(shown, dict)
        assert "injected failure" in shown["last_error"]

        tasks_for_tests.failures_left[key] = 0
        assert _json(["tasks", "retry", str(rid), "--json"]) == {"retried": [rid]}
        with structlog.testing.capture_logs():  # the CLI pointed logs at its closed stderr
            assert execute(runtime, rid) is Outcome.SUCCEEDED
        with sessions() as s:
            record = s.get(TaskRecord, rid)
            assert record is not None
            assert record.status == TaskStatus.SUCCEEDED
    finally:
        with sessions.begin() as s:
            s.execute(delete(TaskRecord).where(TaskRecord.id == rid))


def test_triage_json_lists_verdicts(cli: None) -> None:
    rows = _json(["triage", "--json", "--limit", "5"])
    assert isinstance(rows, list)
    table = runner.invoke(root_app, ["triage", "--limit", "5"])
    assert table.exit_code == 0
    assert "Triage" in table.stdout
