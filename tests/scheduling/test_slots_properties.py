"""Invariants of the availability engine over random calendars, zones and preferences."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from secretary.scheduling.slots import (
    WEEKDAYS,
    CalendarEvent,
    Interval,
    Preferences,
    Scoring,
    event_interval,
    find_free_slots,
    window_from_dates,
)

ZONES = [
    "America/New_York",
    "Europe/Berlin",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Australia/Lord_Howe",
    "America/Los_Angeles",
    "UTC",
]
# Windows around both DST changes in the US, EU and Lord Howe, and ordinary weeks.
ANCHORS = [
    date(2027, 3, 10),
    date(2027, 3, 25),
    date(2027, 4, 1),
    date(2027, 6, 7),
    date(2027, 10, 1),
    date(2027, 10, 28),
    date(2027, 11, 4),
]


@st.composite
def intervals(draw: st.DrawFn) -> tuple[tuple[int, int], ...]:
    cuts = sorted(draw(st.lists(st.integers(0, 96), min_size=0, max_size=4, unique=True)))
    pairs = [(a * 15, b * 15) for a, b in zip(cuts[::2], cuts[1::2], strict=False) if a < b]
    return tuple(pairs)


@st.composite
def preferences(draw: st.DrawFn) -> Preferences:
    zone = draw(st.sampled_from(ZONES))
    anchor = draw(st.sampled_from(ANCHORS))
    hours = {d: draw(intervals()) for d in WEEKDAYS if draw(st.booleans())}
    overrides = {
        anchor + timedelta(days=draw(st.integers(0, 6))): draw(intervals())
        for _ in range(draw(st.integers(0, 2)))
    }
    return Preferences(
        time_zone=zone,
        working_hours=hours,
        buffer_minutes=draw(st.sampled_from([0, 5, 10, 15])),
        minimum_notice_minutes=draw(st.sampled_from([0, 240])),
        no_meeting_days=frozenset(draw(st.lists(st.sampled_from(WEEKDAYS), max_size=2))),
        date_overrides=overrides,
        max_meetings_per_day=draw(st.sampled_from([None, 1, 3])),
        slot_step_minutes=draw(st.sampled_from([15, 30, 45, 60])),
    )


@st.composite
def events(draw: st.DrawFn, zone: ZoneInfo, anchor: date) -> list[CalendarEvent]:
    out = []
    for _ in range(draw(st.integers(0, 12))):
        day = anchor + timedelta(days=draw(st.integers(-1, 8)))
        if draw(st.integers(0, 9)) == 0:
            out.append(CalendarEvent(start=day, end=day + timedelta(days=draw(st.integers(1, 2)))))
            continue
        start = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(
            minutes=15 * draw(st.integers(0, 95))
        )
        out.append(
            CalendarEvent(
                start=start,
                end=start + timedelta(minutes=draw(st.sampled_from([15, 20, 30, 60, 90]))),
                status=draw(st.sampled_from(["confirmed", "tentative", "cancelled"])),
                transparency=draw(st.sampled_from(["opaque", "transparent"])),
                response_status=draw(
                    st.sampled_from([None, "accepted", "declined", "needsAction", "tentative"])
                ),
            )
        )
    return out


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_invariants(data: st.DataObject) -> None:
    p = data.draw(preferences())
    zone = ZoneInfo(p.time_zone)
    anchor = data.draw(st.sampled_from(ANCHORS))
    evs = data.draw(events(zone, anchor))
    duration = timedelta(minutes=data.draw(st.sampled_from([15, 30, 45, 60, 120])))
    window = window_from_dates(anchor, anchor + timedelta(days=6), zone)
    now = datetime(2027, 1, 1, tzinfo=UTC)
    found = find_free_slots(events=evs, preferences=p, window=window, duration=duration, now=now)

    # Sorted by score (best first), then time.
    assert found == sorted(found, key=lambda s: (-s.score, s.start))
    # No instant offered twice.
    assert len({s.start for s in found}) == len(found)

    pad = timedelta(minutes=p.buffer_minutes)
    busy = [
        event_interval(e, zone)
        for e in evs
        if e.status != "cancelled"
        and e.transparency != "transparent"
        and e.response_status != "declined"
    ]
    for slot in found:
        assert slot.end - slot.start == duration
        # Inside the requested window.
        assert window.start <= slot.start
        assert slot.end <= window.end
        # No overlap with any busy interval plus buffers.
        for b in busy:
            assert not (slot.start < b.end + pad and b.start - pad < slot.end), (slot, b)
        # Inside one working interval of its local day, in local wall-clock time, on a step.
        local = slot.start.astimezone(zone)
        day = local.date()
        minute = local.hour * 60 + local.minute
        hosting = [
            (a, b)
            for a, b in p.intervals_on(day)
            if a <= minute < b and (minute - a) % p.slot_step_minutes == 0
        ]
        assert hosting, (slot, local)
        _, end_minute = hosting[0]
        # The interval's end, read per RFC 5545 (fold=0), bounds the slot in absolute time.
        close = (datetime.combine(day, time()) + timedelta(minutes=end_minute)).replace(tzinfo=zone)
        assert slot.end <= close.astimezone(UTC), (slot, local)


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_scores_never_change_the_set_of_valid_slots(data: st.DataObject) -> None:
    p = data.draw(preferences())
    zone = ZoneInfo(p.time_zone)
    anchor = data.draw(st.sampled_from(ANCHORS))
    evs = data.draw(events(zone, anchor))
    window = window_from_dates(anchor, anchor + timedelta(days=4), zone)
    learned = {
        (data.draw(st.integers(0, 6)), data.draw(st.integers(0, 23))): data.draw(st.integers(1, 5))
    }
    common = {
        "events": evs,
        "preferences": p,
        "window": window,
        "duration": timedelta(minutes=30),
        "now": datetime(2027, 1, 1, tzinfo=UTC),
    }
    plain = find_free_slots(**common)  # type: ignore[arg-type]
    other = find_free_slots(
        **common,  # type: ignore[arg-type]
        scoring=Scoring(
            preferred_times=((data.draw(st.integers(0, 23)) * 60, 1440),), learned=learned
        ),
    )
    assert {(s.start, s.end) for s in plain} == {(s.start, s.end) for s in other}


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_max_meetings_cap_only_removes_whole_days(data: st.DataObject) -> None:
    p = data.draw(preferences())
    zone = ZoneInfo(p.time_zone)
    anchor = data.draw(st.sampled_from(ANCHORS))
    evs = data.draw(events(zone, anchor))
    window: Interval = window_from_dates(anchor, anchor + timedelta(days=6), zone)
    args = {
        "events": evs,
        "window": window,
        "duration": timedelta(minutes=30),
        "now": datetime(2027, 1, 1, tzinfo=UTC),
    }
    uncapped = find_free_slots(
        preferences=Preferences(**{**p.__dict__, "max_meetings_per_day": None}),
        **args,  # type: ignore[arg-type]
    )
    capped = find_free_slots(preferences=p, **args)  # type: ignore[arg-type]
    capped_days = {s.start.astimezone(zone).date() for s in capped}
    assert {s.start for s in capped} == {
        s.start for s in uncapped if s.start.astimezone(zone).date() in capped_days
    }
