"""Pure planning: which calls fetch the pending messages most cheaply, what a page of
history means for the local store, and how long to wait before the next safety poll.

Fetch arithmetic (units from ``secretary.google.units``): ``messages.get`` costs 5 units per
message, ``threads.get`` costs 10 and returns every message of the thread. A thread with
``n`` pending messages costs ``5n`` one by one or ``10`` at once, so ``threads.get`` wins
from ``n >= 3`` (15 > 10) and ties at 2 — where ``messages.get`` is kept because it returns
the exact raw bytes (``threads.get`` has no ``raw`` format; we rebuild MIME from parts).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from secretary.google.gmail import FetchItem

THREAD_FETCH_MIN_MESSAGES = 3


@dataclass(frozen=True)
class PendingMessage:
    gmail_id: str
    thread_id: str


@dataclass(frozen=True)
class PlannedItem:
    item: FetchItem
    covers: tuple[str, ...]  # the pending gmail ids this call answers for


def plan_fetch(
    pending: Sequence[PendingMessage],
    *,
    batch_size: int,
    max_batch_units: int,
    thread_min: int = THREAD_FETCH_MIN_MESSAGES,
) -> list[list[PlannedItem]]:
    """Group pending messages into batches of calls, keeping the given priority order.

    A thread with ``thread_min`` or more pending messages becomes one ``threads.get`` placed
    where its first (highest-priority) message stands. Each batch holds at most
    ``batch_size`` calls and costs at most ``max_batch_units``.
    """
    sizes = Counter(p.thread_id for p in pending)
    members: dict[str, list[str]] = {}
    for p in pending:
        members.setdefault(p.thread_id, []).append(p.gmail_id)
    items: list[PlannedItem] = []
    seen_threads: set[str] = set()
    for p in pending:
        if sizes[p.thread_id] >= thread_min:
            if p.thread_id in seen_threads:
                continue
            seen_threads.add(p.thread_id)
            items.append(PlannedItem(FetchItem("thread", p.thread_id), tuple(members[p.thread_id])))
        else:
            items.append(PlannedItem(FetchItem("message", p.gmail_id), (p.gmail_id,)))
    batches: list[list[PlannedItem]] = []
    current: list[PlannedItem] = []
    cost = 0
    for planned in items:
        units = planned.item.units
        if current and (len(current) >= batch_size or cost + units > max_batch_units):
            batches.append(current)
            current, cost = [], 0
        current.append(planned)
        cost += units
    if current:
        batches.append(current)
    return batches


def plan_units(batches: Iterable[Sequence[PlannedItem]]) -> int:
    return sum(p.item.units for batch in batches for p in batch)


@dataclass
class HistoryDelta:
    """The net meaning of history records, in order.

    ``added``: ids to fetch (added and not deleted later). ``deleted``: ids to remove.
    ``label_ops``: ``(gmail_id, added_labels, removed_labels)`` in history order, to replay
    on local label sets (replaying onto a newer snapshot converges, since later records
    are replayed too).
    """

    added: dict[str, str] = field(default_factory=dict)  # gmail id -> thread id
    deleted: set[str] = field(default_factory=set)
    label_ops: list[tuple[str, frozenset[str], frozenset[str]]] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not (self.added or self.deleted or self.label_ops)


def summarize_history(records: Iterable[dict[str, Any]]) -> HistoryDelta:
    delta = HistoryDelta()
    for record in records:
        for entry in record.get("messagesAdded", []):
            msg = entry["message"]
            delta.added[msg["id"]] = msg.get("threadId", msg["id"])
            delta.deleted.discard(msg["id"])
        for entry in record.get("messagesDeleted", []):
            gid = entry["message"]["id"]
            delta.added.pop(gid, None)
            delta.deleted.add(gid)
        for entry in record.get("labelsAdded", []):
            delta.label_ops.append(
                (entry["message"]["id"], frozenset(entry.get("labelIds", [])), frozenset())
            )
        for entry in record.get("labelsRemoved", []):
            delta.label_ops.append(
                (entry["message"]["id"], frozenset(), frozenset(entry.get("labelIds", [])))
            )
    return delta


def replay_labels(
    current: dict[str, list[str]], ops: Iterable[tuple[str, frozenset[str], frozenset[str]]]
) -> dict[str, list[str]]:
    """Apply label operations in order to the ids present in ``current``; return changed."""
    state = {gid: set(labels) for gid, labels in current.items()}
    touched: set[str] = set()
    for gid, added, removed in ops:
        labels = state.get(gid)
        if labels is None:
            continue
        labels |= added
        labels -= removed
        touched.add(gid)
    return {
        gid: sorted(state[gid]) for gid in touched if sorted(state[gid]) != sorted(current[gid])
    }


def next_poll_interval(
    previous: float, *, found_unannounced: bool, minimum: float, maximum: float
) -> float:
    """Adaptive safety-poll interval: halve it when a poll found changes no push announced
    (pushes are being dropped), else grow it by half up to ``maximum`` (quiet, pushes work)."""
    if found_unannounced:
        return max(minimum, previous / 2)
    return min(maximum, max(minimum, previous * 1.5))


def window_query(after_epoch_seconds: int) -> str:
    """Gmail's ``after:`` takes epoch seconds as well as dates; seconds avoid timezone skew."""
    return f"after:{after_epoch_seconds}"
