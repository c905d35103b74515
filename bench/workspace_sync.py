"""Benchmark: initial Calendar + Drive sync from the emulator into PostgreSQL.

The emulator runs in a separate process, seeded with CALENDARS calendars holding EVENTS
events in total (singles over four years, all-day events, weekly series with attendees)
and FILES Drive files (Docs, Sheets, Markdown, CSV and images). The client syncs both
services at once (as the sync engine runs pairs side by side, sharing the user's quota)
into a fresh database on the embedded PostgreSQL and prints ONE JSON object:
``{calendars, events, instances, files, texts, seconds, items_per_s, quota,
quota_utilization, units, http_429, loadavg, ...}``. Items are events plus files.

    python bench/workspace_sync.py [--calendars 5 --events 5000 --files 2000] [--quota default|off]

``quota_utilization`` is units charged / the user's allowance over the run (6,000 units a
minute): how much of the quota the sync could use. Record ``loadavg`` beside any figure.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import random
import resource
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

EMAIL = "bench@example.com"
SCOPES = [
    "https://www.googleapis.com/auth/calendar.readonly",
    "https://www.googleapis.com/auth/drive.readonly",
    "openid",
    "email",
]


def _seed(state: Any, calendars: int, events: int, files: int) -> None:
    from workspace_emulator.drive_store import DOC, FOLDER, SHEET

    rng = random.Random(8)
    user = state.add_user(EMAIL)
    cal = user.calendar
    ids = [EMAIL] + [
        cal.add_calendar(f"Team {i}", time_zone="Europe/Paris")["id"] for i in range(1, calendars)
    ]
    base = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    for n in range(events):
        start = base + timedelta(days=rng.randint(-730, 730), hours=rng.randint(7, 18))
        body: dict[str, Any] = {
            "summary": f"Meeting {n}",
            "location": f"Room {n % 9}",
            "description": f"Agenda item {n}: review and next steps.",
        }
        if n % 10 == 0:
            day = start.date()
            body["start"] = {"date": day.isoformat()}
            body["end"] = {"date": (day + timedelta(days=1)).isoformat()}
        else:
            body["start"] = {"dateTime": start.isoformat(), "timeZone": "Europe/Paris"}
            body["end"] = {
                "dateTime": (start + timedelta(minutes=30)).isoformat(),
                "timeZone": "Europe/Paris",
            }
        if n % 10 == 1:
            body["recurrence"] = ["RRULE:FREQ=WEEKLY;COUNT=40"]
        if n % 4 == 2:
            body["attendees"] = [
                {"email": EMAIL, "responseStatus": "accepted"},
                {"email": f"colleague{n % 50}@example.org"},
            ]
        cal.insert_event(ids[n % len(ids)], body)
    drive = user.drive
    folder = drive.add_file("Shared work", FOLDER)["id"]
    for n in range(files):
        parents = [folder] if n % 3 == 0 else ["root"]
        kind = n % 5
        if kind == 0:
            drive.add_file(
                f"Notes {n}", DOC, doc_text=f"Notes {n}\n" + "text " * 200, parents=parents
            )
        elif kind == 1:
            rows = [["item", "cost"]] + [[f"line {i}", str(i)] for i in range(30)]
            drive.add_file(f"Budget {n}", SHEET, sheet_rows=rows, parents=parents)
        elif kind == 2:
            drive.add_file(
                f"plan-{n}.md", "text/markdown", content="# Plan\n" + "step " * 150, parents=parents
            )
        elif kind == 3:
            drive.add_file(
                f"data-{n}.csv", "text/csv", content="a,b\n" + "1,2\n" * 100, parents=parents
            )
        else:
            drive.add_file(
                f"photo-{n}.jpg", "image/jpeg", content=b"\xff\xd8" + b"0" * 2000, parents=parents
            )


def _emulator_main(
    conn: Any, calendars: int, events: int, files: int, quota: str, client_id: str, secret: str
) -> None:
    os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp")
    from workspace_emulator import oauth
    from workspace_emulator.quota import QuotaConfig, quota_book
    from workspace_emulator.server import run_in_thread
    from workspace_emulator.state import EmulatorState

    state = EmulatorState()
    with state.lock:
        _seed(state, calendars, events, files)
    quota_book(state).configure(QuotaConfig(mode=quota))
    oauth.register_client(state, client_id, secret)
    tokens = oauth.issue_tokens(state, EMAIL, SCOPES, client_id=client_id)
    running = run_in_thread(state, port=0)
    conn.send({"base_url": running.base_url, "tokens": tokens})
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
    parser.add_argument("--calendars", type=int, default=5)
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--quota", choices=["off", "default"], default="default")
    parser.add_argument("--home", type=Path, default=Path("/tmp/secretary-bench-home"))
    args = parser.parse_args()

    os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp")
    from sqlalchemy import create_engine, func, select, text

    from secretary.config import Settings
    from secretary.db import migrate
    from secretary.db.engine import embedded_database_url, make_engine
    from secretary.db.models import CalendarEvent, CalendarInstance, DriveFile, GoogleAccount, User
    from secretary.db.session import make_sessionmaker
    from secretary.kit.clock import utcnow
    from secretary.kit.crypto import TokenCipher
    from secretary.kit.logging import configure_logging
    from secretary.sync.calendar import sync_calendar
    from secretary.sync.drive import sync_drive

    configure_logging("WARNING")
    base = Settings()
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(
        target=_emulator_main,
        args=(
            child,
            args.calendars,
            args.events,
            args.files,
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
        conn.execute(text('drop database if exists "secretary_bench_ws" with (force)'))
        conn.execute(text('create database "secretary_bench_ws"'))
    admin.dispose()
    url = admin_url.replace("/postgres?", "/secretary_bench_ws?")
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
            scopes=SCOPES,
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
    load_before = os.getloadavg()
    started = time.monotonic()
    with ThreadPoolExecutor(2) as pool:
        cal_future = pool.submit(sync_calendar, sessions, account_id, settings)
        drive_future = pool.submit(sync_drive, sessions, account_id, settings)
        cal_report, drive_report = cal_future.result(), drive_future.result()
    seconds = time.monotonic() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    client_cpu = usage.ru_utime + usage.ru_stime - client_cpu_before
    parent.send("stats")
    stats = parent.recv()
    parent.send("stop")
    parent.recv()
    proc.join(10)
    with sessions() as session:
        events = session.scalar(select(func.count()).where(CalendarEvent.account_id == account_id))
        instances = session.scalar(
            select(func.count()).where(CalendarInstance.account_id == account_id)
        )
        files = session.scalar(select(func.count()).where(DriveFile.account_id == account_id))
        texts = session.scalar(
            select(func.count()).where(
                DriveFile.account_id == account_id, DriveFile.text_state == "ok"
            )
        )
    engine.dispose()
    items = int(events or 0) + int(files or 0)
    result: dict[str, Any] = {
        "calendars": args.calendars,
        "events": events,
        "instances": instances,
        "files": files,
        "texts": texts,
        "seconds": round(seconds, 2),
        "items_per_s": round(items / seconds, 1) if seconds else None,
        "calendar_seconds": cal_report.seconds,
        "drive_seconds": drive_report.seconds,
        "quota": args.quota,
        "units": stats.get("units"),
        "http_requests": cal_report.http_requests + drive_report.http_requests,
        "http_429": stats.get("http_429", 0),
        "retries": cal_report.retries + drive_report.retries,
        "seed_seconds": round(seed_seconds, 1),
        "client_cpu_s": round(client_cpu, 2),
        "emulator_cpu_s": round(stats["cpu_s"] - emulator_cpu_before, 2),
        "loadavg": [round(x, 2) for x in os.getloadavg()],
        "loadavg_before": [round(x, 2) for x in load_before],
    }
    if args.quota == "default":
        allowance = 6000 * seconds / 60
        result["quota_utilization"] = round(stats.get("units", 0) / allowance, 3)
        result["peak_window_units"] = stats.get("peak_window_units")
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
