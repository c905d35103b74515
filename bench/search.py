"""Search at scale: index N real messages, then time 1,000+ queries; notmuch side by side.

    .venv/bin/python bench/search.py --items 100000 [--queries 1000] [--no-notmuch] [--keep]
    .venv/bin/python bench/search.py --reuse bench_search_PID   # queries again, no indexing

Corpus: real mail from ../shared/data (SpamAssassin public corpus, the Berkeley Enron set,
AESLC Enron bodies with their subjects removed), repeated with distinct ids up to N. Steps,
in a fresh database on the embedded PostgreSQL:

1. store the first 10,000 distinct messages (an initial sync), then time the index pass:
   ``keyword_searchable_s`` (BM25 ready) and ``fully_embedded_s`` (every chunk's vector);
2. store the rest and index everything: ``index_seconds`` is the time of every index pass
   over all N (identical texts of the repeated corpus are embedded once, by digest);
3. ``--queries`` queries through ``search.service.search`` (warm): AESLC annotator subject
   lines (known items: any copy of the email counts as the hit) and operator queries;
   ``p50_ms``/``p99_ms``, hit@10 and MRR@10 on the known-item ones (the warm-up queries
   are others, so no timed query is answered from the query-vector cache); ``bm25_p50_ms``
   times the lexical index alone on the same queries, to show what the rest costs;
4. notmuch (installed with apt-get when missing, as root) on the same messages and the same
   known-item queries: its index time, latency, hit@10 and MRR@10.

Prints one JSON object on stdout, with the load average: the machine is shared, say so.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert, text
from sqlalchemy.orm import sessionmaker

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _fresh_db import fresh_database, kept_database

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
FIRST_SYNC = 10_000


def _log(*parts: object) -> None:
    print(*parts, file=sys.stderr, flush=True)  # progress to stderr, the JSON to stdout


def _loadavg() -> str:
    return Path("/proc/loadavg").read_text().strip()


def corpus() -> tuple[list[dict[str, Any]], list[tuple[int, str]]]:
    """Distinct real messages as row values, and known-item queries ``(index, query)``."""
    from secretary.eval.datasets import email_input_from_raw
    from secretary.eval.search import load_aeslc

    rows: list[dict[str, Any]] = []
    queries: list[tuple[int, str]] = []
    for email in load_aeslc(DATA / "aeslc_enron_subject_lines"):
        queries.extend((len(rows), q) for q in email.queries)
        rows.append({"subject": "", "from_addr": "enron@example.org", "body": email.body})
    for folder in ("spamassassin_public_corpus", "enron_berkeley_categories"):
        for path in sorted((DATA / folder).rglob("*")):
            if not path.is_file() or path.suffix != ".txt":
                continue
            try:
                mail = email_input_from_raw(path.read_bytes())
            except Exception:  # a corpus file that is not mail
                continue
            rows.append(
                {
                    "subject": mail.subject[:500],
                    "from_addr": mail.from_addr or "",
                    "from_name": mail.from_name,
                    "body": (mail.body_text or mail.full_text or "")[:20_000],
                }
            )
    return rows, queries


def _rows(
    base: list[dict[str, Any]], start: int, stop: int, user_id: int, account_id: int
) -> list[dict[str, Any]]:
    out = []
    for n in range(start, stop):
        src = base[n % len(base)]
        out.append(
            {
                "user_id": user_id,
                "account_id": account_id,
                "gmail_id": f"b{n:07d}",
                "gmail_thread_id": f"bt{n:07d}",
                "internal_date": NOW - timedelta(minutes=n),
                "label_ids": ["INBOX"],
                "subject": src["subject"],
                "from_addr": src["from_addr"],
                "from_name": src.get("from_name"),
                "to_addrs": ["bench@example.com"],
                "cc_addrs": [],
                "references": [],
                "body_text": src["body"],
                "reply_text": src["body"],
                "has_attachments": False,
                "has_calendar_invite": False,
                "body_fetched_at": NOW,
            }
        )
    return out


def _store(sessions: Any, rows: list[dict[str, Any]]) -> None:
    from secretary.db.models import Message

    for i in range(0, len(rows), 2000):
        with sessions.begin() as s:
            s.execute(insert(Message), rows[i : i + 2000])


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)


def _quality(ranks: list[int | None]) -> dict[str, float]:
    n = len(ranks) or 1
    top = [r for r in ranks if r is not None and r <= 10]
    return {
        "hit_at_10": round(len(top) / n, 4),
        "mrr_at_10": round(sum(1 / r for r in top) / n, 4),
    }


def _build(
    report: dict[str, Any], sessions: Any, indexer: Any, base: list[dict[str, Any]], items: int
) -> int:
    """A first sync of 10k, timed, then the rest: the indexing figures go into ``report``."""
    from secretary.db.models import GoogleAccount, User

    with sessions.begin() as s:
        user = User(email="bench@example.com")
        s.add(user)
        s.flush()
        account = GoogleAccount(user_id=user.id, google_sub="bench", email=user.email)
        s.add(account)
        s.flush()
        uid, aid = int(user.id), int(account.id)
    first = min(FIRST_SYNC, items, len(base))
    _store(sessions, _rows(base, 0, first, uid, aid))
    started = time.perf_counter()
    lexical = indexer.run(uid, vectors=False)
    report["keyword_searchable_s"] = round(time.perf_counter() - started, 2)
    report["first_sync_messages"] = lexical.indexed
    vectors = indexer.run(uid)
    report["fully_embedded_s"] = round(time.perf_counter() - started, 2)
    report["first_sync_vectors_computed"] = vectors.vectors_computed
    report["loadavg_first_sync"] = _loadavg()
    _log("first sync:", report)

    _store(sessions, _rows(base, first, items, uid, aid))
    started = time.perf_counter()
    rest = indexer.run(uid)
    report["index_seconds"] = round(report["fully_embedded_s"] + time.perf_counter() - started, 2)
    report["rest"] = rest.as_dict()
    report["loadavg_indexed"] = _loadavg()
    _log("indexed:", report)
    return uid


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--no-notmuch", action="store_true")
    parser.add_argument(
        "--keep", action="store_true", help="Keep the database and index (to time queries again)."
    )
    parser.add_argument(
        "--reuse",
        metavar="DATABASE",
        help="Time the queries (and notmuch) again on a database kept by --keep; no indexing.",
    )
    args = parser.parse_args()

    from secretary.config import Settings
    from secretary.kit.logging import configure_logging

    configure_logging("WARNING", json=True)
    report: dict[str, Any] = {"items": args.items, "loadavg_start": _loadavg()}
    home = Path(os.environ.get("SECRETARY_BENCH_HOME", "/tmp/secretary-bench-home"))
    home.mkdir(parents=True, exist_ok=True)
    settings = Settings(home=home)
    name = args.reuse or f"bench_search_{os.getpid()}"
    work = home / f"{name}-files"  # the tantivy index (and notmuch's maildir) beside it
    keep = bool(args.keep or args.reuse)
    database = (
        kept_database(settings, name) if args.reuse else fresh_database(settings, name, keep=keep)
    )
    try:
        with database as engine:
            _measure(report, engine, args, work)
        if keep:
            report["kept"] = {"database": name, "files": str(work)}
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
    sys.stdout.write(json.dumps(report, indent=2) + "\n")
    return 0


def _measure(report: dict[str, Any], engine: Engine, args: argparse.Namespace, work: Path) -> None:
    """Index (unless ``--reuse``), time the queries and notmuch: the figures go into ``report``."""
    from secretary.search import service
    from secretary.search.indexer import Indexer
    from secretary.search.lexical import open_index, user_index_path
    from secretary.search.query import parse_query

    sessions = sessionmaker(engine, expire_on_commit=False)
    base, known = corpus()
    report["distinct_messages"] = len(base)
    _log(f"corpus: {len(base)} distinct messages")
    indexer = Indexer(engine, sessions, work / "home")
    if args.reuse:
        with sessions() as s:
            uid = s.execute(text("select id from users order by id limit 1")).scalar_one()
            report["items"] = s.execute(text("select count(*) from messages")).scalar_one()
        report["reused"] = args.reuse
    else:
        uid = _build(report, sessions, indexer, base, args.items)
    args.items = report["items"]

    # Known-item queries (any copy of the email counts) and operator queries.
    copies = (args.items + len(base) - 1) // len(base)
    pool = [(i, q) for i, q in known if i < args.items]
    wanted_known = int(args.queries * 0.9)
    asked = (pool * (wanted_known // max(1, len(pool)) + 1))[:wanted_known]
    warm = [q for _, q in pool[wanted_known : wanted_known + 50]] or [q for _, q in pool[:50]]
    operators = ["from:enron after:2026/11/01 meeting", "is:unread report", "label:inbox offer"]
    plain = [q for _, q in asked] + [
        operators[i % len(operators)] for i in range(args.queries - len(asked))
    ]
    latencies: list[float] = []
    ranks: list[int | None] = []
    report["loadavg_queries"] = _loadavg()
    with sessions() as s:
        for q in warm:  # warm-up: page cache, HNSW graph, tantivy segments
            service.search(s, uid, q, home=indexer.home, now=NOW)
        for n, q in enumerate(plain):
            t0 = time.perf_counter()
            hits = service.search(s, uid, q, home=indexer.home, now=NOW)
            latencies.append((time.perf_counter() - t0) * 1000)
            if n < len(asked):
                target = asked[n][0]
                wanted = {f"b{target + k * len(base):07d}" for k in range(copies)}
                found = [i for i, h in enumerate(hits, 1) if h.id in wanted]
                ranks.append(found[0] if found else None)
    lexical_ms: list[float] = []
    index = open_index(user_index_path(indexer.home, uid))
    for q in plain:
        t0 = time.perf_counter()
        index.search(parse_query(q, now=NOW), limit=service.CANDIDATES)
        lexical_ms.append((time.perf_counter() - t0) * 1000)
    report.update(
        {
            "queries": len(plain),
            "p50_ms": round(statistics.median(latencies), 3),
            "p99_ms": _pct(latencies, 0.99),
            "bm25_p50_ms": round(statistics.median(lexical_ms), 3),
            "bm25_p99_ms": _pct(lexical_ms, 0.99),
            "known_item": {"n": len(ranks), **_quality(ranks)},
            "loadavg_after_queries": _loadavg(),
        }
    )
    _log("queries:", report)
    if not args.no_notmuch:
        report["notmuch"] = _notmuch(base, args.items, asked, copies, work)
    report["loadavg_end"] = _loadavg()
    report["note"] = (
        "2 cores shared by ~8 engineers while this ran: figures are from a loaded machine"
    )


def _notmuch(
    base: list[dict[str, Any]],
    items: int,
    asked: list[tuple[int, str]],
    copies: int,
    work: Path,
) -> dict[str, Any]:
    from secretary.eval import notmuch as nm

    binary, why = nm.ensure_notmuch()
    if binary is None:
        return {"skipped": why}
    docs = [
        (f"b{n:07d}", f"{base[n % len(base)]['subject']}\n{base[n % len(base)]['body']}")
        for n in range(items)
    ]
    started = time.perf_counter()
    shutil.rmtree(work / "notmuch", ignore_errors=True)
    corpus = nm.build_corpus(binary, work / "notmuch", docs)
    index_s = time.perf_counter() - started
    searcher = nm.NotmuchSearcher(corpus)
    latencies: list[float] = []
    ranks: list[int | None] = []
    try:
        for _, q in asked[:50]:
            searcher.search(q)
        for target, q in asked:
            found, ms = nm.timed_search(searcher, q)
            latencies.append(ms)
            wanted = {f"b{target + k * len(base):07d}" for k in range(copies)}
            hit = [i for i, doc in enumerate(found, 1) if doc in wanted]
            ranks.append(hit[0] if hit else None)
    finally:
        searcher.close()
    return {
        "index_seconds": round(index_s, 2),
        "queries": len(asked),
        "p50_ms": round(statistics.median(latencies), 3),
        "p99_ms": _pct(latencies, 0.99),
        "known_item": {"n": len(ranks), **_quality(ranks)},
        "engine": "notmuch 0.37 (Xapian, BoolWeight): words ANDed, newest first, via libnotmuch",
    }


if __name__ == "__main__":
    raise SystemExit(main())
