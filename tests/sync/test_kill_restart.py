"""Acceptance 3: ``kill -9`` in the middle of an initial sync, then a restart (issue #2).

The sync runs as ``python -m secretary sync`` in a child process against the emulator
(served from this process over real HTTP); we SIGKILL it once some batches are committed,
restart it, and check: no duplicate rows, no gaps, labels and thread ids equal the mailbox,
and the restart resumed (fetched only what was left) instead of starting over.
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

from secretary.db.models import Attachment, Message, SyncState
from tests.sync.conftest import Connected, mailbox_snapshot, seed_mailbox, store_snapshot

ROOT = Path(__file__).resolve().parents[2]


def _child_env(connected: Connected, tmp_path: Path) -> dict[str, str]:
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
            "SECRETARY_LOG_LEVEL": "WARNING",
        }
    )
    env.pop("DATABASE_URL", None)
    return env


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def _fetched(sessions: sessionmaker[Session], account_id: int) -> int:
    with sessions() as session:
        return int(
            session.scalar(
                select(func.count()).where(
                    Message.account_id == account_id, Message.body_fetched_at.is_not(None)
                )
            )
            or 0
        )


def test_kill_9_mid_initial_sync_then_restart(
    sessions: sessionmaker[Session], connected: Connected, tmp_path: Path
) -> None:
    emu = connected.emulator.state
    seed_mailbox(emu, connected.email, singles=2400, threads=100, per_thread=3, seed=21)
    total = len(emu.users[connected.email].mailbox.messages)
    # Quotas are acceptance 2's subject; here they would only make the test wait.
    quota_book(emu).configure(QuotaConfig(mode="off"))
    # Slow the fetches a little so the kill lands mid-backfill.
    fault_injector(emu).configure(
        FaultConfig(endpoints={"gmail.users.messages.get": EndpointFaults(latency_ms=4)})
    )
    cmd = [
        sys.executable,
        "-m",
        "secretary",
        "sync",
        "--json",
        "--account",
        str(connected.account_id),
    ]
    env = _child_env(connected, tmp_path)
    child = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 60
    killed_at = 0
    while time.monotonic() < deadline:
        killed_at = _fetched(sessions, connected.account_id)
        if killed_at >= 300 or child.poll() is not None:
            break
        time.sleep(0.05)
    assert child.poll() is None, "sync ended before the kill"
    helpers = _children(child.pid)  # the parsing process of a big backfill
    assert helpers, "expected the backfill's parsing process to be running"
    os.kill(child.pid, signal.SIGKILL)
    child.wait(10)
    assert child.returncode == -signal.SIGKILL
    deadline = time.monotonic() + 5
    while any(Path(f"/proc/{pid}").exists() for pid in helpers):
        assert time.monotonic() < deadline, "the parsing process outlived the killed sync"
        time.sleep(0.1)
    after_kill = _fetched(sessions, connected.account_id)
    assert 0 < after_kill < total
    with sessions() as session:
        state = session.scalars(
            select(SyncState).where(SyncState.account_id == connected.account_id)
        ).one()
        assert state.phase == "initial"
        assert state.progress.get("stage") == "fetching"

    fault_injector(emu).configure(FaultConfig())
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    report = json.loads(done.stdout)
    assert report["phase"] == "incremental"
    # Resumed: the restart fetched what was left, not everything again.
    assert report["fetched"] <= total - after_kill
    assert report["fetched"] >= total - after_kill - 50  # rows committed during the kill race

    assert store_snapshot(sessions, connected.account_id) == mailbox_snapshot(emu, connected.email)
    with sessions() as session:
        rows, distinct = session.execute(
            select(func.count(), func.count(func.distinct(Message.gmail_id))).where(
                Message.account_id == connected.account_id
            )
        ).one()
        assert rows == distinct == total
        assert _fetched(sessions, connected.account_id) == total
        dup_attachments = session.scalar(
            select(func.count()).select_from(
                select(Attachment.message_id, Attachment.filename)
                .where(Attachment.account_id == connected.account_id)
                .group_by(Attachment.message_id, Attachment.filename)
                .having(func.count() > 1)
                .subquery()
            )
        )
        assert dup_attachments == 0
