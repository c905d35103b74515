"""Worker processes for durability tests: started as real subprocesses, killed with SIGKILL."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

from secretary.config import Settings

ROOT = Path(__file__).resolve().parents[2]


def worker_env(
    settings: Settings, *, broker: str | None = None, prefix: str = ""
) -> dict[str, str]:
    env = dict(os.environ)
    w = settings.worker
    env.update(
        {
            "SECRETARY_ENV": "test",
            "SECRETARY_HOME": str(settings.home_path),
            "SECRETARY_DATABASE_URL": settings.database_url or "",
            "SECRETARY_LOG_LEVEL": "WARNING",
            "SECRETARY_WORKER__RETRY_BASE_SECONDS": str(w.retry_base_seconds),
            "SECRETARY_WORKER__RETRY_MAX_SECONDS": str(w.retry_max_seconds),
            "SECRETARY_WORKER__LEASE_SECONDS": str(w.lease_seconds),
            "SECRETARY_WORKER__STUCK_AFTER_SECONDS": str(w.stuck_after_seconds),
            "SECRETARY_WORKER__SWEEP_INTERVAL_SECONDS": str(w.sweep_interval_seconds),
            "SECRETARY_WORKER__QUEUE_PREFIX": prefix,
            "PYTHONPATH": str(ROOT),
        }
    )
    if broker:
        env["SECRETARY_WORKER__BROKER_URL"] = broker
    if settings.google.api_base_url:
        env["SECRETARY_GOOGLE__API_BASE_URL"] = settings.google.api_base_url
        env["SECRETARY_GOOGLE__OAUTH_BASE_URL"] = settings.google.oauth_base_url or ""
    return env


def start_worker(
    runtime: str,
    env: dict[str, str],
    *,
    concurrency: int = 2,
    include: tuple[str, ...] = ("tests.worker.tasks_for_tests",),
    tier: str | None = None,
    log: Path | None = None,
    pool: str | None = None,
) -> subprocess.Popen[bytes]:
    cmd = [
        sys.executable,
        "-m",
        "secretary",
        "worker",
        "--runtime",
        runtime,
        "--concurrency",
        str(concurrency),
        "--loglevel",
        "WARNING",
    ]
    if pool:
        cmd += ["--pool", pool]
    for module in include:
        cmd += ["--include", module]
    if tier:
        cmd += ["--tier", tier]
    out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 (closed with the process)
    return subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=out, stderr=out)


def children(proc: subprocess.Popen[bytes]) -> list[int]:
    try:
        return [c.pid for c in psutil.Process(proc.pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def kill9(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def kill_tree(proc: subprocess.Popen[bytes]) -> None:
    for pid in children(proc):
        kill9(pid)
    kill9(proc.pid)
    proc.wait(10)


def wait_for(predicate, timeout: float, interval: float = 0.1) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


def wait_for_progress(state, done, *, stall_seconds: float, interval: float = 0.25):  # type: ignore[no-untyped-def]
    """Wait until ``done(state())``; give up only when ``state()`` stops changing.

    A fixed deadline fails a slow but healthy run on a loaded machine and waits for
    nothing on a dead one; this fails after ``stall_seconds`` without any change and keeps
    waiting as long as work moves. Returns ``(finished, last_state)``.
    """
    last = state()
    changed_at = time.monotonic()
    while not done(last):
        if time.monotonic() - changed_at > stall_seconds:
            return False, last
        time.sleep(interval)
        now = state()
        if now != last:
            last, changed_at = now, time.monotonic()
    return True, last
