"""Classification's embedding is stored and reused by search: computed once, never twice."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from secretary.config import Settings
from secretary.db.models import Message, SearchVector
from secretary.llm.local.tier import LocalTier
from secretary.search.documents import text_digest
from secretary.search.indexer import Indexer, message_vector_texts
from secretary.triage import service as triage
from tests.search.conftest import Mailbox


class CountingTier(LocalTier):
    """The real local tier, counting the texts it sends to the embedder."""

    embedded: int = 0

    def embed_emails(self, emails):  # type: ignore[no-untyped-def]
        before = len(self._vectors)
        out = super().embed_emails(emails)
        self.embedded += len(self._vectors) - before
        return out


def test_triage_stores_its_vector_and_the_indexer_reuses_it(
    mailboxes: Callable[[], Mailbox],
    indexer: Indexer,
    sessions: sessionmaker[Session],
    settings: Settings,
) -> None:
    box = mailboxes()
    message = box.add("Can we meet Tuesday?", "Could we meet on Tuesday at 10 to go over the plan?")
    tier = CountingTier()
    with sessions.begin() as s:
        triage.classify_message(s, message.id, tier=tier, settings=settings)
    assert tier.embedded == 1
    with sessions() as s:
        row = s.execute(
            select(SearchVector.chunk, SearchVector.text_digest).where(
                SearchVector.source_id == message.id, SearchVector.kind == "email"
            )
        ).one()
        stored = s.get(Message, message.id)
        assert stored is not None
        assert row == (0, text_digest(message_vector_texts(stored)[0]))

    report = indexer.run(box.user_id)
    assert (report.vectors_computed, report.vectors_reused) == (0, 1)

    # A second classification (a reprocess, in a fresh process) takes the stored vector.
    fresh = CountingTier()
    with sessions.begin() as s:
        triage.classify_message(s, message.id, tier=fresh, settings=settings)
    assert fresh.embedded == 0
