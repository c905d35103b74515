"""Calendar and Drive sync under the Gmail fault schedule (issue #8 acceptance).

The emulator injects 10% 429 and 10% 5xx on every Calendar and Drive method, expires the
access token once, expires every Calendar sync token once and the Drive change token once,
while events and files are added, edited, cancelled, trashed and deleted during the syncs.
A driver thread syncs both services round after round; the test waits on its progress.
Afterwards the store equals the emulator exactly (every calendar, every file, the expanded
occurrences) and no quota was exceeded (the only 429s are injected ones).
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from workspace_emulator.drive_store import DOC
from workspace_emulator.faults import (
    EndpointFaults,
    FaultConfig,
    expire_access_tokens,
    expire_calendar_sync_tokens,
    expire_drive_page_tokens,
    fault_injector,
)
from workspace_emulator.quota import quota_book

from secretary.db.models import AuditLog, DriveFile
from secretary.sync.calendar import sync_calendar
from secretary.sync.drive import sync_drive
from tests.sync.conftest import Connected
from tests.workspace.conftest import (
    emulator_events,
    emulator_files,
    emulator_instances,
    seed_calendars,
    seed_drive,
    store_events,
    store_files,
    store_instances,
)


class Driver:
    """Syncs Calendar and Drive in a loop on its own thread; counts completed rounds."""

    def __init__(self, run: Callable[[], None]) -> None:
        self.rounds = 0
        self.errors: list[BaseException] = []
        self._run = run
        self._stop = threading.Event()
        self._cond = threading.Condition()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._run()
            except Exception as exc:
                self.errors.append(exc)
            with self._cond:
                self.rounds += 1
                self._cond.notify_all()

    def wait_rounds(self, n: int, timeout: float = 120) -> None:
        """Wait until ``n`` more rounds have completed (progress, not a fixed sleep)."""
        with self._cond:
            target = self.rounds + n
            assert self._cond.wait_for(lambda: self.rounds >= target, timeout), "sync stalled"

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(120)


def _edit_calendars(emu: Any, email: str, rng: random.Random, round_: int) -> None:
    store = emu.users[email].calendar
    with emu.lock:
        cals = list(store.calendars)
        cal = cals[round_ % len(cals)]
        live = [
            e
            for e in store.events[cal].values()
            if not e.cancelled and not e.body.get("recurringEventId")
        ]
        start = datetime.now(UTC) + timedelta(days=rng.randint(-200, 1200), hours=3)
        store.insert_event(
            cal,
            {
                "summary": f"Added during sync {round_}",
                "start": {"dateTime": start.isoformat()},
                "end": {"dateTime": (start + timedelta(hours=1)).isoformat()},
            },
        )
        singles = [e for e in live if not e.body.get("recurrence")]
        series = [e for e in live if e.body.get("recurrence")]
        if singles:
            store.patch_event(cal, rng.choice(singles).id, {"summary": f"Edited {round_}"})
            store.delete_event(cal, rng.choice(singles).id)
        if series:
            master = rng.choice(series)
            items = store.instances(cal, master.id, {})["items"]
            if len(items) > 6:
                store.delete_event(cal, items[rng.randint(3, len(items) - 1)]["id"])
                store.patch_event(cal, items[3]["id"], {"location": f"Moved {round_}"})


def _edit_drive(emu: Any, email: str, rng: random.Random, round_: int) -> None:
    drive = emu.users[email].drive
    with emu.lock:
        ids = sorted(drive.files)
        docs = [f for f in ids if drive.files[f].meta["mimeType"] == DOC]
        drive.add_file(f"During sync {round_}", DOC, doc_text=f"fresh {round_}")
        if docs:
            drive.update_file(rng.choice(docs), doc_text=f"rewritten in round {round_}")
        drive.trash_file(rng.choice(ids))
        drive.delete_file(rng.choice([f for f in ids if f in drive.files]))


def test_calendar_and_drive_equal_the_emulator_under_faults(
    sessions: sessionmaker[Session], workspace: Connected
) -> None:
    emu, email = workspace.emulator.state, workspace.email
    seed_calendars(emu, email, calendars=4, events=300, seed=17)
    seed_drive(emu, email, files=150, seed=19)
    fault_injector(emu).configure(
        FaultConfig(
            seed=23,
            endpoints={
                "calendar.*": EndpointFaults(
                    error_429=0.10, error_500=0.05, error_503=0.05, latency_ms=5
                ),
                "drive.*": EndpointFaults(
                    error_429=0.10, error_500=0.05, error_503=0.05, latency_ms=5
                ),
            },
        )
    )
    settings = workspace.settings.model_copy(
        update={
            "sync": workspace.settings.sync.model_copy(
                update={"calendar_page_size": 40, "drive_page_size": 40}
            )
        }
    )

    def one_round() -> None:
        sync_calendar(sessions, workspace.account_id, settings)
        sync_drive(sessions, workspace.account_id, settings)

    driver = Driver(one_round)
    rng = random.Random(29)
    lo = datetime.now(UTC) - timedelta(days=300)
    hi = datetime.now(UTC) + timedelta(days=700)
    try:
        driver.thread.start()
        # Changes while the initial syncs run (the first round is still listing).
        for round_ in range(4):
            _edit_calendars(emu, email, rng, round_)
            _edit_drive(emu, email, rng, round_)
            if round_ == 1:
                expire_access_tokens(emu, email)
        driver.wait_rounds(1)
        # Both in incremental mode now: expire the cursors once, with changes behind them.
        expire_calendar_sync_tokens(emu, email)
        expire_drive_page_tokens(emu, email)
        for round_ in range(4, 8):
            _edit_calendars(emu, email, rng, round_)
            _edit_drive(emu, email, rng, round_)
            driver.wait_rounds(1)
        fault_injector(emu).configure(FaultConfig())  # let the last rounds settle
        driver.wait_rounds(2)
    finally:
        driver.stop()
    assert not driver.errors, driver.errors

    assert store_events(sessions, workspace.account_id) == emulator_events(emu, email)
    assert store_instances(sessions, workspace.account_id, lo, hi) == emulator_instances(
        emu, email, lo, hi
    )
    assert store_files(sessions, workspace.account_id) == emulator_files(emu, email)
    with sessions() as session:
        pending = session.scalar(
            select(func.count()).where(
                DriveFile.account_id == workspace.account_id, DriveFile.text_state == "pending"
            )
        )
        assert pending == 0
        actions = session.scalars(
            select(AuditLog.action).where(AuditLog.account_id == workspace.account_id)
        ).all()
    # One full listing per calendar for the expired sync tokens, one for Drive; no loop.
    assert actions.count("calendar_full_resync") == 4
    assert actions.count("drive_full_resync") == 1

    injected = fault_injector(emu).stats()
    quota = quota_book(emu).stats()["users"][email]
    print(f"injected faults: {injected}; emulator quota: {quota}")
    assert injected.get("http_429", 0) > 0
    assert injected.get("http_500", 0) + injected.get("http_503", 0) > 0
    assert injected.get("access_tokens_expired", 0) >= 1
    assert injected.get("calendar_sync_tokens_expired") == 1
    assert injected.get("drive_page_tokens_expired") == 1
    # No quota exceeded: the only 429s were injected ones.
    assert quota["rejected_rate"] == 0
    assert quota["rejected_concurrency"] == 0
