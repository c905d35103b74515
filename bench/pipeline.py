"""Push-to-draft latency and exactly-once drafting of the triage pipeline, on the emulator.

Usage:
  python bench/pipeline.py [--messages 500] [--rate 20] [--runtime inline|celery]
                           [--broker redis|rabbitmq|URL] [--workers 2] [--kill N] [--tier mod:attr]

Messages are inserted into the Gmail emulator's mailbox at ``--rate`` per second. Each
insert is a "push": it wakes a sync loop (coalescing pushes that arrive during a sync, as
the webhook does) that runs the real incremental sync (``history.list``, ``messages.get``
batch) and so feeds the pipeline through the sync listener. The pipeline then classifies
with the local tier (or ``--tier``), drafts, creates the Gmail draft (``drafts.create``) and
labels. ``p50_s``/``p99_s`` are push → Gmail draft stored, over messages that got a draft.

``--runtime inline`` runs the in-process runtime in this process; ``--runtime celery``
starts ``--workers`` Celery worker processes on the broker, each with a ``--celery-pool``
(default ``threads``, as ``secretary worker``) of ``--concurrency`` slots (default: the
worker's own, ``Settings.worker.concurrency``, 4, and twice that in a Celery threads pool).
``--kill N`` kills worker processes with SIGKILL N times at random moments while mail
flows (with ``inline`` the runtime then runs as a ``secretary worker`` subprocess) and
checks that every message was classified once, no Gmail draft is duplicated, and nothing is
stuck. Prints one JSON object.

``cpu_per_message_ms`` is CPU per message by process: ``app`` (this process less the
emulator's threads: the sync, and with ``inline`` the workers), ``emulator`` (its server
thread and AnyIO worker threads), ``postgres`` (the embedded server and its backends),
``workers`` (``celery``/``--kill`` subprocesses and their pool processes) and ``broker``
(the local redis-server or RabbitMQ, shared with whatever else uses it).
``postgres_per_message``: the benchmark database's transactions per message (``commits``,
``rollbacks``) and the server sessions (backends) started during the run
(``pg_stat_database``; backends report within about a second, so the last second may be
missing).
``stage_cpu_per_message_ms``: the worker thread's CPU per stage (claim, task, finish), from
``secretary_task_stage_cpu_seconds``, plus ``sync`` (the sync loop's thread); in-process
runtime only.

``--profile PATH`` samples this process and its children with py-spy (100 Hz, on-CPU
stacks) from the first push to the last label, writes the collapsed stacks to PATH and a
summary (top functions by own and by inclusive samples) to ``PATH.txt``.

``--sweep`` runs the benchmark at rising rates (a fresh process per rate, ``--runtime``
inline then celery) until p99 passes 1 s or a backlog remains, and prints one JSON object
``{"inline": {"max_sustainable_rate": ..., "runs": [...]}, "celery": {...}}``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from datetime import timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for --tier tests.triage.tiers:KeywordTier

BROKERS = {
    "redis": "redis://127.0.0.1:6379/0",
    "rabbitmq": "amqp://guest:guest@127.0.0.1:5672//",
}
QUESTIONS = [
    "Could you send me the updated budget before Friday?",
    "Are you free to meet on Tuesday at 3pm to go over the contract?",
    "Can you confirm you received the signed documents?",
    "What do you think about moving the launch to next week?",
]
NEWS = ["This week in product: five things we shipped.", "Your monthly statement is ready."]


def _raw(i: int, user: str, rng: random.Random) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Contact {i} <contact{i % 97}@partner{i % 13}.example.org>"
    msg["To"] = user
    if rng.random() < 0.2:
        msg["Cc"] = f"colleague{i % 7}@example.net"
    msg["Date"] = format_datetime(_now())
    msg["Message-ID"] = make_msgid(domain="partner.example.org")
    if rng.random() < 0.8:
        msg["Subject"] = f"Question {i}"
        msg.set_content(f"Hi,\n\n{rng.choice(QUESTIONS)}\n\nThanks,\nContact {i}\n")
    else:
        msg["Subject"] = f"Digest {i}"
        msg["List-Id"] = "<digest.example.org>"
        msg["List-Unsubscribe"] = "<mailto:unsubscribe@example.org>"
        msg.set_content(rng.choice(NEWS) + "\n")
    return bytes(msg)


def _now() -> Any:
    from secretary.kit.clock import utcnow

    return utcnow()


class CpuMeter:
    """CPU seconds (user + system) of the processes a run involves, as deltas."""

    def __init__(self, home: Path) -> None:
        import psutil

        self._psutil = psutil
        self.me = psutil.Process()
        self.postmaster = self._find_postmaster(home)
        self.brokers = [
            p
            for p in psutil.process_iter(["name"])
            if (p.info.get("name") or "") in ("redis-server", "beam.smp")
        ]
        self.workers: Workers | None = None
        self._start: dict[str, float] = {}

    def _find_postmaster(self, home: Path) -> Any:
        pgdata = str((home / "pgdata").resolve())
        for proc in self._psutil.process_iter(["cmdline", "ppid"]):
            cmd = proc.info.get("cmdline") or []
            if "-D" in cmd and pgdata in cmd:
                return proc
        return None

    def _tree(self, proc: Any) -> float:
        """The process, its reaped children and its live descendants."""
        try:
            t = proc.cpu_times()
            total = float(t.user + t.system + t.children_user + t.children_system)
            for child in proc.children():
                total += self._tree(child)
        except self._psutil.Error:
            return 0.0
        return total

    def _emulator_threads(self) -> float:
        ids = {
            t.native_id
            for t in threading.enumerate()
            if t.name == "google-emulator" or t.name.startswith("AnyIO worker")
        }
        return sum(t.user_time + t.system_time for t in self.me.threads() if t.id in ids)

    def sample(self) -> dict[str, float]:
        t = self.me.cpu_times()
        emulator = self._emulator_threads()
        workers = 0.0
        for proc in self.workers.procs if self.workers else []:
            with contextlib.suppress(self._psutil.Error):
                workers += self._tree(self._psutil.Process(proc.pid))
        return {
            "app": t.user + t.system - emulator,
            "emulator": emulator,
            "postgres": self._tree(self.postmaster) if self.postmaster else 0.0,
            "workers": workers + t.children_user + t.children_system,
            "broker": sum(self._tree(p) for p in self.brokers),
        }

    def start(self) -> None:
        self._start = self.sample()

    def per_message_ms(self, messages: int) -> dict[str, float]:
        end = self.sample()
        out = {k: round(1000 * (end[k] - self._start.get(k, 0.0)) / messages, 2) for k in end}
        out["total"] = round(sum(v for k, v in out.items() if k != "broker"), 2)
        return out


class Profiler:
    """py-spy attached to this process (and its children) for the measured window."""

    def __init__(self, path: Path, pid: int | None = None) -> None:
        self.path = path
        exe = Path(sys.executable).with_name("py-spy")
        cmd = [str(exe), "record", "--pid", str(pid or os.getpid()), "--subprocesses"]
        cmd += ["--threads"]
        cmd += ["--rate", "100", "--nonblocking", "--format", "raw", "--output", str(path)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        if self.path.exists():
            summary = summarize_profile(self.path)
            self.path.with_name(self.path.name + ".txt").write_text(summary)
            sys.stderr.write(summary[:6000])


def summarize_profile(path: Path, top: int = 40) -> str:
    """Top functions by own samples and by inclusive samples, from py-spy's raw stacks."""
    own: dict[str, int] = {}
    inclusive: dict[str, int] = {}
    threads: dict[str, int] = {}
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = stack.split(";")
        head = frames[0]
        threads[head] = threads.get(head, 0) + count
        for frame in set(frames[1:]):
            inclusive[frame] = inclusive.get(frame, 0) + count
        own[frames[-1]] = own.get(frames[-1], 0) + count

    def table(counts: dict[str, int]) -> list[str]:
        rows = sorted(counts.items(), key=lambda kv: -kv[1])[:top]
        return [f"{100 * n / max(total, 1):6.1f}%  {name}" for name, n in rows]

    return "\n".join(
        [
            f"samples: {total}",
            "== by thread ==",
            *table(threads),
            "== own ==",
            *table(own),
            "== inclusive ==",
            *table(inclusive),
            "",
        ]
    )


def _sweep(args: argparse.Namespace) -> int:
    """Rising rates, one fresh process per run, until p99 > 1 s or a backlog remains."""
    result: dict[str, Any] = {}
    for runtime in ("inline", "celery"):
        runs: list[dict[str, Any]] = []
        best: float | None = None
        rate = args.sweep_start
        failed_at: float | None = None
        while rate <= args.sweep_max:
            run = _one_run(args, runtime, rate)
            runs.append(run)
            if run.get("ok", False):
                best = rate
                rate = round(rate * 1.5, 1)
                continue
            failed_at = rate
            if best is None and rate > 1.0:  # the start already fails: look lower
                rate = max(1.0, round(rate / 2, 1))
                continue
            break
        if best is not None and failed_at is not None and failed_at - best > 5:
            middle = round((best + failed_at) / 2, 1)
            run = _one_run(args, runtime, middle)
            runs.append(run)
            if run.get("ok"):
                best = middle
        result[runtime] = {
            "max_sustainable_rate": best,
            "first_failing_rate": failed_at,
            "runs": runs,
        }
    result["load_avg_1m_end"] = os.getloadavg()[0]
    print(json.dumps(result))
    return 0


def _one_run(args: argparse.Namespace, runtime: str, rate: float) -> dict[str, Any]:
    messages = max(args.sweep_min_messages, int(rate * args.sweep_seconds))
    cmd = [sys.executable, str(Path(__file__).resolve()), "--runtime", runtime]
    cmd += ["--rate", str(rate), "--messages", str(messages), "--broker", args.broker]
    cmd += ["--celery-pool", args.celery_pool]
    if args.concurrency_given:
        cmd += ["--concurrency", str(args.concurrency)]
    cmd += ["--workers", str(args.workers), "--timeout", str(max(60.0, messages / rate * 3))]
    load = os.getloadavg()[0]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=ROOT)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        return {"rate": rate, "ok": False, "error": proc.stderr[-500:], "load_avg_1m": load}
    out = json.loads(lines[-1])
    p99 = out.get("p99_s")
    ok = (
        proc.returncode == 0
        and p99 is not None
        and p99 <= 1.0
        and out.get("finished", 0) >= messages
    )
    keep = ("p50_s", "p99_s", "max_s", "finished", "duplicates", "wall_s", "feed_s")
    summary = {k: out.get(k) for k in keep}
    summary.update(
        rate=rate,
        messages=messages,
        ok=ok,
        load_avg_1m=load,
        cpu_per_message_ms=out.get("cpu_per_message_ms"),
        postgres_per_message=out.get("postgres_per_message"),
        stage_cpu_per_message_ms=out.get("stage_cpu_per_message_ms"),
        dead=out.get("dead"),
        extra_attempts=out.get("extra_attempts"),
    )
    sys.stderr.write(json.dumps(summary) + "\n")
    return summary


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[k]


class Workers:
    """Worker subprocesses (``secretary worker``) that can be killed with SIGKILL."""

    def __init__(
        self,
        runtime: str,
        count: int,
        env: dict[str, str],
        tier: str | None,
        *,
        pool: str = "threads",
        concurrency: int | None = None,
    ) -> None:
        self.runtime, self.count, self.env, self.tier = runtime, count, env, tier
        self.pool, self.concurrency = pool, concurrency
        self.procs: list[subprocess.Popen[bytes]] = []
        self.log = open(Path(env["SECRETARY_HOME"]) / "workers.log", "ab")  # noqa: SIM115

    def _start_one(self) -> subprocess.Popen[bytes]:
        cmd = [sys.executable, "-m", "secretary", "worker", "--runtime", self.runtime]
        if self.concurrency is not None:  # else the worker's own default
            cmd += ["--concurrency", str(self.concurrency)]
        cmd += ["--loglevel", "WARNING"]
        if self.runtime == "celery":
            cmd += ["--pool", self.pool]
        if self.tier:
            cmd += ["--tier", self.tier]
        return subprocess.Popen(cmd, env=self.env, cwd=ROOT, stdout=self.log, stderr=self.log)

    def start(self) -> None:
        self.procs = [self._start_one() for _ in range(self.count)]

    def kill_random(self, rng: random.Random) -> str:
        import psutil

        i = rng.randrange(len(self.procs))
        proc = self.procs[i]
        kids = []
        with contextlib.suppress(psutil.NoSuchProcess):
            kids = [c.pid for c in psutil.Process(proc.pid).children(recursive=True)]
        if kids and rng.random() < 0.5:
            with contextlib.suppress(ProcessLookupError):
                os.kill(rng.choice(kids), signal.SIGKILL)
            return "pool-process"
        for pid in [*kids, proc.pid]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        proc.wait(10)
        self.procs[i] = self._start_one()
        return "worker"

    def stop(self) -> None:
        import psutil

        for proc in self.procs:
            with contextlib.suppress(psutil.NoSuchProcess):
                for c in psutil.Process(proc.pid).children(recursive=True):
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(c.pid, signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
        self.log.close()


def _wait_for_workers(settings: Any, runtime: str, count: int, sessions: Any) -> None:
    """Until the workers answer (Celery ping) or, inline, a first record has been run."""
    deadline = time.monotonic() + 90
    if runtime == "celery":
        from secretary.worker.backends.celery import create_celery_app

        app = create_celery_app(settings)
        while time.monotonic() < deadline:
            replies = app.control.ping(timeout=1.0) or []
            if len(replies) >= count:
                return
        return
    time.sleep(10)  # the inline worker process has no ping; its startup sweep is enough


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=500)
    parser.add_argument("--rate", type=float, default=20.0, help="messages per second")
    parser.add_argument("--runtime", choices=["inline", "celery"], default="inline")
    parser.add_argument("--broker", default="redis", help="redis, rabbitmq or a broker URL")
    parser.add_argument("--workers", type=int, default=1, help="worker processes (subprocess mode)")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=None,
        help="slots per worker (default: the worker's own: 4 in-process and prefork, 8 threads)",
    )
    parser.add_argument(
        "--celery-pool",
        choices=["threads", "prefork"],
        default="threads",
        help="Celery pool (threads: one process; prefork: one process per slot)",
    )
    parser.add_argument("--kill", type=int, default=0, help="SIGKILL worker processes N times")
    parser.add_argument("--tier", default=None, help="intelligence tier as module:attr")
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    parser.add_argument(
        "--google-quota", action="store_true", help="enforce Google's per-user quota"
    )
    parser.add_argument(
        "--no-chain", action="store_true", help="send every stage through the queue"
    )
    parser.add_argument(
        "--no-index", action="store_true", help="skip the search.index stage (diagnosis)"
    )
    parser.add_argument(
        "--warmup",
        type=int,
        default=None,
        help="messages run before the clock starts (default: inline 4, Celery 4 per slot)",
    )
    parser.add_argument("--profile", type=Path, default=None, help="write a py-spy profile")
    parser.add_argument("--sweep", action="store_true", help="find the highest sustainable rate")
    parser.add_argument("--sweep-start", type=float, default=10.0)
    parser.add_argument("--sweep-max", type=float, default=200.0)
    parser.add_argument("--sweep-seconds", type=float, default=15.0, help="feed time per rate")
    parser.add_argument("--sweep-min-messages", type=int, default=200)
    args = parser.parse_args()
    args.concurrency_given = args.concurrency is not None
    if args.sweep:
        return _sweep(args)

    os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp")
    from sqlalchemy import create_engine, func, select, text
    from sqlalchemy.orm import sessionmaker
    from workspace_emulator import oauth
    from workspace_emulator.server import run_in_thread
    from workspace_emulator.state import EmulatorState

    from secretary.bootstrap import compose, load_tier
    from secretary.config import Settings
    from secretary.db import migrate
    from secretary.db.engine import embedded_database_url, make_engine
    from secretary.db.models import Draft, GoogleAccount, Message, TaskRecord, TriageResult, User
    from secretary.kit.crypto import TokenCipher
    from secretary.kit.logging import configure_logging
    from secretary.sync.service import GmailSync

    configure_logging("WARNING", json=True)
    rng = random.Random(args.seed)
    home = Path(os.environ.get("SECRETARY_BENCH_HOME", "/tmp/secretary-bench-home"))
    home.mkdir(parents=True, exist_ok=True)
    base = embedded_database_url(home, database="postgres")
    name = f"bench_pipeline_{os.getpid()}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'drop database if exists "{name}" with (force)'))
        conn.execute(text(f'create database "{name}"'))
    url = base.replace("/postgres?", f"/{name}?")
    emulator = run_in_thread(EmulatorState())
    kill_mode = args.kill > 0
    subprocess_mode = args.runtime == "celery" or kill_mode
    broker = BROKERS.get(args.broker, args.broker)
    prefix = f"bench{uuid.uuid4().hex[:6]}." if args.runtime == "celery" else ""
    workers: Workers | None = None
    loop: asyncio.AbstractEventLoop | None = None
    backend: Any = None
    try:
        settings = Settings(
            env="test",
            home=home,
            database_url=url,
            log_level="WARNING",
            google={
                "api_base_url": emulator.base_url,
                "oauth_base_url": emulator.base_url,
                # 20 messages/s costs ~440 Gmail units/s (get 5, drafts.create 10, modify 5,
                # history 2 ...), above Google's per-user quota: the benchmark measures the
                # pipeline, so the emulator gets a quota that does not throttle it.
                "quota_units_per_minute": 1_000_000,
            },
            worker={
                "runtime": args.runtime,
                "broker_url": broker,
                "queue_prefix": prefix,
                **({"concurrency": args.concurrency} if args.concurrency_given else {}),
                "retry_base_seconds": 0.2,
                "retry_max_seconds": 2.0,
                "lease_seconds": 5.0,
                # Above any backlog this machine builds at 20/s: re-sending records that are
                # merely waiting in a busy queue would only add duplicate deliveries.
                # (the inline worker subprocess of --kill gets its work only from the
                # sweeper, since this process cannot reach its in-memory queue).
                "stuck_after_seconds": 3.0 if args.runtime == "inline" else 30.0,
                "sweep_interval_seconds": 1.0,
            },
        )
        if not args.concurrency_given:  # the worker's default, as it will choose it
            from secretary.worker.backends.celery import default_slots

            pool = args.celery_pool if args.runtime == "celery" else "inline"
            args.concurrency = default_slots(pool, settings)
        engine = make_engine(settings, pool_size=10)
        migrate.upgrade(engine)
        sessions = sessionmaker(engine, expire_on_commit=False)

        # Google's default per-user quota (6,000 units/min) admits ~4 messages/s through
        # this pipeline (messages.get 5, drafts.create 10, messages.modify 5, history 2 ...):
        # 20/s is beyond it, so the emulator counts units without refusing them (reported as
        # ``quota_peak_units_per_min``) unless --google-quota keeps Google's limits.
        from workspace_emulator.quota import QuotaConfig, quota_book

        quota_book(emulator.state).configure(
            QuotaConfig(mode="default" if args.google_quota else "off")
        )

        # A connected account, stored the way the accounts service stores one.
        user_email = "bench.owner@example.com"
        state = emulator.state
        state.add_user(user_email)
        oauth.register_client(
            state, settings.google.client_id, settings.google.client_secret.get_secret_value()
        )
        scopes = ["https://www.googleapis.com/auth/gmail.modify", "openid", "email"]
        tokens = oauth.issue_tokens(state, user_email, scopes, client_id=settings.google.client_id)
        cipher = TokenCipher([k.get_secret_value() for k in settings.encryption_keys])
        with sessions.begin() as s:
            user = User(email=user_email)
            s.add(user)
            s.flush()
            account = GoogleAccount(
                user_id=user.id,
                google_sub=state.users[user_email].sub,
                email=user_email,
                scopes=scopes,
                access_token_enc=cipher.encrypt(tokens["access_token"]),
                refresh_token_enc=cipher.encrypt(tokens["refresh_token"]),
                token_expires_at=_now() + timedelta(seconds=int(tokens["expires_in"])),
                status="active",
            )
            s.add(account)
            s.flush()
            account_id = account.id

        # Every name the pipeline enqueues must be known here (the inline runtime loads them
        # itself; the sync below feeds the pipeline through ``pipeline.entry``).
        from secretary.worker import registry

        registry.load_all()
        tier = load_tier(args.tier, settings)
        tier_spec = args.tier
        if tier is None:
            tier_spec = "tests.triage.tiers:KeywordTier"
            tier = load_tier(tier_spec, settings)
            tier_note = "keyword (local tier unavailable: no trained model)"
        else:
            tier_note = getattr(tier, "name", type(tier).__name__)

        # The runtime.
        if subprocess_mode:
            from secretary.worker.dispatch import set_backend

            env = dict(os.environ)
            env.update(
                {
                    "SECRETARY_ENV": "test",
                    "SECRETARY_HOME": str(home),
                    "SECRETARY_DATABASE_URL": url,
                    "SECRETARY_LOG_LEVEL": "WARNING",
                    "SECRETARY_GOOGLE__API_BASE_URL": emulator.base_url,
                    "SECRETARY_GOOGLE__OAUTH_BASE_URL": emulator.base_url,
                    "SECRETARY_GOOGLE__QUOTA_UNITS_PER_MINUTE": "1000000",
                    "PYTHONPATH": str(ROOT),
                }
            )
            for key, value in settings.worker.model_dump().items():
                env[f"SECRETARY_WORKER__{key.upper()}"] = str(value)
            if args.runtime == "celery":
                from secretary.worker.backends.celery import create_celery_app

                app = create_celery_app(settings)
                backend = app.conf.secretary_backend
                set_backend(backend)
            workers = Workers(
                args.runtime,
                args.workers,
                env,
                tier_spec,
                pool=args.celery_pool,
                concurrency=args.concurrency if args.concurrency_given else None,
            )
            workers.start()
        else:
            from secretary.worker.backends.inline import InlineBackend
            from secretary.worker.dispatch import set_backend

            runtime = compose(settings, sessions=sessions, tier=tier).runtime
            runtime.chain = not args.no_chain
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, daemon=True).start()
            backend = InlineBackend(runtime, concurrency=args.concurrency)
            asyncio.run_coroutine_threadsafe(backend.start(), loop).result(30)
            set_backend(backend)

        from secretary import pipeline

        on_stored = pipeline.entry(settings)
        if args.no_index:  # diagnosis: start only the message's own chain, no search.index
            from secretary.triage.service import enqueue_new_messages

            def on_stored(session: Any, account: int, message_ids: list[int]) -> None:
                enqueue_new_messages(session, account, message_ids, settings=settings)

        sync = GmailSync(sessions, account_id, settings, on_stored=on_stored)
        sync.run()  # baseline: empty mailbox, history cursor set

        # Push → sync loop, coalescing pushes that arrive while a sync runs.
        wake = threading.Event()
        done_pushing = threading.Event()
        sync_errors: list[str] = []
        sync_cpu = [0.0]

        def sync_loop() -> None:
            while not (done_pushing.is_set() and not wake.is_set()):
                if not wake.wait(0.2):
                    continue
                wake.clear()
                cpu_started = time.thread_time()
                try:
                    sync.run()
                except Exception as exc:
                    sync_errors.append(type(exc).__name__)
                sync_cpu[0] += time.thread_time() - cpu_started
            cpu_started = time.thread_time()
            sync.run()  # a last pass, as the safety poll would
            sync_cpu[0] += time.thread_time() - cpu_started

        syncer = threading.Thread(target=sync_loop, daemon=True)
        syncer.start()

        if subprocess_mode:  # let workers boot before the clock starts
            _wait_for_workers(settings, args.runtime, args.workers, sessions)

        mailbox = state.users[user_email].mailbox
        # Warm-up mail, out of the measurement: Celery pool processes compose and load the
        # model beside their first tasks, so the clock starts once every slot has run.
        warmup = args.warmup if args.warmup is not None else (4 if not subprocess_mode else 0)
        if subprocess_mode and args.warmup is None:
            warmup = 4 * args.concurrency * args.workers
        for i in range(warmup):
            mailbox.add_message(_raw(10_000 + i, user_email, rng), label_ids={"INBOX", "UNREAD"})
            wake.set()
        warm_deadline = time.monotonic() + 180
        while warmup and time.monotonic() < warm_deadline:
            with sessions() as s:
                labelled = s.scalar(
                    select(func.count())
                    .select_from(TriageResult)
                    .where(TriageResult.labels_applied_at.is_not(None))
                )
            if (labelled or 0) >= warmup:
                break
            time.sleep(0.2)
        pushed_at: dict[str, Any] = {}
        kills: list[str] = []
        kill_at = sorted(
            rng.uniform(0.1, 0.9) * args.messages / args.rate for _ in range(args.kill)
        )
        meter = CpuMeter(home)
        meter.workers = workers

        def db_counters() -> dict[str, int]:
            with admin.connect() as conn:
                row = conn.execute(
                    text(
                        "select xact_commit, xact_rollback, sessions from pg_stat_database"
                        " where datname = :d"
                    ),
                    {"d": name},
                ).one()
            return {"commits": row[0], "rollbacks": row[1], "sessions": row[2]}

        db_before = db_counters()
        from prometheus_client import REGISTRY

        def stage_cpu() -> dict[str, float]:
            out: dict[str, float] = {}
            for metric in REGISTRY.collect():
                if metric.name != "secretary_task_stage_cpu_seconds":
                    continue
                for sample in metric.samples:
                    if sample.name.endswith("_total"):
                        out[sample.labels["task"]] = sample.value
            return out

        stage_cpu_before = stage_cpu()
        profiler = Profiler(args.profile) if args.profile else None
        meter.start()
        started = time.perf_counter()
        for i in range(args.messages):
            due = started + i / args.rate
            while kill_at and time.perf_counter() - started >= kill_at[0] and workers:
                kill_at.pop(0)
                kills.append(workers.kill_random(rng))
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            stored = mailbox.add_message(_raw(i, user_email, rng), label_ids={"INBOX", "UNREAD"})
            pushed_at[stored.id] = _now()
            wake.set()
        done_pushing.set()
        feed_seconds = time.perf_counter() - started

        # Wait for every message to finish the pipeline (labelled = last stage).
        deadline = time.monotonic() + args.timeout
        finished = 0
        while time.monotonic() < deadline:
            with sessions() as s:
                finished = (
                    s.scalar(
                        select(func.count())
                        .select_from(TriageResult)
                        .where(TriageResult.labels_applied_at.is_not(None))
                    )
                    or 0
                )
                active = (
                    s.scalar(
                        select(func.count())
                        .select_from(TaskRecord)
                        .where(TaskRecord.status.in_(["queued", "running", "retrying"]))
                    )
                    or 0
                )
            if finished >= args.messages + warmup and active == 0:
                break
            time.sleep(0.25)
        wall = time.perf_counter() - started
        syncer.join(10)
        cpu = meter.per_message_ms(args.messages)
        db_after = db_counters()
        postgres_per_message: dict[str, float] = {
            k: round((db_after[k] - db_before[k]) / args.messages, 2)
            for k in ("commits", "rollbacks")
        }
        postgres_per_message["sessions_started"] = db_after["sessions"] - db_before["sessions"]
        if profiler is not None:
            profiler.stop()
        stage_cpu_after = stage_cpu()
        stage_cpu_ms = {
            name.rsplit(".", 1)[-1]: round(
                1000 * (value - stage_cpu_before.get(name, 0.0)) / args.messages, 2
            )
            for name, value in stage_cpu_after.items()
        }
        stage_cpu_ms["sync"] = round(1000 * sync_cpu[0] / args.messages, 2)

        with sessions() as s:
            rows = s.execute(
                select(Message.gmail_id, Draft.gmail_synced_at)
                .join(Draft, Draft.message_id == Message.id)
                .where(Draft.gmail_synced_at.is_not(None))
            ).all()
            stored_count = s.scalar(select(func.count()).select_from(Message)) or 0
            classify_per_message = s.execute(
                select(TaskRecord.message_id, func.count())
                .where(TaskRecord.name == "triage.classify")
                .group_by(TaskRecord.message_id)
            ).all()
            statuses = dict(
                s.execute(select(TaskRecord.status, func.count()).group_by(TaskRecord.status)).all()
            )
            categories = dict(
                s.execute(
                    select(TriageResult.category, func.count()).group_by(TriageResult.category)
                ).all()
            )
            stage_rows = s.execute(
                select(
                    Message.gmail_id,
                    TaskRecord.name,
                    TaskRecord.created_at,
                    TaskRecord.dispatched_at,
                    TaskRecord.started_at,
                    TaskRecord.finished_at,
                ).join(Message, Message.id == TaskRecord.message_id)
            ).all()
            attempts = s.scalar(select(func.sum(TaskRecord.attempts))) or 0
            records = s.scalar(select(func.count()).select_from(TaskRecord)) or 0
        latencies = [
            (synced - pushed_at[gid]).total_seconds() for gid, synced in rows if gid in pushed_at
        ]
        # Where the time goes (medians): push → task record committed by sync, then per
        # stage the wait in the queue and the run itself.
        breakdown: dict[str, list[float]] = {}
        for gid, task_name, created, dispatched, began, ended in stage_rows:
            if gid not in pushed_at or not (dispatched and began and ended):
                continue
            stage = task_name.rsplit(".", 1)[-1]
            if task_name == "triage.classify":
                # created_at is the storing transaction's start (sync committed soon after).
                breakdown.setdefault("sync", []).append((created - pushed_at[gid]).total_seconds())
            breakdown.setdefault(f"{stage}_wait", []).append((began - dispatched).total_seconds())
            breakdown.setdefault(f"{stage}_run", []).append((ended - began).total_seconds())
        stages = {k: round(statistics.median(v), 4) for k, v in breakdown.items() if v}
        with mailbox.lock:
            threads: dict[str, int] = {}
            for msg_id in mailbox.drafts.values():
                tid = mailbox.messages[msg_id].thread_id
                threads[tid] = threads.get(tid, 0) + 1
        duplicates = sum(n - 1 for n in threads.values() if n > 1)
        result = {
            "runtime": args.runtime,
            "broker": args.broker if args.runtime == "celery" else None,
            "worker_processes": args.workers if subprocess_mode else 0,
            "celery_pool": args.celery_pool if args.runtime == "celery" else None,
            "slots_per_worker": args.concurrency,
            "tier": tier_note,
            "messages": args.messages,
            "warmup_messages": warmup,
            "rate_per_s": args.rate,
            "stored": stored_count,
            "finished": finished,
            "drafts": len(threads),
            "duplicates": duplicates,
            "p50_s": round(statistics.median(latencies), 4) if latencies else None,
            "p90_s": round(_percentile(latencies, 0.90), 4) if latencies else None,
            "p99_s": round(_percentile(latencies, 0.99), 4) if latencies else None,
            "max_s": round(max(latencies), 4) if latencies else None,
            "classified_once": len(classify_per_message) == args.messages + warmup
            and all(n == 1 for _m, n in classify_per_message),
            "stages_p50_s": stages,
            "categories": categories,
            "task_status": statuses,
            "stuck": sum(statuses.get(k, 0) for k in ("queued", "running", "retrying")),
            "dead": statuses.get("dead", 0),
            "extra_attempts": int(attempts) - int(records),
            "kills": kills,
            "sync_errors": len(sync_errors),
            "quota": {
                "mode": quota_book(state).stats()["mode"],
                **quota_book(state).stats()["users"].get(user_email, {}),
            },
            "cpu_per_message_ms": cpu,
            "postgres_per_message": postgres_per_message,
            "stage_cpu_per_message_ms": stage_cpu_ms if not subprocess_mode else None,
            "load_avg_1m": round(os.getloadavg()[0], 2),
            "feed_s": round(feed_seconds, 2),
            "wall_s": round(wall, 2),
        }
        print(json.dumps(result))
        ok = (
            duplicates == 0
            and result["classified_once"]
            and result["stuck"] == 0
            and finished >= args.messages + warmup
        )
        return 0 if ok else 1
    finally:
        if workers is not None:
            workers.stop()
        if loop is not None and backend is not None:
            asyncio.run_coroutine_threadsafe(backend.stop(), loop).result(30)
            loop.call_soon_threadsafe(loop.stop)
        if args.runtime == "celery" and backend is not None:
            with contextlib.suppress(Exception), backend.app.connection_for_write() as conn:
                for q in ("default", "priority", "batch"):
                    conn.default_channel.queue_delete(prefix + q)
        emulator.stop()
        if args.keep:
            sys.stderr.write(f"kept database {url}\n")
        else:
            with contextlib.suppress(Exception), admin.connect() as conn:
                conn.execute(text(f'drop database if exists "{name}" with (force)'))
        admin.dispose()


if __name__ == "__main__":
    sys.exit(main())
