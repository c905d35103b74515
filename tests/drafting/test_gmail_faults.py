"""Acceptance 4: with 5xx and 429 injected on ``drafts.create`` every draft is created
exactly once; when every attempt fails the task is dead-lettered with a visible error, and
a retry then succeeds. Also: a lost response (Gmail stored the draft, we never heard) is
adopted by the retry instead of creating a second draft."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from workspace_emulator.faults import EndpointFaults, FaultConfig, fault_injector

from secretary.bootstrap import compose
from secretary.db.models import Draft, Message, TaskRecord, TaskStatus
from secretary.drafting.gmail import GmailPort
from secretary.worker import repository as tasks_repo
from tests.triage.conftest import Connected, InlineThread
from tests.triage.helpers import drafts_by_thread, gmail_api, raw_message, sync_now
from tests.triage.tiers import KeywordTier

CREATE = "gmail.users.drafts.create"


def _ask(connected: Connected, n: int) -> list[str]:
    mailbox = connected.emulator.state.users[connected.email].mailbox
    threads = []
    for _ in range(n):
        raw, _mid = raw_message(to=connected.email)
        threads.append(mailbox.add_message(raw, label_ids={"INBOX"}).thread_id)
    return threads


def _draft_tasks(sessions: sessionmaker[Session], account_id: int) -> list[TaskRecord]:
    with sessions() as s:
        return list(
            s.scalars(
                select(TaskRecord)
                .join(Message, Message.id == TaskRecord.message_id)
                .where(
                    Message.account_id == account_id,
                    TaskRecord.name == "drafting.create_gmail_draft",
                )
            ).all()
        )


def test_injected_5xx_and_429_still_give_exactly_one_draft_each(
    connected: Connected, sessions: sessionmaker[Session], inline: InlineThread
) -> None:
    state = connected.emulator.state
    sync_now(sessions, connected.account_id, connected.settings)
    fault_injector(state).configure(
        FaultConfig(seed=3, endpoints={CREATE: EndpointFaults(error_500=0.3, error_429=0.2)})
    )
    threads = _ask(connected, 8)
    sync_now(sessions, connected.account_id, connected.settings)
    inline.wait_idle()
    assert fault_injector(state).stats()  # faults did fire

    # Whatever ran out of attempts is dead with a visible error; a retry finishes it.
    fault_injector(state).configure(FaultConfig())
    dead = [t for t in _draft_tasks(sessions, connected.account_id) if t.status == TaskStatus.DEAD]
    for t in dead:
        assert t.last_error
        assert "drafts.create failed with HTTP" in t.last_error
        with sessions.begin() as s:
            tasks_repo.retry(s, t.id)
    inline.wait_idle()

    tasks = _draft_tasks(sessions, connected.account_id)
    assert len(tasks) == 8
    assert {t.status for t in tasks} == {TaskStatus.SUCCEEDED}
    assert any(t.attempts > 1 for t in tasks) or dead
    drafts = drafts_by_thread(gmail_api(state, connected.emulator.base_url, connected.email))
    assert sorted(drafts) == sorted(threads)
    assert all(len(v) == 1 for v in drafts.values())


def test_all_attempts_fail_dead_letter_then_retry_succeeds(
    connected: Connected, sessions: sessionmaker[Session], inline: InlineThread
) -> None:
    state = connected.emulator.state
    sync_now(sessions, connected.account_id, connected.settings)
    fault_injector(state).configure(FaultConfig(endpoints={CREATE: EndpointFaults(error_503=1.0)}))
    (thread,) = _ask(connected, 1)
    sync_now(sessions, connected.account_id, connected.settings)
    inline.wait_idle()
    (task,) = _draft_tasks(sessions, connected.account_id)
    assert task.status == TaskStatus.DEAD
    assert task.attempts == 3
    assert task.last_error is not None
    assert "503" in task.last_error
    assert task.last_traceback is not None
    api = gmail_api(state, connected.emulator.base_url, connected.email)
    assert drafts_by_thread(api) == {}

    fault_injector(state).configure(FaultConfig())
    with sessions.begin() as s:
        tasks_repo.retry(s, task.id)
    inline.wait_idle()
    (task,) = _draft_tasks(sessions, connected.account_id)
    assert task.status == TaskStatus.SUCCEEDED
    drafts = drafts_by_thread(api)
    assert list(drafts) == [thread]
    assert len(drafts[thread]) == 1


class LosesFirstCreateResponse:
    """Gmail stores the draft, then the connection drops before we read the answer."""

    def __init__(self, port: GmailPort) -> None:
        self.port = port
        self.lost = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.port, name)

    def create_draft(self, raw: bytes, *, thread_id: str) -> dict[str, Any]:
        result = self.port.create_draft(raw, thread_id=thread_id)
        if self.lost == 0:
            self.lost += 1
            raise ConnectionResetError("connection reset after the request was sent")
        return result


def test_lost_create_response_is_adopted_not_duplicated(
    connected: Connected,
    sessions: sessionmaker[Session],
    pipeline_settings: Any,
    tier: KeywordTier,
) -> None:
    from secretary.drafting.gmail import google_gmail_factory

    real = google_gmail_factory(pipeline_settings, sessions)
    wrappers: dict[int, LosesFirstCreateResponse] = {}

    def factory(session: Session, account_id: int) -> Any:
        if account_id not in wrappers:
            wrappers[account_id] = LosesFirstCreateResponse(real(session, account_id))
        return wrappers[account_id]

    runtime = compose(pipeline_settings, sessions=sessions, tier=tier, gmail=factory).runtime
    running = InlineThread(runtime)
    try:
        sync_now(sessions, connected.account_id, connected.settings)
        (thread,) = _ask(connected, 1)
        sync_now(sessions, connected.account_id, connected.settings)
        running.wait_idle()
    finally:
        running.stop()
    (task,) = _draft_tasks(sessions, connected.account_id)
    assert task.status == TaskStatus.SUCCEEDED
    assert task.attempts == 2
    api = gmail_api(connected.emulator.state, connected.emulator.base_url, connected.email)
    drafts = drafts_by_thread(api)
    assert len(drafts[thread]) == 1
    with sessions() as s:
        local = s.scalars(
            select(Draft)
            .join(Message, Message.id == Draft.message_id)
            .where(Message.account_id == connected.account_id)
        ).one()
    assert local.gmail_draft_id == drafts[thread][0]["id"]
