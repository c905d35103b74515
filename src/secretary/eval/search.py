"""``secretary eval search``: known-item retrieval on AESLC, with notmuch side by side.

Protocol (issue 9): every AESLC email (all splits present) is indexed with its subject
removed; each human-written subject line (``@ann0..2``) of the chosen split is a query, and
its own email is the one relevant item. BM25-only, vector-only and hybrid run through the
product's own pieces: the tantivy index and schema (``search.lexical``), the chunking
(``search.documents``), the MiniLM embedder and the fusion (``search.fusion``). The vector
side here is an exact dot product in numpy over the same vectors that pgvector's HNSW
searches in the product (at this size HNSW's recall is ~1, see docs/evaluation.md).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from secretary.kit.clock import utcnow
from secretary.search.documents import SearchDocument, vector_texts
from secretary.search.fusion import DEFAULT_PARAMS, FusionParams, fuse, rank
from secretary.search.lexical import LexicalIndex
from secretary.search.query import parse_query

DATASET = "aeslc_enron_subject_lines"
ANNOTATIONS = ("@ann0", "@ann1", "@ann2")
Embed = Callable[[list[str]], Any]


@dataclass
class AeslcEmail:
    doc_id: str
    split: str
    body: str
    subject: str
    queries: list[str]


def parse_aeslc(text: str) -> tuple[str, str, list[str]]:
    """``(body, original subject, annotator subject lines)`` of one ``.subject`` file."""
    sections: dict[str, list[str]] = {"body": []}
    current = "body"
    for line in text.splitlines():
        tag = line.strip()
        if tag.startswith("@") and tag in ("@subject", *ANNOTATIONS):
            current = tag
            sections[current] = []
            continue
        sections[current].append(line)
    body = "\n".join(sections["body"]).strip()
    subject = " ".join(sections.get("@subject", [])).strip()
    queries = [" ".join(sections.get(a, [])).strip() for a in ANNOTATIONS]
    return body, subject, [q for q in queries if q]


def load_aeslc(root: Path) -> list[AeslcEmail]:
    """Every email of every split folder present under ``root`` (train/dev/test)."""
    emails: list[AeslcEmail] = []
    for split in ("train", "dev", "test"):
        folder = root / split
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.subject")):
            body, subject, queries = parse_aeslc(path.read_text(encoding="utf-8", errors="replace"))
            emails.append(AeslcEmail(f"{split}/{path.stem}", split, body, subject, queries))
    return emails


def ranking_metrics(ranks: Sequence[int | None], latencies_ms: Sequence[float]) -> dict[str, Any]:
    """hit@1, hit@10, MRR@10 over 1-based ranks (``None``: not in the top 10), and latency."""
    n = len(ranks)
    if n == 0:
        return {"n": 0}
    in10 = [r for r in ranks if r is not None and r <= 10]
    ordered = sorted(latencies_ms)
    return {
        "n": n,
        "hit_at_1": round(sum(1 for r in in10 if r == 1) / n, 4),
        "hit_at_10": round(len(in10) / n, 4),
        "mrr_at_10": round(sum(1.0 / r for r in in10) / n, 4),
        "p50_ms": round(statistics.median(ordered), 3) if ordered else None,
        "p99_ms": round(ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))], 3)
        if ordered
        else None,
    }


class MemoryHybrid:
    """The product's lexical index and fusion over an in-memory vector matrix."""

    def __init__(
        self,
        docs: Sequence[SearchDocument],
        vector_chunks: Sequence[list[str]],
        embed: Embed,
        *,
        directory: Path,
    ) -> None:
        self.lexical = LexicalIndex(directory)
        self.lexical.clear()
        self.lexical.upsert(list(docs))
        owners: list[int] = []
        later: list[bool] = []
        texts: list[str] = []
        for doc, chunks in zip(docs, vector_chunks, strict=True):
            for n, chunk in enumerate(chunks):
                owners.append(doc.source_id)
                later.append(n > 0)
                texts.append(chunk)
        self.owners = np.asarray(owners, dtype=np.int64)
        self.later = np.asarray(later, dtype=bool)
        self.matrix = np.asarray(embed(texts), dtype=np.float32)
        self.embed = embed

    def lexical_scores(self, query: str, k: int) -> dict[int, float]:
        parsed = parse_query(query, now=utcnow())
        return {h.source_id: h.score for h in self.lexical.search(parsed, limit=k)}

    def vector_scores(
        self, query: str, k: int, *, later_chunk_penalty: float = 0.0
    ) -> dict[int, float]:
        """As ``repository.nearest``: best chunk per item, later chunks penalised."""
        vector = np.asarray(self.embed([query]), dtype=np.float32)[0]
        sims = self.matrix @ vector - later_chunk_penalty * self.later
        take = min(len(sims), k * 4)
        top = np.argpartition(-sims, take - 1)[:take] if take else np.zeros(0, dtype=np.int64)
        best: dict[int, float] = {}
        for i in top:
            owner = int(self.owners[i])
            best[owner] = max(best.get(owner, -1.0), float(sims[i]))
        return dict(rank(best, k))

    def search(
        self, query: str, mode: str, *, k: int = 100, params: FusionParams = DEFAULT_PARAMS
    ) -> list[int]:
        lexical = self.lexical_scores(query, k) if mode != "vector" else {}
        vector = (
            self.vector_scores(query, k, later_chunk_penalty=params.later_chunk_penalty)
            if mode != "bm25"
            else {}
        )
        fused = fuse(lexical, vector, params) if mode == "hybrid" else (lexical or vector)
        return [key for key, _ in rank(fused, 10)]


def _rank_of(results: list[Any], wanted: Any) -> int | None:
    try:
        return results.index(wanted) + 1
    except ValueError:
        return None


def evaluate_search(
    root: Path,
    split: str,
    *,
    embed: Embed,
    params: FusionParams = DEFAULT_PARAMS,
    notmuch: bool = True,
    limit: int | None = None,
    modes: Sequence[str] = ("bm25", "vector", "hybrid"),
) -> dict[str, Any]:
    """Index every email, query with the split's subject lines, score each mode."""
    emails = load_aeslc(root)
    docs = [
        SearchDocument(kind="email", source_id=i, external_id=e.doc_id, title="", body=e.body)
        for i, e in enumerate(emails)
    ]
    chunks = [vector_texts(e.body, e.body) for e in emails]
    queries = [(i, q) for i, e in enumerate(emails) if e.split == split for q in e.queries]
    if limit is not None:
        queries = queries[:limit]
    report: dict[str, Any] = {
        "dataset": DATASET,
        "split": split,
        "indexed_emails": len(emails),
        "queries": len(queries),
        "fusion": {
            "method": params.method,
            "alpha": params.alpha,
            "rrf_k": params.rrf_k,
            "later_chunk_penalty": params.later_chunk_penalty,
        },
    }
    with tempfile.TemporaryDirectory(prefix="secretary-eval-search-") as tmp:
        started = time.perf_counter()
        engine = MemoryHybrid(docs, chunks, embed, directory=Path(tmp) / "tantivy")
        report["index_seconds"] = round(time.perf_counter() - started, 2)
        for mode in modes:
            ranks: list[int | None] = []
            latencies: list[float] = []
            for target, query in queries:
                t0 = time.perf_counter()
                results = engine.search(query, mode, params=params)
                latencies.append((time.perf_counter() - t0) * 1000)
                ranks.append(_rank_of(results, target))
            report[mode] = ranking_metrics(ranks, latencies)
        if notmuch:
            report["notmuch"] = _notmuch(emails, queries, Path(tmp) / "notmuch")
    best = report.get("hybrid") or report.get(modes[-1]) or {}
    report.update(
        {k: best.get(k) for k in ("n", "hit_at_1", "hit_at_10", "mrr_at_10", "p50_ms", "p99_ms")}
    )
    return report


def _notmuch(
    emails: list[AeslcEmail], queries: list[tuple[int, str]], root: Path
) -> dict[str, Any]:
    from secretary.eval import notmuch as nm

    binary, why = nm.ensure_notmuch()
    if binary is None:
        return {"skipped": why}
    try:
        corpus = nm.build_corpus(
            binary, root, [(e.doc_id.replace("/", "_"), e.body) for e in emails]
        )
        searcher = nm.NotmuchSearcher(corpus)
    except (OSError, RuntimeError) as exc:
        return {"skipped": f"notmuch could not run: {exc}"}
    out: dict[str, Any] = {}
    try:
        for label, as_typed in (("as_typed_and", True), ("or_unsorted", False)):
            ranks: list[int | None] = []
            latencies: list[float] = []
            for target, query in queries:
                found, ms = nm.timed_search(searcher, query, as_typed=as_typed)
                latencies.append(ms)
                ranks.append(_rank_of(found, emails[target].doc_id.replace("/", "_")))
            out[label] = ranking_metrics(ranks, latencies)
    finally:
        searcher.close()
    best = out["as_typed_and"]
    out.update(
        {k: best[k] for k in ("n", "hit_at_1", "hit_at_10", "mrr_at_10", "p50_ms", "p99_ms")}
    )
    out["engine"] = "notmuch 0.37 (Xapian, BoolWeight): words ANDed, newest first, via libnotmuch"
    return out
