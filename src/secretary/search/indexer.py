"""Keep the derived index in step with Postgres: an idempotent pass per user.

A pass has three steps, each safe to repeat and to kill at any point:
1. **lexical**: messages that are new or changed since they were indexed (text, labels) are
   written to the user's tantivy index (delete-by-key then add, one atomic commit per
   batch), *then* ``search_items`` records the indexed version in Postgres. A kill between
   the two repeats the batch next time; delete-by-key makes the repeat leave one document.
2. **deletions**: items whose source row is gone are deleted from tantivy, then forgotten.
3. **vectors**: items whose vectors are not checked yet get their chunks' vectors; a vector
   whose text digest is already stored (classification stored chunk 0) is never recomputed.

Keyword search is therefore available as soon as step 1 commits (seconds), while step 3
catches up in the background (ADR 0011).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from secretary.db.models import CalendarEvent, DriveFile, Message
from secretary.kit.logging import get_logger
from secretary.llm.local.features import mail_text
from secretary.search import repository as repo
from secretary.search.documents import (
    SearchDocument,
    attendee_people,
    drive_path,
    item_key,
    label_terms,
    message_flags,
    person,
    text_digest,
    vector_texts,
)
from secretary.search.lexical import LexicalIndex, open_index, user_index_path
from secretary.triage.steps.facts import email_input

log = get_logger(__name__)

Progress = Callable[[str, int, int], None]  # (phase, done, total)
Embed = Callable[[list[str]], Any]

LEXICAL_BATCH = 1000
VECTOR_BATCH = 256
MAX_PASSES = 4  # passes one holder runs while batches keep arriving (the rest: the next)


@dataclass
class IndexReport:
    indexed: int = 0
    deleted: int = 0
    embedded_items: int = 0
    vectors_computed: int = 0
    vectors_reused: int = 0
    locked_out: bool = False

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def message_body(message: Message) -> str:
    """The new text of the body: the quoted history is indexed with the earlier messages."""
    return message.reply_text or message.body_text or message.snippet or ""


def message_document(
    message: Message, attachments: list[str], names: dict[str, str]
) -> SearchDocument:
    people = [person(message.from_name, message.from_addr)]
    recipients = [*(message.to_addrs or []), *(message.cc_addrs or [])]
    labels = list(message.label_ids or [])
    return SearchDocument(
        kind="email",
        source_id=message.id,
        external_id=message.gmail_id,
        title=message.subject or "",
        body=message_body(message),
        people=[*people, *recipients],
        sender=people[0],
        recipients=recipients,
        labels=label_terms(labels, names),
        attachments=attachments,
        at=message.internal_date or message.sent_at,
        thread=message.gmail_thread_id,
        flags=message_flags(labels, bool(message.has_attachments) or bool(attachments)),
    )


def message_vector_texts(message: Message) -> list[str]:
    """Chunk 0 is exactly the classifier's text, so its stored vector is the same one."""
    first = mail_text(email_input(message, user_email=None))
    return vector_texts(first, message_body(message))


def event_body(event: CalendarEvent) -> str:
    return "\n".join(x for x in (event.description or "", event.location or "") if x)


def event_document(event: CalendarEvent) -> SearchDocument:
    organizer = person(event.organizer_name, event.organizer_email)
    attendees = attendee_people(event.attendees or [])
    return SearchDocument(
        kind="event",
        source_id=event.id,
        external_id=event.google_id,
        title=event.summary or "",
        body=event_body(event),
        people=[p for p in (organizer, *attendees) if p],
        sender=organizer,
        recipients=attendees,
        at=event.start_at,
        flags=["recurring"] if event.recurrence else [],
    )


def event_vector_texts(event: CalendarEvent) -> list[str]:
    body = event_body(event)
    return vector_texts(f"{event.summary or ''}\n{body}".strip(), body)


def file_document(file: DriveFile, folders: dict[str, tuple[str, list[str]]]) -> SearchDocument:
    path = drive_path(file.google_id, folders)
    text = "\n".join(x for x in (file.description or "", file.text or "") if x)
    return SearchDocument(
        kind="file",
        source_id=file.id,
        external_id=file.google_id,
        title=file.name or "",
        body=text,
        people=list(file.owners or []),
        sender=" ".join(file.owners or []),
        attachments=[p for p in (path, file.name) if p],  # name and path, as with mail
        at=file.google_modified_at or file.google_created_at,
        flags=[f for f, on in (("trash", file.trashed), ("starred", file.starred)) if on],
    )


def file_vector_texts(file: DriveFile) -> list[str]:
    body = file.text or file.description or ""
    return vector_texts(f"{file.name or ''}\n{body}".strip(), body)


def file_version(file: DriveFile) -> Any:
    fetched = file.text_fetched_at
    return max(file.updated_at, fetched) if fetched else file.updated_at


def _default_embed(texts: list[str]) -> Any:
    from secretary.llm.local.embeddings import get_embedder

    return get_embedder().embed(texts)


class Indexer:
    """Index passes for one deployment (``home``: where the per-user indexes live)."""

    def __init__(
        self,
        engine: Engine,
        sessions: sessionmaker[Session],
        home: Path,
        *,
        embed: Embed | None = None,
    ) -> None:
        self.engine = engine
        self.sessions = sessions
        self.home = home
        self.embed = embed or _default_embed

    def index_for(self, user_id: int) -> LexicalIndex:
        return open_index(user_index_path(self.home, user_id))

    def run(
        self,
        user_id: int,
        *,
        vectors: bool = True,
        progress: Progress | None = None,
        lexical_batch: int = LEXICAL_BATCH,
        vector_batch: int = VECTOR_BATCH,
    ) -> IndexReport:
        """One pass for ``user_id``; returns at once if another process is indexing them.

        The pass that holds the user coalesces the others: a caller locked out simply
        returns, and the holder looks again *after* unlocking, so a batch stored while it
        ran (whose own pass found the lock taken) is indexed by a further pass, never
        left behind and never retried in a storm of busy attempts.
        """
        report = IndexReport()
        for _ in range(MAX_PASSES):
            with self.engine.connect() as lock_conn:
                if not repo.try_lock_user(lock_conn, user_id):
                    report.locked_out = report.indexed == 0 and report.embedded_items == 0
                    break  # the holder's look after its unlock covers what we came for
                lock_conn.commit()
                try:
                    self._lexical(user_id, report, progress, lexical_batch)
                    self._deletions(user_id, report)
                    if vectors:
                        self._vectors(user_id, report, progress, vector_batch)
                finally:
                    repo.unlock_user(lock_conn, user_id)
                    lock_conn.commit()
            if not self._pending(user_id, vectors=vectors):
                break
        log.info("search.indexed", user_id=user_id, **report.as_dict())
        return report

    def _pending(self, user_id: int, *, vectors: bool) -> bool:
        with self.sessions() as session:
            if repo.count_changed(session, user_id):
                return True
            return vectors and bool(repo.count_unembedded(session, user_id))

    def reset(self, user_id: int) -> None:
        """Forget the lexical index and its state (vectors stay: they are reused by digest)."""
        index = self.index_for(user_id)
        index.clear()
        with self.sessions.begin() as session:
            repo.clear_user(session, user_id)

    # -- steps --------------------------------------------------------------------------------

    def _lexical(
        self, user_id: int, report: IndexReport, progress: Progress | None, batch: int
    ) -> None:
        index = self.index_for(user_id)
        with self.sessions() as session:
            total = repo.count_changed(session, user_id)
        done = 0
        for kind in repo.KINDS:
            while True:
                with self.sessions() as session:
                    ids = repo.changed_rows(session, kind, user_id, limit=batch)
                    if not ids:
                        break
                    docs, versions = self._documents(session, kind, user_id, ids)
                # tantivy first, then Postgres: a crash in between repeats, never loses, a batch.
                index.upsert(docs)
                with self.sessions.begin() as session:
                    repo.mark_indexed(session, versions)
                done += len(docs)
                report.indexed += len(docs)
                if progress:
                    progress("lexical", done, max(total, done))

    def _documents(
        self, session: Session, kind: str, user_id: int, ids: list[int]
    ) -> tuple[list[SearchDocument], list[repo.SourceVersion]]:
        if kind == "email":
            messages = repo.load_messages(session, ids)
            names = repo.label_names(session, user_id)
            attachments = repo.attachment_names(session, ids)
            return (
                [message_document(m, attachments.get(m.id, []), names) for m in messages],
                [
                    repo.SourceVersion(
                        "email", m.id, m.user_id, m.gmail_id, m.updated_at, list(m.label_ids or [])
                    )
                    for m in messages
                ],
            )
        if kind == "event":
            events = repo.load_events(session, ids)
            return (
                [event_document(e) for e in events],
                [
                    repo.SourceVersion("event", e.id, e.user_id, e.google_id, e.updated_at, [])
                    for e in events
                ],
            )
        files = repo.load_files(session, ids)
        folders = repo.drive_folders(session, user_id)
        return (
            [file_document(f, folders) for f in files],
            [
                repo.SourceVersion("file", f.id, f.user_id, f.google_id, file_version(f), [])
                for f in files
            ],
        )

    def _deletions(self, user_id: int, report: IndexReport) -> None:
        with self.sessions() as session:
            gone = repo.orphan_items(session, user_id)
        if not gone:
            return
        self.index_for(user_id).upsert([], delete_keys=[item_key(k, s) for k, s in gone])
        with self.sessions.begin() as session:
            repo.forget_items(session, gone)
        report.deleted += len(gone)

    def _vectors(
        self, user_id: int, report: IndexReport, progress: Progress | None, batch: int
    ) -> None:
        with self.sessions() as session:
            total = repo.count_unembedded(session, user_id)
        done = 0
        while True:
            with self.sessions.begin() as session:
                keys = repo.unembedded(session, user_id, limit=batch)
                if not keys:
                    break
                self._embed_batch(session, user_id, keys, report)
                repo.mark_embedded(session, keys)
            done += len(keys)
            report.embedded_items += len(keys)
            if progress:
                progress("vectors", done, max(total, done))

    def _embed_batch(
        self, session: Session, user_id: int, keys: Sequence[tuple[str, int]], report: IndexReport
    ) -> None:
        texts_of: dict[tuple[str, int], list[str]] = {}
        for kind in {k for k, _ in keys}:
            ids = [s for k, s in keys if k == kind]
            if kind == "email":
                texts_of.update(
                    (("email", m.id), message_vector_texts(m))
                    for m in repo.load_messages(session, ids)
                )
            elif kind == "event":
                texts_of.update(
                    (("event", e.id), event_vector_texts(e)) for e in repo.load_events(session, ids)
                )
            else:
                texts_of.update(
                    (("file", f.id), file_vector_texts(f)) for f in repo.load_files(session, ids)
                )
        wanted: list[tuple[str, int, int, str, str]] = []  # (kind, id, chunk, digest, text)
        for kind in {k for k, _ in texts_of}:
            ids = [s for k, s in texts_of if k == kind]
            stored = repo.vector_digests(session, kind, ids)
            for source_id in ids:
                texts = texts_of[(kind, source_id)]
                for chunk, chunk_text in enumerate(texts):
                    digest = text_digest(chunk_text)
                    if stored.get((source_id, chunk)) == digest:
                        report.vectors_reused += 1
                    else:
                        wanted.append((kind, source_id, chunk, digest, chunk_text))
                if any(c >= len(texts) for (sid, c) in stored if sid == source_id):
                    repo.drop_chunks_from(session, kind, source_id, len(texts))
        if not wanted:
            return
        known = repo.vectors_by_digest(session, user_id, sorted({w[3] for w in wanted}))
        texts = sorted({w[4] for w in wanted if w[3] not in known})
        if texts:
            computed = np.asarray(self.embed(texts), dtype=np.float32)
            known.update((text_digest(t), computed[i]) for i, t in enumerate(texts))
        report.vectors_computed += len(texts)
        report.vectors_reused += len(wanted) - len(texts)
        repo.store_vectors(
            session,
            [
                (user_id, kind, sid, chunk, digest, known[digest])
                for kind, sid, chunk, digest, _ in wanted
            ],
        )


def build_indexer(engine: Engine, sessions: sessionmaker[Session], home: Path) -> Indexer:
    return Indexer(engine, sessions, home)


def store_classification_vector(session: Session, message: Message, vector: Any) -> None:
    """Keep the vector classification computed as the message's chunk 0 (issue 9: the
    embedding is computed once and reused by search)."""
    texts = message_vector_texts(message)
    repo.store_vectors(
        session,
        [
            (
                message.user_id,
                "email",
                message.id,
                0,
                text_digest(texts[0]),
                np.asarray(vector, dtype=np.float32),
            )
        ],
    )


def classification_vector(session: Session, message: Message) -> Any:
    """The stored chunk-0 vector of this message's current text, if search stored it first."""
    texts = message_vector_texts(message)
    return repo.stored_vector(session, "email", message.id, 0, text_digest(texts[0]))
