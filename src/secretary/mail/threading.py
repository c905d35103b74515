"""Thread assignment for mail without a Gmail ``threadId`` (imports, mbox, other providers).

JWZ-style (https://www.jwz.org/doc/threading.html), reduced to what we store: which thread
each message belongs to, not the reply tree. Every id named in ``Message-ID``,
``In-Reply-To`` or ``References`` is a node; a message joins every node it names, so
messages whose common ancestor we never saw ("ghost parents") still meet in it. Duplicate
Message-IDs land in one thread. Only messages with no references at all fall back to the
normalized subject, and only when they look like replies ("Re:", "AW:", ...), so two
unrelated "Lunch?" mails never merge.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from secretary.mail.headers import normalize_subject
from secretary.mail.schemas import ParsedMessage

K = TypeVar("K", bound=Hashable)

# A subject-only match further apart than this is a new conversation with an old subject.
SUBJECT_FALLBACK_WINDOW = timedelta(days=60)
_NO_DATE = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class ThreadHeaders:
    """The fields threading needs; build it from a ParsedMessage or from stored columns."""

    message_id: str | None
    in_reply_to: str | None
    references: tuple[str, ...]
    subject: str
    date: datetime | None

    @classmethod
    def of(cls, message: ParsedMessage) -> ThreadHeaders:
        return cls(
            message_id=message.message_id,
            in_reply_to=message.in_reply_to,
            references=tuple(message.references),
            subject=message.subject,
            date=message.date,
        )


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, item: str) -> str:
        # iterative with path compression: reference chains in list mail can be long
        root = self.parent.setdefault(item, item)
        while self.parent[root] != root:
            root = self.parent[root]
        while item != root:
            self.parent[item], item = root, self.parent[item]
        return root

    def union(self, a: str, b: str) -> None:
        root_a, root_b = self.find(a), self.find(b)
        if root_a != root_b:
            # deterministic: the smaller id becomes the representative
            if root_b < root_a:
                root_a, root_b = root_b, root_a
            self.parent[root_b] = root_a


def _is_reply_subject(subject: str) -> bool:
    return normalize_subject(subject) != " ".join(subject.split())


def assign_threads(
    messages: Mapping[K, ThreadHeaders | ParsedMessage],
) -> dict[K, str]:
    """Map each message key to a thread key: the Message-ID of the thread's root.

    The root is the earliest message in the thread with no parent in the set; when the
    real root was never seen (a ghost), it is the id most replies name as their first
    reference. Keys are stable for a given set of messages; callers that thread
    incrementally should persist the result and only thread new messages against it.
    """
    headers = {
        key: (value if isinstance(value, ThreadHeaders) else ThreadHeaders.of(value))
        for key, value in messages.items()
    }
    uf = _UnionFind()
    node_of: dict[K, str] = {}
    for key, head in headers.items():
        # no Message-ID: a node of its own; "@"-less, so it cannot collide with a real id
        node = head.message_id or f"no-message-id:{key!r}"
        node_of[key] = node
        uf.find(node)
        for ref in (*head.references, *((head.in_reply_to,) if head.in_reply_to else ())):
            if ref and ref != node:
                uf.union(node, ref)

    _merge_by_subject(headers, node_of, uf)

    present = {head.message_id for head in headers.values() if head.message_id}
    members: dict[str, list[K]] = {}
    for key, node in node_of.items():
        members.setdefault(uf.find(node), []).append(key)

    result: dict[K, str] = {}
    for keys in members.values():
        thread_key = _root_of([headers[k] for k in keys], present) or node_of[keys[0]]
        for key in keys:
            result[key] = thread_key
    return result


def _merge_by_subject(
    headers: Mapping[K, ThreadHeaders], node_of: Mapping[K, str], uf: _UnionFind
) -> None:
    by_subject: dict[str, list[K]] = {}
    for key, head in sorted(headers.items(), key=lambda kv: _sort_date(kv[1])):
        subject = normalize_subject(head.subject).lower()
        if subject:
            by_subject.setdefault(subject, []).append(key)
    for keys in by_subject.values():
        if len(keys) < 2:
            continue
        for i, key in enumerate(keys):
            head = headers[key]
            if head.references or head.in_reply_to or not _is_reply_subject(head.subject):
                continue
            # join the nearest earlier message with the same subject, within the window
            for earlier in reversed(keys[:i]):
                other = headers[earlier]
                if (
                    head.date is None
                    or other.date is None
                    or head.date - other.date <= SUBJECT_FALLBACK_WINDOW
                ):
                    uf.union(node_of[key], node_of[earlier])
                break


def _sort_date(head: ThreadHeaders) -> tuple[int, datetime]:
    return (0, head.date) if head.date is not None else (1, _NO_DATE)


def _root_of(heads: list[ThreadHeaders], present: set[str]) -> str | None:
    roots = [
        head
        for head in heads
        if head.message_id
        and not (head.in_reply_to and head.in_reply_to in present)
        and not any(ref in present for ref in head.references)
    ]
    if roots:
        roots.sort(key=lambda h: (*_sort_date(h), h.message_id or ""))
        chosen = roots[0].message_id
        # a root that itself names a ghost parent: the ghost is the better thread key only
        # when replies agree on it; otherwise the earliest real message is the root
        if chosen is not None and not (roots[0].references or roots[0].in_reply_to):
            return chosen
    claims = Counter(head.references[0] for head in heads if head.references)
    if claims:
        return sorted(claims.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
    claims = Counter(head.in_reply_to for head in heads if head.in_reply_to)
    if claims:
        return sorted(claims.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
    return roots[0].message_id if roots else None
