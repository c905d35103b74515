"""What a meeting request asks for: duration, window, time zone, attendees, place. Pure.

Built on the extractors' output (``llm.schemas.Extraction``: the local tier's rules, or an
LLM when one is configured) plus a few patterns of its own for what the extraction does not
carry (the length of the meeting, "next week", a video call, a place). Email text is
untrusted: nothing here follows instructions in it, it only reads facts.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from secretary.llm.schemas import EmailInput, Extraction
from secretary.scheduling import slots
from secretary.scheduling.schemas import MAX_WINDOW_DAYS

DEFAULT_DURATION_MINUTES = 30
DEFAULT_HORIZON_DAYS = 14

_NUMBER = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "half an": 0.5, "half a": 0.5}
_DURATION = re.compile(
    r"\b(?P<n>\d{1,3}(?:\.\d)?|an?|one|two|three|half an?)\s*-?\s*"
    r"(?P<unit>minutes?|mins?|hours?|hrs?|h)\b",
    re.IGNORECASE,
)
# A span that names a day ("Tuesday", "9 March", "3/9", "tomorrow"), unlike "next week" or
# a bare "after 3pm", which the extractors resolve to some default day.
NAMED_DAY = re.compile(
    r"\b(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*\b|\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|"
    r"nov|dec)[a-z]*\b|\d{1,2}/\d{1,2}|\d{4}-\d{2}-\d{2}|\btomorrow\b",
    re.IGNORECASE,
)
_WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WEEKDAY = re.compile(
    r"\b(mon|tue|wed|thu|fri|sat|sun)(?:day|s|nesday|rsday|urday|sday)?\b", re.IGNORECASE
)
_NEXT_WEEK = re.compile(r"\bnext\s+week\b", re.IGNORECASE)
_THIS_WEEK = re.compile(r"\b(?:this|later this)\s+week\b", re.IGNORECASE)
_VIDEO = re.compile(
    r"\b(?:zoom|google meet|meet\.google\.com|hangouts?|teams call|ms teams|webex|video(?:\s*call)?)\b",
    re.IGNORECASE,
)
_PLACE = re.compile(
    r"\b(?:in person at|meet(?:ing)? (?:up )?at|come (?:by|over) to|at your office|at our office|"
    r"at the office)\b\s*(?P<place>[^.,;!?\n]{0,60})",
    re.IGNORECASE,
)
_ADDRESS = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_TIMEISH = re.compile(
    r"^\s*(?:\d|noon|midnight|tomorrow|today|next|this|mon|tue|wed|thu|fri)", re.I
)


@dataclass(frozen=True)
class MeetingRequest:
    duration_minutes: int
    window: slots.Interval
    requester_time_zone: str | None
    attendees: tuple[str, ...]
    location: str | None
    video: bool


def meeting_duration(text: str, extraction: Extraction) -> int:
    """Minutes asked for ("a 45-minute call", "half an hour"), else 30; kept to 15..240."""
    for item in extraction.proposed_times:
        if item.duration_minutes:
            return max(15, min(240, item.duration_minutes))
    for match in _DURATION.finditer(text):
        raw = match.group("n").lower()
        number = _NUMBER.get(raw) if raw in _NUMBER else float(raw)
        if number is None:
            continue
        minutes = int(number * (60 if match.group("unit").lower().startswith("h") else 1))
        if 10 <= minutes <= 480:
            return max(15, min(240, minutes))
    return DEFAULT_DURATION_MINUTES


def requester_zone(extraction: Extraction) -> str | None:
    """A zone the sender named ("3pm ET", "Europe/Berlin"), if any."""
    for item in [*extraction.proposed_times, *extraction.dates]:
        if item.timezone:
            return item.timezone
    return None


def _monday_after(day: date) -> date:
    return day + timedelta(days=7 - day.weekday())


def meeting_window(
    text: str, extraction: Extraction, *, zone: ZoneInfo, now: datetime
) -> slots.Interval:
    """The days to look at: "next week", "this week", the days the sender named, or the
    next two weeks. Never before ``now``; always whole local days of ``zone``."""
    today = now.astimezone(zone).date()
    # The extractors resolve a span as wall-clock time in the zone it names, else UTC: read
    # the day back in that same zone ("Wednesday" is Wednesday, not Tuesday 19:00).
    first: date | None = None
    last: date | None = None
    named = sorted(
        {
            t.start.astimezone(slots.zone_of(t.timezone) if t.timezone else UTC).date()
            for t in extraction.proposed_times
            if t.start and NAMED_DAY.search(t.text)
        }
    )
    if _NEXT_WEEK.search(text):
        first = _monday_after(today)
        last = first + timedelta(days=6)
        # "next week ... Tuesday or Wednesday?": those weekdays of next week (the extractors
        # read a bare weekday as the next one, which may still be this week).
        weekdays = sorted(
            {_WEEKDAY_NAMES.index(m.group(1).lower()[:3]) for m in _WEEKDAY.finditer(text)}
        )
        inside = [d for d in named if first <= d <= last]
        if weekdays:
            first, last = first + timedelta(days=weekdays[0]), first + timedelta(days=weekdays[-1])
        elif inside:
            first, last = inside[0], inside[-1]
    elif _THIS_WEEK.search(text):
        first, last = today, _monday_after(today) - timedelta(days=1)
    else:
        days = named
        # Days already past, or beyond what the availability API allows (a "4/13/99" in a
        # quoted signature), are no window to offer slots in.
        horizon = today + timedelta(days=MAX_WINDOW_DAYS)
        days = [d for d in days if today <= d <= horizon]
        if days:
            first, last = days[0], days[-1]
    if first is None or last is None:
        first, last = today, today + timedelta(days=DEFAULT_HORIZON_DAYS)
    window = slots.window_from_dates(first, last, zone)
    return slots.Interval(max(window.start, now), window.end)


def meeting_attendees(email: EmailInput, *, owner_email: str, text: str) -> tuple[str, ...]:
    """The sender, everyone else on the message and addresses named in the text."""
    owner = owner_email.lower()
    found: list[str] = []
    for address in [email.from_addr or "", *email.to, *email.cc, *_ADDRESS.findall(text)]:
        address = address.strip().strip("<>").lower()
        if address and "@" in address and address != owner and address not in found:
            found.append(address)
    return tuple(found)


def meeting_place(text: str) -> tuple[str | None, bool]:
    """(a place to meet, whether it is a video call)."""
    video = bool(_VIDEO.search(text))
    match = _PLACE.search(text)
    place = None
    if match:
        candidate = " ".join(match.group("place").split()).strip(" -:")
        if candidate and not _TIMEISH.match(candidate):
            place = candidate[:60]
        elif "office" in match.group(0).lower():
            place = match.group(0).strip()
    return place, video


def parse_meeting_request(
    email: EmailInput,
    extraction: Extraction,
    *,
    owner_zone: ZoneInfo,
    owner_email: str,
    now: datetime,
    text: str | None = None,
) -> MeetingRequest:
    body = text if text is not None else f"{email.subject}\n{email.body_text}"
    zone_name = requester_zone(extraction)
    zone = slots.zone_of(zone_name) if zone_name else owner_zone
    location, video = meeting_place(body)
    return MeetingRequest(
        duration_minutes=meeting_duration(body, extraction),
        window=meeting_window(body, extraction, zone=zone, now=now),
        requester_time_zone=zone_name,
        attendees=meeting_attendees(email, owner_email=owner_email, text=email.body_text),
        location=location,
        video=video,
    )


def describe_slot(start: datetime, end: datetime, zones: Sequence[ZoneInfo]) -> str:
    """ "Tuesday 2 March, 10:00–10:30 America/New_York (16:00–16:30 Europe/Berlin)"."""
    first, *others = zones
    local_start, local_end = start.astimezone(first), end.astimezone(first)
    text = (
        f"{local_start:%A} {local_start.day} {local_start:%B}, "
        f"{local_start:%H:%M}–{local_end:%H:%M} {first.key}"
    )
    extra = []
    for zone in others:
        s, e = start.astimezone(zone), end.astimezone(zone)
        day = "" if s.date() == local_start.date() else f"{s:%a} {s.day} {s:%b}, "
        extra.append(f"{day}{s:%H:%M}–{e:%H:%M} {zone.key}")
    return text + (f" ({'; '.join(extra)})" if extra else "")
