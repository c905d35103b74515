"""Throughput and latency of the Gmail push endpoint, with duplicates, on one server process.

Usage:
  python bench/webhook.py [--pushes 20000] [--connections 16] [--accounts 50]
                          [--duplicates 0.2] [--warmup 500] [--profile PATH]

Starts ``secretary serve --no-background`` (one uvicorn worker, the real app) on a fresh
database (``_fresh_db.fresh_database``, dropped afterwards) with ``--accounts`` connected
accounts, and the Google emulator in this process for the signing keys (fetched once and
cached by the server). ``--connections`` keep-alive connections then POST valid pushes
signed by the emulator's key, as Pub/Sub does: each unique push has its own ``messageId``
and a rising ``historyId``; ``--duplicates`` of them are delivered again (Pub/Sub delivers
at least once). Requests are pre-encoded and written over raw sockets so that the client
costs little CPU beside the server on a 2-core machine; ``client_cpu_ms_per_push`` says
how little, next to the server's and its Postgres backends' CPU per push.
``pushes_per_transaction`` is the group commit's batch size (the server's
``secretary_push_batch_size`` metric).

Nothing runs the queued tasks, so the durable effect of the pushes stays visible: every
account that got a push must have exactly one ``queued`` ``sync.run`` record (a push
commits its sync request before the 204; further pushes coalesce into it), every unique
push exactly one row in ``push_receipts``, and every unique push must be answered ``sync``
once and every redelivery ``duplicate``. Prints one JSON object; exit status 1 if a check
fails. ``--profile PATH`` samples the server with py-spy while it is measured (see
``bench/pipeline.py``).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import random
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _fresh_db import fresh_database

ROOT = Path(__file__).resolve().parents[1]
URL_PATH = "/webhooks/google/pubsub"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _request(port: int, token: str, email: str, history_id: int, message_id: str) -> bytes:
    data = json.dumps({"emailAddress": email, "historyId": history_id}).encode()
    body = json.dumps(
        {
            "message": {"data": base64.b64encode(data).decode(), "messageId": message_id},
            "subscription": "projects/secretary/subscriptions/gmail-push",
        }
    ).encode()
    head = (
        f"POST {URL_PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, str]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    if length:
        await reader.readexactly(length)
    return status, headers.get("x-secretary-push", "")


async def _drive(
    port: int, requests: list[tuple[str, bytes]], connections: int
) -> tuple[list[float], list[tuple[str, int, str]], float]:
    """Send every request over ``connections`` keep-alive connections, each taking the next."""
    latencies: list[float] = []
    answers: list[tuple[str, int, str]] = []
    queue: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
    for item in requests:
        queue.put_nowait(item)

    async def connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            while True:
                try:
                    key, raw = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                started = time.perf_counter()
                writer.write(raw)
                status, reason = await _read_response(reader)
                latencies.append(time.perf_counter() - started)
                answers.append((key, status, reason))
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(connections)))
    return latencies, answers, time.perf_counter() - started


def _wait_until_serving(port: int, proc: subprocess.Popen[bytes], within: float = 90.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("the server exited before serving")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.1)
    raise RuntimeError("the server did not start")


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def _metric_sum(text: str, name: str) -> float:
    """The sum of a Prometheus metric's samples named exactly ``name`` (all labels)."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and line[len(name) : len(name) + 1] in ("{", " "):
            total += float(line.rsplit(" ", 1)[1])
    return total


def _metrics(port: int) -> str:
    import httpx

    return httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text


def _backend_pids(engine: Any, database: str) -> list[int]:
    """The Postgres backends serving ``database`` (the server's pool, once it is warm)."""
    from sqlalchemy import text

    with engine.connect() as conn:
        return [
            int(pid)
            for pid in conn.execute(
                text(
                    "select pid from pg_stat_activity where datname = :d and pid <> pg_backend_pid()"
                ),
                {"d": database},
            ).scalars()
        ]


def _cpu_seconds(pids: list[int]) -> float:
    import psutil

    total = 0.0
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            total += sum(psutil.Process(pid).cpu_times()[:2])
    return total


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pushes", type=int, default=20_000, help="unique pushes")
    parser.add_argument("--duplicates", type=float, default=0.2, help="share delivered twice")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--accounts", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=500, help="pushes before measuring")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--profile", type=Path, default=None, help="py-spy the server while measuring"
    )
    args = parser.parse_args()

    os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp")
    os.environ.setdefault("SECRETARY_LOG_LEVEL", "WARNING")
    from workspace_emulator.server import run_in_thread
    from workspace_emulator.state import EmulatorState

    from secretary.config import Settings

    home = Path(os.environ.get("SECRETARY_BENCH_HOME", "/tmp/secretary-bench-home"))
    home.mkdir(parents=True, exist_ok=True)
    emulator = run_in_thread(EmulatorState())
    try:
        settings = Settings(
            env="test",
            home=home,
            database_url=os.environ.get("SECRETARY_DATABASE_URL") or None,
            log_level="WARNING",
            google={"api_base_url": emulator.base_url, "oauth_base_url": emulator.base_url},
        )
        with fresh_database(settings, f"bench_webhook_{os.getpid()}") as engine:
            return run(engine, settings, emulator, args)
    finally:
        emulator.stop()


def run(engine: Any, settings: Any, emulator: Any, args: argparse.Namespace) -> int:
    import psutil
    from sqlalchemy import func, select, text
    from sqlalchemy.orm import sessionmaker
    from workspace_emulator.push import signing_key

    from secretary.db.models import GoogleAccount, TaskRecord, User
    from secretary.kit.clock import utcnow
    from secretary.kit.crypto import TokenCipher

    rng = random.Random(args.seed)
    url = engine.url.render_as_string(hide_password=False)
    database = engine.url.database
    sessions = sessionmaker(engine, expire_on_commit=False)
    cipher = TokenCipher([k.get_secret_value() for k in settings.encryption_keys])
    emails = [f"push.owner{i}@example.com" for i in range(args.accounts)]
    with sessions.begin() as s:
        for i, email in enumerate(emails):
            user = User(email=email)
            s.add(user)
            s.flush()
            s.add(
                GoogleAccount(
                    user_id=user.id,
                    google_sub=f"sub-{i}",
                    email=email,
                    scopes=["https://www.googleapis.com/auth/gmail.modify"],
                    access_token_enc=cipher.encrypt("not-used"),
                    refresh_token_enc=cipher.encrypt("not-used"),
                    token_expires_at=utcnow() + timedelta(hours=1),
                    status="active",
                )
            )

    port = _free_port()
    env = dict(os.environ)
    env.update(
        {
            "SECRETARY_ENV": "test",
            "SECRETARY_HOME": str(settings.home_path),
            "SECRETARY_DATABASE_URL": url,
            "SECRETARY_LOG_LEVEL": "WARNING",
            "SECRETARY_GOOGLE__API_BASE_URL": emulator.base_url,
            "SECRETARY_GOOGLE__OAUTH_BASE_URL": emulator.base_url,
        }
    )
    server = subprocess.Popen(
        [sys.executable, "-m", "secretary", "serve", "--no-background", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_until_serving(port, server)

        now = int(time.time())
        token = str(
            signing_key(emulator.state).sign(
                {
                    "iss": "https://accounts.google.com",
                    "aud": settings.google.pubsub_audience,
                    "email": "gmail-push@example.iam.gserviceaccount.com",
                    "email_verified": True,
                    "iat": now,
                    "exp": now + 3600,
                }
            )
        )

        def batch(prefix: str, count: int) -> list[tuple[str, bytes]]:
            unique = [
                (
                    f"{prefix}{i}",
                    _request(port, token, emails[i % len(emails)], 1000 + i, f"{prefix}{i}"),
                )
                for i in range(count)
            ]
            again = rng.sample(unique, int(count * args.duplicates))
            # Redeliveries come later than the original, as Pub/Sub's do.
            out = unique + again
            head, tail = out[: count // 2], out[count // 2 :]
            rng.shuffle(tail)
            return head + tail

        asyncio.run(_drive(port, batch("warm-", args.warmup), args.connections))
        requests = batch("m-", args.pushes)
        proc = psutil.Process(server.pid)
        backends = _backend_pids(engine, database)
        metrics_before = _metrics(port)
        cpu_before = sum(proc.cpu_times()[:2])
        pg_before = _cpu_seconds(backends)
        client_before = time.process_time()
        load_before = os.getloadavg()[0]
        spy = None
        if args.profile:
            sys.path.insert(0, str(ROOT / "bench"))
            from pipeline import Profiler

            spy = Profiler(args.profile, pid=server.pid)
        latencies, answers, seconds = asyncio.run(_drive(port, requests, args.connections))
        client_cpu = time.process_time() - client_before
        server_cpu = sum(proc.cpu_times()[:2]) - cpu_before
        pg_cpu = _cpu_seconds(backends) - pg_before
        if spy is not None:
            spy.stop()
        metrics_after = _metrics(port)
        batches = _metric_sum(metrics_after, "secretary_push_batch_size_count") - _metric_sum(
            metrics_before, "secretary_push_batch_size_count"
        )

        # Checks: each unique push answered "sync" once, each redelivery "duplicate", and
        # one durable queued sync record per account.
        seen: dict[str, list[str]] = {}
        errors = 0
        for key, status, reason in answers:
            if status != 204:
                errors += 1
            seen.setdefault(key, []).append(reason)
        answered_once = all(
            reasons.count("sync") == 1 and all(r == "duplicate" for r in reasons if r != "sync")
            for key, reasons in seen.items()
            if key.startswith("m-")
        )
        with sessions() as s:
            per_account = {
                int(account): int(n)
                for account, n in s.execute(
                    text(
                        "select (args->>'account_id')::int, count(*) from task_records"
                        " where name = 'sync.run' group by 1"
                    )
                ).all()
            }
            not_queued = (
                s.scalar(
                    select(func.count())
                    .select_from(TaskRecord)
                    .where(TaskRecord.name == "sync.run", TaskRecord.status != "queued")
                )
                or 0
            )
            receipts = int(
                s.scalar(text("select count(*) from push_receipts where message_id like 'm-%'"))
                or 0
            )
        durable = len(per_account) == args.accounts and not_queued == 0 and receipts == args.pushes
        extra_records = sum(n - 1 for n in per_account.values())
        result = {
            "pushes": len(requests),
            "unique": args.pushes,
            "duplicates": len(requests) - args.pushes,
            "connections": args.connections,
            "server_workers": 1,
            "seconds": round(seconds, 2),
            "requests_per_s": round(len(requests) / seconds, 1),
            "p50_ms": round(1000 * _percentile(latencies, 0.5), 2),
            "p99_ms": round(1000 * _percentile(latencies, 0.99), 2),
            "max_ms": round(1000 * max(latencies), 2),
            "errors": errors,
            "server_cpu_ms_per_push": round(1000 * server_cpu / len(requests), 3),
            "postgres_cpu_ms_per_push": round(1000 * pg_cpu / len(requests), 3),
            "client_cpu_ms_per_push": round(1000 * client_cpu / len(requests), 3),
            "transactions": int(batches),
            "pushes_per_transaction": round(len(requests) / batches, 1) if batches else None,
            "answered_once": answered_once,
            "receipts": receipts,
            "accounts_with_durable_sync": len(per_account),
            "extra_sync_records": extra_records,
            "durable": durable,
            "load_avg_1m": round(load_before, 2),
            "load_avg_1m_end": round(os.getloadavg()[0], 2),
        }
        print(json.dumps(result))
        return 0 if (errors == 0 and answered_once and durable) else 1
    finally:
        server.terminate()
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()


if __name__ == "__main__":
    sys.exit(main())
