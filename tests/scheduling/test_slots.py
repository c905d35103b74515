"""The availability engine, one test (or a few) per bullet of issue 10 section 1 and rule of §2.

Zones used: America/New_York and Europe/Berlin (US and EU DST), America/Los_Angeles,
Asia/Kolkata (+05:30), Asia/Kathmandu (+05:45), Australia/Lord_Howe (30-minute DST shift).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from secretary.scheduling.slots import (
    CalendarEvent,
    Interval,
    InvalidPreference,
    Preferences,
    Scoring,
    Slot,
    find_free_slots,
    is_free,
    parse_intervals,
    spread_over_days,
    to_rfc3339,
    window_from_dates,
)

NY = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
LA = ZoneInfo("America/Los_Angeles")
KOLKATA = ZoneInfo("Asia/Kolkata")
KATHMANDU = ZoneInfo("Asia/Kathmandu")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")
LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)
WEEKDAYS_9_TO_5 = dict.fromkeys(("mon", "tue", "wed", "thu", "fri"), ((540, 1020),))


def prefs(zone: ZoneInfo, **overrides: object) -> Preferences:
    values: dict[str, object] = {
        "time_zone": zone.key,
        "working_hours": WEEKDAYS_9_TO_5,
        "buffer_minutes": 0,
        "minimum_notice_minutes": 0,
    }
    values.update(overrides)
    return Preferences(**values)  # type: ignore[arg-type]


def slots(
    preferences: Preferences,
    first: date,
    last: date | None = None,
    *,
    events: list[CalendarEvent] | None = None,
    minutes: int = 30,
    now: datetime = LONG_AGO,
    view: ZoneInfo | None = None,
    **kwargs: object,
) -> list[str]:
    """Valid slot starts in time order, rendered in ``view`` (default: the owner's zone)."""
    zone = ZoneInfo(preferences.time_zone)
    found = find_free_slots(
        events=events or [],
        preferences=preferences,
        window=window_from_dates(first, last or first, zone),
        duration=timedelta(minutes=minutes),
        now=now,
        **kwargs,  # type: ignore[arg-type]
    )
    return [to_rfc3339(s.start, view or zone) for s in sorted(found, key=lambda s: s.start)]


def timed(zone: ZoneInfo, day: date, start: str, end: str, **kwargs: object) -> CalendarEvent:
    sh, sm = map(int, start.split(":"))
    eh, em = map(int, end.split(":"))
    return CalendarEvent(
        start=datetime(day.year, day.month, day.day, sh, sm, tzinfo=zone),
        end=datetime(day.year, day.month, day.day, eh, em, tzinfo=zone),
        **kwargs,  # type: ignore[arg-type]
    )


MON = date(2027, 3, 1)  # a Monday, before either DST change
TUE, WED, THU, FRI, SAT, SUN = (MON + timedelta(days=i) for i in range(1, 7))


# -- working hours per weekday in the owner's time zone --------------------------------------


def test_working_hours_per_weekday_in_the_owners_time_zone() -> None:
    p = prefs(NY, working_hours={"mon": ((540, 660),), "wed": ((780, 900),)})
    assert slots(p, MON, SUN) == [
        "2027-03-01T09:00:00-05:00",
        "2027-03-01T09:30:00-05:00",
        "2027-03-01T10:00:00-05:00",
        "2027-03-01T10:30:00-05:00",
        "2027-03-03T13:00:00-05:00",
        "2027-03-03T13:30:00-05:00",
        "2027-03-03T14:00:00-05:00",
        "2027-03-03T14:30:00-05:00",
    ]  # tuesday, thursday, friday and the weekend are missing from working_hours: no slots


def test_working_hours_in_a_zone_with_a_30_minute_offset() -> None:
    p = prefs(KOLKATA, working_hours={"mon": ((540, 630),)})
    assert slots(p, MON, view=ZoneInfo("UTC")) == [
        "2027-03-01T03:30:00+00:00",
        "2027-03-01T04:00:00+00:00",
        "2027-03-01T04:30:00+00:00",
    ]


def test_working_hours_in_a_zone_with_a_45_minute_offset() -> None:
    p = prefs(KATHMANDU, working_hours={"mon": ((540, 600),)})
    assert slots(p, MON) == ["2027-03-01T09:00:00+05:45", "2027-03-01T09:30:00+05:45"]
    assert slots(p, MON, view=ZoneInfo("UTC")) == [
        "2027-03-01T03:15:00+00:00",
        "2027-03-01T03:45:00+00:00",
    ]


def test_working_hours_in_a_zone_whose_dst_shift_is_30_minutes_spring() -> None:
    # Lord Howe Island: 2027-10-03 02:00 +10:30 becomes 02:30 +11:00.
    day = date(2027, 10, 3)
    p = prefs(LORD_HOWE, date_overrides={day: ((60, 240),)})
    assert slots(p, day) == [
        "2027-10-03T01:00:00+10:30",
        "2027-10-03T01:30:00+10:30",
        # 02:00 does not exist
        "2027-10-03T02:30:00+11:00",
        "2027-10-03T03:00:00+11:00",
        "2027-10-03T03:30:00+11:00",
    ]


def test_working_hours_in_a_zone_whose_dst_shift_is_30_minutes_autumn() -> None:
    # Lord Howe Island: 2027-04-04 02:00 +11:00 becomes 01:30 +10:30; 01:30-02:00 repeats.
    day = date(2027, 4, 4)
    p = prefs(LORD_HOWE, date_overrides={day: ((60, 180),)})
    assert slots(p, day) == [
        "2027-04-04T01:00:00+11:00",
        "2027-04-04T01:30:00+11:00",  # the first 01:30 only
        "2027-04-04T02:00:00+10:30",
        "2027-04-04T02:30:00+10:30",
    ]


# -- requests in another time zone; RFC 3339 with offsets ------------------------------------


def test_request_made_in_another_time_zone_than_the_owners() -> None:
    # The owner works 09:00-11:00 in Berlin; the requester asks for "Monday" in Los Angeles,
    # which is Monday 09:00 Berlin .. Tuesday 09:00 Berlin.
    p = prefs(BERLIN, working_hours={"mon": ((540, 660),), "tue": ((540, 660),)})
    found = find_free_slots(
        events=[],
        preferences=p,
        window=window_from_dates(MON, MON, LA),
        duration=timedelta(minutes=60),
        now=LONG_AGO,
    )
    starts = sorted(to_rfc3339(s.start, LA) for s in found)
    # Monday 09:00-11:00 Berlin is 00:00-02:00 LA, Monday in LA; Tuesday's Berlin morning
    # (Monday 24:00 LA onward) lies outside the LA Monday.
    assert starts == [
        "2027-03-01T00:00:00-08:00",
        "2027-03-01T00:30:00-08:00",
        "2027-03-01T01:00:00-08:00",
    ]


def test_results_are_rfc3339_with_the_zones_offset() -> None:
    p = prefs(KATHMANDU, working_hours={"mon": ((540, 570),)})
    (only,) = find_free_slots(
        events=[],
        preferences=p,
        window=window_from_dates(MON, MON, KATHMANDU),
        duration=timedelta(minutes=30),
        now=LONG_AGO,
    )
    rendered = to_rfc3339(only.start, KOLKATA)
    assert rendered == "2027-03-01T08:45:00+05:30"
    assert datetime.fromisoformat(rendered) == only.start


# -- both DST transitions, US and EU ----------------------------------------------------------


def test_us_spring_forward_offers_no_slot_inside_the_gap() -> None:
    day = date(2027, 3, 14)  # 02:00 EST -> 03:00 EDT
    p = prefs(NY, date_overrides={day: ((60, 240),)})
    assert slots(p, day) == [
        "2027-03-14T01:00:00-05:00",
        "2027-03-14T01:30:00-05:00",
        "2027-03-14T03:00:00-04:00",
        "2027-03-14T03:30:00-04:00",
    ]


def test_us_fall_back_offers_no_double_slot_in_the_repeated_hour() -> None:
    day = date(2027, 11, 7)  # 02:00 EDT -> 01:00 EST, 01:00-02:00 happens twice
    p = prefs(NY, date_overrides={day: ((0, 180),)})
    found = slots(p, day)
    assert found == [
        "2027-11-07T00:00:00-04:00",
        "2027-11-07T00:30:00-04:00",
        "2027-11-07T01:00:00-04:00",
        "2027-11-07T01:30:00-04:00",
        "2027-11-07T02:00:00-05:00",
        "2027-11-07T02:30:00-05:00",
    ]


def test_eu_spring_forward_offers_no_slot_inside_the_gap() -> None:
    day = date(2027, 3, 28)  # 02:00 CET -> 03:00 CEST
    p = prefs(BERLIN, date_overrides={day: ((90, 210),)})
    assert slots(p, day) == ["2027-03-28T01:30:00+01:00", "2027-03-28T03:00:00+02:00"]
    assert not any("T02:" in s for s in slots(p, day))


def test_eu_fall_back_offers_no_double_slot_in_the_repeated_hour() -> None:
    day = date(2027, 10, 31)  # 03:00 CEST -> 02:00 CET, 02:00-03:00 happens twice
    p = prefs(BERLIN, date_overrides={day: ((120, 240),)})
    assert slots(p, day) == [
        "2027-10-31T02:00:00+02:00",
        "2027-10-31T02:30:00+02:00",
        "2027-10-31T03:00:00+01:00",
        "2027-10-31T03:30:00+01:00",
    ]


@pytest.mark.parametrize(
    ("zone", "before", "after"),
    [
        (NY, date(2027, 3, 12), date(2027, 3, 15)),
        (NY, date(2027, 11, 5), date(2027, 11, 8)),
        (BERLIN, date(2027, 3, 26), date(2027, 3, 29)),
        (BERLIN, date(2027, 10, 29), date(2027, 11, 1)),
    ],
)
def test_working_hours_stay_in_local_wall_clock_time_across_dst(
    zone: ZoneInfo, before: date, after: date
) -> None:
    p = prefs(zone, working_hours={"mon": ((540, 600),), "fri": ((540, 600),)})
    first_before = slots(p, before)[0]
    first_after = slots(p, after)[0]
    assert first_before[11:19] == first_after[11:19] == "09:00:00"
    assert first_before[19:] != first_after[19:]  # the offset changed, the wall clock did not


def test_working_hours_on_the_dst_day_itself_are_wall_clock() -> None:
    day = date(2027, 3, 14)
    p = prefs(NY, date_overrides={day: ((540, 600),)})
    assert slots(p, day) == ["2027-03-14T09:00:00-04:00", "2027-03-14T09:30:00-04:00"]


def test_working_interval_starting_inside_the_gap_begins_where_rfc5545_puts_it() -> None:
    # 02:30 on the US spring-forward day is read with the offset before the gap: 03:30 EDT.
    day = date(2027, 3, 14)
    p = prefs(NY, date_overrides={day: ((150, 300),)})
    assert slots(p, day) == [
        "2027-03-14T03:30:00-04:00",
        "2027-03-14T04:00:00-04:00",
        "2027-03-14T04:30:00-04:00",
    ]


# -- all-day events -----------------------------------------------------------------------


def test_all_day_event_blocks_the_whole_local_day_not_utc_midnight() -> None:
    p = prefs(LA, working_hours=dict.fromkeys(("mon", "tue", "wed"), ((0, 1440),)))
    holiday = CalendarEvent(start=TUE, end=WED)
    found = slots(p, MON, WED, events=[holiday], minutes=60)
    assert "2027-03-01T17:00:00-08:00" in found  # UTC-midnight reading would block this
    assert "2027-03-01T23:00:00-08:00" in found
    assert not any(s.startswith("2027-03-02") for s in found)
    assert "2027-03-03T00:00:00-08:00" in found


def test_multi_day_all_day_event_uses_its_exclusive_end_date() -> None:
    p = prefs(KOLKATA)
    trip = CalendarEvent(start=TUE, end=THU)  # Tuesday and Wednesday
    days = {s[:10] for s in slots(p, MON, FRI, events=[trip])}
    assert days == {"2027-03-01", "2027-03-04", "2027-03-05"}


# -- event kinds ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "blocks"),
    [
        ({}, True),  # no TRANSP: opaque
        ({"transparency": "opaque"}, True),
        ({"transparency": "transparent"}, False),
        ({"status": "cancelled"}, False),
        ({"status": "tentative"}, True),
        ({"response_status": "declined"}, False),
        ({"response_status": "tentative"}, True),
        ({"response_status": "needsAction"}, True),
        ({"response_status": "accepted"}, True),
    ],
)
def test_event_kinds_block_or_not(kind: dict[str, str], blocks: bool) -> None:
    p = prefs(BERLIN, working_hours={"mon": ((540, 660),)})
    event = timed(BERLIN, MON, "09:00", "10:00", **kind)
    found = slots(p, MON, events=[event])
    assert ("2027-03-01T09:00:00+01:00" not in found) is blocks
    assert "2027-03-01T10:00:00+01:00" in found


def test_only_the_owners_own_decline_frees_the_time() -> None:
    # The engine receives the owner's responseStatus; others declining changes nothing.
    p = prefs(NY, working_hours={"mon": ((540, 600),)})
    ours = timed(NY, MON, "09:00", "09:30", response_status="accepted")
    assert slots(p, MON, events=[ours]) == ["2027-03-01T09:30:00-05:00"]


# -- recurring events -------------------------------------------------------------------------


def test_recurring_event_with_exdate_and_a_moved_instance() -> None:
    p = prefs(NY, working_hours=WEEKDAYS_9_TO_5)
    master = timed(
        NY,
        MON,
        "10:00",
        "11:00",
        event_id="standup",
        recurrence=(
            "RRULE:FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR",
            "EXDATE;TZID=America/New_York:20270302T100000",
        ),
        time_zone="America/New_York",
    )
    moved = timed(
        NY,
        WED,
        "14:00",
        "15:00",
        event_id="standup_20270303T150000Z",
        recurring_event_id="standup",
        original_start=datetime(2027, 3, 3, 10, tzinfo=NY),
    )
    cancelled = CalendarEvent(
        start=datetime(2027, 3, 4, 10, tzinfo=NY),
        end=datetime(2027, 3, 4, 11, tzinfo=NY),
        status="cancelled",
        recurring_event_id="standup",
        original_start=datetime(2027, 3, 4, 15, tzinfo=UTC),
    )
    found = slots(p, MON, FRI, events=[master, moved, cancelled])

    def free(day: date, hhmm: str) -> bool:
        return f"{day.isoformat()}T{hhmm}:00-05:00" in found

    assert not free(MON, "10:00")  # an ordinary occurrence
    assert free(TUE, "10:00")  # EXDATE
    assert free(WED, "10:00")  # moved away (RECURRENCE-ID) ...
    assert not free(WED, "14:00")  # ... to here
    assert free(THU, "10:00")  # a cancelled instance
    assert not free(FRI, "10:00")


@pytest.mark.parametrize(
    ("until", "last_blocked"),
    [("20270405T080000Z", True), ("20270405T075959Z", False)],
)
def test_recurring_event_stays_at_local_time_across_dst_and_honours_utc_until(
    until: str, last_blocked: bool
) -> None:
    p = prefs(BERLIN, working_hours={"mon": ((540, 720),)})
    weekly = CalendarEvent(
        start=datetime(2027, 3, 15, 10, tzinfo=BERLIN),
        end=datetime(2027, 3, 15, 11, tzinfo=BERLIN),
        event_id="weekly",
        recurrence=(f"RRULE:FREQ=WEEKLY;UNTIL={until}",),
        time_zone="Europe/Berlin",
    )
    found = slots(p, date(2027, 3, 15), date(2027, 4, 12), events=[weekly])
    assert "2027-03-22T10:00:00+01:00" not in found
    assert "2027-03-29T10:00:00+02:00" not in found  # after the EU change: still 10:00 local
    assert "2027-03-29T09:00:00+02:00" in found
    # 10:00 CEST on 5 April is 08:00Z: inside an UNTIL of 08:00:00Z (inclusive), not before.
    assert ("2027-04-05T10:00:00+02:00" not in found) is last_blocked
    assert "2027-04-12T10:00:00+02:00" in found


def test_recurring_all_day_event_blocks_each_local_day() -> None:
    p = prefs(KATHMANDU)
    fridays = CalendarEvent(
        start=FRI, end=SAT, event_id="wfh", recurrence=("RRULE:FREQ=WEEKLY;BYDAY=FR",)
    )
    days = {s[:10] for s in slots(p, MON, date(2027, 3, 19), events=[fridays])}
    assert "2027-03-05" not in days
    assert "2027-03-12" not in days
    assert "2027-03-11" in days


# -- calendars that count ---------------------------------------------------------------


def test_events_on_secondary_calendars_count_only_when_marked() -> None:
    event = timed(KOLKATA, MON, "09:00", "10:00", calendar_id="team@group.calendar.google.com")
    marked = prefs(
        KOLKATA,
        working_hours={"mon": ((540, 600),)},
        calendars=frozenset({"me@example.com", "team@group.calendar.google.com"}),
    )
    unmarked = prefs(
        KOLKATA, working_hours={"mon": ((540, 600),)}, calendars=frozenset({"me@example.com"})
    )
    assert slots(marked, MON, events=[event]) == []
    assert slots(unmarked, MON, events=[event]) == [
        "2027-03-01T09:00:00+05:30",
        "2027-03-01T09:30:00+05:30",
    ]


# -- buffers, notice, no-meeting days, overrides, caps, step --------------------------------


def test_buffers_before_and_after_meetings() -> None:
    p = prefs(NY, working_hours={"mon": ((540, 780),)}, buffer_minutes=15)
    meeting = timed(NY, MON, "10:30", "11:00")
    assert slots(p, MON, events=[meeting]) == [
        "2027-03-01T09:00:00-05:00",
        "2027-03-01T09:30:00-05:00",
        # 10:00-10:30 ends inside the 15-minute buffer before; 11:00 starts inside the one after
        "2027-03-01T11:30:00-05:00",
        "2027-03-01T12:00:00-05:00",
        "2027-03-01T12:30:00-05:00",
    ]


def test_buffers_apply_to_meetings_outside_working_hours() -> None:
    p = prefs(NY, working_hours={"mon": ((540, 660),)}, buffer_minutes=10)
    early = timed(NY, MON, "08:00", "08:55")
    assert slots(p, MON, events=[early])[0] == "2027-03-01T09:30:00-05:00"


def test_minimum_notice() -> None:
    p = prefs(KOLKATA, working_hours={"mon": ((540, 720),)}, minimum_notice_minutes=240)
    now = datetime(2027, 3, 1, 6, 0, tzinfo=KOLKATA)  # earliest start is 10:00 local
    assert slots(p, MON, now=now)[0] == "2027-03-01T10:00:00+05:30"


def test_no_meeting_days() -> None:
    p = prefs(BERLIN, no_meeting_days=frozenset({"wed", "fri"}))
    days = {s[:10] for s in slots(p, MON, SUN)}
    assert days == {"2027-03-01", "2027-03-02", "2027-03-04"}


def test_date_override_adds_hours_on_a_saturday() -> None:
    p = prefs(LA, date_overrides={SAT: ((600, 660),)})
    assert list(slots(p, SAT, SUN)) == [
        "2027-03-06T10:00:00-08:00",
        "2027-03-06T10:30:00-08:00",
    ]


def test_date_override_empty_is_a_day_off() -> None:
    p = prefs(LA, date_overrides={TUE: ()})
    days = {s[:10] for s in slots(p, MON, WED)}
    assert days == {"2027-03-01", "2027-03-03"}


def test_date_override_replaces_that_dates_weekly_hours() -> None:
    p = prefs(LA, date_overrides={MON: ((780, 840),)})
    assert slots(p, MON) == ["2027-03-01T13:00:00-08:00", "2027-03-01T13:30:00-08:00"]


def test_max_meetings_per_day_counts_existing_meetings() -> None:
    p = prefs(NY, max_meetings_per_day=2)
    mon = [timed(NY, MON, "09:00", "09:30"), timed(NY, MON, "16:00", "16:30")]
    tue = [
        timed(NY, TUE, "09:00", "09:30"),
        timed(NY, TUE, "11:00", "11:30", transparency="transparent"),  # free: not counted
        timed(NY, TUE, "07:00", "07:30", status="cancelled"),  # not counted
    ]
    found = slots(p, MON, TUE, events=mon + tue)
    assert not any(s.startswith("2027-03-01") for s in found)  # at the cap: nothing
    tuesday = [s for s in found if s.startswith("2027-03-02")]
    assert len(tuesday) == 16 - 1  # under the cap: every free half hour


def test_max_meetings_per_day_under_the_cap_offers_all_free_slots() -> None:
    p = prefs(NY, max_meetings_per_day=2)
    one = [
        timed(NY, TUE, "09:00", "09:30"),
        timed(NY, TUE, "11:00", "11:30", response_status="declined"),
    ]
    tuesday = slots(p, TUE, events=one)
    assert len(tuesday) == 16 - 1  # 16 half hours, one taken; the declined one is free


@pytest.mark.parametrize(("step", "count"), [(15, 7), (30, 4), (60, 2)])
def test_slot_step(step: int, count: int) -> None:
    p = prefs(KATHMANDU, working_hours={"mon": ((540, 660),)}, slot_step_minutes=step)
    found = slots(p, MON, minutes=30)
    assert len(found) == count
    assert found[0] == "2027-03-01T09:00:00+05:45"


def test_slot_starts_are_not_added_at_the_end_of_a_meeting() -> None:
    p = prefs(NY, working_hours={"mon": ((540, 720),)})
    odd = timed(NY, MON, "10:00", "10:20")
    found = slots(p, MON, events=[odd])
    assert "2027-03-01T10:20:00-05:00" not in found
    assert found[2] == "2027-03-01T10:30:00-05:00"


def test_duration_longer_than_any_gap_gives_no_slots() -> None:
    p = prefs(BERLIN, working_hours={"mon": ((540, 720),)})
    events = [timed(BERLIN, MON, "10:00", "10:30"), timed(BERLIN, MON, "11:00", "11:30")]
    assert slots(p, MON, events=events, minutes=61) == []


def test_back_to_back_meetings_leaving_exactly_the_duration_give_that_slot() -> None:
    p = prefs(BERLIN, working_hours={"mon": ((540, 720),)}, buffer_minutes=10)
    events = [timed(BERLIN, MON, "09:00", "10:20"), timed(BERLIN, MON, "11:10", "12:00")]
    # 10:20 + 10 min buffer = 10:30; 11:10 - 10 min = 11:00: exactly 30 minutes.
    assert slots(p, MON, events=events) == ["2027-03-01T10:30:00+01:00"]


def test_attendees_busy_time_blocks() -> None:
    p = prefs(NY, working_hours={"mon": ((540, 660),)})
    theirs = [Interval(datetime(2027, 3, 1, 14, tzinfo=UTC), datetime(2027, 3, 1, 15, tzinfo=UTC))]
    assert slots(p, MON, attendee_busy=theirs) == [
        "2027-03-01T10:00:00-05:00",
        "2027-03-01T10:30:00-05:00",
    ]


def test_slot_lies_wholly_inside_the_requested_window() -> None:
    p = prefs(NY, working_hours={"mon": ((540, 720),)})
    window = Interval(
        datetime(2027, 3, 1, 14, 10, tzinfo=UTC), datetime(2027, 3, 1, 16, tzinfo=UTC)
    )
    found = find_free_slots(
        events=[],
        preferences=p,
        window=window,
        duration=timedelta(minutes=30),
        now=LONG_AGO,
    )
    assert sorted(to_rfc3339(s.start, NY) for s in found) == [
        "2027-03-01T09:30:00-05:00",
        "2027-03-01T10:00:00-05:00",
        "2027-03-01T10:30:00-05:00",
    ]


# -- scoring -------------------------------------------------------------------------------


def _scored(p: Preferences, scoring: Scoring, first: date, last: date) -> list[Slot]:
    return find_free_slots(
        events=[],
        preferences=p,
        window=window_from_dates(first, last, ZoneInfo(p.time_zone)),
        duration=timedelta(minutes=30),
        now=LONG_AGO,
        scoring=scoring,
    )


def test_scoring_prefers_preferred_times_then_earlier_in_the_week() -> None:
    p = prefs(BERLIN)
    ranked = _scored(p, Scoring(preferred_times=((600, 720),)), MON, FRI)
    best = ranked[0].start.astimezone(BERLIN)
    assert (best.weekday(), best.hour) == (0, 10)
    monday = [s.score for s in ranked if s.start.astimezone(BERLIN).weekday() == 0]
    friday = [s.score for s in ranked if s.start.astimezone(BERLIN).weekday() == 4]
    assert max(monday) > max(friday)


def test_scoring_rewards_core_hours() -> None:
    p = prefs(BERLIN, working_hours={"mon": ((480, 1080),)})
    ranked = _scored(p, Scoring(preferred_times=(), core_hours=(600, 960)), MON, MON)
    by_hour = {s.start.astimezone(BERLIN).hour: s.score for s in ranked}
    assert by_hour[11] > by_hour[8]
    assert by_hour[15] > by_hour[17]


def test_scoring_learns_from_booked_meetings() -> None:
    p = prefs(BERLIN)
    learned = Scoring(preferred_times=(), learned={(3, 15): 5, (0, 9): 1})
    best = _scored(p, learned, MON, FRI)[0].start.astimezone(BERLIN)
    assert (best.weekday(), best.hour) == (3, 15)


def test_scores_change_the_order_never_the_set_of_valid_slots() -> None:
    p = prefs(KOLKATA)
    a = _scored(p, Scoring(), MON, FRI)
    b = _scored(p, Scoring(preferred_times=((900, 960),), learned={(4, 16): 3}), MON, FRI)
    assert {s.start for s in a} == {s.start for s in b}
    assert [s.start for s in a] != [s.start for s in b]
    assert a == sorted(a, key=lambda s: (-s.score, s.start))


# -- helpers used by the flow -----------------------------------------------------------------


def test_is_free_rechecks_busy_time_with_buffers() -> None:
    p = prefs(NY, buffer_minutes=10)
    start = datetime(2027, 3, 1, 10, tzinfo=NY)
    end = start + timedelta(minutes=30)
    assert is_free(events=[], preferences=p, start=start, end=end)
    later = timed(NY, MON, "10:35", "11:00")
    assert not is_free(events=[later], preferences=p, start=start, end=end)


def test_spread_over_days_picks_different_days() -> None:
    p = prefs(NY)
    picked = spread_over_days(_scored(p, Scoring(), MON, FRI), NY)
    assert len({s.start.astimezone(NY).date() for s in picked}) == 3
    assert picked == sorted(picked, key=lambda s: s.start)


def test_bad_preferences_are_refused() -> None:
    with pytest.raises(InvalidPreference):
        parse_intervals([["17:00", "09:00"]])
    with pytest.raises(InvalidPreference):
        parse_intervals([["09:00", "12:00"], ["11:00", "13:00"]])
    with pytest.raises(InvalidPreference):
        parse_intervals([["9am", "12:00"]])
    assert parse_intervals([["13:00", "24:00"], ["09:00", "12:00"]]) == ((540, 720), (780, 1440))
