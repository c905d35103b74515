"""Load a Google Workspace (one user's Gmail, Calendar and Drive) from a folder.

The format (a contract: scripts rely on it, see the README)::

    DIR/workspace.toml   [user] email, name, time_zone (IANA), signature (optional, the
                         Gmail signature of the primary send-as address)
                         [clock] now (optional, RFC 3339): the instant the data was written
                         around; ``secretary demo`` pins SECRETARY_NOW to it unless it is set
    DIR/mail/**          RFC 822 files or mbox files (a file whose first line starts with
                         "From "). The top folder decides the labels: SENT (the user's sent
                         mail), SPAM, INBOX; any other folder is INBOX plus a user label named
                         after the folder path ("Travel", "Projects/Northwind"). Inbox mail is
                         UNREAD. Date headers are kept as written (internalDate = Date).
    DIR/calendar/*.ics   one calendar per file, its summary from the file stem; primary.ics is
                         the primary calendar. RRULE/EXDATE/RDATE/RECURRENCE-ID, TRANSP,
                         STATUS and ATTENDEE;PARTSTAT are honoured.
    DIR/drive/**         files; .txt/.md become Google Docs named without the extension
                         (export text/plain), .csv Google Sheets (export text/csv), others keep
                         their full name and the mime type of their extension; subfolders
                         become Drive folders.

Identifiers are deterministic, so a script can name them:

- event id: the UID itself when it is already a valid Calendar id (5-1024 characters of
  ``a-v0-9``), else ``event_id_for_uid(uid)``: the first 26 characters of the lower-case
  base32hex encoding of SHA-256(UID). Instances of a recurring event have Google's instance
  ids ``{id}_{YYYYMMDDTHHMMSSZ}`` (UTC start) or ``{id}_{YYYYMMDD}`` (all-day).
- secondary calendar id: ``c_`` + the first 32 hex digits of SHA-256(email/stem) +
  ``@group.calendar.google.com``; the primary calendar's id is the user's email.
- Drive file id: ``1`` + the first 32 characters of the URL-safe base64 SHA-256 of
  email/relative path (``-`` and ``_`` kept).
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import mimetypes
import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from workspace_emulator._clock import to_epoch_ms, utcnow
from workspace_emulator.calendar_store import CalendarStore
from workspace_emulator.drive_store import DOC, FOLDER, SHEET
from workspace_emulator.errors import GoogleApiError
from workspace_emulator.gmail_settings import set_signature
from workspace_emulator.gmail_store import read_headers
from workspace_emulator.loader import split_mbox
from workspace_emulator.state import EmulatorState, EmulatorUser

WORKSPACE_FILE = "workspace.toml"
DOC_SUFFIXES = (".txt", ".md")
SHEET_SUFFIXES = (".csv",)
_EVENT_ID = re.compile(r"^[a-v0-9]{5,1024}$")
_PARTSTAT = {
    "ACCEPTED": "accepted",
    "DECLINED": "declined",
    "TENTATIVE": "tentative",
    "NEEDS-ACTION": "needsAction",
}


class WorkspaceError(ValueError):
    """The folder is not a workspace in the documented format (the message says why)."""


@dataclass(frozen=True)
class WorkspaceConfig:
    email: str
    name: str
    time_zone: str
    now: datetime | None = None
    signature: str = ""


@dataclass(frozen=True)
class WorkspaceCounts:
    messages: int
    labels: int
    calendars: int
    events: int
    files: int

    def to_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def read_config(folder: Path) -> WorkspaceConfig:
    path = folder / WORKSPACE_FILE
    if not path.is_file():
        raise WorkspaceError(f"{folder} has no {WORKSPACE_FILE}")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise WorkspaceError(f"{path}: {exc}") from exc
    user = data.get("user")
    if not isinstance(user, dict) or not user.get("email"):
        raise WorkspaceError(f"{path}: [user] email is required")
    email = str(user["email"]).strip()
    time_zone = str(user.get("time_zone") or "UTC")
    try:
        ZoneInfo(time_zone)
    except (KeyError, ValueError) as exc:
        raise WorkspaceError(f"{path}: unknown time_zone {time_zone!r}") from exc
    now: datetime | None = None
    raw_now = (data.get("clock") or {}).get("now")
    if raw_now:
        now = (
            raw_now
            if isinstance(raw_now, datetime)
            else datetime.fromisoformat(str(raw_now).replace("Z", "+00:00"))
        )
        now = now.astimezone(UTC) if now.tzinfo else now.replace(tzinfo=UTC)
    name = str(user.get("name") or email.split("@")[0].replace(".", " ").title())
    signature = str(user.get("signature") or "")
    return WorkspaceConfig(
        email=email, name=name, time_zone=time_zone, now=now, signature=signature
    )


def load_workspace(
    state: EmulatorState, folder: str | Path
) -> tuple[EmulatorUser, WorkspaceCounts]:
    """Create the folder's user in ``state`` with its mail, calendars and Drive."""
    base = Path(folder).expanduser()
    config = read_config(base)
    with state.lock:
        user = state.add_user(config.email, name=config.name)
        user.drive.display_name = config.name
        if config.signature:
            set_signature(user, config.signature)
        messages = _load_mail(user, base / "mail", config)
        calendars, events = _load_calendars(user, base / "calendar", config)
        files = _load_drive(user, base / "drive", config)
        labels = sum(1 for label in user.mailbox.labels.values() if label.type == "user")
    return user, WorkspaceCounts(
        messages=messages, labels=labels, calendars=calendars, events=events, files=files
    )


# ----------------------------------------------------------------------------- mail


def _visible_files(root: Path) -> Iterator[Path]:
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if path.is_file() and not any(part.startswith(".") for part in rel.parts):
            yield path


def _mail_labels(folders: tuple[str, ...]) -> tuple[set[str], str | None]:
    """(system labels, user label name or None) for a file under ``mail/<folders...>``."""
    top = folders[0] if folders else "INBOX"
    if top.upper() == "SENT":
        return {"SENT"}, None
    if top.upper() == "SPAM":
        return {"SPAM"}, None
    if top.upper() == "INBOX":
        return {"INBOX", "UNREAD"}, None
    return {"INBOX", "UNREAD"}, "/".join(folders)


def _load_mail(user: EmulatorUser, root: Path, config: WorkspaceConfig) -> int:
    if not root.is_dir():
        return 0
    items: list[tuple[int, int, bytes, set[str]]] = []
    fallback = to_epoch_ms(config.now or utcnow())
    mailbox = user.mailbox
    for path in _visible_files(root):
        data = path.read_bytes()
        raws = list(split_mbox(data)) if data.startswith(b"From ") else [data]
        labels, user_label = _mail_labels(path.relative_to(root).parts[:-1])
        if user_label:
            label = mailbox.label_by_name(user_label) or mailbox.create_label({"name": user_label})
            labels = labels | {label.id}
        for raw in raws:
            if not raw.strip():
                continue
            date_ms = read_headers(raw).date_ms
            items.append((date_ms if date_ms is not None else fallback, len(items), raw, labels))
    # Oldest first: a reply threads onto a parent that is already stored.
    items.sort(key=lambda item: (item[0], item[1]))
    for date_ms, _order, raw, labels in items:
        mailbox.add_message(raw, label_ids=labels, internal_date=date_ms)
    return len(items)


# ----------------------------------------------------------------------------- calendar


def event_id_for_uid(uid: str) -> str:
    """The Calendar event id of an iCalendar UID (documented in the module docstring)."""
    if _EVENT_ID.match(uid):
        return uid
    digest = hashlib.sha256(uid.encode("utf-8")).digest()
    return base64.b32hexencode(digest).decode("ascii").lower()[:26]


def calendar_id_for(email: str, stem: str) -> str:
    if stem == "primary":
        return email
    digest = hashlib.sha256(f"{email}/{stem}".encode()).hexdigest()[:32]
    return f"c_{digest}@group.calendar.google.com"


def _ics_bound(value: Any, tz: str) -> dict[str, Any]:
    if isinstance(value, datetime):
        if value.tzinfo is None:  # floating time: the calendar's zone
            value = value.replace(tzinfo=ZoneInfo(tz))
        zone = getattr(value.tzinfo, "key", None)
        if zone and zone != "UTC":
            return {"dateTime": value.isoformat(), "timeZone": zone}
        return {"dateTime": value.astimezone(UTC).isoformat().replace("+00:00", "Z")}
    if isinstance(value, date):
        return {"date": value.isoformat()}
    raise WorkspaceError(f"unsupported date value {value!r}")


def _person(value: Any) -> dict[str, Any]:
    email = str(value)
    if email.lower().startswith("mailto:"):
        email = email[7:]
    out: dict[str, Any] = {"email": email}
    params = getattr(value, "params", {})
    if params.get("CN"):
        out["displayName"] = str(params["CN"])
    return out


def _date_lines(component: Any, name: str) -> list[str]:
    """EXDATE/RDATE values as Google-style recurrence lines (UTC, or dates for all-day)."""
    out: list[str] = []
    props = component.get(name)
    if props is None:
        return out
    for prop in props if isinstance(props, list) else [props]:
        for item in prop.dts:
            value = item.dt
            if isinstance(value, datetime):
                if value.tzinfo is None:
                    out.append(f"{name}:{value.strftime('%Y%m%dT%H%M%S')}")
                else:
                    out.append(f"{name}:{value.astimezone(UTC).strftime('%Y%m%dT%H%M%SZ')}")
            else:
                out.append(f"{name};VALUE=DATE:{value.strftime('%Y%m%d')}")
    return out


def _event_body(component: Any, tz: str, email: str) -> dict[str, Any]:
    start = component.decoded("DTSTART")
    body: dict[str, Any] = {"start": _ics_bound(start, tz)}
    if component.get("DTEND") is not None:
        end = component.decoded("DTEND")
    elif component.get("DURATION") is not None:
        end = start + component.decoded("DURATION")
    else:
        end = start + timedelta(days=1) if not isinstance(start, datetime) else start
    body["end"] = _ics_bound(end, tz)
    for prop, key in (("SUMMARY", "summary"), ("DESCRIPTION", "description")):
        if component.get(prop) is not None:
            body[key] = str(component.get(prop))
    if component.get("LOCATION") is not None:
        body["location"] = str(component.get("LOCATION"))
    if str(component.get("TRANSP", "")).upper() == "TRANSPARENT":
        body["transparency"] = "transparent"
    status = str(component.get("STATUS", "")).upper()
    if status == "TENTATIVE":
        body["status"] = "tentative"
    if component.get("ORGANIZER") is not None:
        organizer = _person(component.get("ORGANIZER"))
        if organizer["email"].lower() == email.lower():
            organizer["self"] = True
        body["organizer"] = organizer
    attendees = component.get("ATTENDEE")
    if attendees is not None:
        body["attendees"] = []
        for attendee in attendees if isinstance(attendees, list) else [attendees]:
            person = _person(attendee)
            partstat = str(attendee.params.get("PARTSTAT", "NEEDS-ACTION")).upper()
            person["responseStatus"] = _PARTSTAT.get(partstat, "needsAction")
            if str(attendee.params.get("ROLE", "")).upper() == "OPT-PARTICIPANT":
                person["optional"] = True
            body["attendees"].append(person)
    url = component.get("X-GOOGLE-CONFERENCE") or component.get("URL")
    if url is not None:
        body["conferenceData"] = {
            "entryPoints": [{"entryPointType": "video", "uri": str(url), "label": str(url)}],
            "conferenceSolution": {"key": {"type": "hangoutsMeet"}, "name": "Google Meet"},
        }
        body["hangoutLink"] = str(url)
    recurrence: list[str] = []
    if component.get("RRULE") is not None:
        recurrence.append("RRULE:" + component.get("RRULE").to_ical().decode())
    recurrence += _date_lines(component, "EXDATE") + _date_lines(component, "RDATE")
    if recurrence:
        body["recurrence"] = recurrence
    return body


def _instance_suffix(value: Any) -> str:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return value.strftime("%Y%m%dT%H%M%SZ")
        return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return str(value.strftime("%Y%m%d"))


def _load_calendars(user: EmulatorUser, root: Path, config: WorkspaceConfig) -> tuple[int, int]:
    from icalendar import Calendar

    store = user.calendar
    store.time_zone = config.time_zone
    store.calendars[store.email]["timeZone"] = config.time_zone
    if not root.is_dir():
        return len(store.calendars), 0
    events = 0
    for path in sorted(root.glob("*.ics")):
        parsed = Calendar.from_ical(path.read_bytes())
        tz = str(parsed.get("X-WR-TIMEZONE") or config.time_zone)
        cal_id = calendar_id_for(config.email, path.stem)
        if cal_id not in store.calendars:
            store.add_calendar(path.stem, calendar_id=cal_id, time_zone=tz)
        else:
            store.calendars[cal_id]["timeZone"] = tz
        if parsed.get("X-WR-CALDESC"):
            store.calendars[cal_id]["description"] = str(parsed.get("X-WR-CALDESC"))
        masters: list[Any] = []
        overrides: list[Any] = []
        for component in parsed.walk("VEVENT"):
            (overrides if component.get("RECURRENCE-ID") is not None else masters).append(component)
        for component in masters:
            events += _add_event(store, cal_id, component, tz, config.email)
        for component in overrides:
            _add_override(store, cal_id, component, tz, config.email)
    return len(store.calendars), events


def _add_event(store: CalendarStore, cal_id: str, component: Any, tz: str, email: str) -> int:
    uid = str(component.get("UID") or "")
    if not uid:
        raise WorkspaceError(f"an event in calendar {cal_id} has no UID")
    body = _event_body(component, tz, email)
    body["id"] = event_id_for_uid(uid)
    body["iCalUID"] = uid
    store.insert_event(cal_id, body)
    if str(component.get("STATUS", "")).upper() == "CANCELLED":
        store.delete_event(cal_id, body["id"])
        return 0
    return 1


def _add_override(store: CalendarStore, cal_id: str, component: Any, tz: str, email: str) -> None:
    """A RECURRENCE-ID component: one instance of a series moved, changed or cancelled."""
    master_id = event_id_for_uid(str(component.get("UID")))
    instance_id = f"{master_id}_{_instance_suffix(component.decoded('RECURRENCE-ID'))}"
    try:
        if str(component.get("STATUS", "")).upper() == "CANCELLED":
            store.delete_event(cal_id, instance_id)
        else:
            body = _event_body(component, tz, email)
            body.pop("recurrence", None)
            store.patch_event(cal_id, instance_id, body)
    except GoogleApiError as exc:
        raise WorkspaceError(
            f"RECURRENCE-ID of {component.get('UID')} names no instance of its series"
        ) from exc


# ----------------------------------------------------------------------------- drive


def drive_file_id(email: str, relative: str) -> str:
    digest = hashlib.sha256(f"{email}/{relative}".encode()).digest()
    return "1" + base64.urlsafe_b64encode(digest).decode("ascii")[:32]


def _load_drive(user: EmulatorUser, root: Path, config: WorkspaceConfig) -> int:
    if not root.is_dir():
        return 0
    drive = user.drive
    now = config.now or utcnow()
    folder_ids: dict[Path, str] = {}
    count = 0
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if any(part.startswith(".") for part in rel.parts):
            continue
        parent = folder_ids.get(rel.parent, "root") if rel.parent != Path(".") else "root"
        file_id = drive_file_id(config.email, rel.as_posix())
        if path.is_dir():
            drive.add_file(path.name, FOLDER, parents=[parent], file_id=file_id, now=now)
            folder_ids[rel] = file_id
        elif path.suffix.lower() in DOC_SUFFIXES:
            text = path.read_text(encoding="utf-8")
            drive.add_file(
                path.stem, DOC, doc_text=text, parents=[parent], file_id=file_id, now=now
            )
        elif path.suffix.lower() in SHEET_SUFFIXES:
            rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
            drive.add_file(
                path.stem, SHEET, sheet_rows=rows, parents=[parent], file_id=file_id, now=now
            )
        else:
            mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            drive.add_file(
                path.name,
                mime,
                content=path.read_bytes(),
                parents=[parent],
                file_id=file_id,
                now=now,
            )
        count += 1
    return count
