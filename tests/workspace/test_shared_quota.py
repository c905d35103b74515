"""The per-user quota is shared by every process (issue #8 §4).

Two worker processes call the same user's Calendar with four threads each against the
emulator's quota (2 requests in flight per user, 600 units a minute). With the shared
(PostgreSQL) governor they get zero 429s together; with per-process governors the same
workload is refused (the control run), so the test measures the sharing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker
from workspace_emulator.faults import EndpointFaults, FaultConfig, fault_injector
from workspace_emulator.quota import QuotaConfig, quota_book

from secretary.config import Settings
from secretary.db.models import QuotaBucket
from secretary.google import shared_quota
from secretary.google.shared_quota import SharedQuotaGovernor
from tests.sync.conftest import Connected

ROOT = Path(__file__).resolve().parents[2]
LIMIT = 600
CONCURRENT = 2


def _run_two(workspace: Connected, tmp_path: Path, *, shared: bool) -> list[dict[str, int]]:
    settings = workspace.settings
    env = dict(os.environ)
    env.update(
        {
            "SECRETARY_ENV": "test",
            "SECRETARY_HOME": str(settings.home),  # the same home: the same dev encryption key
            "SECRETARY_DATABASE_URL": str(settings.database_url),
            "SECRETARY_GOOGLE__API_BASE_URL": str(settings.google.api_base_url),
            "SECRETARY_GOOGLE__OAUTH_BASE_URL": str(settings.google.oauth_base_url),
            "SECRETARY_GOOGLE__QUOTA_UNITS_PER_MINUTE": str(LIMIT),
            "SECRETARY_GOOGLE__MAX_CONCURRENT_REQUESTS": str(CONCURRENT),
            "SECRETARY_GOOGLE__QUOTA_SHARED": "true" if shared else "false",
            "SECRETARY_LOG_LEVEL": "WARNING",
        }
    )
    env.pop("DATABASE_URL", None)
    cmd = [
        sys.executable,
        "-m",
        "tests.workspace.quota_worker",
        str(workspace.account_id),
        "4",
        "8",
    ]
    children = [
        subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    for child in children:  # both built their clients: start them at the same moment
        assert child.stdout is not None
        line = child.stdout.readline()
        if line.strip() != "ready":
            _, err = child.communicate(timeout=60)
            raise AssertionError(err[-2000:])
    for child in children:
        assert child.stdin is not None
        child.stdin.write("go\n")
        child.stdin.flush()
    out = []
    for child in children:
        stdout, stderr = child.communicate(timeout=240)
        assert child.returncode == 0, stderr[-2000:]
        out.append(json.loads(stdout))
    return out


@pytest.fixture
def tight_quota(workspace: Connected) -> Connected:
    emu = workspace.emulator.state
    quota_book(emu).configure(
        QuotaConfig(mode="custom", units_per_minute=LIMIT, max_concurrent=CONCURRENT)
    )
    # Each call holds its slot a while, so more than two in flight would overlap.
    fault_injector(emu).configure(
        FaultConfig(endpoints={"calendar.calendarList.list": EndpointFaults(latency_ms=100)})
    )
    return workspace


def test_two_processes_share_one_users_quota(tight_quota: Connected, tmp_path: Path) -> None:
    emu, email = tight_quota.emulator.state, tight_quota.email
    results = _run_two(tight_quota, tmp_path, shared=True)
    usage = quota_book(emu).stats()["users"][email]
    print(f"shared: {results}; emulator: {usage}")
    assert sum(r["requests"] for r in results) == 64 + 2  # and one warm-up call each
    assert usage["http_429"] == 0
    assert usage["rejected_concurrency"] == 0
    assert usage["rejected_rate"] == 0
    assert usage["peak_in_flight"] <= CONCURRENT
    assert usage["peak_window_units"] <= LIMIT


def test_per_process_quota_would_be_exceeded(tight_quota: Connected, tmp_path: Path) -> None:
    """The control: the same two processes with per-process governors get 429s."""
    emu, email = tight_quota.emulator.state, tight_quota.email
    results = _run_two(tight_quota, tmp_path, shared=False)
    usage = quota_book(emu).stats()["users"][email]
    print(f"per-process: {results}; emulator: {usage}")
    assert usage["rejected_concurrency"] > 0


def test_shared_bucket_refills_at_the_documented_rate(
    sessions: sessionmaker[Session], settings: Settings
) -> None:
    shared = settings.model_copy(
        update={"google": settings.google.model_copy(update={"quota_shared": True})}
    )
    gov = SharedQuotaGovernor("bucket-test", 2400, 3, settings=shared)
    assert gov.max_batch_cost == 100
    for _ in range(3):
        with gov.slot(30):
            pass
    with sessions() as session:
        tokens = session.scalar(
            select(QuotaBucket.tokens).where(QuotaBucket.user_key == "google:bucket-test")
        )
    assert tokens is not None
    assert 10 <= tokens < 100  # 100 - 90 plus a little refill
    assert gov.stats.units_charged == 90
    # The parked lease goes back to the other processes by itself once idle.
    assert _leases_drain(sessions, "google:bucket-test")


def _leases_drain(sessions: sessionmaker[Session], key: str, within: float = 10.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        with sessions() as session:
            live = session.scalar(
                text("select count(*) from quota_leases where user_key = :k"), {"k": key}
            )
        if live == 0:
            return True
        time.sleep(0.02)
    return False


def test_calls_in_quick_succession_share_round_trips(
    sessions: sessionmaker[Session], settings: Settings
) -> None:
    """A busy process reuses its lease and a small reserve of units: far fewer round trips
    than two per call, and never more units taken than the calls were charged plus one
    reserve."""
    shared = settings.model_copy(
        update={"google": settings.google.model_copy(update={"quota_shared": True})}
    )
    gov = SharedQuotaGovernor("reuse-test", 24_000, 3, settings=shared)  # bucket 1000 units
    for _ in range(40):
        with gov.slot(5):
            pass
    assert gov.stats.units_charged == 200
    assert gov.round_trips <= 12, gov.round_trips  # 80 before
    with sessions() as session:
        tokens = session.scalar(
            select(QuotaBucket.tokens).where(QuotaBucket.user_key == "google:reuse-test")
        )
        live = session.scalar(
            text("select count(*) from quota_leases where user_key = 'google:reuse-test'")
        )
    assert tokens is not None
    assert tokens >= 1000 - 200 - 50  # what was charged, and at most one reserve unspent
    assert live == 1  # one lease served every call
    assert _leases_drain(sessions, "google:reuse-test")


def test_a_busy_process_gives_its_lease_back_in_turn(
    sessions: sessionmaker[Session], settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Calls that keep coming do not keep one lease for ever: after LEASE_REUSE_SECONDS it
    is deleted and a new one taken, so other processes waiting for a slot get their turn."""
    monkeypatch.setattr(shared_quota, "LEASE_REUSE_SECONDS", 0.1)
    shared = settings.model_copy(
        update={"google": settings.google.model_copy(update={"quota_shared": True})}
    )
    gov = SharedQuotaGovernor("turn-test", 24_000, 1, settings=shared)
    seen: set[int] = set()
    deadline = time.monotonic() + 10
    with sessions() as session:
        while len(seen) < 3 and time.monotonic() < deadline:
            with gov.slot(1):
                ids = session.scalars(
                    text("select id from quota_leases where user_key = 'google:turn-test'")
                ).all()
                session.rollback()
            assert len(ids) == 1  # the limit is one: the old lease is gone before a new one
            seen.update(ids)
    assert len(seen) >= 3
    assert _leases_drain(sessions, "google:turn-test")


def test_a_charge_survives_connections_the_server_dropped(
    sessions: sessionmaker[Session], settings: Settings
) -> None:
    """A restart or failover kills the pool's idle connections: the next charge is taken
    once, on a fresh connection, instead of failing the Google call it guards."""
    shared = settings.model_copy(
        update={"google": settings.google.model_copy(update={"quota_shared": True})}
    )
    gov = SharedQuotaGovernor("dropped-test", 2400, 3, settings=shared)
    gov.charge(5)  # the pool now holds an idle connection
    with sessions() as session, session.begin():
        killed = session.scalar(
            text(
                "select count(pg_terminate_backend(pid)) from pg_stat_activity "
                "where datname = current_database() and pid <> pg_backend_pid() "
                "and state = 'idle' and application_name = ''"
            )
        )
    assert killed
    gov.charge(5)
    assert gov.stats.units_charged == 10
