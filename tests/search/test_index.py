"""The derived index against real Postgres + pgvector and a real tantivy directory."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from secretary.db.models import Message, SearchItem, SearchVector
from secretary.llm.local.embeddings import get_embedder
from secretary.search import service
from secretary.search.indexer import Indexer, message_vector_texts, store_classification_vector
from tests.search.conftest import NOW, Mailbox


def _search(
    sessions: sessionmaker[Session], indexer: Indexer, user_id: int, q: str, **kw: object
) -> list[str]:
    with sessions() as s:
        hits = service.search(s, user_id, q, home=indexer.home, now=NOW, **kw)  # type: ignore[arg-type]
    return [h.title for h in hits]


def test_index_then_search_finds_the_message_and_repeats_are_no_ops(
    mailboxes: Callable[[], Mailbox], indexer: Indexer, sessions: sessionmaker[Session]
) -> None:
    box = mailboxes()
    box.add("Budget review", "The quarterly budget spreadsheet is attached for review.")
    box.add("Lunch on Friday", "Shall we try the new ramen place near the office?")
    box.add("Flight to Lisbon", "Your boarding pass for TP1351 is ready.")
    first = indexer.run(box.user_id)
    assert first.indexed == 3
    assert first.vectors_computed >= 3
    assert _search(sessions, indexer, box.user_id, "budget spreadsheet")[0] == "Budget review"
    # Meaning, not only words: no shared word with "noodles lunch" but ramen.
    assert _search(sessions, indexer, box.user_id, "boarding pass")[0] == "Flight to Lisbon"
    again = indexer.run(box.user_id)
    assert (again.indexed, again.vectors_computed) == (0, 0)
    assert indexer.index_for(box.user_id).count() == 3


def test_deletions_and_label_changes_reach_the_index(
    mailboxes: Callable[[], Mailbox], indexer: Indexer, sessions: sessionmaker[Session]
) -> None:
    box = mailboxes()
    keep = box.add("Contract renewal", "Please sign the renewal contract by Friday.")
    gone = box.add("Contract draft", "An older draft of the contract, please ignore.")
    indexer.run(box.user_id)
    assert set(_search(sessions, indexer, box.user_id, "contract")) == {
        "Contract renewal",
        "Contract draft",
    }
    with sessions.begin() as s:
        s.execute(delete(Message).where(Message.id == gone.id))
    report = indexer.run(box.user_id)
    assert report.deleted == 1
    assert _search(sessions, indexer, box.user_id, "contract") == ["Contract renewal"]
    with sessions() as s:
        assert (
            s.scalar(
                select(func.count())
                .select_from(SearchVector)
                .where(SearchVector.source_id == gone.id)
            )
            == 0
        )

    # A label change the way the listing merge writes it: label_ids only, no updated_at.
    with sessions.begin() as s:
        s.execute(update(Message).where(Message.id == keep.id).values(label_ids=["TRASH"]))
    assert indexer.run(box.user_id).indexed == 1
    assert _search(sessions, indexer, box.user_id, "contract") == []
    assert _search(sessions, indexer, box.user_id, "contract in:trash") == ["Contract renewal"]
    with sessions.begin() as s:
        s.execute(
            update(Message).where(Message.id == keep.id).values(label_ids=["INBOX", "Label_7"])
        )
    indexer.run(box.user_id)
    assert _search(sessions, indexer, box.user_id, "label:label_7") == ["Contract renewal"]
    assert _search(sessions, indexer, box.user_id, "contract -label:label_7") == []


def test_results_belong_to_their_user_only(
    mailboxes: Callable[[], Mailbox], indexer: Indexer, sessions: sessionmaker[Session]
) -> None:
    alice, bob = mailboxes(), mailboxes()
    alice.add("Alice's secret merger plan", "Project Falcon merger terms for the board.")
    bob.add("Bob's merger notes", "Nothing about falcons here, just a merger memo.")
    indexer.run(alice.user_id)
    indexer.run(bob.user_id)
    for q in ("merger", "falcon merger board", "Project Falcon"):
        assert _search(sessions, indexer, bob.user_id, q) == ["Bob's merger notes"], q
        assert "Alice's secret merger plan" in _search(sessions, indexer, alice.user_id, q)
    # Even the vector side, which reads one shared table, filters by user.
    with sessions() as s:
        assert (
            s.scalar(
                select(func.count())
                .select_from(SearchVector)
                .where(SearchVector.user_id == bob.user_id)
            )
            or 0
        ) >= 1


def test_the_classification_vector_is_reused_not_recomputed(
    mailboxes: Callable[[], Mailbox], indexer: Indexer, sessions: sessionmaker[Session]
) -> None:
    box = mailboxes()
    message = box.add("Invoice 2231", "Short note: invoice attached.")
    with sessions.begin() as s:
        m = s.get(Message, message.id)
        assert m is not None
        vector = get_embedder().embed(message_vector_texts(m)[:1])[0]
        store_classification_vector(s, m, vector)  # what triage does after classifying
    report = indexer.run(box.user_id)
    assert report.vectors_reused == 1
    assert report.vectors_computed == 0


def test_operators_and_time_phrases_filter_results(
    mailboxes: Callable[[], Mailbox], indexer: Indexer, sessions: sessionmaker[Session]
) -> None:
    box = mailboxes()
    box.add(
        "Report from Ana",
        "The monthly report is ready.",
        sender="Ana Lima <ana@acme.test>",
        at=NOW - timedelta(days=2),
        has_attachments=True,
    )
    box.add(
        "Report from Bo",
        "The monthly report, late again.",
        sender="Bo Chen <bo@other.test>",
        at=NOW - timedelta(days=40),
        labels=("INBOX", "UNREAD"),
    )
    box.add("Spam report", "Win a monthly report prize", labels=("SPAM",))
    indexer.run(box.user_id)

    def titles(q: str) -> set[str]:
        return set(_search(sessions, indexer, box.user_id, q))

    assert titles("report") == {"Report from Ana", "Report from Bo"}
    assert titles("report from:ana") == {"Report from Ana"}
    assert titles("from:acme.test") == {"Report from Ana"}
    assert titles("report has:attachment") == {"Report from Ana"}
    assert titles("report is:unread") == {"Report from Bo"}
    assert titles("report newer_than:7d") == {"Report from Ana"}
    assert titles("report last week") == {"Report from Ana"}
    assert titles("report before:2026/11/01") == {"Report from Bo"}
    assert titles('"late again"') == {"Report from Bo"}
    assert titles("report -late") == {"Report from Ana"}
    assert titles("report in:spam") == {"Spam report"}
    with sessions() as s:
        assert (
            s.scalar(
                select(func.count())
                .select_from(SearchItem)
                .where(SearchItem.user_id == box.user_id)
            )
            == 3
        )


def test_a_repeated_question_is_embedded_once_and_answered_alike(
    mailboxes: Callable[[], Mailbox],
    indexer: Indexer,
    sessions: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    box = mailboxes()
    box.add("Flight to Lisbon", "Your boarding pass for TP1351 is ready.")
    box.add("Budget review", "The quarterly budget spreadsheet is attached for review.")
    indexer.run(box.user_id)
    real = service.query_embedder()
    embedded: list[str] = []

    class CountingEmbedder:
        def embed(self, texts: list[str]) -> Any:
            embedded.extend(texts)
            return real.embed(texts)

    monkeypatch.setattr(service, "query_embedder", CountingEmbedder)
    monkeypatch.setattr(service, "_query_vectors", OrderedDict())  # nothing from earlier tests
    question = "plane ticket"
    first = _search(sessions, indexer, box.user_id, question)
    second = _search(sessions, indexer, box.user_id, question)
    assert first == second
    assert first[0] == "Flight to Lisbon"
    assert embedded == [question]
