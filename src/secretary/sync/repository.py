"""All SQL of the sync domain. Functions take a session and flush; callers commit.

Writes are idempotent upserts on ``(account_id, gmail_id)`` / ``(account_id,
gmail_thread_id)`` / ``(account_id, gmail_label_id)``, so replaying a batch after a crash
changes nothing.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Protocol

from psycopg.types.json import Jsonb
from sqlalchemy import Connection, bindparam, delete, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from secretary.db.models import Attachment, AuditLog, GoogleAccount, Label, Message, SyncState
from secretary.kit.clock import utcnow
from secretary.sync.plan import PendingMessage
from secretary.sync.records import MessageRecord

GMAIL = "gmail"

# Columns a body fetch writes (everything the listing does not know).
_BODY_COLUMNS = (
    "gmail_thread_id",
    "history_id",
    "internal_date",
    "label_ids",
    "size_estimate",
    "snippet",
    "message_id_header",
    "in_reply_to",
    "references",
    "subject",
    "from_name",
    "from_addr",
    "to_addrs",
    "cc_addrs",
    "reply_to",
    "sent_at",
    "list_id",
    "list_unsubscribe",
    "precedence",
    "auto_submitted",
    "triage_headers",
    "body_text",
    "reply_text",
    "signature",
    "has_attachments",
    "has_calendar_invite",
    "parse_defects",
    "body_fetched_at",
)


_JSONB_COLUMNS = frozenset({"parse_defects", "triage_headers"})


def advisory_key(account_id: int) -> int:
    """A stable 63-bit advisory-lock key for one account's Gmail sync."""
    return (zlib.crc32(b"secretary.sync.gmail") << 31) ^ account_id


def try_lock_account(conn: Connection, account_id: int) -> bool:
    """Session-level advisory lock, released when ``conn`` closes (or the process dies)."""
    return bool(
        conn.execute(
            text("select pg_try_advisory_lock(:k)"), {"k": advisory_key(account_id)}
        ).scalar()
    )


def unlock_account(conn: Connection, account_id: int) -> None:
    conn.execute(text("select pg_advisory_unlock(:k)"), {"k": advisory_key(account_id)})


def get_account(session: Session, account_id: int) -> GoogleAccount | None:
    return session.get(GoogleAccount, account_id)


def list_accounts(session: Session, *, status: str | None = None) -> list[GoogleAccount]:
    stmt = select(GoogleAccount).order_by(GoogleAccount.id)
    if status:
        stmt = stmt.where(GoogleAccount.status == status)
    return list(session.scalars(stmt))


def find_account_by_email(session: Session, email: str) -> GoogleAccount | None:
    return session.scalars(
        select(GoogleAccount).where(func.lower(GoogleAccount.email) == email.lower())
    ).first()


def get_state(
    session: Session, account: GoogleAccount, *, for_update: bool = False, service: str = GMAIL
) -> SyncState:
    """The account's sync state for ``service`` (Gmail by default), created on first use."""
    stmt = select(SyncState).where(SyncState.account_id == account.id, SyncState.service == service)
    if for_update:
        stmt = stmt.with_for_update()
    stmt = stmt.execution_options(populate_existing=True)
    state = session.scalars(stmt).one_or_none()
    if state is not None:  # every call but the first: one round trip, not two
        return state
    session.execute(
        insert(SyncState)
        .values(
            user_id=account.user_id,
            account_id=account.id,
            service=service,
            phase="initial",
            progress={},
            full_resyncs=0,
        )
        .on_conflict_do_nothing(index_elements=["account_id", "service"])
    )
    return session.scalars(stmt).one()


def record_fetch_progress(session: Session, account_id: int, fetched: int) -> None:
    """Merge ``{"fetched": n}`` into the Gmail sync progress in one UPDATE."""
    session.execute(
        text(
            "update sync_states set progress = progress || jsonb_build_object('fetched', "
            "cast(:n as bigint)), updated_at = now() where account_id = :a and service = 'gmail'"
        ),
        {"n": fetched, "a": account_id},
    )


def states(session: Session) -> list[SyncState]:
    return list(
        session.scalars(select(SyncState).where(SyncState.service == GMAIL).order_by(SyncState.id))
    )


def save_state(session: Session, state: SyncState, **values: Any) -> None:
    for key, value in values.items():
        setattr(state, key, value)
    session.flush()


def sync_labels(session: Session, account: GoogleAccount, labels: Sequence[dict[str, Any]]) -> None:
    if labels:
        stmt = insert(Label).values(
            [
                {
                    "user_id": account.user_id,
                    "account_id": account.id,
                    "gmail_label_id": lab["id"],
                    "name": lab.get("name") or lab["id"],
                    "type": lab.get("type", "user"),
                }
                for lab in labels
            ]
        )
        session.execute(
            stmt.on_conflict_do_update(
                index_elements=["account_id", "gmail_label_id"],
                set_={
                    "name": stmt.excluded.name,
                    "type": stmt.excluded.type,
                    "updated_at": func.now(),
                },
            )
        )
    session.execute(
        delete(Label).where(
            Label.account_id == account.id,
            Label.gmail_label_id.not_in([lab["id"] for lab in labels]),
        )
    )
    session.flush()


def upsert_listing(
    session: Session, account: GoogleAccount, rows: Sequence[tuple[str, str, list[str]]]
) -> None:
    """Metadata from listings: ``(gmail_id, thread_id, label_ids)``, in priority order
    (new rows get increasing ids, which ``pending_messages`` uses as the newest-first order)."""
    if rows:
        _copy_rows(
            session,
            _LISTING_COLUMNS,
            (
                (account.user_id, account.id, gid, tid, labels, [], [], [], False, False)
                for gid, tid, labels in rows
            ),
            _MERGE_LISTING,
        )
    session.flush()


def local_messages(session: Session, account_id: int) -> dict[str, datetime | None]:
    """Every stored gmail id of the account with its ``internal_date``."""
    rows = session.execute(
        select(Message.gmail_id, Message.internal_date).where(Message.account_id == account_id)
    )
    return {row[0]: row[1] for row in rows}


def fetched_ids(session: Session, account_id: int, gmail_ids: Iterable[str]) -> set[str]:
    ids = list(gmail_ids)
    if not ids:
        return set()
    return set(
        session.scalars(
            select(Message.gmail_id).where(
                Message.account_id == account_id,
                Message.gmail_id.in_(ids),
                Message.body_fetched_at.is_not(None),
            )
        )
    )


def pending_messages(session: Session, account_id: int) -> list[PendingMessage]:
    """Messages listed but not yet fetched: unread first, then newest first (listing order)."""
    unread = Message.label_ids.contains(["UNREAD"])
    rows = session.execute(
        select(Message.gmail_id, Message.gmail_thread_id)
        .where(Message.account_id == account_id, Message.body_fetched_at.is_(None))
        .order_by(unread.desc(), Message.id)
    )
    return [PendingMessage(gid, tid) for gid, tid in rows]


def delete_messages(session: Session, account_id: int, gmail_ids: Iterable[str]) -> list[str]:
    """Delete messages (attachments cascade); returns their thread ids."""
    ids = list(gmail_ids)
    if not ids:
        return []
    threads = session.scalars(
        delete(Message)
        .where(Message.account_id == account_id, Message.gmail_id.in_(ids))
        .returning(Message.gmail_thread_id)
    ).all()
    session.flush()
    return list(threads)


_STAGE = "sync_message_stage"
_STAGE_COLUMNS = ("user_id", "account_id", "gmail_id", *_BODY_COLUMNS)


def _cols(columns: Iterable[str]) -> str:
    return ", ".join(f'"{c}"' for c in columns)  # "references" is a reserved word


_LISTING_COLUMNS = (
    "user_id",
    "account_id",
    "gmail_id",
    "gmail_thread_id",
    "label_ids",
    # NOT NULL without a server default (the ORM fills them; COPY does not).
    "references",
    "to_addrs",
    "cc_addrs",
    "has_attachments",
    "has_calendar_invite",
)
# Identifiers below are module constants (no input reaches these strings), hence the noqa.
_CREATE_STAGE = (
    f"create temp table if not exists {_STAGE} on commit delete rows as "  # noqa: S608
    f"select {_cols(_STAGE_COLUMNS)} from messages with no data"
)
_MERGE_BODY = (
    # One statement: "prev" sees the rows before the upsert, so first_time says which
    # messages get their body for the first time (what triage listeners are told about).
    f"with prev as (select m.gmail_id from messages m join {_STAGE} s "  # noqa: S608
    "on m.account_id = s.account_id and m.gmail_id = s.gmail_id "
    "where m.body_fetched_at is not null), "
    f"up as (insert into messages ({_cols(_STAGE_COLUMNS)}) "
    f"select {_cols(_STAGE_COLUMNS)} from {_STAGE} "
    "on conflict (account_id, gmail_id) do update set "
    + ", ".join(f'"{c}" = excluded."{c}"' for c in _BODY_COLUMNS)
    + ", updated_at = now() returning id, gmail_id) "
    "select up.id, up.gmail_id, prev.gmail_id is null from up "
    "left join prev on prev.gmail_id = up.gmail_id"
)
_MERGE_LISTING = (
    f"insert into messages ({_cols(_LISTING_COLUMNS)}) "  # noqa: S608
    # ctid order = COPY order (the stage is truncated after each use): new rows get ids in
    # listing order, which pending_messages uses as "newest first".
    f"select {_cols(_LISTING_COLUMNS)} from {_STAGE} order by ctid "
    "on conflict (account_id, gmail_id) do update set "
    "gmail_thread_id = excluded.gmail_thread_id, label_ids = excluded.label_ids"
)


def _copy_rows(
    session: Session, columns: Sequence[str], rows: Iterable[Sequence[Any]], merge_sql: str
) -> list[tuple[Any, ...]]:
    """Bulk upsert through ``COPY`` into a temp staging table, then one ``INSERT … SELECT …
    ON CONFLICT``. Why not executemany: psycopg re-parses a multi-VALUES statement of
    1,500 placeholders on every batch (too long for its cache); that was half the store
    time in the sync benchmark. COPY sends rows without any SQL to parse.
    """
    conn = session.connection()
    dbapi = conn.connection.driver_connection
    with dbapi.cursor() as cur:  # type: ignore[union-attr]
        cur.execute(_CREATE_STAGE)
        with cur.copy(f"copy {_STAGE} ({_cols(columns)}) from stdin") as copy:
            for row in rows:
                copy.write_row(row)
        cur.execute(merge_sql)
        result = list(cur.fetchall()) if cur.description else []
        cur.execute(f"truncate {_STAGE}")
    return result


class AccountRef(Protocol):
    """What writes need of an account (a ``GoogleAccount`` or a cached copy of its ids)."""

    @property
    def id(self) -> int: ...

    @property
    def user_id(self) -> int: ...


def relax_commit_durability(session: Session) -> None:
    """``synchronous_commit = off`` for this transaction: a PostgreSQL crash may lose the
    last few hundred milliseconds of commits, but never half of one, and sync progress
    rolls back with its data, so a restart simply fetches those messages again. Worth it
    for backfill batches: the commit no longer waits for the WAL flush."""
    session.execute(text("set local synchronous_commit = off"))


def store_records(
    session: Session, account: AccountRef, records: Sequence[MessageRecord]
) -> list[int]:
    """Upsert fetched messages with their attachments; returns the db ids of messages whose
    body is stored for the first time (what triage listeners care about)."""
    if not records:
        return []
    by_id = {r.gmail_id: r for r in records}  # a thread and a message fetch may overlap
    rows = (
        (
            account.user_id,
            account.id,
            gid,
            *(
                Jsonb(v) if c in _JSONB_COLUMNS and v is not None else v
                for c, v in ((c, r.row[c]) for c in _BODY_COLUMNS)
            ),
        )
        for gid, r in by_id.items()
    )
    merged = _copy_rows(session, _STAGE_COLUMNS, rows, _MERGE_BODY)
    ids = {gid: mid for mid, gid, _first in merged}
    first_time = [mid for mid, _gid, first in merged if first]
    session.execute(delete(Attachment).where(Attachment.message_id.in_(list(ids.values()))))
    attachments = [
        {"user_id": account.user_id, "account_id": account.id, "message_id": ids[gid], **att}
        for gid, r in by_id.items()
        for att in r.attachments
    ]
    if attachments:
        session.execute(insert(Attachment), attachments)
    session.flush()
    return first_time


def labels_of(session: Session, account_id: int, gmail_ids: Iterable[str]) -> dict[str, list[str]]:
    ids = list(gmail_ids)
    if not ids:
        return {}
    return {
        gid: list(labels)
        for gid, labels in session.execute(
            select(Message.gmail_id, Message.label_ids).where(
                Message.account_id == account_id, Message.gmail_id.in_(ids)
            )
        )
    }


def set_labels(session: Session, account_id: int, labels: dict[str, list[str]]) -> None:
    if not labels:
        return
    session.connection().execute(
        update(Message.__table__)  # type: ignore[arg-type]
        .where(
            Message.__table__.c.account_id == bindparam("acc"),
            Message.__table__.c.gmail_id == bindparam("gid"),
        )
        .values(label_ids=bindparam("labels"), updated_at=func.now()),
        [{"acc": account_id, "gid": gid, "labels": lab} for gid, lab in labels.items()],
    )


def thread_ids_of(session: Session, account_id: int, gmail_ids: Iterable[str]) -> set[str]:
    ids = list(gmail_ids)
    if not ids:
        return set()
    return set(
        session.scalars(
            select(Message.gmail_thread_id).where(
                Message.account_id == account_id, Message.gmail_id.in_(ids)
            )
        )
    )


_REFRESH_THREADS = text(
    """
    insert into threads (user_id, account_id, gmail_thread_id, subject, snippet,
                         message_count, last_message_at)
    select m.user_id, m.account_id, m.gmail_thread_id,
           (array_agg(m.subject order by m.internal_date asc nulls last))[1],
           (array_agg(m.snippet order by m.internal_date desc nulls last))[1],
           count(*), max(m.internal_date)
    from messages m
    where m.account_id = :acc and m.gmail_thread_id = any(:tids)
    group by m.user_id, m.account_id, m.gmail_thread_id
    on conflict (account_id, gmail_thread_id) do update set
        subject = excluded.subject, snippet = excluded.snippet,
        message_count = excluded.message_count, last_message_at = excluded.last_message_at,
        updated_at = now()
    """
)

_DROP_EMPTY_THREADS = text(
    """
    delete from threads t
    where t.account_id = :acc and t.gmail_thread_id = any(:tids)
      and not exists (select 1 from messages m
                      where m.account_id = t.account_id and m.gmail_thread_id = t.gmail_thread_id)
    """
)


def refresh_threads(session: Session, account_id: int, thread_ids: Iterable[str]) -> None:
    """Recompute the ``threads`` rows of the given threads from their messages."""
    tids = sorted(set(thread_ids))
    if not tids:
        return
    params = {"acc": account_id, "tids": tids}
    session.execute(_REFRESH_THREADS, params)
    session.execute(_DROP_EMPTY_THREADS, params)
    session.flush()


def drop_orphan_threads(session: Session, account_id: int) -> None:
    session.execute(
        text(
            "delete from threads t where t.account_id = :acc and not exists (select 1 from "
            "messages m where m.account_id = t.account_id and m.gmail_thread_id = t.gmail_thread_id)"
        ),
        {"acc": account_id},
    )


def audit(session: Session, account: GoogleAccount, action: str, details: dict[str, Any]) -> None:
    session.add(
        AuditLog(
            user_id=account.user_id,
            account_id=account.id,
            actor="sync",
            action=action,
            details=details,
        )
    )
    session.flush()


def counts(session: Session, account_id: int) -> dict[str, int]:
    total, fetched = session.execute(
        select(func.count(), func.count(Message.body_fetched_at)).where(
            Message.account_id == account_id
        )
    ).one()
    return {"messages": int(total), "fetched": int(fetched)}


def now() -> datetime:
    return utcnow()
