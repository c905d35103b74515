"""All search SQL: which items changed, the index state, stored vectors, and hydration."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import (
    BigInteger,
    Connection,
    any_,
    bindparam,
    delete,
    func,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.orm import Session

from secretary.db.models import (
    Attachment,
    CalendarEvent,
    CalendarInstance,
    DriveFile,
    Label,
    Message,
    SearchItem,
    SearchVector,
)
from secretary.kit.clock import utcnow

# 64-bit advisory lock keys: a fixed namespace for search, xor the user id.
_LOCK_NAMESPACE = 0x5EA7C4 << 32


@dataclass(frozen=True)
class SourceVersion:
    """What one indexed row looked like when it was indexed."""

    kind: str
    source_id: int
    user_id: int
    external_id: str
    updated_at: datetime | None
    label_ids: list[str]


# -- locking --------------------------------------------------------------------------------


def try_lock_user(conn: Connection, user_id: int) -> bool:
    """One indexer per user at a time, across processes (a session-level advisory lock on a
    connection the caller keeps for the whole pass)."""
    return bool(
        conn.execute(
            text("select pg_try_advisory_lock(:k)"), {"k": _LOCK_NAMESPACE ^ int(user_id)}
        ).scalar()
    )


def unlock_user(conn: Connection, user_id: int) -> None:
    conn.execute(text("select pg_advisory_unlock(:k)"), {"k": _LOCK_NAMESPACE ^ int(user_id)})


# -- what changed ---------------------------------------------------------------------------


def users_with_items(session: Session) -> list[int]:
    rows = session.execute(
        text(
            "select id from users u where exists (select 1 from messages m where m.user_id = u.id)"
            " or exists (select 1 from search_items s where s.user_id = u.id) order by id"
        )
    )
    return [int(r[0]) for r in rows]


FOLDER_MIME = "application/vnd.google-apps.folder"

# Per kind: the source table, which rows are indexable, and the version that says "changed".
# Drive keeps ``updated_at`` when the text arrives (its relisting sweep reads it), so a file's
# version is the later of that and ``text_fetched_at``. Identifiers are constants.
_SOURCES: dict[str, tuple[str, str, str]] = {
    "email": (
        "messages",
        "(t.subject is not null or t.body_fetched_at is not null)",
        "t.updated_at",
    ),
    "event": ("calendar_events", "t.status <> 'cancelled'", "t.updated_at"),
    "file": (
        "drive_files",
        f"t.mime_type <> '{FOLDER_MIME}'",
        "greatest(t.updated_at, coalesce(t.text_fetched_at, t.updated_at))",
    ),
}
KINDS = tuple(_SOURCES)


def _changed_sql(kind: str, select_list: str) -> str:
    table, indexable, version = _SOURCES[kind]
    labels = "or s.label_ids is distinct from t.label_ids " if kind == "email" else ""
    return (
        f"select {select_list} from {table} t left join search_items s "  # noqa: S608
        f"on s.kind = '{kind}' and s.source_id = t.id "
        f"where t.user_id = :u and {indexable} "
        "and (s.id is null or s.lexical_at is null "
        f"or s.source_updated_at is distinct from {version} {labels})"
    )


def changed_rows(session: Session, kind: str, user_id: int, *, limit: int) -> list[int]:
    """Rows never indexed, or changed since (text, labels, status): oldest ids first.

    Labels are compared by value as well as ``updated_at``, because the listing merge of a
    full resync rewrites ``label_ids`` without touching ``updated_at``.
    """
    rows = session.execute(
        text(_changed_sql(kind, "t.id") + " order by t.id limit :n"), {"u": user_id, "n": limit}
    )
    return [int(r[0]) for r in rows]


def changed_messages(session: Session, user_id: int, *, limit: int) -> list[int]:
    return changed_rows(session, "email", user_id, limit=limit)


def count_changed(session: Session, user_id: int) -> int:
    return sum(
        int(session.execute(text(_changed_sql(k, "count(*)")), {"u": user_id}).scalar_one())
        for k in KINDS
    )


def count_changed_messages(session: Session, user_id: int) -> int:
    return count_changed(session, user_id)


def orphan_items(session: Session, user_id: int) -> list[tuple[str, int]]:
    """Indexed items whose source row is gone or no longer indexable (deleted in Gmail,
    a cancelled event, a file turned into a folder, a removed account)."""
    out: list[tuple[str, int]] = []
    for kind, (table, indexable, _) in _SOURCES.items():
        rows = session.execute(
            text(
                "select s.source_id from search_items s where s.user_id = :u "  # noqa: S608
                f"and s.kind = '{kind}' and not exists (select 1 from {table} t "
                f"where t.id = s.source_id and t.user_id = s.user_id and {indexable})"
            ),
            {"u": user_id},
        )
        out.extend((kind, int(r[0])) for r in rows)
    return out


def load_events(session: Session, ids: Sequence[int]) -> list[CalendarEvent]:
    if not ids:
        return []
    return list(session.scalars(select(CalendarEvent).where(CalendarEvent.id.in_(list(ids)))))


def load_files(session: Session, ids: Sequence[int]) -> list[DriveFile]:
    if not ids:
        return []
    return list(session.scalars(select(DriveFile).where(DriveFile.id.in_(list(ids)))))


def drive_folders(session: Session, user_id: int) -> dict[str, tuple[str, list[str]]]:
    """Every folder's ``google_id -> (name, parents)``, to spell a file's path."""
    rows = session.execute(
        select(DriveFile.google_id, DriveFile.name, DriveFile.parents).where(
            DriveFile.user_id == user_id, DriveFile.mime_type == FOLDER_MIME
        )
    )
    return {str(g): (str(n or ""), list(p or [])) for g, n, p in rows}


def load_messages(session: Session, ids: Sequence[int]) -> list[Message]:
    if not ids:
        return []
    return list(session.scalars(select(Message).where(Message.id.in_(list(ids)))))


def attachment_names(session: Session, message_ids: Sequence[int]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    if not message_ids:
        return out
    rows = session.execute(
        select(Attachment.message_id, Attachment.filename).where(
            Attachment.message_id.in_(list(message_ids)), Attachment.filename.is_not(None)
        )
    )
    for message_id, filename in rows:
        out.setdefault(int(message_id), []).append(str(filename))
    return out


def label_names(session: Session, user_id: int) -> dict[str, str]:
    rows = session.execute(select(Label.gmail_label_id, Label.name).where(Label.user_id == user_id))
    return {str(a): str(b) for a, b in rows}


# -- index state ----------------------------------------------------------------------------


def mark_indexed(session: Session, versions: Sequence[SourceVersion]) -> None:
    """Record what the lexical index now holds. A changed source row also needs its vectors
    checked again (``embedded_at`` cleared); a label-only change keeps them."""
    if not versions:
        return
    now = utcnow()
    stmt = insert(SearchItem).values(
        [
            {
                "user_id": v.user_id,
                "kind": v.kind,
                "source_id": v.source_id,
                "external_id": v.external_id,
                "source_updated_at": v.updated_at,
                "label_ids": list(v.label_ids),
                "lexical_at": now,
                "embedded_at": None,
            }
            for v in versions
        ]
    )
    excluded = stmt.excluded
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=["kind", "source_id"],
            set_={
                "user_id": excluded.user_id,
                "external_id": excluded.external_id,
                "label_ids": excluded.label_ids,
                "lexical_at": excluded.lexical_at,
                "source_updated_at": excluded.source_updated_at,
                "embedded_at": text(
                    "case when search_items.source_updated_at is not distinct from "
                    "excluded.source_updated_at then search_items.embedded_at end"
                ),
            },
        )
    )


def forget_items(session: Session, keys: Iterable[tuple[str, int]]) -> None:
    for kind, source_id in keys:
        session.execute(
            delete(SearchItem).where(SearchItem.kind == kind, SearchItem.source_id == source_id)
        )
        session.execute(
            delete(SearchVector).where(
                SearchVector.kind == kind, SearchVector.source_id == source_id
            )
        )


def clear_user(session: Session, user_id: int) -> None:
    session.execute(delete(SearchItem).where(SearchItem.user_id == user_id))


def unembedded(session: Session, user_id: int, *, limit: int) -> list[tuple[str, int]]:
    rows = session.execute(
        select(SearchItem.kind, SearchItem.source_id)
        .where(
            SearchItem.user_id == user_id,
            SearchItem.lexical_at.is_not(None),
            SearchItem.embedded_at.is_(None),
        )
        .order_by(SearchItem.source_id.desc())  # newest mail first: what people look for
        .limit(limit)
    )
    return [(str(k), int(s)) for k, s in rows]


def count_unembedded(session: Session, user_id: int) -> int:
    return int(
        session.execute(
            text(
                "select count(*) from search_items where user_id = :u "
                "and lexical_at is not null and embedded_at is null"
            ),
            {"u": user_id},
        ).scalar_one()
    )


def mark_embedded(session: Session, keys: Sequence[tuple[str, int]]) -> None:
    now = utcnow()
    for kind in {k for k, _ in keys}:
        ids = [s for k, s in keys if k == kind]
        session.execute(
            update(SearchItem)
            .where(SearchItem.kind == kind, SearchItem.source_id.in_(ids))
            .values(embedded_at=now)
        )


# -- vectors --------------------------------------------------------------------------------


def vector_digests(
    session: Session, kind: str, source_ids: Sequence[int]
) -> dict[tuple[int, int], str]:
    """``(source_id, chunk) -> text_digest`` of the stored vectors."""
    if not source_ids:
        return {}
    rows = session.execute(
        select(SearchVector.source_id, SearchVector.chunk, SearchVector.text_digest).where(
            SearchVector.kind == kind, SearchVector.source_id.in_(list(source_ids))
        )
    )
    return {(int(s), int(c)): str(d) for s, c, d in rows}


def stored_vector(
    session: Session, kind: str, source_id: int, chunk: int, digest: str
) -> np.ndarray[Any, np.dtype[np.float32]] | None:
    row = session.execute(
        select(SearchVector.embedding).where(
            SearchVector.kind == kind,
            SearchVector.source_id == source_id,
            SearchVector.chunk == chunk,
            SearchVector.text_digest == digest,
        )
    ).scalar_one_or_none()
    if row is None:
        return None
    values = row.to_list() if hasattr(row, "to_list") else list(row)
    return np.asarray(values, dtype=np.float32)


def store_vectors(
    session: Session,
    rows: Sequence[tuple[int, str, int, int, str, np.ndarray[Any, np.dtype[np.float32]]]],
) -> None:
    """Upsert ``(user_id, kind, source_id, chunk, digest, vector)`` rows."""
    if not rows:
        return
    stmt = insert(SearchVector).values(
        [
            {
                "user_id": user_id,
                "kind": kind,
                "source_id": source_id,
                "chunk": chunk,
                "text_digest": digest,
                "embedding": vector.astype(np.float32).tolist(),
            }
            for user_id, kind, source_id, chunk, digest, vector in rows
        ]
    )
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=["kind", "source_id", "chunk"],
            set_={
                "text_digest": stmt.excluded.text_digest,
                "embedding": stmt.excluded.embedding,
                "user_id": stmt.excluded.user_id,
            },
            where=SearchVector.text_digest != stmt.excluded.text_digest,
        )
    )


def vectors_by_digest(
    session: Session, user_id: int, digests: Sequence[str]
) -> dict[str, np.ndarray[Any, np.dtype[np.float32]]]:
    """Stored vectors of these texts from any of the user's items (a forwarded mail, the
    same newsletter twice): an identical text is embedded once."""
    if not digests:
        return {}
    rows = session.execute(
        text(
            "select distinct on (text_digest) text_digest, embedding from search_vectors "
            "where user_id = :u and text_digest = any(:d)"
        ).columns(SearchVector.text_digest, SearchVector.embedding),
        {"u": user_id, "d": list(digests)},
    )
    out: dict[str, np.ndarray[Any, np.dtype[np.float32]]] = {}
    for digest, embedding in rows:
        values = embedding.to_list() if hasattr(embedding, "to_list") else list(embedding)
        out[str(digest)] = np.asarray(values, dtype=np.float32)
    return out


def drop_chunks_from(session: Session, kind: str, source_id: int, first_unused: int) -> None:
    session.execute(
        delete(SearchVector).where(
            SearchVector.kind == kind,
            SearchVector.source_id == source_id,
            SearchVector.chunk >= first_unused,
        )
    )


def nearest(
    session: Session,
    user_id: int,
    query_vector: np.ndarray[Any, np.dtype[np.float32]],
    *,
    kind: str | None,
    limit: int,
    ef_search: int = 100,
    later_chunk_penalty: float = 0.0,
) -> dict[tuple[str, int], float]:
    """Best cosine similarity per item among the user's ``limit`` nearest chunks (HNSW),
    a chunk after the first counting ``later_chunk_penalty`` less.

    pgvector 0.8's iterative scan keeps walking the graph until ``limit`` rows pass the
    user filter, so a small user in a big table still gets a full answer. Two round trips:
    the scan settings (one ``set_config`` each, local to the transaction), then the scan.
    """
    session.execute(
        text(
            "select set_config('hnsw.ef_search', :ef, true),"
            " set_config('hnsw.iterative_scan', 'relaxed_order', true)"
        ),
        {"ef": str(int(ef_search))},
    )
    # Only this constant is formatted into the SQL; every value is a bound parameter.
    kind_sql = "and kind = :k " if kind else ""
    sql = (
        "select kind, source_id, chunk, 1 - (embedding <=> cast(:q as halfvec(384))) as sim "  # noqa: S608
        f"from search_vectors where user_id = :u {kind_sql}"
        "order by embedding <=> cast(:q as halfvec(384)) limit :n"
    )
    rows = session.execute(
        text(sql),
        {"q": vector_literal(query_vector), "u": user_id, "k": kind, "n": limit},
    )
    out: dict[tuple[str, int], float] = {}
    for k, sid, chunk, sim in rows:
        key = (str(k), int(sid))
        score = float(sim) - (later_chunk_penalty if chunk else 0.0)
        out[key] = max(out.get(key, -2.0), score)
    return out


def vector_literal(vector: np.ndarray[Any, np.dtype[np.float32]]) -> str:
    """``[x,y,...]``: pgvector's text form (half precision keeps ~3 significant digits)."""
    return "[" + ",".join(f"{x:.5g}" for x in vector.tolist()) + "]"


# -- hydration ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MessageFacts:
    """What ranking, the operators and a hit need of a message: not its body, which is most
    of a row's bytes. A candidate list is ~100 rows; loading them as full ORM rows was
    most of a query's time (docs/evaluation.md, "Search at 100k")."""

    id: int
    gmail_id: str
    gmail_thread_id: str
    subject: str | None
    from_name: str | None
    from_addr: str | None
    to_addrs: list[str]
    cc_addrs: list[str]
    label_ids: list[str]
    has_attachments: bool
    internal_date: datetime | None
    sent_at: datetime | None


_FACT_COLUMNS = (
    Message.id,
    Message.gmail_id,
    Message.gmail_thread_id,
    Message.subject,
    Message.from_name,
    Message.from_addr,
    Message.to_addrs,
    Message.cc_addrs,
    Message.label_ids,
    Message.has_attachments,
    Message.internal_date,
    Message.sent_at,
)


def _ids(ids: Sequence[int]) -> Any:
    # One array parameter, so the statement text (and psycopg's parse of it) is the same
    # whatever the number of ids.
    return any_(bindparam("ids", [int(i) for i in ids], type_=ARRAY(BigInteger)))


def messages_of_user(session: Session, user_id: int, ids: Sequence[int]) -> dict[int, MessageFacts]:
    """The user's messages among ``ids``, without their bodies (``message_texts``)."""
    if not ids:
        return {}
    rows = session.execute(
        select(*_FACT_COLUMNS).where(Message.user_id == user_id, Message.id == _ids(ids))
    )
    out: dict[int, MessageFacts] = {}
    for row in rows:
        mid, gid, thread, subject, name, addr, to, cc, labels, attach, at, sent = row
        out[int(mid)] = MessageFacts(
            int(mid),
            str(gid),
            str(thread),
            subject,
            name,
            addr,
            list(to or []),
            list(cc or []),
            list(labels or []),
            bool(attach),
            at,
            sent,
        )
    return out


SNIPPET_SOURCE_CHARS = 10_000


def message_texts(session: Session, user_id: int, ids: Sequence[int]) -> dict[int, str]:
    """The start of the new text of each message's body (as ``indexer.message_body``), for
    snippets. Only a prefix: Postgres then decompresses only that much of a long TOASTed
    body (measured 3.2 ms against 0.55 ms for ten bench hits on the loaded machine)."""
    if not ids:
        return {}
    text_sql = func.left(
        func.coalesce(
            func.nullif(Message.reply_text, ""),
            func.nullif(Message.body_text, ""),
            func.nullif(Message.snippet, ""),
            "",
        ),
        SNIPPET_SOURCE_CHARS,
    )
    rows = session.execute(
        select(Message.id, text_sql).where(Message.user_id == user_id, Message.id == _ids(ids))
    )
    return {int(i): str(t) for i, t in rows}


def events_of_user(session: Session, user_id: int, ids: Sequence[int]) -> dict[int, CalendarEvent]:
    if not ids:
        return {}
    rows = session.scalars(
        select(CalendarEvent).where(CalendarEvent.user_id == user_id, CalendarEvent.id == _ids(ids))
    )
    return {e.id: e for e in rows}


def files_of_user(session: Session, user_id: int, ids: Sequence[int]) -> dict[int, DriveFile]:
    if not ids:
        return {}
    rows = session.scalars(
        select(DriveFile).where(DriveFile.user_id == user_id, DriveFile.id == _ids(ids))
    )
    return {f.id: f for f in rows}


def instance_in_range(
    session: Session, event: CalendarEvent, after: datetime | None, before: datetime | None
) -> CalendarInstance | None:
    """The first occurrence of ``event`` (a series or a single event) in ``[after, before)``."""
    stmt = select(CalendarInstance).where(
        CalendarInstance.user_id == event.user_id,
        CalendarInstance.calendar_id == event.calendar_id,
        (CalendarInstance.event_id == event.id)
        | (CalendarInstance.recurring_event_id == event.google_id),
        CalendarInstance.status != "cancelled",
    )
    if after is not None:
        stmt = stmt.where(CalendarInstance.end_at > after)
    if before is not None:
        stmt = stmt.where(CalendarInstance.start_at < before)
    return session.scalars(stmt.order_by(CalendarInstance.start_at).limit(1)).first()
