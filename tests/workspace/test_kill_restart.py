"""``kill -9`` in the middle of the initial Calendar and Drive syncs, then a restart.

The sync runs as ``python -m secretary sync --service ...`` in a child process against the
emulator (served from this process over real HTTP), with small pages and some latency so
the kill lands mid-listing; the restart must resume (not start over) and leave the store
equal to the emulator with no duplicate rows.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from workspace_emulator.faults import EndpointFaults, FaultConfig, fault_injector
from workspace_emulator.quota import QuotaConfig, quota_book

from secretary.db.models import Calendar, CalendarEvent, DriveFile, SyncState
from tests.sync.conftest import Connected
from tests.workspace.conftest import (
    emulator_events,
    emulator_files,
    seed_calendars,
    seed_drive,
    store_events,
    store_files,
)

ROOT = Path(__file__).resolve().parents[2]


def _env(connected: Connected, tmp_path: Path) -> dict[str, str]:
    settings = connected.settings
    env = dict(os.environ)
    env.update(
        {
            "SECRETARY_ENV": "test",
            "SECRETARY_HOME": str(settings.home),  # the same home: the same dev encryption key
            "SECRETARY_DATABASE_URL": str(settings.database_url),
            "SECRETARY_GOOGLE__API_BASE_URL": str(settings.google.api_base_url),
            "SECRETARY_GOOGLE__OAUTH_BASE_URL": str(settings.google.oauth_base_url),
            "SECRETARY_GOOGLE__QUOTA_UNITS_PER_MINUTE": "0",
            "SECRETARY_SYNC__CALENDAR_PAGE_SIZE": "25",
            "SECRETARY_SYNC__DRIVE_PAGE_SIZE": "25",
            "SECRETARY_LOG_LEVEL": "WARNING",
        }
    )
    env.pop("DATABASE_URL", None)
    return env


def _cmd(service: str, account_id: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "secretary",
        "sync",
        "--json",
        "--service",
        service,
        "--account",
        str(account_id),
    ]


def _count(sessions: sessionmaker[Session], model: type, account_id: int) -> int:
    with sessions() as session:
        return int(
            session.scalar(select(func.count()).where(model.account_id == account_id)) or 0  # type: ignore[attr-defined,arg-type]
        )


def _kill_when(child: subprocess.Popen[bytes], ready: object, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child.poll() is not None:
            break
        if ready():  # type: ignore[operator]
            break
        time.sleep(0.02)
    if child.poll() is not None:
        err = child.stderr.read().decode()[-8000:] if child.stderr else ""
        raise AssertionError(f"sync ended before the kill: {err}")
    os.kill(child.pid, signal.SIGKILL)
    child.wait(10)
    assert child.returncode == -signal.SIGKILL


def test_kill_9_mid_initial_calendar_sync_then_restart(
    sessions: sessionmaker[Session], workspace: Connected, tmp_path: Path
) -> None:
    emu, email = workspace.emulator.state, workspace.email
    seed_calendars(emu, email, calendars=2, events=600, seed=9)
    total = sum(len(v) for v in emulator_events(emu, email).values())
    quota_book(emu).configure(QuotaConfig(mode="off"))
    fault_injector(emu).configure(
        FaultConfig(endpoints={"calendar.events.list": EndpointFaults(latency_ms=60)})
    )
    env = _env(workspace, tmp_path)
    cmd = _cmd("calendar", workspace.account_id)
    child = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _kill_when(child, lambda: _count(sessions, CalendarEvent, workspace.account_id) >= 150)
    at_kill = _count(sessions, CalendarEvent, workspace.account_id)
    assert 0 < at_kill < total
    with sessions() as session:
        listing = session.scalars(
            select(Calendar).where(Calendar.account_id == workspace.account_id, Calendar.listing)
        ).all()
        assert listing, "the kill should land during a listing"
        assert any(c.page_token for c in listing), "a listing should be mid-way (page token)"

    fault_injector(emu).configure(FaultConfig())
    # The restart syncs every service the account granted (no --service): one summary with
    # Gmail's fields at the top and each other service under its name.
    everything = [c for c in cmd if c not in ("--service", "calendar")]
    done = subprocess.run(
        everything, cwd=ROOT, env=env, capture_output=True, timeout=180, check=False
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    summary = json.loads(done.stdout)
    assert summary["account"] == workspace.account_id
    assert summary["phase"] == "incremental"  # Gmail (an empty mailbox)
    assert summary["drive"]["phase"] == "incremental"
    report = summary["calendar"]
    assert report["phase"] == "incremental"
    # Resumed at the next page: it wrote what was left, not everything again.
    assert report["changed"] <= total - at_kill + 25
    assert report["full_syncs"] == 0
    assert store_events(sessions, workspace.account_id) == emulator_events(emu, email)
    with sessions() as session:
        rows, distinct = session.execute(
            select(func.count(), func.count(func.distinct(CalendarEvent.google_id))).where(
                CalendarEvent.account_id == workspace.account_id
            )
        ).one()
        assert rows == distinct == total
        state = session.scalars(
            select(SyncState).where(
                SyncState.account_id == workspace.account_id, SyncState.service == "calendar"
            )
        ).one()
        assert state.phase == "incremental"


def test_kill_9_mid_initial_drive_sync_then_restart(
    sessions: sessionmaker[Session], workspace: Connected, tmp_path: Path
) -> None:
    emu, email = workspace.emulator.state, workspace.email
    seed_drive(emu, email, files=400, seed=13)
    total = len(emulator_files(emu, email))
    quota_book(emu).configure(QuotaConfig(mode="off"))
    fault_injector(emu).configure(
        FaultConfig(endpoints={"drive.files.list": EndpointFaults(latency_ms=60)})
    )
    env = _env(workspace, tmp_path)
    cmd = _cmd("drive", workspace.account_id)
    child = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _kill_when(child, lambda: _count(sessions, DriveFile, workspace.account_id) >= 100)
    at_kill = _count(sessions, DriveFile, workspace.account_id)
    assert 0 < at_kill < total
    with sessions() as session:
        state = session.scalars(
            select(SyncState).where(
                SyncState.account_id == workspace.account_id, SyncState.service == "drive"
            )
        ).one()
        assert state.phase == "initial"
        assert state.progress.get("page_token")

    fault_injector(emu).configure(FaultConfig())
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    report = json.loads(done.stdout)["drive"]
    assert report["phase"] == "incremental"
    assert report["changed"] <= total - at_kill + 25  # resumed, not listed again
    assert store_files(sessions, workspace.account_id) == emulator_files(emu, email)
    with sessions() as session:
        rows, distinct, pending = session.execute(
            select(
                func.count(),
                func.count(func.distinct(DriveFile.google_id)),
                func.count().filter(DriveFile.text_state == "pending"),
            ).where(DriveFile.account_id == workspace.account_id)
        ).one()
        assert rows == distinct == total
        assert pending == 0
