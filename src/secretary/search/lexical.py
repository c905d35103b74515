"""BM25 over a tantivy index, one per user on local disk (ADR 0011).

Why tantivy: a Lucene-class engine (BM25, block-max WAND for OR queries, phrase positions,
segment merges) embedded through a wheel, with atomic commits: a ``kill -9`` leaves the last
committed state, so the index never holds half a batch. Postgres ``ts_rank`` ranked worse
and was slow on OR queries (issue 9).

Every document carries its ``key`` (``m:123``) as a raw term, so indexing is
delete-then-add: indexing an item twice leaves one document. Hits are read from fast fields
(no stored documents), which keeps the index small and lookups O(1).
"""

from __future__ import annotations

import itertools
import re
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import tantivy

from secretary.search.documents import (
    KEY_PREFIX,
    MAX_LEXICAL_CHARS,
    SearchDocument,
)
from secretary.search.query import ParsedQuery

KIND_CODE = {"email": 0, "event": 1, "file": 2}
CODE_KIND = {v: k for k, v in KIND_CODE.items()}
# Field weights for free text. The subject/title is what people remember; names and
# attachment names are short fields whose BM25 already favours them.
BOOSTS = {"title": 2.0, "body": 1.0, "people": 1.0, "attachments": 1.0}
TEXT_FIELDS = list(BOOSTS)
# Function words left out of the scored words (kept inside the word pairs below, and kept
# when a query has nothing else): in an OR query they match nearly every mail. With the
# pairs, on the AESLC dev split: BM25 hit@1 0.596 -> 0.610, hit@10 0.840 -> 0.844
# (docs/evaluation.md).
# fmt: off
STOPWORDS = frozenset({
    "a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "has", "have", "i", "in",
    "is", "it", "its", "of", "on", "or", "our", "re", "that", "the", "this", "to", "was", "we",
    "will", "with", "you", "your",
})
# fmt: on
PAIR_SLOP = 2  # adjacent query words, at most two words apart in the text
WRITER_HEAP = 64_000_000
_WORD = re.compile(r"\w+", re.UNICODE)


def build_schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("key", tokenizer_name="raw", index_option="basic")
    builder.add_integer_field("kind", indexed=True, fast=True)
    builder.add_integer_field("source_id", indexed=True, fast=True)
    builder.add_integer_field("ts", indexed=True, fast=True)  # epoch seconds, 0 = unknown
    builder.add_text_field("title", tokenizer_name="en_stem")
    builder.add_text_field("body", tokenizer_name="en_stem")
    builder.add_text_field("people", tokenizer_name="default")
    builder.add_text_field("sender", tokenizer_name="default")
    builder.add_text_field("recipients", tokenizer_name="default")
    builder.add_text_field("attachments", tokenizer_name="default")
    builder.add_text_field("labels", tokenizer_name="raw", index_option="basic")
    builder.add_text_field("flags", tokenizer_name="raw", index_option="basic")
    return builder.build()


SCHEMA = build_schema()


@dataclass(frozen=True)
class LexicalHit:
    kind: str
    source_id: int
    score: float
    ts: int


def _to_tantivy(doc: SearchDocument) -> tantivy.Document:
    return tantivy.Document(
        key=[doc.key],
        kind=[KIND_CODE[doc.kind]],
        source_id=[doc.source_id],
        ts=[int(doc.at.timestamp()) if doc.at else 0],
        title=[doc.title or ""],
        body=[(doc.body or "")[:MAX_LEXICAL_CHARS]],
        people=doc.people or [""],
        sender=[doc.sender or ""],
        recipients=doc.recipients or [""],
        attachments=doc.attachments or [""],
        labels=doc.labels or [""],
        flags=doc.flags or [""],
    )


def _words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


def scored_words(words: list[str]) -> str:
    """The free text as tantivy's parser reads it: the words (function words dropped unless
    nothing else is left) and each pair of adjacent words as a sloppy phrase, so an email
    with "title policy" outranks one that says "title" and "policy" far apart."""
    content = [w for w in words if w not in STOPWORDS] or words
    pairs = [f'"{a} {b}"~{PAIR_SLOP}' for a, b in itertools.pairwise(words)]
    return " ".join([*content, *pairs])


class LexicalIndex:
    """One user's index directory. Cheap to keep open; safe to share between threads."""

    def __init__(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._index = tantivy.Index(SCHEMA, path=str(path), reuse=True)
        self._lock = threading.Lock()

    # -- writing ------------------------------------------------------------------------------

    @contextmanager
    def writer(self) -> Iterator[tantivy.IndexWriter]:
        """A writer that commits on success and rolls back on error. tantivy holds a lock
        file, so a second writer (another process) fails fast instead of corrupting."""
        writer = self._index.writer(heap_size=WRITER_HEAP, num_threads=1)
        try:
            yield writer
            writer.commit()
            writer.wait_merging_threads()
        except BaseException:
            writer.rollback()
            raise

    def upsert(self, docs: Sequence[SearchDocument], delete_keys: Iterable[str] = ()) -> None:
        """Replace each document by key and drop ``delete_keys``, in one atomic commit."""
        with self.writer() as writer:
            for doc in docs:
                writer.delete_documents_by_term("key", doc.key)
                writer.add_document(_to_tantivy(doc))
            for key in delete_keys:
                writer.delete_documents_by_term("key", key)

    def clear(self) -> None:
        with self.writer() as writer:
            writer.delete_all_documents()

    # -- reading ------------------------------------------------------------------------------

    def count(self) -> int:
        self._index.reload()
        return int(self._index.searcher().num_docs)

    def build_query(self, query: ParsedQuery) -> tantivy.Query:
        schema = SCHEMA
        must: list[tuple[tantivy.Occur, tantivy.Query]] = []
        text = scored_words(_words(" ".join([*query.terms, *query.subject])))
        phrases = [" ".join(_words(p)) for p in query.phrases if _words(p)]
        ranked_text = bool(text or phrases)
        if ranked_text:
            # The parser applies each field's tokenizer (stemming for title and body).
            parts = [text, *(f'"{p}"' for p in phrases)]
            must.append(
                (
                    tantivy.Occur.Must,
                    self._index.parse_query(
                        " ".join(x for x in parts if x),
                        TEXT_FIELDS,
                        field_boosts=BOOSTS,
                    ),
                )
            )
            # a quoted phrase must appear
            must.extend(
                (tantivy.Occur.Must, self._index.parse_query(f'"{p}"', TEXT_FIELDS))
                for p in phrases
            )
        must.extend(
            (tantivy.Occur.Must, self._index.parse_query(word, ["title"]))
            for words in query.subject
            for word in _words(words)
        )
        Must, MustNot = tantivy.Occur.Must, tantivy.Occur.MustNot  # noqa: N806 - enum aliases
        must.extend((Must, self._phrase("sender", v)) for v in query.from_)
        must.extend((MustNot, self._phrase("sender", v)) for v in query.excluded_from)
        must.extend((Must, self._phrase("recipients", v)) for v in query.to)
        must.extend((Must, self._phrase("attachments", v)) for v in query.filenames)
        must.extend(
            (Must, tantivy.Query.term_query(schema, "labels", label)) for label in query.labels
        )
        must.extend(
            (MustNot, tantivy.Query.term_query(schema, "labels", label))
            for label in query.excluded_labels
        )
        must.extend(
            (MustNot, self._index.parse_query(f'"{" ".join(_words(x))}"', TEXT_FIELDS))
            for x in query.excluded
            if _words(x)
        )
        flag_rules = [
            ("attachment", query.has_attachment),
            ("unread", query.is_unread),
            ("starred", query.is_starred),
        ]
        for flag, wanted in flag_rules:
            if wanted is not None:
                occur = tantivy.Occur.Must if wanted else tantivy.Occur.MustNot
                must.append((occur, tantivy.Query.term_query(schema, "flags", flag)))
        # Spam and trash stay out unless the query asks for them (Gmail's own rule).
        if query.in_ in ("spam", "trash", "inbox", "sent"):
            must.append((tantivy.Occur.Must, tantivy.Query.term_query(schema, "flags", query.in_)))
        must.extend(
            (MustNot, tantivy.Query.term_query(schema, "flags", hidden))
            for hidden in ("spam", "trash")
            if query.in_ not in (hidden, "anywhere")
        )
        if query.after or query.before:
            in_range = tantivy.Query.range_query(
                schema,
                "ts",
                tantivy.FieldType.Integer,
                int(query.after.timestamp()) if query.after else None,
                int(query.before.timestamp()) - 1 if query.before else None,
            )
            # A recurring event happens on many dates: events are checked against their
            # instances after retrieval (service.event_matches), not by their first start.
            is_event = tantivy.Query.term_query(schema, "kind", KIND_CODE["event"])
            must.append(
                (
                    Must,
                    tantivy.Query.boolean_query(
                        [(tantivy.Occur.Should, in_range), (tantivy.Occur.Should, is_event)]
                    ),
                )
            )
        if query.kind:
            must.append(
                (
                    tantivy.Occur.Must,
                    tantivy.Query.term_query(schema, "kind", KIND_CODE[query.kind]),
                )
            )
        # Filters must not move BM25 scores: only the free text is scored.
        scored = [(o, q) for o, q in must if o == tantivy.Occur.Must][:1] if ranked_text else []
        filters = [c for c in must if not scored or c[1] is not scored[0][1]]
        if not any(occur == tantivy.Occur.Must for occur, _ in filters):
            filters.append((tantivy.Occur.Must, tantivy.Query.all_query()))
        gate = tantivy.Query.const_score_query(tantivy.Query.boolean_query(filters), 0.0)
        return tantivy.Query.boolean_query([*scored, (tantivy.Occur.Must, gate)])

    def _phrase(self, field: str, value: str) -> tantivy.Query:
        words = _words(value)
        if not words:
            return tantivy.Query.all_query()
        if len(words) == 1:
            return tantivy.Query.term_query(SCHEMA, field, words[0])
        return tantivy.Query.phrase_query(SCHEMA, field, list[str | tuple[int, str]](words))

    def search(self, query: ParsedQuery, *, limit: int = 100) -> list[LexicalHit]:
        """Top ``limit`` by BM25 (or, for a filter-only query, newest first)."""
        self._index.reload()  # see other processes' commits at once
        searcher = self._index.searcher()
        tq = self.build_query(query)
        ranked = bool(query.terms or query.phrases or query.subject)
        if ranked:
            result = searcher.search(tq, limit, count=False)
        else:
            result = searcher.search(tq, limit, count=False, order_by_field="ts")
        addresses = [address for _, address in result.hits]
        if not addresses:
            return []
        kinds = searcher.fast_field_values("kind", addresses)
        ids = searcher.fast_field_values("source_id", addresses)
        stamps = searcher.fast_field_values("ts", addresses)
        hits = []
        for (score, _), kind, sid, ts in zip(result.hits, kinds, ids, stamps, strict=True):
            value = float(score) if ranked else 1.0
            hits.append(LexicalHit(CODE_KIND[int(kind or 0)], int(sid or 0), value, int(ts or 0)))
        return hits


_open: dict[Path, LexicalIndex] = {}
_open_lock = threading.Lock()


def user_index_path(home: Path, user_id: int) -> Path:
    return home / "search" / f"user-{int(user_id)}"


def open_index(path: Path) -> LexicalIndex:
    """The process-wide handle for ``path`` (opening an index reads its meta and segments)."""
    with _open_lock:
        index = _open.get(path)
        if index is None:
            index = _open[path] = LexicalIndex(path)
        return index


def forget_index(path: Path) -> None:
    with _open_lock:
        _open.pop(path, None)


__all__ = ["KEY_PREFIX", "LexicalHit", "LexicalIndex", "open_index", "user_index_path"]
