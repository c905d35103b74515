"""Internal attendees' busy time through freebusy.query (split into Google's limits).

The emulator serves freebusy for the caller's own calendars only, so a colleague's calendar
is stood in for by a recording fake of the Calendar port (the port is the boundary)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from secretary.config import Settings
from secretary.scheduling import calendar_api, slots
from tests.scheduling.conftest import Owner

START = datetime(2027, 3, 1, tzinfo=UTC)


class RecordingCalendar:
    def __init__(self, busy: dict[str, list[tuple[datetime, datetime]]], *, fail: bool = False):
        self.busy = busy
        self.fail = fail
        self.calls: list[tuple[list[str], datetime, datetime]] = []

    def freebusy(
        self, calendar_ids: Sequence[str], time_min: datetime, time_max: datetime
    ) -> dict[str, Any]:
        if self.fail:
            raise RuntimeError("Google is down")
        self.calls.append((list(calendar_ids), time_min, time_max))
        return {
            "calendars": {
                c: {
                    "busy": [
                        {"start": s.isoformat(), "end": e.isoformat()}
                        for s, e in self.busy.get(c, [])
                        if s < time_max and e > time_min
                    ]
                }
                for c in calendar_ids
            }
        }


@pytest.fixture
def port(sessions: sessionmaker[Session]) -> Iterator[RecordingCalendar]:
    fake = RecordingCalendar({})
    key = id(sessions)
    calendar_api._factories[key] = lambda _session, _account: fake  # type: ignore[assignment,return-value]
    try:
        yield fake
    finally:
        calendar_api._factories.pop(key, None)


def test_only_internal_attendees_are_queried_in_allowed_windows(
    sessions: sessionmaker[Session], settings: Settings, owner: Owner, port: RecordingCalendar
) -> None:
    colleague = f"bob@{owner.email.rpartition('@')[2]}"
    port.busy[colleague] = [
        (START + timedelta(days=3, hours=15), START + timedelta(days=3, hours=16)),
        (START + timedelta(days=61, hours=9), START + timedelta(days=61, hours=10)),
    ]
    with sessions() as session:
        busy_of = calendar_api.attendee_busy_source(session, owner.user_id, settings, sessions)
        busy = busy_of(
            [colleague, "jamie@partner.example", owner.email],
            slots.Interval(START, START + timedelta(days=62)),
        )
    assert [b.start for b in busy] == [s for s, _ in port.busy[colleague]]
    assert {tuple(c[0]) for c in port.calls} == {(colleague,)}  # external and self: skipped
    assert len(port.calls) == 2  # 62 days: two ranges of at most 60
    assert all(t_max - t_min <= calendar_api.FREEBUSY_MAX_RANGE for _, t_min, t_max in port.calls)


def test_the_draft_stage_tolerates_a_failing_freebusy(
    sessions: sessionmaker[Session], settings: Settings, owner: Owner, port: RecordingCalendar
) -> None:
    port.fail = True
    colleague = f"bob@{owner.email.rpartition('@')[2]}"
    window = slots.Interval(START, START + timedelta(days=7))
    with sessions() as session:
        tolerant = calendar_api.attendee_busy_source(
            session, owner.user_id, settings, sessions, tolerant=True
        )
        assert tolerant([colleague], window) == []
        strict = calendar_api.attendee_busy_source(session, owner.user_id, settings, sessions)
        with pytest.raises(RuntimeError):
            strict([colleague], window)
