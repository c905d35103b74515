"""The index after ``kill -9`` during indexing: nothing lost, nothing indexed twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from secretary.db.models import Message, SearchItem, SearchVector
from secretary.search import repository
from secretary.search.indexer import Indexer
from tests.search.conftest import NOW, Mailbox

N = 600

_CHILD = """
import sys
from pathlib import Path
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker
from secretary.search.indexer import Indexer
engine = create_engine(sys.argv[1])
Indexer(engine, sessionmaker(engine, expire_on_commit=False), Path(sys.argv[2])).run(
    int(sys.argv[3]), lexical_batch=40, vector_batch=64
)
"""


def _fill(box: Mailbox, n: int) -> None:
    with box.sessions.begin() as s:
        s.add_all(
            Message(
                user_id=box.user_id,
                account_id=box.account_id,
                gmail_id=f"bulk-{box.user_id}-{i}",
                gmail_thread_id=f"bt-{i // 3}",
                internal_date=NOW - timedelta(minutes=i),
                label_ids=["INBOX"],
                subject=f"Shipment {i} status",
                from_name="Depot",
                from_addr="depot@example.org",
                to_addrs=["me@example.com"],
                cc_addrs=[],
                references=[],
                body_text=f"Parcel {i} left the depot and arrives in {i % 5 + 1} days.",
                reply_text=f"Parcel {i} left the depot and arrives in {i % 5 + 1} days.",
                has_attachments=False,
                has_calendar_invite=False,
                body_fetched_at=NOW,
            )
            for i in range(n)
        )


def _items(sessions: sessionmaker[Session], user_id: int) -> int:
    with sessions() as s:
        return int(
            s.scalar(
                select(func.count()).select_from(SearchItem).where(SearchItem.user_id == user_id)
            )
            or 0
        )


def _assert_consistent(indexer: Indexer, sessions: sessionmaker[Session], user_id: int) -> None:
    assert indexer.index_for(user_id).count() == N  # one document per message, none twice
    with sessions() as s:
        items = s.execute(
            select(SearchItem.lexical_at, SearchItem.embedded_at).where(
                SearchItem.user_id == user_id
            )
        ).all()
        assert len(items) == N
        assert all(lex is not None and emb is not None for lex, emb in items)
        vectors = s.scalar(
            select(func.count(func.distinct(SearchVector.source_id))).where(
                SearchVector.user_id == user_id
            )
        )
        assert vectors == N


def test_kill_9_during_indexing_loses_and_doubles_nothing(
    mailboxes: Callable[[], Mailbox],
    indexer: Indexer,
    engine: Engine,
    sessions: sessionmaker[Session],
) -> None:
    box = mailboxes()
    _fill(box, N)
    url = engine.url.render_as_string(hide_password=False)
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, url, str(indexer.home), str(box.user_id)],
        env={**os.environ, "SECRETARY_LOG_LEVEL": "WARNING"},
    )
    deadline = time.monotonic() + 120
    try:
        while _items(box.sessions, box.user_id) == 0:  # wait on progress, not on a timer
            assert child.poll() is None, "the indexer ended before it was killed"
            assert time.monotonic() < deadline, "the indexer made no progress"
            time.sleep(0.01)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(30)
    assert child.returncode == -signal.SIGKILL
    with sessions() as s:
        done = repository.count_unembedded(s, box.user_id) + repository.count_changed_messages(
            s, box.user_id
        )
    assert done > 0, "killed too late to prove anything"

    report = indexer.run(box.user_id)  # the next pass (a retry, the periodic job)
    assert not report.locked_out  # the dead process's lock went with its connection
    _assert_consistent(indexer, sessions, box.user_id)
    with sessions() as s:
        from secretary.search import service

        hits = service.search(s, box.user_id, "shipment 517", home=indexer.home, now=NOW)
    assert hits[0].title == "Shipment 517 status"


def test_a_crash_between_tantivy_and_postgres_repeats_the_batch(
    mailboxes: Callable[[], Mailbox],
    indexer: Indexer,
    sessions: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    box = mailboxes()
    _fill(box, N)
    real = repository.mark_indexed
    calls = {"n": 0}

    def crash_on_third(session: Session, versions: list[repository.SourceVersion]) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("power cut after the tantivy commit")
        real(session, versions)

    monkeypatch.setattr(repository, "mark_indexed", crash_on_third)
    with pytest.raises(RuntimeError):
        indexer.run(box.user_id, lexical_batch=100)
    monkeypatch.setattr(repository, "mark_indexed", real)
    # tantivy holds three batches, Postgres records two: the third is indexed again.
    assert indexer.index_for(box.user_id).count() == 300
    assert _items(sessions, box.user_id) == 200
    indexer.run(box.user_id)
    _assert_consistent(indexer, sessions, box.user_id)
