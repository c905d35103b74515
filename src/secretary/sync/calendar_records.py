"""Pure translation of Calendar v3 ``Event`` resources into store rows, and the expansion
of recurring series into occurrences.

Why RRULE expansion rather than a ``singleEvents=true`` listing: a single-events listing
must be bounded (a weekly series has no last instance), so it is always a window that
drops whatever lies beyond it; every edit of a series re-sends all its instances through
the sync token; and the store would no longer hold what Google holds (the series' rule).
Listing with ``singleEvents=false`` stores exactly Google's events (masters, exceptions,
cancelled exceptions) for the whole calendar, and the occurrences are derived locally
with ``dateutil.rrule`` (the RFC 5545 implementation ``icalendar`` itself depends on),
which reads Google's ``recurrence`` lines (RRULE, EXRULE, RDATE, EXDATE) as they are.
Exceptions replace the occurrence whose original start they carry; cancelled exceptions
remove it. Instance ids follow Google's: ``{master}_{YYYYMMDDTHHMMSSZ}`` (timed, UTC) and
``{master}_{YYYYMMDD}`` (all-day).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.rrule import rrulestr

from secretary.mail.html_text import html_to_text

MAX_DESCRIPTION_CHARS = 20_000
MAX_INSTANCES_PER_SERIES = 5_000
_HTML_HINT = re.compile(r"<(?:br|p|div|a|b|i|u|span|ul|ol|li|html|body)\b", re.IGNORECASE)


def zone(name: str | None, default: str = "UTC") -> ZoneInfo:
    for candidate in (name, default, "UTC"):
        if candidate:
            try:
                return ZoneInfo(candidate)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


def sanitize_description(value: str | None) -> str | None:
    """Plain text: Google sends descriptions as (limited) HTML when edited in the web UI."""
    if not value:
        return None
    text = html_to_text(value) if _HTML_HINT.search(value) else value.replace("\r\n", "\n")
    return text.strip()[:MAX_DESCRIPTION_CHARS] or None


@dataclass(frozen=True)
class Bound:
    """An event start or end: an instant, plus the local date for all-day events."""

    at: datetime
    day: date | None
    time_zone: str | None


def parse_bound(value: dict[str, Any] | None, calendar_tz: str) -> Bound | None:
    if not value:
        return None
    tz_name = value.get("timeZone")
    if value.get("date"):
        day = date.fromisoformat(str(value["date"]))
        local = zone(tz_name, calendar_tz)
        return Bound(datetime.combine(day, time(), tzinfo=local), day, tz_name)
    if value.get("dateTime"):
        at = datetime.fromisoformat(str(value["dateTime"]).replace("z", "Z"))
        if at.tzinfo is None:
            at = at.replace(tzinfo=zone(tz_name, calendar_tz))
        return Bound(at, None, tz_name)
    return None


def original_key(value: dict[str, Any] | None) -> str | None:
    """A comparable key for an occurrence's original start: UTC instant or local date."""
    if not value:
        return None
    if value.get("date"):
        return str(value["date"]).replace("-", "")
    if value.get("dateTime"):
        at = datetime.fromisoformat(str(value["dateTime"]).replace("z", "Z"))
        if at.tzinfo is None:
            at = at.replace(tzinfo=zone(value.get("timeZone")))
        return at.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return None


def conference_url(event: dict[str, Any]) -> str | None:
    data = event.get("conferenceData") or {}
    for entry in data.get("entryPoints") or []:
        if entry.get("entryPointType") == "video" and entry.get("uri"):
            return str(entry["uri"])
    link = event.get("hangoutLink")
    return str(link) if link else None


def self_response(event: dict[str, Any]) -> str | None:
    for attendee in event.get("attendees") or []:
        if attendee.get("self"):
            return str(attendee.get("responseStatus") or "needsAction")
    return None


def event_row(event: dict[str, Any], calendar_tz: str) -> dict[str, Any]:
    """Column values of ``calendar_events`` for one Google event (tombstones included)."""
    start = parse_bound(event.get("start"), calendar_tz)
    end = parse_bound(event.get("end"), calendar_tz)
    organizer = event.get("organizer") or {}
    original = event.get("originalStartTime")
    updated = event.get("updated")
    return {
        "google_id": str(event["id"]),
        "ical_uid": event.get("iCalUID"),
        "etag": event.get("etag"),
        "status": str(event.get("status") or "confirmed"),
        "summary": event.get("summary"),
        "description": sanitize_description(event.get("description")),
        "location": event.get("location"),
        "all_day": bool(start and start.day is not None),
        "start_at": start.at if start else None,
        "end_at": end.at if end else None,
        "start_date": start.day if start else None,
        "end_date": end.day if end else None,
        "start_time_zone": (event.get("start") or {}).get("timeZone"),
        "end_time_zone": (event.get("end") or {}).get("timeZone"),
        "recurrence": list(event["recurrence"]) if event.get("recurrence") else None,
        "recurring_event_id": event.get("recurringEventId"),
        "original_start": original_key(original),
        "transparency": str(event.get("transparency") or "opaque"),
        "visibility": event.get("visibility"),
        "event_type": event.get("eventType"),
        "organizer_email": organizer.get("email"),
        "organizer_name": organizer.get("displayName"),
        "organizer_self": bool(organizer.get("self")),
        "self_response_status": self_response(event),
        "attendees": [
            {
                "email": a.get("email"),
                "name": a.get("displayName"),
                "response_status": a.get("responseStatus"),
                "optional": bool(a.get("optional")),
                "organizer": bool(a.get("organizer")),
                "self": bool(a.get("self")),
                "resource": bool(a.get("resource")),
            }
            for a in event.get("attendees") or []
        ],
        "conference_url": conference_url(event),
        "html_link": event.get("htmlLink"),
        "sequence": int(event.get("sequence") or 0),
        "google_updated_at": (
            datetime.fromisoformat(str(updated).replace("z", "Z")) if updated else None
        ),
    }


@dataclass(frozen=True)
class Occurrence:
    google_id: str
    source_google_id: str  # the event whose details apply (master, exception or single)
    recurring_event_id: str | None
    start_at: datetime
    end_at: datetime
    start_date: date | None
    end_date: date | None


def single_occurrence(row: dict[str, Any]) -> Occurrence | None:
    """The one occurrence of a non-recurring event or an exception, if it has times."""
    if row["status"] == "cancelled" or row["start_at"] is None or row["end_at"] is None:
        return None
    return Occurrence(
        google_id=row["google_id"],
        source_google_id=row["google_id"],
        recurring_event_id=row.get("recurring_event_id"),
        start_at=row["start_at"],
        end_at=row["end_at"],
        start_date=row["start_date"],
        end_date=row["end_date"],
    )


def _normalise_rrule_lines(lines: list[str], *, aware: bool) -> str:
    """dateutil wants UNTIL in DTSTART's awareness; RFC 5545 producers are looser."""
    out = []
    for line in lines:
        if line.upper().startswith(("RRULE", "EXRULE")):

            def fix(m: re.Match[str]) -> str:
                value = m.group(1)
                if aware and not value.endswith("Z"):
                    value = (value + "T235959")[:15] + "Z"
                elif not aware and value.endswith("Z"):
                    value = value[:-1]
                return "UNTIL=" + value

            line = re.sub(r"UNTIL=([0-9TZ]+)", fix, line, flags=re.IGNORECASE)
        out.append(line)
    return "\n".join(out)


def expand(
    master: dict[str, Any],
    exceptions: list[dict[str, Any]],
    lo: datetime,
    hi: datetime,
    calendar_tz: str,
) -> list[Occurrence]:
    """Occurrences of a recurring ``master`` (an ``event_row``) overlapping ``[lo, hi)``,
    exceptions applied: a modified occurrence takes the exception's times and id, a
    cancelled one is dropped. Exceptions moved into the window from outside are included."""
    if master["status"] == "cancelled" or master["start_at"] is None:
        return []
    all_day = bool(master["all_day"])
    start: datetime = master["start_at"]
    duration = master["end_at"] - start if master["end_at"] else timedelta(0)
    by_key = {e["original_start"]: e for e in exceptions if e.get("original_start")}
    if all_day:
        dtstart = datetime.combine(master["start_date"], time())
        local = zone(master.get("start_time_zone"), calendar_tz)
        search_lo = (lo - duration).astimezone(local).replace(tzinfo=None) - timedelta(days=1)
        search_hi = hi.astimezone(local).replace(tzinfo=None)
    else:
        if master.get("start_time_zone"):
            start = start.astimezone(zone(master["start_time_zone"]))  # wall-clock (DST) rules
        dtstart = start
        search_lo, search_hi = lo - duration, hi
    try:
        rule = rrulestr(
            _normalise_rrule_lines(list(master["recurrence"] or []), aware=not all_day),
            dtstart=dtstart,
            forceset=True,
        )
    except (ValueError, TypeError):
        return []  # a rule Google accepted but we cannot read: the master row still has it
    out: list[Occurrence] = []
    seen: set[str] = set()
    for occ in rule.between(search_lo, search_hi, inc=True)[:MAX_INSTANCES_PER_SERIES]:
        if all_day:
            day = occ.date()
            key = day.strftime("%Y%m%d")
            local = zone(master.get("start_time_zone"), calendar_tz)
            begin = datetime.combine(day, time(), tzinfo=local)
            end_day = master["end_date"] + (day - master["start_date"])
            finish = datetime.combine(end_day, time(), tzinfo=local)
            days: tuple[date | None, date | None] = (day, end_day)
        else:
            key = occ.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
            begin, finish = occ, occ + duration
            days = (None, None)
        exception = by_key.get(key)
        if exception is not None:
            seen.add(key)
            replaced = single_occurrence(exception)
            if replaced is not None and replaced.end_at > lo and replaced.start_at < hi:
                out.append(replaced)
            continue
        if finish > lo and begin < hi:
            out.append(
                Occurrence(
                    google_id=f"{master['google_id']}_{key}",
                    source_google_id=master["google_id"],
                    recurring_event_id=master["google_id"],
                    start_at=begin,
                    end_at=finish,
                    start_date=days[0],
                    end_date=days[1],
                )
            )
    for key, exception in by_key.items():
        if key in seen:
            continue
        replaced = single_occurrence(exception)  # moved here from outside the searched range
        if replaced is not None and replaced.end_at > lo and replaced.start_at < hi:
            out.append(replaced)
    return out
