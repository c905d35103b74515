"""Search use cases: ``search`` (what the API, CLI, UI and the assistant call) and ``reindex``.

Results are the signed-in user's only, by construction: the lexical index is the user's own
directory, vector queries filter on ``user_id`` and hydration loads ``user_id``'s rows only.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from secretary.config import Settings, get_settings
from secretary.db.models import Message
from secretary.kit.clock import utcnow
from secretary.search import repository as repo
from secretary.search.documents import SPAM_LABEL, TRASH_LABEL
from secretary.search.fusion import (
    DEFAULT_PARAMS,
    FusionParams,
    expand_threads,
    fuse,
    rank,
    recency_prior,
)
from secretary.search.indexer import event_body
from secretary.search.lexical import open_index, user_index_path
from secretary.search.query import Kind, ParsedQuery, parse_query
from secretary.search.schemas import SearchHit
from secretary.search.snippets import query_words, snippet

CANDIDATES = 100  # per side, before fusion
QUERY_CACHE = 1024  # query vectors kept per process (1.5 KB each)
Key = tuple[str, int]

_query_vectors: OrderedDict[str, Any] = OrderedDict()
_query_lock = threading.Lock()


@lru_cache(maxsize=1)
def query_embedder() -> Any:
    """The same model as the items', with one thread: one short query gains nothing from
    two, and on a busy machine the second thread waits (measured 10 ms vs 22 ms a query
    at load average 11 on 2 cores)."""
    from secretary.llm.local.embeddings import Embedder

    return Embedder(threads=1)


def cached_query_vector(text: str) -> Any | None:
    with _query_lock:
        hit = _query_vectors.get(text)
        if hit is not None:
            _query_vectors.move_to_end(text)
        return hit


def embed_query(text: str) -> Any:
    """The query's vector (the same MiniLM as the items), memoised per process: a repeated
    question, a UI page reloaded or the assistant's retry costs no embedding."""
    hit = cached_query_vector(text)
    if hit is not None:
        return hit
    vector = query_embedder().embed([text])[0]
    with _query_lock:
        _query_vectors[text] = vector
        while len(_query_vectors) > QUERY_CACHE:
            _query_vectors.popitem(last=False)
    return vector


@lru_cache(maxsize=1)
def _embedding_thread() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=2, thread_name_prefix="search-query-embed")


def _start_embedding(text: str) -> Future[Any]:
    """Embed in the background while tantivy searches: onnxruntime releases the GIL, so the
    two overlap, and the embedding is most of a hybrid query's time."""
    hit = cached_query_vector(text)
    if hit is not None:
        done: Future[Any] = Future()
        done.set_result(hit)
        return done
    return _embedding_thread().submit(embed_query, text)


def _contains(haystack: Sequence[str | None], needle: str) -> bool:
    return any(needle in (h or "").lower() for h in haystack)


def message_matches(
    query: ParsedQuery, message: Message | repo.MessageFacts, label_names: dict[str, str]
) -> bool:
    """The operators, checked on a hydrated row (vector candidates never passed tantivy's
    filters; lexical ones did, and pass again)."""
    labels = list(message.label_ids or [])
    in_ = query.in_
    if in_ not in ("spam", "anywhere") and SPAM_LABEL in labels:
        return False
    if in_ not in ("trash", "anywhere") and TRASH_LABEL in labels:
        return False
    if in_ in ("spam", "trash", "inbox", "sent") and in_.upper() not in labels:
        return False
    sender = [message.from_name, message.from_addr]
    if any(not _contains(sender, v) for v in query.from_):
        return False
    if any(_contains(sender, v) for v in query.excluded_from):
        return False
    recipients = [*(message.to_addrs or []), *(message.cc_addrs or [])]
    if any(not _contains(recipients, v) for v in query.to):
        return False
    names = (
        {lid.lower() for lid in labels}
        | {label_names.get(lid, "").lower().replace(" ", "-") for lid in labels}
        | {label_names.get(lid, "").lower() for lid in labels}
    )
    if any(label not in names for label in query.labels):
        return False
    if any(label in names for label in query.excluded_labels):
        return False
    if query.has_attachment is not None and bool(message.has_attachments) != query.has_attachment:
        return False
    if query.is_unread is not None and ("UNREAD" in labels) != query.is_unread:
        return False
    if query.is_starred is not None and ("STARRED" in labels) != query.is_starred:
        return False
    at = message.internal_date or message.sent_at
    if query.after and (at is None or at < query.after):
        return False
    return not (query.before and (at is None or at >= query.before))


def search(
    session: Session,
    user_id: int,
    query: str,
    *,
    kind: Kind | None = None,
    limit: int = 10,
    settings: Settings | None = None,
    home: Path | None = None,
    params: FusionParams = DEFAULT_PARAMS,
    now: datetime | None = None,
) -> list[SearchHit]:
    """The user's best ``limit`` items for ``query`` (Gmail operators and time phrases
    understood), best first.

    Args:
        session: a session of the caller's transaction (read only).
        user_id: whose items to search; nobody else's can appear.
        query: the search box text.
        kind: ``email``, ``event`` or ``file`` to search one kind only.
        limit: how many hits at most.
        settings: where the indexes live (``SECRETARY_HOME``) unless ``home`` is given.
        params: the fusion parameters (tests and the evaluation vary them).
        now: what "last week" is relative to (default: the clock).
    """
    moment = now or utcnow()
    parsed = parse_query(query, now=moment, kind=kind)
    root = home or (settings or get_settings()).home_path
    index = open_index(user_index_path(root, user_id))
    pending = (
        _start_embedding(parsed.text) if parsed.text and not parsed.needs_lexical_match else None
    )
    lexical_hits = index.search(parsed, limit=CANDIDATES)
    lexical: dict[Key, float] = {(h.kind, h.source_id): h.score for h in lexical_hits}
    vector: dict[Key, float] = {}
    if pending is not None:
        vector = repo.nearest(
            session,
            user_id,
            np.asarray(pending.result(), dtype=np.float32),
            kind=parsed.kind,
            limit=CANDIDATES,
            later_chunk_penalty=params.later_chunk_penalty,
        )
    fused = fuse(lexical, vector, params)
    if not fused:
        return []
    messages = repo.messages_of_user(session, user_id, [s for k, s in fused if k == "email"])
    events = repo.events_of_user(session, user_id, [s for k, s in fused if k == "event"])
    files = repo.files_of_user(session, user_id, [s for k, s in fused if k == "file"])
    # Label names are only needed to check ``label:`` on candidates tantivy did not filter.
    wants_names = bool(vector) and bool(parsed.labels or parsed.excluded_labels)
    names = repo.label_names(session, user_id) if wants_names else {}
    kept: dict[Key, float] = {}
    ages: dict[Key, float | None] = {}
    threads: dict[Key, str | None] = {}
    instance_ids: dict[Key, str] = {}
    for key, score in fused.items():
        item_kind, source_id = key
        at: datetime | None = None
        if item_kind == "email":
            message = messages.get(source_id)
            if message is None:
                continue  # deleted since it was indexed, or not this user's
            if key not in lexical and not message_matches(parsed, message, names):
                continue
            at = message.internal_date or message.sent_at
            threads[key] = message.gmail_thread_id
        elif item_kind == "event":
            event = events.get(source_id)
            if event is None or event.status == "cancelled":
                continue
            if key not in lexical and not _other_kind_matches(parsed):
                continue
            at = event.start_at
            if parsed.after or parsed.before:
                # The query names a date: the occurrence on it, or nothing (a series' id
                # otherwise). A single event's "instance" is itself.
                instance = repo.instance_in_range(session, event, parsed.after, parsed.before)
                if instance is None:
                    continue
                at = instance.start_at
                if event.recurrence:
                    instance_ids[key] = instance.google_id
        else:
            file = files.get(source_id)
            if file is None:
                continue
            if file.trashed and parsed.in_ not in ("trash", "anywhere"):
                continue
            if key not in lexical and not _other_kind_matches(parsed):
                continue
            at = file.google_modified_at or file.google_created_at
        kept[key] = score
        ages[key] = (moment - at).total_seconds() / 86400 if at else None
    scored = expand_threads(recency_prior(kept, ages, params), threads, params)
    words = query_words(parsed.text)
    hits = []
    ranked = rank(scored, limit)
    texts = repo.message_texts(
        session, user_id, [s for k, s in (key for key, _ in ranked) if k == "email"]
    )
    for key, score in ranked:
        item_kind, source_id = key
        if item_kind == "email":
            message = messages[source_id]
            hits.append(
                SearchHit(
                    kind="email",
                    id=message.gmail_id,
                    title=message.subject or "(no subject)",
                    snippet=snippet(texts.get(source_id, ""), words),
                    score=round(float(score), 6),
                    source_id=message.id,
                    thread_id=message.gmail_thread_id,
                    at=message.internal_date or message.sent_at,
                    sender=message.from_addr,
                )
            )
        elif item_kind == "event":
            event = events[source_id]
            hits.append(
                SearchHit(
                    kind="event",
                    id=instance_ids.get(key, event.google_id),
                    title=event.summary or "(no title)",
                    snippet=snippet(event_body(event) or event.summary or "", words),
                    score=round(float(score), 6),
                    source_id=event.id,
                    at=event.start_at,
                    sender=event.organizer_email,
                )
            )
        else:
            file = files[source_id]
            hits.append(
                SearchHit(
                    kind="file",
                    id=file.google_id,
                    title=file.name or "(untitled)",
                    snippet=snippet(file.text or file.description or "", words),
                    score=round(float(score), 6),
                    source_id=file.id,
                    at=file.google_modified_at,
                    sender=file.owners[0] if file.owners else None,
                )
            )
    return hits


def _other_kind_matches(query: ParsedQuery) -> bool:
    """A vector-only event or file candidate: mail operators cannot hold for it."""
    return not (
        query.from_
        or query.to
        or query.labels
        or query.filenames
        or query.has_attachment
        or query.is_unread
        or query.in_ in ("spam", "inbox", "sent")
    )
