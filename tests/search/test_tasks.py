"""The index stage in the pipeline: started per stored batch, run as a durable task, and the
periodic pass that catches label changes and deletions."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from secretary import pipeline
from secretary.config import Settings
from secretary.db.models import Message, TaskRecord
from secretary.search import service
from secretary.search.tasks import INDEX_TASK, enqueue_index, index_all
from secretary.worker import registry
from secretary.worker.runner import Outcome, Runtime, execute
from tests.search.conftest import NOW, Mailbox


def test_the_index_stage_follows_stored_and_runs_as_a_task(
    mailboxes: Callable[[], Mailbox], settings: Settings, sessions: sessionmaker[Session]
) -> None:
    registry.load_all()
    assert "index" in pipeline.stage(pipeline.STORED).next
    box = mailboxes()
    first = box.add("Boiler service", "The boiler service is booked for Monday morning.")
    second = box.add("Boiler invoice", "Invoice for the boiler service, due in 30 days.")
    with sessions.begin() as s:
        rid = enqueue_index(s, box.account_id, [first.id, second.id], settings=settings)
        assert rid is not None
        # The same batch again (a replayed sync) is not a second record.
        assert enqueue_index(s, box.account_id, [first.id, second.id], settings=settings) is None
    runtime = Runtime(settings=settings, sessions=sessions)
    try:
        assert execute(runtime, rid) is Outcome.SUCCEEDED
        with sessions() as s:
            hits = service.search(s, box.user_id, "boiler", settings=settings, now=NOW)
            assert {h.title for h in hits} == {"Boiler service", "Boiler invoice"}

        # A label change arrives without a "stored" event: the periodic pass catches it.
        with sessions.begin() as s:
            s.execute(update(Message).where(Message.id == second.id).values(label_ids=["SPAM"]))
        totals = index_all(runtime)
        assert totals["indexed"] >= 1
        with sessions() as s:
            hits = service.search(s, box.user_id, "boiler", settings=settings, now=NOW)
            assert [h.title for h in hits] == ["Boiler service"]
    finally:
        with sessions.begin() as s:
            s.query(TaskRecord).filter(TaskRecord.name == INDEX_TASK).delete()
