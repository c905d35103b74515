"""The availability engine: busy time and preferences in, scored free slots out. Pure.

Everything here takes values and returns values (no clock, no database, no Google), so the
rules in issue 10 can be tested case by case and with property tests:

- Working hours, date overrides and no-meeting days are **local wall-clock** times in the
  owner's zone. A local time that does not exist (spring-forward gap) or exists twice
  (fall-back) is read as RFC 5545 §3.3.5 says, which is exactly ``zoneinfo`` with
  ``fold=0``: a gap time takes the offset from before the gap, a repeated time its first
  occurrence.
- Slot starts are the working interval's start plus whole multiples of the step in wall-clock
  time; a wall-clock start inside a gap is skipped and a repeated hour yields one start, so
  a DST day never offers a slot twice nor one "inside" the missing hour.
- Busy: cancelled, transparent and owner-declined events are free; everything else (also
  ``needsAction`` and tentative) blocks. All-day events block the owner's local days
  ``[start, end)`` (the end date is exclusive, as in Google and RFC 5545). Buffers pad every
  blocking event on both sides, also events outside working hours.
- Scores only order the valid slots; they never add or remove one.

All datetimes are timezone-aware; results are UTC instants (the edges render them in the
requested zone with :func:`to_rfc3339`).
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from dateutil.rrule import rruleset, rrulestr

WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MINUTES_PER_DAY = 24 * 60

Minutes = tuple[int, int]
"""A working interval as minutes after local midnight, ``[start, end)``; end may be 1440."""


class InvalidPreference(ValueError):
    """A preference value the engine cannot use (bad "HH:MM", unknown weekday or zone)."""


def parse_hhmm(value: str) -> int:
    """ "09:30" → 570; "24:00" is the end of the day (1440)."""
    match = re.fullmatch(r"(\d{1,2}):(\d{2})", value.strip())
    if not match:
        raise InvalidPreference(f"time must be HH:MM, got {value!r}")
    hours, minutes = int(match.group(1)), int(match.group(2))
    total = hours * 60 + minutes
    if minutes >= 60 or total > MINUTES_PER_DAY:
        raise InvalidPreference(f"time out of range: {value!r}")
    return total


def format_hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def parse_intervals(pairs: Iterable[Sequence[str]]) -> tuple[Minutes, ...]:
    """``[["09:00","12:00"], ["13:00","17:00"]]`` → sorted minute intervals (start < end)."""
    out: list[Minutes] = []
    for pair in pairs:
        if len(pair) != 2:
            raise InvalidPreference(f"an interval is [start, end], got {list(pair)!r}")
        start, end = parse_hhmm(pair[0]), parse_hhmm(pair[1])
        if start >= end:
            raise InvalidPreference(f"interval must end after it starts: {list(pair)!r}")
        out.append((start, end))
    out.sort()
    for (_, end), (start, _) in itertools.pairwise(out):
        if start < end:
            raise InvalidPreference("working intervals of one day must not overlap")
    return tuple(out)


def zone_of(name: str) -> ZoneInfo:
    try:
        return _zone(name)
    except (KeyError, ValueError) as exc:
        raise InvalidPreference(f"unknown time zone {name!r}") from exc


@lru_cache(maxsize=256)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@dataclass(frozen=True)
class Preferences:
    """The owner's scheduling preferences (the API shape, parsed)."""

    time_zone: str = "UTC"
    working_hours: Mapping[str, tuple[Minutes, ...]] = field(
        default_factory=lambda: dict.fromkeys(WEEKDAYS[:5], ((540, 1020),))
    )
    buffer_minutes: int = 10
    minimum_notice_minutes: int = 240
    no_meeting_days: frozenset[str] = frozenset()
    date_overrides: Mapping[date, tuple[Minutes, ...]] = field(default_factory=dict)
    max_meetings_per_day: int | None = None
    slot_step_minutes: int = 30
    calendars: frozenset[str] | None = None
    """Calendar ids whose events count; None means every event given counts."""

    def intervals_on(self, day: date) -> tuple[Minutes, ...]:
        """The working intervals of one local date.

        A date override replaces that date's weekly hours (and wins over a no-meeting day:
        the user named that very date); an empty override is a day off.
        """
        if day in self.date_overrides:
            return self.date_overrides[day]
        weekday = WEEKDAYS[day.weekday()]
        if weekday in self.no_meeting_days:
            return ()
        return self.working_hours.get(weekday, ())


@dataclass(frozen=True)
class Scoring:
    """How valid slots are ordered (seed 000): preferred times of day, earlier in the week,
    core hours, and what the owner accepted before. Weights are relative.
    """

    preferred_times: tuple[Minutes, ...] = ((600, 720),)
    core_hours: Minutes = (600, 960)
    learned: Mapping[tuple[int, int], int] = field(default_factory=dict)
    """Counts of booked meetings by (weekday 0-6, local hour), from past bookings."""
    preferred_weight: float = 0.35
    weekday_weight: float = 0.25
    core_weight: float = 0.2
    learned_weight: float = 0.2


@dataclass(frozen=True)
class CalendarEvent:
    """One Calendar event as the engine needs it (Google's fields, parsed).

    ``start``/``end`` are aware datetimes for timed events and dates for all-day events.
    A recurring master carries ``recurrence`` (RRULE/RDATE/EXDATE lines) and the zone it
    repeats in; a moved or cancelled instance carries ``recurring_event_id`` and
    ``original_start`` (RECURRENCE-ID) and replaces that occurrence of its master.
    """

    start: datetime | date
    end: datetime | date
    event_id: str = ""
    calendar_id: str = "primary"
    status: str = "confirmed"  # confirmed | tentative | cancelled
    transparency: str = "opaque"  # opaque | transparent; missing TRANSP is opaque
    response_status: str | None = None  # the owner's own answer when the owner is an attendee
    recurrence: tuple[str, ...] = ()
    time_zone: str | None = None
    recurring_event_id: str | None = None
    original_start: datetime | date | None = None
    # POSIX seconds of a timed event's bounds, computed once: the window pre-filter runs
    # over every stored event on every query, and float comparisons are ~10x cheaper than
    # comparing aware datetimes in different zones.
    start_ts: float = field(init=False, repr=False, compare=False, default=0.0)
    end_ts: float = field(init=False, repr=False, compare=False, default=0.0)

    def __post_init__(self) -> None:
        if isinstance(self.start, datetime) and isinstance(self.end, datetime):
            object.__setattr__(self, "start_ts", self.start.timestamp())
            object.__setattr__(self, "end_ts", self.end.timestamp())

    @property
    def is_all_day(self) -> bool:
        return not isinstance(self.start, datetime)

    @property
    def blocks(self) -> bool:
        """Whether this event makes its time busy (section 2's busy rule)."""
        if self.status == "cancelled" or self.transparency == "transparent":
            return False
        return self.response_status != "declined"


@dataclass(frozen=True, order=True)
class Interval:
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Slot:
    start: datetime
    end: datetime
    score: float


# ---------------------------------------------------------------------------------------
# Local wall-clock time ↔ instants
# ---------------------------------------------------------------------------------------


def local_instant(day: date, minutes: int, zone: ZoneInfo) -> datetime:
    """The UTC instant of local ``day`` + ``minutes`` read per RFC 5545 §3.3.5 (fold=0)."""
    if minutes >= MINUTES_PER_DAY:
        day, minutes = day + timedelta(days=minutes // MINUTES_PER_DAY), minutes % MINUTES_PER_DAY
    wall = datetime.combine(day, time(minutes // 60, minutes % 60), tzinfo=zone)
    return wall.astimezone(UTC)


def wall_time_exists(day: date, minutes: int, zone: ZoneInfo) -> bool:
    """False for a local time inside a spring-forward gap."""
    wall = datetime.combine(day, time(minutes // 60, minutes % 60), tzinfo=zone)
    back = wall.astimezone(UTC).astimezone(zone)
    return back.replace(tzinfo=None) == wall.replace(tzinfo=None)


def day_bounds(day: date, zone: ZoneInfo) -> Interval:
    """The instants a whole local day spans (23, 24 or 25 hours, or 23.5 on Lord Howe)."""
    return Interval(local_instant(day, 0, zone), local_instant(day + timedelta(days=1), 0, zone))


def window_from_dates(first: date, last: date, zone: ZoneInfo) -> Interval:
    """Whole local days ``first``..``last`` (inclusive) in ``zone``."""
    return Interval(day_bounds(first, zone).start, day_bounds(last, zone).end)


def to_rfc3339(instant: datetime, zone: ZoneInfo) -> str:
    """``2027-03-01T09:00:00+05:30``: the instant in ``zone`` with its offset (``Z`` never)."""
    return instant.astimezone(zone).isoformat(timespec="seconds")


def parse_rfc3339(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError(f"RFC 3339 needs an offset: {value!r}")
    return parsed


# ---------------------------------------------------------------------------------------
# Recurrence
# ---------------------------------------------------------------------------------------

_UNTIL = re.compile(r"UNTIL=(\d{8}(?:T\d{6}Z?)?)", re.IGNORECASE)


def _local_naive(value: str, zone: ZoneInfo, param_zone: ZoneInfo | None) -> datetime:
    """An iCalendar DATE / DATE-TIME value as naive wall-clock time in ``zone``."""
    if "T" not in value.upper():
        return datetime.strptime(value[:8], "%Y%m%d")  # noqa: DTZ007 -- a floating DATE
    naive = datetime.strptime(value[:15].upper(), "%Y%m%dT%H%M%S")  # noqa: DTZ007
    if value.upper().endswith("Z"):
        return naive.replace(tzinfo=UTC).astimezone(zone).replace(tzinfo=None)
    if param_zone is not None and param_zone != zone:
        return naive.replace(tzinfo=param_zone).astimezone(zone).replace(tzinfo=None)
    return naive


def _property(line: str) -> tuple[str, dict[str, str], str]:
    head, _, value = line.partition(":")
    name, *params = head.split(";")
    parsed = {}
    for param in params:
        key, _, val = param.partition("=")
        parsed[key.upper()] = val
    return name.upper(), parsed, value


@lru_cache(maxsize=4096)
def _ruleset(lines: tuple[str, ...], dtstart: datetime, zone_name: str, all_day: bool) -> rruleset:
    """The occurrence set of one master event in naive local time of ``zone_name``.

    Expanding in wall-clock time keeps a 09:00 weekly meeting at 09:00 across DST (RFC 5545);
    the naive results are attached to the zone with fold=0 afterwards. Cached: a synced
    calendar's masters rarely change, and parsing the RRULE is most of the cost.
    """
    zone = zone_of(zone_name)
    rules = rruleset()
    rules.rdate(dtstart)
    for raw in lines:
        name, params, value = _property(raw.strip())
        param_zone = zone_of(params["TZID"]) if "TZID" in params else None
        if name in ("RRULE", "EXRULE"):

            def until(match: re.Match[str]) -> str:
                local = _local_naive(match.group(1), zone, None)
                return f"UNTIL={local:%Y%m%d}" + ("" if all_day else f"T{local:%H%M%S}")

            rule = rrulestr(_UNTIL.sub(until, value), dtstart=dtstart, ignoretz=True)
            if name == "RRULE":
                rules.rrule(rule)  # type: ignore[arg-type]
            else:
                rules.exrule(rule)  # type: ignore[arg-type]
        elif name in ("EXDATE", "RDATE"):
            for item in value.split(","):
                if not item:
                    continue
                when = _local_naive(item, zone, param_zone)
                if all_day:
                    when = datetime.combine(when.date(), time())
                elif "T" not in item.upper():  # a DATE EXDATE on a timed series: that day
                    when = datetime.combine(when.date(), dtstart.time())
                (rules.exdate if name == "EXDATE" else rules.rdate)(when)
    return rules


def expand(
    events: Iterable[CalendarEvent], window: Interval, owner_zone: ZoneInfo
) -> list[CalendarEvent]:
    """Concrete occurrences overlapping ``window`` (roughly: a day's margin each side).

    Masters become one event per occurrence; an occurrence replaced by an exception event
    (``recurring_event_id`` + ``original_start``) is dropped, the exception stands for it.
    """
    events = list(events)
    replaced: set[tuple[str, datetime | date]] = set()
    for event in events:
        if event.recurring_event_id and event.original_start is not None:
            replaced.add((event.recurring_event_id, _instant_key(event.original_start)))
    lo, hi = window.start - timedelta(days=2), window.end + timedelta(days=2)
    lo_ts, hi_ts, lo_day, hi_day = lo.timestamp(), hi.timestamp(), lo.date(), hi.date()
    out: list[CalendarEvent] = []
    for event in events:
        if not event.recurrence:
            if _overlaps(event, lo_ts, hi_ts, lo_day, hi_day):
                out.append(event)
            continue
        out.extend(_occurrences(event, lo, hi, owner_zone, replaced))
    return out


def _instant_key(value: datetime | date) -> datetime | date:
    return value.astimezone(UTC) if isinstance(value, datetime) else value


def _overlaps(event: CalendarEvent, lo: float, hi: float, lo_day: date, hi_day: date) -> bool:
    # A cheap pre-filter (it runs over every stored event): timed events by their cached
    # POSIX bounds; all-day dates as dates, the two days' margin around the window covering
    # any zone's offset.
    if event.end_ts:
        return event.start_ts < hi and event.end_ts > lo
    end = event.end.date() if isinstance(event.end, datetime) else event.end
    return event.start <= hi_day and end >= lo_day


def _occurrences(
    master: CalendarEvent,
    lo: datetime,
    hi: datetime,
    owner_zone: ZoneInfo,
    replaced: set[tuple[str, datetime | date]],
) -> list[CalendarEvent]:
    if master.is_all_day:
        assert isinstance(master.start, date)
        assert isinstance(master.end, date)
        zone = owner_zone
        dtstart = datetime.combine(master.start, time())
        length = timedelta(days=(master.end - master.start).days)
    else:
        assert isinstance(master.start, datetime)
        assert isinstance(master.end, datetime)
        zone = zone_of(master.time_zone) if master.time_zone else _zone_of_datetime(master.start)
        dtstart = master.start.astimezone(zone).replace(tzinfo=None)
        length = master.end - master.start
    rules = _ruleset(master.recurrence, dtstart, zone.key, master.is_all_day)
    lo_local = lo.astimezone(zone).replace(tzinfo=None) - length - timedelta(days=1)
    hi_local = hi.astimezone(zone).replace(tzinfo=None) + timedelta(days=1)
    out = []
    for naive in rules.between(lo_local, hi_local, inc=True):
        if master.is_all_day:
            key: datetime | date = naive.date()
            start: datetime | date = naive.date()
            end: datetime | date = naive.date() + length
        else:
            start = naive.replace(tzinfo=zone)
            key = start.astimezone(UTC)
            end = start.astimezone(UTC) + length
        if (master.event_id, key) in replaced:
            continue
        out.append(
            CalendarEvent(
                start=start,
                end=end,
                event_id=master.event_id,
                calendar_id=master.calendar_id,
                status=master.status,
                transparency=master.transparency,
                response_status=master.response_status,
                time_zone=master.time_zone,
            )
        )
    return out


def _zone_of_datetime(value: datetime) -> ZoneInfo:
    return value.tzinfo if isinstance(value.tzinfo, ZoneInfo) else ZoneInfo("UTC")


# ---------------------------------------------------------------------------------------
# Busy time
# ---------------------------------------------------------------------------------------


def event_interval(event: CalendarEvent, owner_zone: ZoneInfo) -> Interval:
    """The instants an event covers; an all-day event covers the owner's local days."""
    if isinstance(event.start, datetime):
        assert isinstance(event.end, datetime)
        return Interval(event.start.astimezone(UTC), event.end.astimezone(UTC))
    end = event.end.date() if isinstance(event.end, datetime) else event.end
    end = max(end, event.start + timedelta(days=1))  # a zero-length all-day event is one day
    return Interval(local_instant(event.start, 0, owner_zone), local_instant(end, 0, owner_zone))


def counts(event: CalendarEvent, preferences: Preferences) -> bool:
    return preferences.calendars is None or event.calendar_id in preferences.calendars


def blocking_events(
    events: Iterable[CalendarEvent], preferences: Preferences, window: Interval
) -> list[CalendarEvent]:
    """Occurrences near ``window`` that count (calendar chosen) and block (status rules)."""
    zone = zone_of(preferences.time_zone)
    chosen = preferences.calendars
    counting = events if chosen is None else (e for e in events if e.calendar_id in chosen)
    return [e for e in expand(counting, window, zone) if e.blocks]


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    ordered = sorted(intervals)
    merged: list[Interval] = []
    for item in ordered:
        if item.end <= item.start:
            continue
        if merged and item.start <= merged[-1].end:
            if item.end > merged[-1].end:
                merged[-1] = Interval(merged[-1].start, item.end)
        else:
            merged.append(item)
    return merged


def busy_intervals(
    events: Iterable[CalendarEvent],
    preferences: Preferences,
    window: Interval,
    *,
    buffered: bool = True,
) -> list[Interval]:
    """Merged busy time (padded by the buffer on both sides unless ``buffered=False``)."""
    zone = zone_of(preferences.time_zone)
    pad = timedelta(minutes=preferences.buffer_minutes if buffered else 0)
    return merge(
        Interval(span.start - pad, span.end + pad)
        for span in (event_interval(e, zone) for e in blocking_events(events, preferences, window))
    )


class _BusyIndex:
    """Sorted, merged intervals with an O(log n) overlap test."""

    def __init__(self, intervals: Iterable[Interval]) -> None:
        self.items = merge(intervals)
        self.ends = [i.end for i in self.items]

    def overlaps(self, start: datetime, end: datetime) -> bool:
        index = bisect.bisect_right(self.ends, start)
        return index < len(self.items) and self.items[index].start < end


def meetings_per_day(occurrences: Iterable[CalendarEvent], zone: ZoneInfo) -> Counter[date]:
    """Blocking timed meetings by the owner's local start date (all-day ones do not count)."""
    tally: Counter[date] = Counter()
    for event in occurrences:
        if isinstance(event.start, datetime):
            tally[event.start.astimezone(zone).date()] += 1
    return tally


# ---------------------------------------------------------------------------------------
# Slots
# ---------------------------------------------------------------------------------------


def candidate_starts(day: date, interval: Minutes, step: int, zone: ZoneInfo) -> list[datetime]:
    """Wall-clock starts ``interval.start + k·step`` that exist on ``day``, as instants.

    A start in a spring-forward gap is skipped; a start in a repeated hour is its first
    occurrence only, so no instant is offered twice.
    """
    out: list[datetime] = []
    seen: set[datetime] = set()
    for minutes in range(interval[0], interval[1], step):
        if not wall_time_exists(day, minutes, zone):
            continue
        instant = local_instant(day, minutes, zone)
        if instant not in seen:
            seen.add(instant)
            out.append(instant)
    return out


def score_slot(start: datetime, zone: ZoneInfo, scoring: Scoring) -> float:
    """0..1: higher is better. Depends only on the slot's local time, never on validity."""
    local = start.astimezone(zone)
    minutes = local.hour * 60 + local.minute
    preferred = any(a <= minutes < b for a, b in scoring.preferred_times)
    core = scoring.core_hours[0] <= minutes < scoring.core_hours[1]
    weekday = 1.0 - local.weekday() / 6
    learned = 0.0
    if scoring.learned:
        top = max(scoring.learned.values())
        learned = scoring.learned.get((local.weekday(), local.hour), 0) / top if top else 0.0
    total = (
        scoring.preferred_weight * preferred
        + scoring.weekday_weight * weekday
        + scoring.core_weight * core
        + scoring.learned_weight * learned
    )
    return round(total, 4)


def find_free_slots(
    *,
    events: Iterable[CalendarEvent],
    preferences: Preferences,
    window: Interval,
    duration: timedelta,
    now: datetime,
    attendee_busy: Iterable[Interval] = (),
    scoring: Scoring | None = None,
    max_slots: int | None = None,
) -> list[Slot]:
    """Every valid slot in ``window``, best score first (ties: earlier first).

    A slot is valid when it lies wholly inside ``window`` and inside one working interval of
    its local day, starts at least ``minimum_notice`` after ``now``, does not touch any
    blocking event padded by the buffer nor any attendee's busy time, and its day is under
    ``max_meetings_per_day``.
    """
    if duration <= timedelta(0):
        return []
    zone = zone_of(preferences.time_zone)
    scoring = scoring or Scoring()
    occurrences = blocking_events(events, preferences, window)
    pad = timedelta(minutes=preferences.buffer_minutes)
    busy = _BusyIndex(
        Interval(span.start - pad, span.end + pad)
        for span in (event_interval(e, zone) for e in occurrences)
    )
    others = _BusyIndex(attendee_busy)
    per_day = meetings_per_day(occurrences, zone)
    earliest = max(window.start, now + timedelta(minutes=preferences.minimum_notice_minutes))
    step = max(1, preferences.slot_step_minutes)
    slots: list[Slot] = []
    day = window.start.astimezone(zone).date() - timedelta(days=1)
    last = window.end.astimezone(zone).date()
    while day <= last:
        cap = preferences.max_meetings_per_day
        if cap is None or per_day[day] < cap:
            for interval in preferences.intervals_on(day):
                open_at = local_instant(day, interval[0], zone)
                close_at = local_instant(day, interval[1], zone)
                for start in candidate_starts(day, interval, step, zone):
                    end = start + duration
                    if start < open_at or end > close_at:
                        continue
                    if start < earliest or end > window.end:
                        continue
                    if busy.overlaps(start, end) or others.overlaps(start, end):
                        continue
                    slots.append(Slot(start, end, score_slot(start, zone, scoring)))
        day += timedelta(days=1)
    slots.sort(key=lambda s: (-s.score, s.start))
    return slots[:max_slots] if max_slots is not None else slots


def is_free(
    *,
    events: Iterable[CalendarEvent],
    preferences: Preferences,
    start: datetime,
    end: datetime,
    attendee_busy: Iterable[Interval] = (),
) -> bool:
    """Whether ``[start, end)`` is still clear of busy time plus buffers (booking re-check).

    Working hours and notice are not re-applied: the other side already accepted a slot we
    offered; only a meeting that appeared meanwhile makes it unavailable.
    """
    window = Interval(start, end)
    padded = _BusyIndex(busy_intervals(events, preferences, window))
    return not padded.overlaps(start, end) and not _BusyIndex(attendee_busy).overlaps(start, end)


def spread_over_days(slots: Sequence[Slot], zone: ZoneInfo, count: int = 3) -> list[Slot]:
    """Up to ``count`` slots, best first, each on a different local day when possible."""
    picked: list[Slot] = []
    days: set[date] = set()
    for slot in slots:
        day = slot.start.astimezone(zone).date()
        if day not in days:
            picked.append(slot)
            days.add(day)
        if len(picked) == count:
            break
    for slot in slots:
        if len(picked) >= count:
            break
        if slot not in picked:
            picked.append(slot)
    return sorted(picked, key=lambda s: s.start)
