"""Gmail push notifications (Pub/Sub): decoding, durable de-duplication, the stale/unknown
filter and the sync request, for a batch of pushes in one transaction (ADR 0021).

Pub/Sub delivers at least once. Each push's ``messageId`` gets a row in ``push_receipts``
in the transaction that records the push, so the first delivery is recorded exactly once
and any redelivery (after a restart, after any number of other pushes, to another server)
finds the receipt and is a ``duplicate``. The pushed ``historyId`` is only compared with
the stored cursor; it is never stored.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import BigInteger, Boolean, String, delete, func, select, text
from sqlalchemy.orm import Session

from secretary.db.models import AccountStatus, PushReceipt, TaskStatus
from secretary.sync import engine

GMAIL = "gmail"
# Pub/Sub keeps an unacknowledged message for at most 7 days (message_retention_duration):
# older receipts can no longer meet a redelivery.
RECEIPT_RETENTION = timedelta(days=7)


@dataclass(frozen=True)
class Push:
    """One notification as delivered: Pub/Sub's ``messageId`` and ``message.data``."""

    message_id: str | None
    data: str


@dataclass(frozen=True)
class PushDecision:
    """What became of one notification: sync ``account_id``, or dropped (``reason``)."""

    account_id: int | None
    history_id: int | None
    # "sync", "duplicate", "stale", "unknown_account", "malformed", "not_syncable"
    reason: str

    @property
    def should_sync(self) -> bool:
        return self.reason == "sync"


DUPLICATE = PushDecision(None, None, "duplicate")
MALFORMED = PushDecision(None, None, "malformed")


def decode_push_data(data_b64: str) -> tuple[str, int] | None:
    """``message.data`` of a Gmail push: base64 JSON ``{emailAddress, historyId}``."""
    try:
        payload = json.loads(base64.b64decode(data_b64 + "=" * (-len(data_b64) % 4)))
        return str(payload["emailAddress"]), int(payload["historyId"])
    except (binascii.Error, ValueError, KeyError, TypeError):
        return None


# One round trip for the batch: insert the receipts (returning the new ones) and look up
# each pushed address's account with its stored Gmail cursor and whether a sync of it is
# already waiting (``engine.request_sync``'s coalescing rule). Row kinds: "r" a new
# receipt (``key`` is the messageId), "a" an account (``key`` is the lower-cased address).
_BATCH_FACTS = text(
    """
    with fresh as (
        insert into push_receipts (message_id)
        select unnest(cast(:ids as text[]))
        on conflict (message_id) do nothing
        returning message_id
    ), account as (
        select distinct on (lower(a.email)) lower(a.email) as email, a.id, a.user_id, a.status
        from google_accounts a
        where lower(a.email) = any(cast(:emails as text[]))
        order by lower(a.email), a.id
    )
    select 'r' as kind, message_id as key, null::bigint as account_id, null::bigint as user_id,
           null::text as status, null::text as cursor, false as waiting
    from fresh
    union all
    select 'a', account.email, account.id, account.user_id, account.status,
           (select s.cursor from sync_states s
            where s.account_id = account.id and s.service = :service
              and s.phase = 'incremental'),
           exists (select 1 from task_records t
                   where t.name = :task and t.status = any(cast(:waiting as text[]))
                     and (t.args ->> 'account_id')::bigint = account.id
                     and t.args ->> 'service' = :service)
    from account
    """
).columns(
    kind=String,
    key=String,
    account_id=BigInteger,
    user_id=BigInteger,
    status=String,
    cursor=String,
    waiting=Boolean,
)  # declared, so SQLAlchemy caches the result's shape instead of reading it per batch


@dataclass(frozen=True)
class _Account:
    account_id: int
    user_id: int
    status: str
    cursor: int | None
    sync_waiting: bool


def accept_pushes(session: Session, pushes: Sequence[Push]) -> list[PushDecision]:
    """Record a batch of pushes in the caller's transaction and request the syncs they call
    for; one decision per push, in order.

    One statement for the whole batch in the common case (the receipts, the accounts, their
    cursors and waiting syncs), plus a ``sync.run`` record for an account with no sync
    waiting. A redelivered ``messageId`` is a duplicate; pushes for unknown or inactive
    accounts, and those whose ``historyId`` the stored cursor already covers
    (stragglers), are dropped.
    """
    decoded = [decode_push_data(p.data) for p in pushes]
    # Sorted: two servers inserting overlapping receipts lock them in one order (no deadlock).
    ids = sorted({p.message_id for p in pushes if p.message_id is not None})
    emails = sorted({d[0].lower() for d in decoded if d is not None})
    fresh: set[str] = set()
    accounts: dict[str, _Account] = {}
    if ids or emails:
        rows = session.execute(
            _BATCH_FACTS,
            {
                "ids": ids,
                "emails": emails,
                "service": GMAIL,
                "task": engine.SYNC_TASK,
                "waiting": [TaskStatus.QUEUED, TaskStatus.RETRYING],
            },
        )
        for kind, key, account_id, user_id, status, cursor, waiting in rows:
            if kind == "r":
                fresh.add(key)
            else:
                accounts[key] = _Account(
                    account_id, user_id, status, int(cursor) if cursor else None, waiting
                )

    decisions: list[PushDecision] = []
    to_sync: dict[int, int] = {}
    for push, data in zip(pushes, decoded, strict=True):
        if push.message_id is not None:
            if push.message_id not in fresh:
                decisions.append(DUPLICATE)
                continue
            fresh.discard(push.message_id)  # a second copy in the same batch is a duplicate
        if data is None:
            decisions.append(MALFORMED)
            continue
        email, history_id = data
        account = accounts.get(email.lower())
        if account is None:
            decisions.append(PushDecision(None, history_id, "unknown_account"))
        elif account.status != AccountStatus.ACTIVE:
            decisions.append(PushDecision(account.account_id, history_id, "not_syncable"))
        elif account.cursor is not None and history_id <= account.cursor:
            decisions.append(PushDecision(account.account_id, history_id, "stale"))
        else:
            decisions.append(PushDecision(account.account_id, history_id, "sync"))
            if not account.sync_waiting:
                to_sync[account.account_id] = account.user_id
    engine.request_syncs(session, to_sync, GMAIL)
    return decisions


def accept_push(session: Session, data_b64: str, message_id: str | None = None) -> PushDecision:
    """``accept_pushes`` for one push."""
    return accept_pushes(session, [Push(message_id, data_b64)])[0]


def prune_receipts(
    session: Session, *, older_than: timedelta = RECEIPT_RETENTION, limit: int | None = None
) -> int:
    """Delete receipts Pub/Sub can no longer redeliver against (the oldest ``limit`` of
    them, or all); returns how many."""
    expired = PushReceipt.received_at < func.now() - older_than
    if limit is None:
        result = session.execute(delete(PushReceipt).where(expired))
    else:
        oldest = (
            select(PushReceipt.message_id)
            .where(expired)
            .order_by(PushReceipt.received_at)
            .limit(limit)
        )
        result = session.execute(delete(PushReceipt).where(PushReceipt.message_id.in_(oldest)))
    return int(getattr(result, "rowcount", 0) or 0)
