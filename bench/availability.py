"""Availability engine latency: one year of events on 5 calendars, two-week queries.

Usage: python bench/availability.py [--queries N] [--seed S]

Builds a deterministic year (2027) for an owner in America/New_York: five calendars with
3-5 timed meetings per working day each, all-day events, declined / transparent /
cancelled ones, and recurring series (daily stand-ups, weekly one-on-ones, monthly
reviews) with EXDATEs and moved instances. Each query asks ``find_free_slots`` for
30-minute slots over a two-week window at a random start in the year, over the whole
year's events (the engine selects what touches the window itself, as the service hands it
what the store returns). The first query per process parses the RRULEs (cached after).

Prints one JSON object with p50/p99/max in milliseconds, the event counts and
``cat /proc/loadavg`` (the machine is shared: read figures beside the load). Goal: p50 ≤ 20 ms.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from secretary.scheduling.slots import (
    CalendarEvent,
    Preferences,
    find_free_slots,
    window_from_dates,
)

ZONE = ZoneInfo("America/New_York")
CALENDARS = [
    "owner@acme.example",
    "team@group.calendar.google.com",
    "projects@group.calendar.google.com",
    "travel@group.calendar.google.com",
    "family@group.calendar.google.com",
]


def build_year(seed: int) -> list[CalendarEvent]:
    rng = random.Random(seed)
    events: list[CalendarEvent] = []
    day = date(2027, 1, 1)
    n = 0
    while day.year == 2027:
        weekday = day.weekday() < 5
        for calendar in CALENDARS:
            for _ in range(rng.randint(3, 5) if weekday else rng.randint(0, 1)):
                start = datetime(
                    day.year,
                    day.month,
                    day.day,
                    rng.randint(7, 19),
                    15 * rng.randint(0, 3),
                    tzinfo=ZONE,
                )
                n += 1
                events.append(
                    CalendarEvent(
                        start=start,
                        end=start + timedelta(minutes=rng.choice([15, 30, 45, 60, 90])),
                        event_id=f"e{n}",
                        calendar_id=calendar,
                        status=rng.choices(["confirmed", "tentative", "cancelled"], [90, 5, 5])[0],
                        transparency=rng.choices(["opaque", "transparent"], [92, 8])[0],
                        response_status=rng.choices(
                            [None, "accepted", "declined", "needsAction", "tentative"],
                            [40, 40, 8, 8, 4],
                        )[0],
                    )
                )
        if rng.random() < 0.04:
            n += 1
            events.append(
                CalendarEvent(
                    start=day,
                    end=day + timedelta(days=rng.randint(1, 3)),
                    event_id=f"e{n}",
                    calendar_id=rng.choice(CALENDARS),
                )
            )
        day += timedelta(days=1)
    # Recurring series, each with EXDATEs and one moved instance.
    series = [
        (
            "standup",
            "RRULE:FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR",
            datetime(2027, 1, 4, 9, 30, tzinfo=ZONE),
            15,
        ),
        ("one-on-one", "RRULE:FREQ=WEEKLY;BYDAY=TU", datetime(2027, 1, 5, 14, tzinfo=ZONE), 30),
        (
            "planning",
            "RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=MO",
            datetime(2027, 1, 4, 11, tzinfo=ZONE),
            60,
        ),
        ("review", "RRULE:FREQ=MONTHLY;BYDAY=1TH", datetime(2027, 1, 7, 15, tzinfo=ZONE), 90),
        (
            "gym",
            "RRULE:FREQ=WEEKLY;BYDAY=MO,WE,FR;UNTIL=20271231T235959Z",
            datetime(2027, 1, 4, 7, tzinfo=ZONE),
            60,
        ),
    ]
    for i, (name, rule, start, minutes) in enumerate(series):
        calendar = CALENDARS[i % len(CALENDARS)]
        exdates = ",".join(
            (start + timedelta(weeks=w)).strftime("%Y%m%dT%H%M%S") for w in (3, 11, 27, 40)
        )
        events.append(
            CalendarEvent(
                start=start,
                end=start + timedelta(minutes=minutes),
                event_id=name,
                calendar_id=calendar,
                recurrence=(rule, f"EXDATE;TZID=America/New_York:{exdates}"),
                time_zone="America/New_York",
            )
        )
        moved_from = start + timedelta(weeks=6)
        events.append(
            CalendarEvent(
                start=moved_from + timedelta(hours=2),
                end=moved_from + timedelta(hours=2, minutes=minutes),
                event_id=f"{name}_moved",
                calendar_id=calendar,
                recurring_event_id=name,
                original_start=moved_from,
            )
        )
    return events


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    events = build_year(args.seed)
    preferences = Preferences(time_zone=ZONE.key, calendars=frozenset(CALENDARS[:4]))
    rng = random.Random(args.seed)
    now = datetime(2026, 12, 1, tzinfo=UTC)
    timings: list[float] = []
    found = 0
    cpu = time.process_time()
    for _ in range(args.queries):
        first = date(2027, 1, 1) + timedelta(days=rng.randint(0, 350))
        window = window_from_dates(first, first + timedelta(days=13), ZONE)
        started = time.perf_counter()
        slots = find_free_slots(
            events=events,
            preferences=preferences,
            window=window,
            duration=timedelta(minutes=30),
            now=now,
            max_slots=500,
        )
        timings.append((time.perf_counter() - started) * 1000)
        found += len(slots)
    cpu_ms = (time.process_time() - cpu) * 1000 / args.queries
    ordered = sorted(timings)
    result = {
        "benchmark": "availability",
        "events": len(events),
        "recurring_series": sum(1 for e in events if e.recurrence),
        "calendars": len(CALENDARS),
        "queries": args.queries,
        "window_days": 14,
        "p50_ms": round(statistics.median(ordered), 2),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 2),
        "max_ms": round(ordered[-1], 2),
        "first_query_ms": round(timings[0], 2),
        "cpu_ms_per_query": round(cpu_ms, 2),
        "slots_per_query": round(found / args.queries, 1),
        "goal_p50_ms": 20,
        "loadavg": Path("/proc/loadavg").read_text().strip(),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
