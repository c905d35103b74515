"""One user's Google Calendar in memory: calendars, events, recurrences and sync tokens.

Events are kept in Calendar v3 JSON shape (``calendar.v3.json`` ``Event``). Every change
takes the next value of a per-user sequence; a sync token is that sequence (plus a
generation), so ``events.list(syncToken=...)`` returns exactly the events changed or
deleted since. Deleted events stay as ``cancelled`` tombstones, as Google keeps them.
Recurring events are expanded with ``dateutil.rrule`` (RRULE/EXDATE/RDATE lines);
modified or cancelled instances are stored as exceptions with ``recurringEventId``.

The caller (``calendar.py``) holds ``EmulatorState.lock`` around every method.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.rrule import rrulestr

from workspace_emulator._clock import utcnow
from workspace_emulator.errors import GoogleApiError

MAX_RESULTS_DEFAULT = 250
MAX_RESULTS_LIMIT = 2500
# Without timeMax an endless RRULE is expanded this far past the window start.
EXPANSION_HORIZON = timedelta(days=366)
MAX_INSTANCES = 2500
_EVENT_ID_RE = re.compile(r"^[a-v0-9]{5,1024}$")
_SYNC_INCOMPATIBLE = ("iCalUID", "orderBy", "q", "timeMin", "timeMax", "updatedMin")
_WRITABLE = (
    "summary",
    "description",
    "location",
    "start",
    "end",
    "recurrence",
    "attendees",
    "transparency",
    "visibility",
    "colorId",
    "reminders",
    "status",
    "extendedProperties",
    "conferenceData",
    "guestsCanModify",
    "anyoneCanAddSelf",
    "source",
    "eventType",
)


def rfc3339(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_rfc3339(value: str, *, name: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError:
        raise GoogleApiError(400, f"Invalid value for: {name}", reason="invalid") from None
    if parsed.tzinfo is None:
        raise GoogleApiError(
            400, f"Invalid value for: {name} (a time zone offset is required)", reason="invalid"
        )
    return parsed


def _zone(name: str | None) -> ZoneInfo | None:
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise GoogleApiError(
            400, f"Invalid time zone definition: {name}", reason="invalid"
        ) from None


def event_bound(value: dict[str, Any], *, name: str, default_tz: str = "UTC") -> datetime:
    """An event's start or end as an aware instant; all-day dates start at local midnight."""
    if "dateTime" in value:
        parsed = datetime.fromisoformat(str(value["dateTime"]).replace("z", "Z"))
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=_zone(value.get("timeZone")) or ZoneInfo(default_tz))
        return parsed
    if "date" in value:
        day = date.fromisoformat(str(value["date"]))
        return datetime.combine(day, time(), tzinfo=ZoneInfo(default_tz))
    raise GoogleApiError(400, f"Missing {name} time.", reason="required")


def _encode_token(payload: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode()


def _decode_token(token: str) -> dict[str, Any] | None:
    try:
        out = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    return out if isinstance(out, dict) else None


def _instance_suffix(start: dict[str, Any], at: datetime) -> str:
    if "date" in start:
        return at.strftime("%Y%m%d")
    return at.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _bound_json(template: dict[str, Any], at: datetime) -> dict[str, Any]:
    if "date" in template:
        return {"date": at.date().isoformat()}
    out: dict[str, Any] = {"dateTime": at.isoformat()}
    if template.get("timeZone"):
        out["timeZone"] = template["timeZone"]
    return out


def _normalise_rrule_lines(lines: list[str], *, aware: bool) -> str:
    """dateutil insists UNTIL matches DTSTART's awareness; RFC 5545 producers (and Google)
    are looser, so coerce UNTIL instead of failing the whole expansion."""
    out = []
    for line in lines:
        if line.upper().startswith("RRULE"):

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


def _in_zone(event: dict[str, Any], zone: ZoneInfo | None) -> dict[str, Any]:
    """The event with its timed bounds written in ``zone`` (the ``timeZone`` parameter)."""
    if zone is None:
        return event
    out = dict(event)
    for key in ("start", "end", "originalStartTime"):
        bound = out.get(key)
        if isinstance(bound, dict) and "dateTime" in bound:
            at = datetime.fromisoformat(str(bound["dateTime"]).replace("Z", "+00:00"))
            if at.tzinfo is not None:
                out[key] = {**bound, "dateTime": at.astimezone(zone).isoformat()}
    return out


def _with_offset(bound: dict[str, Any], default_tz: str) -> dict[str, Any]:
    """Google answers every ``dateTime`` with its UTC offset, also when the client sent a
    local time plus ``timeZone``."""
    if "dateTime" not in bound:
        return bound
    value = str(bound["dateTime"])
    try:
        at = datetime.fromisoformat(value.replace("z", "Z").replace("Z", "+00:00"))
    except ValueError:
        raise GoogleApiError(400, "Invalid start or end time.", reason="invalid") from None
    if at.tzinfo is None:
        zone = _zone(bound.get("timeZone")) or _zone(default_tz) or ZoneInfo("UTC")
        at = at.replace(tzinfo=zone)
        return {**bound, "dateTime": at.isoformat()}
    return bound


@dataclass
class StoredEvent:
    calendar_id: str
    body: dict[str, Any]
    seq: int

    @property
    def id(self) -> str:
        return str(self.body["id"])

    @property
    def cancelled(self) -> bool:
        return self.body.get("status") == "cancelled"


@dataclass
class CalendarStore:
    email: str
    time_zone: str = "UTC"
    calendars: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: dict[str, dict[str, StoredEvent]] = field(default_factory=dict)
    seq: int = 1
    # Bumped by the fault injector: every sync token issued before becomes 410 Gone.
    generation: int = 0

    def __post_init__(self) -> None:
        if self.email not in self.calendars:
            self.add_calendar(
                self.email, calendar_id=self.email, time_zone=self.time_zone, primary=True
            )

    # ----------------------------------------------------------------- calendars

    def add_calendar(
        self,
        summary: str,
        *,
        calendar_id: str | None = None,
        time_zone: str | None = None,
        description: str | None = None,
        primary: bool = False,
        color: str = "#9fe1e7",
    ) -> dict[str, Any]:
        cal_id = calendar_id or f"{secrets.token_hex(16)}@group.calendar.google.com"
        entry: dict[str, Any] = {
            "kind": "calendar#calendarListEntry",
            "etag": f'"{self._next_seq()}"',
            "id": cal_id,
            "summary": summary,
            "timeZone": time_zone or self.time_zone,
            "colorId": "14",
            "backgroundColor": color,
            "foregroundColor": "#000000",
            "selected": True,
            "accessRole": "owner",
            "defaultReminders": [{"method": "popup", "minutes": 10}],
        }
        if description:
            entry["description"] = description
        if primary:
            entry["primary"] = True
        self.calendars[cal_id] = entry
        self.events.setdefault(cal_id, {})
        return entry

    def resolve(self, calendar_id: str) -> str:
        cal_id = self.email if calendar_id == "primary" else calendar_id
        if cal_id not in self.calendars:
            raise GoogleApiError(404, "Not Found", reason="notFound")
        return cal_id

    def calendar_resource(self, calendar_id: str) -> dict[str, Any]:
        entry = self.calendars[self.resolve(calendar_id)]
        keys = ("etag", "id", "summary", "description", "timeZone")
        return {"kind": "calendar#calendar", **{k: entry[k] for k in keys if k in entry}}

    # ----------------------------------------------------------------- writes

    def insert_event(
        self, calendar_id: str, body: dict[str, Any], *, now: datetime | None = None
    ) -> dict[str, Any]:
        cal_id = self.resolve(calendar_id)
        event_id = str(body.get("id") or secrets.token_hex(13))
        if not _EVENT_ID_RE.match(event_id):
            raise GoogleApiError(400, "Invalid resource id value.", reason="invalid")
        if event_id in self.events[cal_id]:
            raise GoogleApiError(
                409, "The requested identifier already exists.", reason="duplicate"
            )
        stamp = rfc3339(now or utcnow())
        event: dict[str, Any] = {
            "kind": "calendar#event",
            "id": event_id,
            "status": "confirmed",
            "htmlLink": f"https://www.google.com/calendar/event?eid={event_id}",
            "created": stamp,
            "updated": stamp,
            "creator": {"email": self.email, "self": True},
            "organizer": {"email": self.email, "self": True},
            "iCalUID": body.get("iCalUID") or f"{event_id}@google.com",
            "sequence": 0,
            "reminders": {"useDefault": True},
            "eventType": "default",
        }
        if cal_id != self.email:
            event["organizer"] = {
                "email": cal_id,
                "displayName": self.calendars[cal_id]["summary"],
                "self": True,
            }
        if body.get("organizer"):
            event["organizer"] = dict(body["organizer"])
        for key in ("recurringEventId", "originalStartTime"):
            if key in body:
                event[key] = body[key]
        self._apply(event, body, cal_id)
        self._validate(event, cal_id)
        stored = StoredEvent(cal_id, event, 0)
        self.events[cal_id][event_id] = stored
        self._touch(stored, stamp)
        return self._public(stored.body)

    def patch_event(
        self,
        calendar_id: str,
        event_id: str,
        body: dict[str, Any],
        *,
        replace: bool = False,
        preserve: tuple[str, ...] = (),
        now: datetime | None = None,
    ) -> dict[str, Any]:
        cal_id = self.resolve(calendar_id)
        stored = self._find_or_materialise(cal_id, event_id)
        event = copy.deepcopy(stored.body)
        if replace:  # events.update: fields not sent are cleared
            for key in _WRITABLE:
                if key not in ("status", *preserve):
                    event.pop(key, None)
        self._apply(event, body, cal_id)
        self._validate(event, cal_id)
        event["sequence"] = int(event.get("sequence", 0)) + (
            1 if any(k in body for k in ("start", "end", "recurrence", "location")) else 0
        )
        stored.body = event
        self._touch(stored, rfc3339(now or utcnow()))
        return self._public(event)

    def delete_event(self, calendar_id: str, event_id: str, *, now: datetime | None = None) -> None:
        cal_id = self.resolve(calendar_id)
        stored = self._find_or_materialise(cal_id, event_id)
        if stored.cancelled:
            raise GoogleApiError(410, "Resource has been deleted", reason="deleted")
        stored.body["status"] = "cancelled"
        stamp = rfc3339(now or utcnow())
        self._touch(stored, stamp)
        # Deleting a series deletes its exceptions too.
        if stored.body.get("recurrence"):
            for other in list(self.events[cal_id].values()):
                if other.body.get("recurringEventId") == stored.id and not other.cancelled:
                    other.body["status"] = "cancelled"
                    self._touch(other, stamp)

    def quick_add(self, calendar_id: str, text: str) -> dict[str, Any]:
        """``events.quickAdd``: an event from a line of text. The emulator understands a
        subset of Google's phrasing: a day (``today``, ``tomorrow``, a weekday name, an ISO
        date) and a time (``3pm``, ``15:30``, ``at 9``); the rest is the summary. Without a
        day it is today; without a time, the next full hour; one hour long."""
        cal_id = self.resolve(calendar_id)
        if not text.strip():
            raise GoogleApiError(400, "Required parameter: text", reason="required")
        zone = ZoneInfo(self.calendars[cal_id]["timeZone"])
        now = utcnow().astimezone(zone)
        day = now.date()
        rest = text
        m = re.search(r"\b(\d{4}-\d{2}-\d{2})\b", rest)
        weekdays = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
        if m:
            day = date.fromisoformat(m.group(1))
            rest = rest.replace(m.group(0), " ")
        elif re.search(r"\btomorrow\b", rest, re.I):
            day = now.date() + timedelta(days=1)
            rest = re.sub(r"\btomorrow\b", " ", rest, flags=re.I)
        elif re.search(r"\btoday\b", rest, re.I):
            rest = re.sub(r"\btoday\b", " ", rest, flags=re.I)
        else:
            for i, name in enumerate(weekdays):
                if re.search(rf"\b(on )?{name}\b", rest, re.I):
                    day = now.date() + timedelta(days=(i - now.weekday() - 1) % 7 + 1)
                    rest = re.sub(rf"\b(on )?{name}\b", " ", rest, flags=re.I)
                    break
        t = re.search(r"\b(?:at )?(\d{1,2})(?::(\d{2}))?\s*(am|pm)\b", rest, re.I) or re.search(
            r"\b(?:at )?(\d{1,2}):(\d{2})()\b", rest
        )
        if t:
            hour = int(t.group(1)) % 12 if t.group(3) else int(t.group(1))
            if (t.group(3) or "").lower() == "pm":
                hour += 12
            start = datetime.combine(day, time(hour, int(t.group(2) or 0)), tzinfo=zone)
            rest = rest.replace(t.group(0), " ")
        else:
            start = (now + timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
            start = datetime.combine(day, start.timetz())
        summary = re.sub(r"\s+", " ", rest).strip(" ,") or text.strip()
        body = {
            "summary": summary,
            "start": {"dateTime": start.isoformat(), "timeZone": zone.key},
            "end": {"dateTime": (start + timedelta(hours=1)).isoformat(), "timeZone": zone.key},
        }
        return self.insert_event(calendar_id, body)

    def move(self, calendar_id: str, event_id: str, destination: str) -> dict[str, Any]:
        """``events.move``: the event changes organizer calendar; the source keeps a
        cancelled tombstone so its sync sees it leave."""
        cal_id = self.resolve(calendar_id)
        dest_id = self.resolve(destination)
        stored = self.events[cal_id].get(event_id)
        if stored is None or stored.cancelled:
            raise GoogleApiError(404, "Not Found", reason="notFound")
        if stored.body.get("recurringEventId"):
            raise GoogleApiError(
                400,
                "Cannot move an instance of a recurring event.",
                reason="cannotChangeOrganizerOfInstance",
            )
        body = copy.deepcopy(stored.body)
        if dest_id == cal_id:
            return self._public(body)
        body["organizer"] = {
            "email": dest_id,
            "displayName": self.calendars[dest_id]["summary"],
            "self": True,
        }
        moved = StoredEvent(dest_id, body, 0)
        self.events[dest_id].pop(event_id, None)
        self.events[dest_id][event_id] = moved
        stamp = rfc3339(utcnow())
        self._touch(moved, stamp)
        stored.body = {**copy.deepcopy(stored.body), "status": "cancelled"}
        self._touch(stored, stamp)
        return self._public(moved.body)

    def import_event(self, calendar_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """``events.import``: a private copy of an existing event, keyed by its iCalUID
        (importing the same iCalUID again updates that copy)."""
        cal_id = self.resolve(calendar_id)
        uid = body.get("iCalUID")
        if not uid:
            raise GoogleApiError(400, "Missing iCalUID.", reason="required")
        for stored in self.events[cal_id].values():
            if stored.body.get("iCalUID") == uid and not stored.body.get("recurringEventId"):
                return self.patch_event(cal_id, stored.id, body, replace=True)
        return self.insert_event(cal_id, {k: v for k, v in body.items() if k != "id"})

    def insert_calendar(self, body: dict[str, Any]) -> dict[str, Any]:
        """``calendars.insert``: a secondary calendar owned by the user."""
        summary = str(body.get("summary") or "").strip()
        if not summary:
            raise GoogleApiError(400, "Missing summary.", reason="required")
        _zone(body.get("timeZone"))
        entry = self.add_calendar(
            summary, time_zone=body.get("timeZone"), description=body.get("description")
        )
        return self.calendar_resource(entry["id"])

    def insert_calendar_list(self, body: dict[str, Any]) -> dict[str, Any]:
        """``calendarList.insert``: put an existing calendar (by id) on the user's list."""
        cal_id = str(body.get("id") or "")
        if cal_id not in self.calendars:
            raise GoogleApiError(404, "Not Found", reason="notFound")
        entry = self.calendars[cal_id]
        for key in ("colorId", "hidden", "selected", "summaryOverride", "defaultReminders"):
            if key in body:
                entry[key] = copy.deepcopy(body[key])
        entry.pop("deleted", None)
        return copy.deepcopy(entry)

    def invalidate_sync_tokens(self) -> None:
        self.generation += 1

    # ----------------------------------------------------------------- reads

    def get_event(self, calendar_id: str, event_id: str) -> dict[str, Any]:
        cal_id = self.resolve(calendar_id)
        stored = self.events[cal_id].get(event_id)
        if stored is not None:
            return self._public(stored.body)
        instance = self._virtual_instance(cal_id, event_id)
        if instance is None:
            raise GoogleApiError(404, "Not Found", reason="notFound")
        return self._public(instance)

    def list_events(self, calendar_id: str, params: dict[str, str]) -> dict[str, Any]:
        """``events.list``: full listing, page continuation or incremental sync."""
        cal_id = self.resolve(calendar_id)
        page = _decode_token(params["pageToken"]) if params.get("pageToken") else None
        if params.get("pageToken") and (page is None or page.get("c") != cal_id):
            raise GoogleApiError(400, "Invalid page token value.", reason="invalid")
        if page is not None:
            params = {**page["p"], "pageToken": params["pageToken"]}
        sync_token = params.get("syncToken")
        since: int | None = None
        if sync_token:
            bad = [k for k in _SYNC_INCOMPATIBLE if params.get(k)]
            if bad:
                raise GoogleApiError(
                    400, f"Sync token cannot be used with {bad[0]}.", reason="invalid"
                )
            if params.get("showDeleted", "").lower() == "false":
                # "deleted events ... will always be in the result set and it is not
                # allowed to set showDeleted to False" (events.list, syncToken).
                raise GoogleApiError(
                    400, "Sync token cannot be used with showDeleted=false.", reason="invalid"
                )
            decoded = _decode_token(sync_token)
            if (
                decoded is None
                or decoded.get("c") != cal_id
                or decoded.get("g") != self.generation
                or not isinstance(decoded.get("s"), int)
            ):
                raise GoogleApiError(
                    410,
                    "Sync token is no longer valid, a full sync is required.",
                    domain="calendar",
                    reason="fullSyncRequired",
                )
            since = decoded["s"]
        single = params.get("singleEvents", "false").lower() == "true"
        order_by = params.get("orderBy")
        if order_by == "startTime" and not single:
            raise GoogleApiError(
                400,
                "The requested ordering is not available for the particular query.",
                reason="invalid",
            )
        max_results = min(int(params.get("maxResults") or MAX_RESULTS_DEFAULT), MAX_RESULTS_LIMIT)
        # The sync token describes the state at the first page, so changes made while the
        # client pages show up in its next incremental call rather than being lost.
        snapshot_seq = page["s"] if page is not None else self.seq
        items = self._select(cal_id, params, since=since, single=single, upto=snapshot_seq)
        offset = page["o"] if page is not None else 0
        chunk = items[offset : offset + max_results]
        entry = self.calendars[cal_id]
        response_zone = entry["timeZone"]
        if params.get("timeZone"):
            zone = _zone(params["timeZone"])  # 400 for an unknown zone
            response_zone = params["timeZone"]
            chunk = [_in_zone(item, zone) for item in chunk]
        out: dict[str, Any] = {
            "kind": "calendar#events",
            "etag": f'"{snapshot_seq}"',
            "summary": entry["summary"],
            "updated": max((i.get("updated", "") for i in chunk), default=rfc3339(utcnow())),
            "timeZone": response_zone,
            "accessRole": "owner",
            "defaultReminders": entry["defaultReminders"],
            "items": chunk,
        }
        if offset + max_results < len(items):
            first_params = {k: v for k, v in params.items() if k != "pageToken"}
            out["nextPageToken"] = _encode_token(
                {"c": cal_id, "s": snapshot_seq, "o": offset + max_results, "p": first_params}
            )
        else:
            out["nextSyncToken"] = _encode_token(
                {"c": cal_id, "s": snapshot_seq, "g": self.generation}
            )
        return out

    def instances(self, calendar_id: str, event_id: str, params: dict[str, str]) -> dict[str, Any]:
        cal_id = self.resolve(calendar_id)
        master = self.events[cal_id].get(event_id)
        if master is None or not master.body.get("recurrence"):
            raise GoogleApiError(404, "Not Found", reason="notFound")
        lo, hi = self._window(params)
        show_deleted = params.get("showDeleted", "false").lower() == "true"
        items = [
            self._public(i)
            for i in self._expand(master, lo, hi, cal_id)
            if show_deleted or i.get("status") != "cancelled"
        ]
        items.sort(key=lambda e: event_bound(e["start"], name="start"))
        return {"kind": "calendar#events", "items": items[:MAX_RESULTS_LIMIT]}

    def freebusy(
        self, calendar_ids: list[str], time_min: datetime, time_max: datetime
    ) -> dict[str, Any]:
        calendars: dict[str, Any] = {}
        for requested in calendar_ids:
            try:
                cal_id = self.resolve(requested)
            except GoogleApiError:
                calendars[requested] = {
                    "busy": [],
                    "errors": [{"domain": "global", "reason": "notFound"}],
                }
                continue
            spans: list[tuple[datetime, datetime]] = []
            for ev in self._select(
                cal_id,
                {"timeMin": rfc3339(time_min), "timeMax": rfc3339(time_max)},
                since=None,
                single=True,
                upto=self.seq,
            ):
                if ev.get("transparency") == "transparent" or self._declined(ev):
                    continue
                start = max(event_bound(ev["start"], name="start"), time_min)
                end = min(event_bound(ev["end"], name="end"), time_max)
                if end > start:
                    spans.append((start, end))
            spans.sort()
            merged: list[list[datetime]] = []
            for start, end in spans:
                if merged and start <= merged[-1][1]:
                    merged[-1][1] = max(merged[-1][1], end)
                else:
                    merged.append([start, end])
            calendars[requested] = {
                "busy": [{"start": rfc3339(s), "end": rfc3339(e)} for s, e in merged]
            }
        return {
            "kind": "calendar#freeBusy",
            "timeMin": rfc3339(time_min),
            "timeMax": rfc3339(time_max),
            "calendars": calendars,
        }

    # ----------------------------------------------------------------- internals

    def _next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def _touch(self, stored: StoredEvent, stamp: str) -> None:
        stored.seq = self._next_seq()
        stored.body["updated"] = stamp
        stored.body["etag"] = f'"{stored.seq:016d}"'

    def _apply(self, event: dict[str, Any], body: dict[str, Any], cal_id: str) -> None:
        for key in _WRITABLE:
            if key in body:
                if body[key] is None:
                    event.pop(key, None)
                else:
                    event[key] = copy.deepcopy(body[key])
        attendees = event.get("attendees")
        if attendees:
            for a in attendees:
                if a.get("email") in (self.email, cal_id):
                    a["self"] = True
                if a.get("email") == event.get("organizer", {}).get("email"):
                    a["organizer"] = True
                    a.setdefault("responseStatus", "accepted")  # organizers attend their own
                a.setdefault("responseStatus", "needsAction")

    def _validate(self, event: dict[str, Any], cal_id: str) -> None:
        tz = self.calendars[cal_id]["timeZone"]
        if "start" not in event or "end" not in event:
            raise GoogleApiError(400, "Missing end time.", reason="required")
        for key in ("start", "end"):
            _zone(event[key].get("timeZone"))
            event[key] = _with_offset(event[key], tz)
        start = event_bound(event["start"], name="start", default_tz=tz)
        end = event_bound(event["end"], name="end", default_tz=tz)
        if end < start:
            raise GoogleApiError(400, "The specified time range is empty.", reason="timeRangeEmpty")
        if event.get("recurrence"):
            self._rule(event, start)  # parse now so a bad RRULE is a 400, not a later 500

    def _rule(self, event: dict[str, Any], start: datetime) -> Any:
        lines = [str(line) for line in event.get("recurrence") or []]
        all_day = "date" in event["start"]
        dtstart = start.replace(tzinfo=None) if all_day else start
        try:
            return rrulestr(
                _normalise_rrule_lines(lines, aware=not all_day), dtstart=dtstart, forceset=True
            )
        except (ValueError, TypeError):
            raise GoogleApiError(400, "Invalid recurrence rule.", reason="invalid") from None

    def _expand(
        self, master: StoredEvent, lo: datetime, hi: datetime, cal_id: str
    ) -> list[dict[str, Any]]:
        """Instances of ``master`` overlapping [lo, hi), exceptions applied."""
        body = master.body
        tz = self.calendars[cal_id]["timeZone"]
        start = event_bound(body["start"], name="start", default_tz=tz)
        end = event_bound(body["end"], name="end", default_tz=tz)
        zone = _zone(body["start"].get("timeZone"))
        if zone is not None and "dateTime" in body["start"]:
            start = start.astimezone(zone)  # expand in local wall time (DST-correct)
        duration = end - start
        rule = self._rule(body, start)
        all_day = "date" in body["start"]
        exceptions = {
            str(
                e.body.get("originalStartTime", {}).get("dateTime")
                or e.body.get("originalStartTime", {}).get("date")
            ): e
            for e in self.events[cal_id].values()
            if e.body.get("recurringEventId") == master.id
        }
        out: list[dict[str, Any]] = []
        search_lo = lo - duration
        if all_day:
            local = ZoneInfo(tz)
            occurrences = rule.between(
                search_lo.astimezone(local).replace(tzinfo=None) - timedelta(days=1),
                hi.astimezone(local).replace(tzinfo=None),
                inc=True,
            )
        else:
            occurrences = rule.between(search_lo, hi, inc=True)
        for occ in occurrences[:MAX_INSTANCES]:
            original = _bound_json(body["start"], occ)
            key = original.get("dateTime") or original.get("date")
            stored_exc = exceptions.get(str(key))
            if stored_exc is not None:
                instance = copy.deepcopy(stored_exc.body)
            else:
                instance = copy.deepcopy(body)
                instance.pop("recurrence", None)
                instance["id"] = f"{master.id}_{_instance_suffix(body['start'], occ)}"
                instance["recurringEventId"] = master.id
                instance["originalStartTime"] = original
                instance["start"] = original
                instance["end"] = _bound_json(body["end"], occ + duration)
            inst_start = event_bound(instance["start"], name="start", default_tz=tz)
            inst_end = event_bound(instance["end"], name="end", default_tz=tz)
            if inst_end > lo and inst_start < hi:
                out.append(instance)
        return out

    def _virtual_instance(self, cal_id: str, event_id: str) -> dict[str, Any] | None:
        master_id, sep, suffix = event_id.rpartition("_")
        master = self.events[cal_id].get(master_id) if sep else None
        if master is None or not master.body.get("recurrence"):
            return None
        try:
            if "T" in suffix:
                at = datetime.strptime(suffix, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
            else:
                at = datetime.strptime(suffix, "%Y%m%d").replace(
                    tzinfo=ZoneInfo(self.calendars[cal_id]["timeZone"])
                )
        except ValueError:
            return None
        for inst in self._expand(master, at, at + timedelta(seconds=1), cal_id):
            if inst["id"] == event_id:
                return inst
        return None

    def _find_or_materialise(self, cal_id: str, event_id: str) -> StoredEvent:
        """The stored event, or a virtual recurring instance turned into a stored
        exception (Google's behaviour when one occurrence is edited or deleted)."""
        stored = self.events[cal_id].get(event_id)
        if stored is not None:
            return stored
        instance = self._virtual_instance(cal_id, event_id)
        if instance is None:
            raise GoogleApiError(404, "Not Found", reason="notFound")
        stored = StoredEvent(cal_id, instance, 0)
        self.events[cal_id][event_id] = stored
        return stored

    def _window(self, params: dict[str, str]) -> tuple[datetime, datetime]:
        lo = (
            parse_rfc3339(params["timeMin"], name="timeMin")
            if params.get("timeMin")
            else datetime(1970, 1, 1, tzinfo=UTC)
        )
        hi = (
            parse_rfc3339(params["timeMax"], name="timeMax")
            if params.get("timeMax")
            else max(lo, utcnow()) + EXPANSION_HORIZON
        )
        if hi <= lo and params.get("timeMax") and params.get("timeMin"):
            raise GoogleApiError(400, "The specified time range is empty.", reason="timeRangeEmpty")
        return lo, hi

    def _select(
        self,
        cal_id: str,
        params: dict[str, str],
        *,
        since: int | None,
        single: bool,
        upto: int,
    ) -> list[dict[str, Any]]:
        tz = self.calendars[cal_id]["timeZone"]
        show_deleted = since is not None or params.get("showDeleted", "false").lower() == "true"
        lo, hi = self._window(params)
        updated_min = (
            parse_rfc3339(params["updatedMin"], name="updatedMin")
            if params.get("updatedMin")
            else None
        )
        words = (params.get("q") or "").lower().split()
        ical = params.get("iCalUID")
        chosen: list[dict[str, Any]] = []
        for stored in self.events[cal_id].values():
            if stored.seq > upto:
                continue
            if since is not None and stored.seq <= since:
                continue
            body = stored.body
            if single and body.get("recurrence") and not stored.cancelled:
                chosen.extend(self._expand(stored, lo, hi, cal_id))
                continue
            if single and body.get("recurringEventId") and since is None:
                continue  # in a full listing, exceptions come through their master's expansion
            if stored.cancelled:
                if single and body.get("recurrence") and since is None:
                    # singleEvents + showDeleted: "only single instances of deleted events
                    # (but not the underlying recurring events) are returned".
                    continue
                if show_deleted or (not single and body.get("recurringEventId")):
                    # Cancelled instances of a series are listed even without showDeleted
                    # when singleEvents is false (events.list, showDeleted).
                    chosen.append(body)
                continue
            if not body.get("recurrence"):
                start = event_bound(body["start"], name="start", default_tz=tz)
                end = event_bound(body["end"], name="end", default_tz=tz)
                # Without timeMax nothing is cut off at the far end (Google documents no
                # upper bound); ``hi`` only bounds the expansion of endless series.
                if not (end > lo and (start < hi or not params.get("timeMax"))):
                    continue
            chosen.append(body)
        out = []
        seen: set[str] = set()
        for ev in chosen:
            if ev["id"] in seen:  # an exception can arrive directly and via its master
                continue
            seen.add(ev["id"])
            if (
                ev.get("status") == "cancelled"
                and not show_deleted
                and (single or not ev.get("recurringEventId"))
            ):
                continue
            if updated_min and datetime.fromisoformat(ev["updated"]) < updated_min:
                continue
            if ical and ev.get("iCalUID") != ical:
                continue
            if words and not all(w in self._haystack(ev) for w in words):
                continue
            out.append(self._public(ev))
        if params.get("orderBy") == "startTime":
            out.sort(key=lambda e: (event_bound(e["start"], name="start", default_tz=tz), e["id"]))
        elif params.get("orderBy") == "updated":
            out.sort(key=lambda e: (e["updated"], e["id"]))
        return out

    @staticmethod
    def _haystack(ev: dict[str, Any]) -> str:
        parts = [ev.get("summary", ""), ev.get("description", ""), ev.get("location", "")]
        for a in ev.get("attendees") or []:
            parts += [a.get("email", ""), a.get("displayName", "")]
        parts.append(ev.get("organizer", {}).get("email", ""))
        return " ".join(str(p) for p in parts).lower()

    def _declined(self, ev: dict[str, Any]) -> bool:
        return any(
            a.get("self") and a.get("responseStatus") == "declined"
            for a in ev.get("attendees") or []
        )

    @staticmethod
    def _public(body: dict[str, Any]) -> dict[str, Any]:
        if body.get("status") == "cancelled":
            # Google returns tombstones with only their identity (and instance origin).
            keep = (
                "kind",
                "etag",
                "id",
                "status",
                "updated",
                "recurringEventId",
                "originalStartTime",
            )
            return {k: copy.deepcopy(body[k]) for k in keep if k in body}
        return copy.deepcopy(body)
