"""Ask latency on the local tier over a large mailbox: prints one JSON object.

    .venv/bin/python bench/ask.py --items 100000

Builds a fresh database with ``--items`` real messages (the demo workspace's public corpora
and SpamAssassin/Enron mail from ../shared/data when present, repeated with distinct ids),
indexes them (BM25; vectors with ``--vectors``), then asks ``--questions`` questions through
``assistant.service.ask_events`` and reports end-to-end p50/p99 and the time to the first
streamed event. Logs go to stderr; stdout carries only the JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import mailbox
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _fresh_db import fresh_database

QUESTIONS = [
    "When is my SkyHarbor flight to Chicago?",
    "What did Jordan say about the on-site?",
    "How many emails did Priya send me this month?",
    "What is the record locator for my flight?",
    "What did the newsletter say about roadmaps?",
    "Did anyone mention the quarterly budget?",
    "What is the wifi password at the hotel?",
    "When is the Contoso renewal call?",
    "Who asked about the release checklist?",
    "What did Enron say about the power contracts?",
]


def _raw_messages(limit: int) -> list[bytes]:
    """Real mail: the demo workspace's corpora, and ../shared/data's public corpora."""
    from workspace_emulator.demo import DEMO_WORKSPACE

    sources = sorted(DEMO_WORKSPACE.glob("mail/**/*.mbox"))
    shared = Path(__file__).resolve().parents[2] / "shared" / "data"
    out: list[bytes] = [path.read_bytes() for path in sorted(DEMO_WORKSPACE.glob("mail/**/*.eml"))]
    for path in sources:
        out.extend(message.as_bytes() for message in mailbox.mbox(str(path)))
    corpus = shared / "spamassassin_public_corpus"
    if corpus.is_dir():  # one message per file; ham folders only (spam is not searched)
        for folder in ("easy-ham-1", "easy-ham-2", "hard-ham-1"):
            out.extend(p.read_bytes() for p in sorted((corpus / folder).glob("*")) if p.is_file())
    return out[:limit]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--vectors", action="store_true", help="embed every message too")
    args = parser.parse_args()
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    os.environ.setdefault("SECRETARY_LOG_LEVEL", "WARNING")

    from secretary.config import get_settings
    from secretary.kit.logging import configure_logging

    settings = get_settings()
    configure_logging("WARNING", json=True)
    with fresh_database(settings, "secretary_bench_ask") as engine:
        run(engine, settings, args)


def run(engine: Any, settings: Any, args: argparse.Namespace) -> None:
    from secretary.assistant.service import AskDeps, IndexRetriever, ask_events
    from secretary.db.models import GoogleAccount, Message, User
    from secretary.db.session import make_sessionmaker
    from secretary.search.indexer import Indexer
    from secretary.sync.records import record_from_resource

    sessions = make_sessionmaker(engine)
    home = Path(tempfile.mkdtemp(prefix="secretary-bench-ask-"))
    report: dict[str, Any] = {"items": args.items}
    with sessions.begin() as session:
        user = User(email="bench@example.test", timezone="America/New_York")
        session.add(user)
        session.flush()
        account = GoogleAccount(user_id=user.id, google_sub="bench", email=user.email, scopes=[])
        session.add(account)
        session.flush()
        user_id, account_id = user.id, account.id
    base = [
        record_from_resource({"id": f"base{i}"}, raw=raw, fetched_at=datetime.now(UTC)).row
        for i, raw in enumerate(_raw_messages(5000))
    ]
    started = time.perf_counter()
    now = datetime(2026, 11, 17, 14, 30, tzinfo=UTC)
    batch: list[dict[str, Any]] = []
    for n in range(args.items):
        row = dict(base[n % len(base)])
        row.update(
            gmail_id=f"m{n:07d}",
            gmail_thread_id=f"t{n // 3:07d}",
            user_id=user_id,
            account_id=account_id,
            label_ids=["INBOX"],
            internal_date=now - timedelta(minutes=7 * n),
            parse_defects=None,
        )
        batch.append(row)
        if len(batch) == 5000:
            with sessions.begin() as session:
                session.execute(insert(Message), batch)
            batch = []
    if batch:
        with sessions.begin() as session:
            session.execute(insert(Message), batch)
    report["load_seconds"] = round(time.perf_counter() - started, 1)
    started = time.perf_counter()
    Indexer(engine, sessions, home).run(user_id, vectors=args.vectors)
    report["index_seconds"] = round(time.perf_counter() - started, 1)

    deps = AskDeps(
        sessions=sessions,
        retriever=IndexRetriever(settings.model_copy(update={"home": home})),
        now=lambda: now,
    )
    totals: list[float] = []
    firsts: list[float] = []

    async def one(question: str) -> None:
        t0 = time.perf_counter()
        first: float | None = None
        async for _event, _data in ask_events(deps, user_id, question):
            if first is None:
                first = time.perf_counter()
        totals.append((time.perf_counter() - t0) * 1000)
        firsts.append(((first or time.perf_counter()) - t0) * 1000)

    asyncio.run(one(QUESTIONS[0]))  # warm: model load, first connections
    totals.clear()
    firsts.clear()
    for i in range(args.questions):
        asyncio.run(one(QUESTIONS[i % len(QUESTIONS)]))
    ordered = sorted(totals)
    report.update(
        questions=len(totals),
        vectors=args.vectors,
        p50_ms=round(statistics.median(totals), 1),
        p99_ms=round(ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))], 1),
        first_event_p50_ms=round(statistics.median(firsts), 1),
        loadavg=os.getloadavg()[0],
    )
    print(json.dumps(report))


if __name__ == "__main__":
    main()
