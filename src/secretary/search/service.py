"""Search use cases: ``search`` (what the API, CLI, UI and the assistant call) and ``reindex``.

Results are the signed-in user's only, by construction: the lexical index is the user's own
directory, vector queries filter on ``user_id`` and hydration loads ``user_id``'s rows only.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from datetime import datetime
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
from secretary.search.indexer import message_body
from secretary.search.lexical import open_index, user_index_path
from secretary.search.query import Kind, ParsedQuery, parse_query
from secretary.search.schemas import SearchHit
from secretary.search.snippets import query_words, snippet

CANDIDATES = 100  # per side, before fusion
Key = tuple[str, int]

_query_vectors: OrderedDict[str, Any] = OrderedDict()
_query_lock = threading.Lock()


def embed_query(text: str) -> Any:
    """The query's vector (the same MiniLM as the items), memoised per process."""
    with _query_lock:
        hit = _query_vectors.get(text)
        if hit is not None:
            _query_vectors.move_to_end(text)
            return hit
    from secretary.llm.local.embeddings import get_embedder

    vector = get_embedder().embed([text])[0]
    with _query_lock:
        _query_vectors[text] = vector
        while len(_query_vectors) > 256:
            _query_vectors.popitem(last=False)
    return vector


def _contains(haystack: Sequence[str | None], needle: str) -> bool:
    return any(needle in (h or "").lower() for h in haystack)


def message_matches(query: ParsedQuery, message: Message, label_names: dict[str, str]) -> bool:
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
    lexical_hits = index.search(parsed, limit=CANDIDATES)
    lexical: dict[Key, float] = {(h.kind, h.source_id): h.score for h in lexical_hits}
    vector: dict[Key, float] = {}
    if parsed.text and not parsed.needs_lexical_match:
        vector = repo.nearest(
            session,
            user_id,
            np.asarray(embed_query(parsed.text), dtype=np.float32),
            kind=parsed.kind,
            limit=CANDIDATES,
        )
    fused = fuse(lexical, vector, params)
    if not fused:
        return []
    messages = repo.messages_of_user(session, user_id, [s for k, s in fused if k == "email"])
    names = repo.label_names(session, user_id) if vector else {}
    kept: dict[Key, float] = {}
    for key, score in fused.items():
        message = messages.get(key[1]) if key[0] == "email" else None
        if message is None:
            continue  # deleted since it was indexed, or not this user's
        if key not in lexical and not message_matches(parsed, message, names):
            continue
        kept[key] = score
    ages: dict[Key, float | None] = {}
    threads: dict[Key, str | None] = {}
    for key in kept:
        message = messages[key[1]]
        at = message.internal_date or message.sent_at
        ages[key] = (moment - at).total_seconds() / 86400 if at else None
        threads[key] = message.gmail_thread_id
    scored = expand_threads(recency_prior(kept, ages, params), threads, params)
    words = query_words(parsed.text)
    hits = []
    for key, score in rank(scored, limit):
        message = messages[key[1]]
        hits.append(
            SearchHit(
                kind="email",
                id=message.gmail_id,
                title=message.subject or "(no subject)",
                snippet=snippet(message_body(message), words),
                score=round(float(score), 6),
                source_id=message.id,
                thread_id=message.gmail_thread_id,
                at=message.internal_date or message.sent_at,
                sender=message.from_addr,
            )
        )
    return hits
