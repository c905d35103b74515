"""Benchmark: initial Gmail sync of N real messages from the emulator into PostgreSQL.

The emulator runs in a separate process (so client and server do not share a GIL),
seeded with real mail (the SpamAssassin public corpus, repeated with unique Message-IDs
when N exceeds it). The client syncs into a fresh database on the embedded PostgreSQL
and prints ONE JSON object:
``{messages, seconds, messages_per_s, peak_rss_mb, quota, quota_utilization, http_429, ...}``.

    python bench/sync.py --messages 10000 [--quota off|default]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import re
import resource
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SOURCES = [ROOT.parent / "shared" / "data" / "spamassassin_public_corpus"]
SKIP_NAMES = {"SOURCE.md", "README.md", "LICENSE", "cmds"}
EMAIL = "bench@example.com"
MSGID_RE = re.compile(rb"^message-id:.*?(?=^\S|\Z)", re.IGNORECASE | re.MULTILINE | re.DOTALL)


def _corpus(sources: list[Path]) -> list[bytes]:
    raws = [
        path.read_bytes()
        for source in sources
        for path in sorted(source.rglob("*"))
        if path.is_file() and path.name not in SKIP_NAMES and not path.name.endswith(".md")
    ]
    if not raws:
        raise SystemExit(f"no mail found under {sources}")
    return raws


def _unique(raw: bytes, n: int) -> bytes:
    """The n-th copy of a message gets its own Message-ID (so Gmail threading is sane)."""
    head, sep, body = raw.partition(b"\n\n")
    head = MSGID_RE.sub(b"", head)
    return f"Message-ID: <bench-{n}@secretary.invalid>\n".encode() + head + sep + body


def _emulator_main(
    conn: Any, n: int, sources: list[str], quota: str, client_id: str, secret: str
) -> None:
    """Child process: seed a mailbox, serve it, answer stats requests over the pipe."""
    os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp")
    from workspace_emulator import oauth
    from workspace_emulator.quota import QuotaConfig, quota_book
    from workspace_emulator.server import run_in_thread
    from workspace_emulator.state import EmulatorState

    state = EmulatorState()
    user = state.add_user(EMAIL)
    corpus = _corpus([Path(s) for s in sources])
    now_ms = int(time.time() * 1000)
    window_ms = 25 * 86_400_000
    for i in range(n):
        raw = _unique(corpus[i % len(corpus)], i)
        labels = {"INBOX", "UNREAD"} if i % 3 == 0 else {"INBOX"}
        user.mailbox.add_message(
            raw, label_ids=labels, internal_date=now_ms - (i * window_ms) // max(n, 1)
        )
    quota_book(state).configure(QuotaConfig(mode=quota))
    oauth.register_client(state, client_id, secret)
    scopes = ["https://www.googleapis.com/auth/gmail.modify", "openid", "email"]
    tokens = oauth.issue_tokens(state, EMAIL, scopes, client_id=client_id)
    running = run_in_thread(state, port=0)
    conn.send({"base_url": running.base_url, "tokens": tokens, "scopes": scopes})
    while True:
        cmd = conn.recv()
        if cmd == "stats":
            usage = resource.getrusage(resource.RUSAGE_SELF)
            stats = dict(quota_book(state).stats()["users"].get(EMAIL, {}))
            stats["cpu_s"] = usage.ru_utime + usage.ru_stime
            conn.send(stats)
        elif cmd == "reset":
            quota_book(state).reset_stats()
            conn.send("ok")
        else:
            running.stop()
            conn.send("bye")
            return


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--quota", choices=["off", "default"], default="off")
    parser.add_argument("--source", action="append", type=Path, help="mail folder(s)")
    parser.add_argument("--home", type=Path, default=Path("/tmp/secretary-bench-home"))
    parser.add_argument("--workers", type=int, default=None, help="fetch threads")
    parser.add_argument(
        "--no-parse-process", action="store_true", help="parse in-thread (no parsing process)"
    )
    args = parser.parse_args()
    sources = [str(p) for p in (args.source or DEFAULT_SOURCES)]

    os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp")
    from sqlalchemy import create_engine, text

    from secretary.config import Settings
    from secretary.db import migrate
    from secretary.db.engine import embedded_database_url, make_engine
    from secretary.db.models import GoogleAccount, User
    from secretary.db.session import make_sessionmaker
    from secretary.kit.clock import utcnow
    from secretary.kit.crypto import TokenCipher
    from secretary.kit.logging import configure_logging
    from secretary.sync import service

    configure_logging("WARNING")
    if args.no_parse_process:
        service.PARSE_PROCESS_MIN_MESSAGES = 10**12
    base = Settings()
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(
        target=_emulator_main,
        args=(
            child,
            args.messages,
            sources,
            args.quota,
            base.google.client_id,
            base.google.client_secret.get_secret_value(),
        ),
        daemon=True,
    )
    seed_started = time.monotonic()
    proc.start()
    info = parent.recv()
    seed_seconds = time.monotonic() - seed_started

    admin_url = embedded_database_url(args.home, database="postgres")
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text('drop database if exists "secretary_bench" with (force)'))
        conn.execute(text('create database "secretary_bench"'))
    admin.dispose()
    url = admin_url.replace("/postgres?", "/secretary_bench?")
    units_per_minute = 6000 if args.quota == "default" else 0
    settings = Settings(
        env="test",
        home=args.home,
        database_url=url,
        google=base.google.model_copy(
            update={
                "api_base_url": info["base_url"],
                "oauth_base_url": info["base_url"],
                "quota_units_per_minute": units_per_minute,
            }
        ),
        sync=base.sync.model_copy(update={"window_days": 30}),
    )
    engine = make_engine(settings)
    migrate.upgrade(engine)
    sessions = make_sessionmaker(engine)
    cipher = TokenCipher([k.get_secret_value() for k in settings.encryption_keys])
    with sessions.begin() as session:
        user = User(email=EMAIL)
        session.add(user)
        session.flush()
        account = GoogleAccount(
            user_id=user.id,
            google_sub="bench",
            email=EMAIL,
            scopes=info["scopes"],
            access_token_enc=cipher.encrypt(info["tokens"]["access_token"]),
            refresh_token_enc=cipher.encrypt(info["tokens"]["refresh_token"]),
            token_expires_at=utcnow() + timedelta(hours=1),
            status="active",
        )
        session.add(account)
        session.flush()
        account_id = account.id

    parent.send("reset")
    parent.recv()
    parent.send("stats")
    emulator_cpu_before = parent.recv()["cpu_s"]
    usage = resource.getrusage(resource.RUSAGE_SELF)
    client_cpu_before = usage.ru_utime + usage.ru_stime
    started = time.monotonic()
    marks: dict[str, float] = {}

    def progress(stage: str, done: int, _total: int) -> None:
        marks.setdefault(stage, time.monotonic() - started)
        if stage == "fetching" and done >= 50:
            marks.setdefault("first_bodies", time.monotonic() - started)

    report = service.run_sync(
        sessions, account_id, settings, workers=args.workers, progress=progress
    )
    seconds = time.monotonic() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    client_cpu = usage.ru_utime + usage.ru_stime - client_cpu_before
    parent.send("stats")
    stats = parent.recv()
    parent.send("stop")
    parent.recv()
    proc.join(10)
    engine.dispose()

    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    # The parsing process (if any) has exited by now; RUSAGE_CHILDREN also covers the
    # emulator process, which is not ours to count, so report it apart.
    children_rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    result: dict[str, Any] = {
        "messages": report.fetched,
        "listed": report.listed,
        "seconds": round(seconds, 2),
        "messages_per_s": round(report.fetched / seconds, 1) if seconds else None,
        "peak_rss_mb": round(peak_rss_mb, 1),
        "peak_child_rss_mb": round(children_rss_mb, 1),
        "quota": args.quota,
        "units": stats.get("units"),
        "http_requests": report.http_requests,
        "http_429": stats.get("http_429", 0),
        "retries": report.retries,
        "seed_seconds": round(seed_seconds, 1),
        # Metadata (ids, threads, labels) of the whole window is stored when fetching starts.
        "metadata_stored_s": round(marks.get("fetching", 0.0), 2),
        "first_bodies_s": round(marks.get("first_bodies", 0.0), 2),
        "client_cpu_s": round(client_cpu, 2),
        "emulator_cpu_s": round(stats["cpu_s"] - emulator_cpu_before, 2),
    }
    if args.quota == "default":
        allowance = 6000 * seconds / 60
        result["quota_utilization"] = round(stats.get("units", 0) / allowance, 3)
        result["peak_window_units"] = stats.get("peak_window_units")
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
