"""The shipped demo workspace: a believable mailbox, two calendars and a small Drive.

``seed_demo_workspace(state)`` creates Alex Rivera (``alex@demo.secretary.test``) so that
``secretary demo`` works on a fresh machine without ``../shared``:

- **Mail** (``demo_data/mail.tar.gz``, see ``demo_data/ATTRIBUTION.md``): 360 real,
  license-clean messages (230 SpamAssassin public corpus: 130 easy ham, 40 hard ham,
  60 spam; 130 public Enron messages, readdressed to Alex) plus ``len(SYNTHETIC_MAIL)``
  clearly synthetic messages we wrote to exercise drafting and scheduling. Original
  ``Date`` headers are kept; ``internalDate`` is spread over the last 30 days relative to
  ``now`` (8 real messages and every synthetic one within the last day).
- **Calendar**: primary + "Team", events over the next two weeks incl. a weekly meeting.
- **Drive**: 10 files of our own text (a folder, Docs, Sheets, notes, a PDF).

``build_demo_mail(shared_data, out)`` regenerates the archive from ``../shared/data``
(maintainers only; deterministic).
"""

from __future__ import annotations

import email.utils
import gzip
import io
import json
import random
import re
import tarfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from workspace_emulator._clock import to_epoch_ms, utcnow
from workspace_emulator.drive_store import DOC, FOLDER, SHEET
from workspace_emulator.state import EmulatorState, EmulatorUser

DEMO_EMAIL = "alex@demo.secretary.test"
DEMO_NAME = "Alex Rivera"
DEMO_TIME_ZONE = "America/New_York"
MAIL_ARCHIVE = "mail.tar.gz"

# What ``build_demo_mail`` selects: (source folder under shared/data, set name, count).
MAIL_SELECTION: list[tuple[str, str, int]] = [
    ("spamassassin_public_corpus/easy-ham-1", "easy_ham", 100),
    ("spamassassin_public_corpus/easy-ham-2", "easy_ham", 30),
    ("spamassassin_public_corpus/hard-ham-1", "hard_ham", 40),
    ("spamassassin_public_corpus/spam-1", "spam", 30),
    ("spamassassin_public_corpus/spam-2", "spam", 30),
    # Enron genre folders (1 business, 2 personal, 3 personal-professional, 4 logistics,
    # 5 employment, 6 document collaboration). Only the raw messages ship, never labels.
    ("enron_berkeley_categories/1", "enron", 40),
    ("enron_berkeley_categories/2", "enron", 10),
    ("enron_berkeley_categories/3", "enron", 15),
    ("enron_berkeley_categories/4", "enron", 35),
    ("enron_berkeley_categories/5", "enron", 10),
    ("enron_berkeley_categories/6", "enron", 20),
]
# Up to this many messages per folder come as whole reply threads (thread-aware drafting).
THREADED_FROM = {"spamassassin_public_corpus/easy-ham-1": 40}
MAX_MESSAGE_BYTES = 40_000  # keeps the archive small; long mails add nothing to a demo
RECENT_REAL = 8  # real messages placed within the last day so triage has fresh mail


@dataclass(frozen=True)
class DemoCounts:
    messages: int
    real_messages: int
    synthetic_messages: int
    spam: int
    calendars: int
    events: int
    drive_files: int


# ----------------------------------------------------------------------------- synthetic


@dataclass(frozen=True)
class SyntheticMail:
    key: str
    sender: str
    subject: str
    body: str
    age: timedelta
    labels: tuple[str, ...] = ("INBOX", "UNREAD")
    reply_to_key: str | None = None
    extra_headers: tuple[tuple[str, str], ...] = ()


ME = f"{DEMO_NAME} <{DEMO_EMAIL}>"
JORDAN = "Jordan Lee <jordan.lee@northwind.example>"
PRIYA = "Priya Shah <priya.shah@demo.secretary.test>"

# Our own text, written for this demo (marked synthetic in ATTRIBUTION.md and in an
# ``X-Secretary-Demo: synthetic`` header).
SYNTHETIC_MAIL: list[SyntheticMail] = [
    SyntheticMail(
        "meet",
        JORDAN,
        "Meet next week about the Q3 proposal?",
        "Hi Alex,\n\nThanks for sending the Q3 proposal over. I'd like to walk through the "
        "budget section with you before we take it to our board.\n\nCould we meet for 45 "
        "minutes sometime next week? Tuesday or Wednesday afternoon works best on my side, "
        "but I can be flexible.\n\nBest,\nJordan\n\nJordan Lee | Partnerships, Northwind\n",
        timedelta(hours=2),
    ),
    SyntheticMail(
        "contract",
        PRIYA,
        "Signed vendor agreement needed by Thursday",
        "Hi Alex,\n\nFinance is closing the quarter and needs the signed Northwind vendor "
        "agreement (the PDF in the Projects folder) by Thursday end of day. Could you send "
        "it over, or share the Drive link?\n\nThanks!\nPriya\n",
        timedelta(hours=5),
    ),
    SyntheticMail(
        "status",
        ME,
        "Onboarding guide draft",
        "Hi Priya,\n\nI put a first draft of the team onboarding guide in Drive. Could you "
        "check the section on expense reports?\n\nAlex\n",
        timedelta(hours=30),
        labels=("SENT",),
    ),
    SyntheticMail(
        "status-reply",
        PRIYA,
        "Re: Onboarding guide draft",
        "Looks good overall. Two things: the expense limit is now $75 per day, and new hires "
        "should get calendar access to the Team calendar on day one. Can you update those and "
        "let me know when it's done?\n\nPriya\n\n> I put a first draft of the team onboarding "
        "guide in Drive.\n",
        timedelta(hours=9),
        reply_to_key="status",
    ),
    SyntheticMail(
        "outreach",
        "Sam Carter <sam@growthleads.example>",
        "Quick question about your pipeline, Alex",
        "Hi Alex,\n\nI noticed your team is growing fast. We help companies like yours book "
        "3x more sales meetings with AI-personalised outreach.\n\nDo you have 15 minutes "
        "this week for a quick call?\n\nCheers,\nSam\n",
        timedelta(hours=14),
    ),
    SyntheticMail(
        "shipping",
        "Parcel Tracking <no-reply@parcels.example>",
        "Your order has shipped",
        "Your order #48213 (USB-C docking station) has shipped and will arrive on Friday.\n\n"
        "This is an automated message; please do not reply.\n",
        timedelta(hours=20),
        extra_headers=(("Auto-Submitted", "auto-generated"),),
    ),
    SyntheticMail(
        "newsletter",
        "The Product Weekly <newsletter@productweekly.example>",
        "The Product Weekly: roadmaps that survive contact with customers",
        "This week: three ways to keep a roadmap honest, a teardown of onboarding flows, and "
        "jobs from our partners.\n\nYou are receiving this because you subscribed at "
        "productweekly.example.\n",
        timedelta(hours=23),
        extra_headers=(
            ("List-Unsubscribe", "<mailto:unsubscribe@productweekly.example>"),
            ("List-Id", "The Product Weekly <weekly.productweekly.example>"),
            ("Precedence", "bulk"),
        ),
    ),
]


def _synthetic_raw(mail: SyntheticMail, at: datetime, parent_id: str | None) -> tuple[str, bytes]:
    msg = EmailMessage()
    msg["From"] = mail.sender
    msg["To"] = PRIYA if mail.sender == ME else ME
    msg["Subject"] = mail.subject
    msg["Date"] = email.utils.format_datetime(at.astimezone(ZoneInfo(DEMO_TIME_ZONE)))
    message_id = f"<demo-{mail.key}@demo.secretary.test>"
    msg["Message-ID"] = message_id
    if parent_id:
        msg["In-Reply-To"] = parent_id
        msg["References"] = parent_id
    msg["X-Secretary-Demo"] = "synthetic"
    for name, value in mail.extra_headers:
        msg[name] = value
    msg.set_content(mail.body)
    return message_id, bytes(msg)


# ----------------------------------------------------------------------------- real mail


def _mail_archive() -> bytes:
    return resources.files("workspace_emulator").joinpath("demo_data", MAIL_ARCHIVE).read_bytes()


def load_demo_mail() -> tuple[list[dict[str, Any]], dict[str, bytes]]:
    """The archive's manifest entries and raw messages, keyed by member name."""
    manifest: list[dict[str, Any]] = []
    raws: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(_mail_archive()), mode="r:gz") as tar:
        for member in tar.getmembers():
            handle = tar.extractfile(member)
            if handle is None:
                continue
            data = handle.read()
            if member.name == "manifest.json":
                manifest = json.loads(data)
            else:
                raws[member.name] = data
    return manifest, raws


def _normalise_subject(raw: bytes) -> str:
    m = re.search(rb"^Subject:[ \t]*(.*)$", raw, flags=re.MULTILINE | re.IGNORECASE)
    subject = m.group(1).decode("latin-1").strip().lower() if m else ""
    return re.sub(r"^((re|fwd?|aw)\s*:\s*)+", "", subject)


def build_demo_mail(shared_data: Path, out: Path, *, seed: int = 2) -> dict[str, int]:
    """Select the demo messages from ``shared_data`` into ``out`` (a .tar.gz).

    Deterministic for a given corpus and seed. Each entry of ``manifest.json`` records the
    source file, the set, the labels, and ``age_minutes`` (how long before "now" the message
    arrived), so every seeding reproduces the same mailbox shifted to the present.
    """
    rng = random.Random(seed)  # noqa: S311 -- a reproducible selection, not security
    entries: list[dict[str, Any]] = []
    raws: list[bytes] = []
    for folder, set_name, count in MAIL_SELECTION:
        files = sorted(
            p
            for p in (shared_data / folder).iterdir()
            if p.suffix == ".txt" and p.stat().st_size <= MAX_MESSAGE_BYTES
        )
        chosen = _threaded(files, THREADED_FROM.get(folder, 0))
        rest = [p for p in files if p not in set(chosen)]
        step = max(1, len(rest) // max(1, count - len(chosen)))
        chosen += rest[::step][: count - len(chosen)]
        for path in chosen:
            raw = path.read_bytes()
            if raw.startswith(b"From "):  # mbox separator line, not a header
                raw = raw.split(b"\n", 1)[1]
            if set_name == "enron":
                raw = _readdress(raw)
            eol = b"\r\n" if b"\r\n" in raw[:1000] else b"\n"
            raw = b"Delivered-To: " + DEMO_EMAIL.encode() + eol + raw
            entries.append({"source": f"{folder}/{path.name}", "set": set_name})
            raws.append(raw)
    # Arrival times: random over 30 days, RECENT_REAL within the last day; messages sharing
    # a subject keep their original relative order so threads read forwards.
    ages = sorted(
        [rng.randint(10, 24 * 60) for _ in range(RECENT_REAL)]
        + [rng.randint(24 * 60, 30 * 24 * 60) for _ in range(len(entries) - RECENT_REAL)]
    )
    order = list(range(len(entries)))
    rng.shuffle(order)
    for rank, idx in enumerate(order):
        entries[idx]["age_minutes"] = ages[rank]
    by_subject: dict[str, list[int]] = {}
    for idx, raw in enumerate(raws):
        by_subject.setdefault(_normalise_subject(raw), []).append(idx)
    for group in by_subject.values():
        if len(group) > 1:
            group_ages = sorted((entries[i]["age_minutes"] for i in group), reverse=True)
            by_date = sorted(group, key=lambda i: _date_key(raws[i]))
            for i, age in zip(by_date, group_ages, strict=True):
                entries[i]["age_minutes"] = age
    for idx, entry in enumerate(entries):
        labels = ["INBOX"]
        if entry["set"] == "spam" and idx % 2 == 0:
            labels = ["SPAM"]  # Gmail caught half; the rest reached the inbox
        if entry["age_minutes"] < 3 * 24 * 60 or rng.random() < 0.3:
            labels.append("UNREAD")
        entry["labels"] = labels
        entry["file"] = f"messages/{idx + 1:04d}.eml"
    out.parent.mkdir(parents=True, exist_ok=True)
    # gzip with mtime=0 so the same selection yields a byte-identical archive.
    with (
        out.open("wb") as fh,
        gzip.GzipFile(filename="", mode="wb", fileobj=fh, mtime=0, compresslevel=9) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        _add_member(tar, "manifest.json", json.dumps(entries, indent=1).encode())
        for entry, raw in zip(entries, raws, strict=True):
            _add_member(tar, entry["file"], raw)
    counts: dict[str, int] = {}
    for entry in entries:
        counts[entry["set"]] = counts.get(entry["set"], 0) + 1
    return counts


_MSGID_RE = re.compile(rb"<[^<>\s]+>")


def _header_block(raw: bytes, name: bytes) -> bytes:
    head = raw.split(b"\n\n", 1)[0].replace(b"\r\n", b"\n")
    m = re.search(rb"^" + name + rb":(.*(?:\n[ \t].*)*)", head, flags=re.MULTILINE | re.IGNORECASE)
    return m.group(1) if m else b""


def _threaded(files: list[Path], budget: int) -> list[Path]:
    """Whole reply threads (2-5 messages whose parents are in ``files``), up to ``budget``
    messages, in file-name order."""
    if budget <= 0:
        return []
    by_id: dict[bytes, Path] = {}
    parent_of: dict[Path, Path] = {}
    raws = {p: p.read_bytes() for p in files}
    for path, raw in raws.items():
        ids = _MSGID_RE.findall(_header_block(raw, b"Message-ID"))
        if ids:
            by_id[ids[0]] = path
    for path, raw in raws.items():
        refs = _MSGID_RE.findall(
            _header_block(raw, b"In-Reply-To") + b" " + _header_block(raw, b"References")
        )
        parents = [by_id[r] for r in reversed(refs) if r in by_id and by_id[r] != path]
        if parents:
            parent_of[path] = parents[0]

    def root(path: Path) -> Path:
        seen = set()
        while path in parent_of and path not in seen:
            seen.add(path)
            path = parent_of[path]
        return path

    clusters: dict[Path, list[Path]] = {}
    for path in files:
        clusters.setdefault(root(path), []).append(path)
    out: list[Path] = []
    for members in sorted(clusters.values(), key=lambda ms: ms[0].name):
        if 2 <= len(members) <= 5 and len(out) + len(members) <= budget:
            out += members
    return out


def _add_member(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 0  # reproducible archive
    tar.addfile(info, io.BytesIO(data))


def _date_key(raw: bytes) -> float:
    m = re.search(rb"^Date:[ \t]*(.*)$", raw, flags=re.MULTILINE | re.IGNORECASE)
    if not m:
        return 0.0
    try:
        return email.utils.parsedate_to_datetime(m.group(1).decode("latin-1")).timestamp()
    except (TypeError, ValueError, IndexError):
        return 0.0


def _readdress(raw: bytes) -> bytes:
    """Point an Enron message's To at Alex, keeping the original as X-Original-To."""
    eol = b"\r\n" if b"\r\n" in raw[:1000] else b"\n"
    head, sep, body = raw.partition(eol + eol)
    out: list[bytes] = []
    original: list[bytes] = []
    in_to = False
    for line in head.split(eol):
        if in_to and line[:1] in (b" ", b"\t"):
            original.append(line.strip())
            continue
        in_to = line.lower().startswith(b"to:")
        if in_to:
            original.append(line[3:].strip())
            out.append(b"To: " + ME.encode())
            continue
        out.append(line)
    if original:
        out.append(b"X-Original-To: " + b" ".join(original))
    else:  # some Enron mail went to undisclosed recipients
        out.append(b"To: " + ME.encode())
    return eol.join(out) + sep + body


# ----------------------------------------------------------------------------- seeding


def seed_demo_workspace(state: EmulatorState, *, now: datetime | None = None) -> EmulatorUser:
    """Create the demo user with mail, calendars and Drive files dated relative to ``now``.

    Idempotent per state: a second call returns the already seeded user unchanged.
    """
    now = now or utcnow()
    with state.lock:
        if state.extras.get("demo_seeded"):
            return state.users[DEMO_EMAIL]
        user = state.add_user(DEMO_EMAIL, name=DEMO_NAME)
        _seed_mail(user, now)
        _seed_calendar(user, now)
        _seed_drive(user, now)
        state.extras["demo_seeded"] = True
        return user


def demo_counts(user: EmulatorUser) -> DemoCounts:
    manifest, _ = load_demo_mail()
    events = sum(
        1 for evs in user.calendar.events.values() for e in evs.values() if not e.cancelled
    )
    return DemoCounts(
        messages=len(manifest) + len(SYNTHETIC_MAIL),
        real_messages=len(manifest),
        synthetic_messages=len(SYNTHETIC_MAIL),
        spam=sum(1 for e in manifest if e["set"] == "spam"),
        calendars=len(user.calendar.calendars),
        events=events,
        drive_files=len(user.drive.files),
    )


def _seed_mail(user: EmulatorUser, now: datetime) -> None:
    manifest, raws = load_demo_mail()
    # Oldest first, like the loader: a reply threads only onto a parent already stored.
    for entry in sorted(manifest, key=lambda e: -int(e["age_minutes"])):
        user.mailbox.add_message(
            raws[entry["file"]],
            label_ids=entry["labels"],
            internal_date=to_epoch_ms(now - timedelta(minutes=int(entry["age_minutes"]))),
        )
    sent_ids: dict[str, str] = {}
    for mail in sorted(SYNTHETIC_MAIL, key=lambda m: m.age, reverse=True):
        at = now - mail.age
        parent = sent_ids.get(mail.reply_to_key) if mail.reply_to_key else None
        message_id, raw = _synthetic_raw(mail, at, parent)
        sent_ids[mail.key] = message_id
        user.mailbox.add_message(raw, label_ids=list(mail.labels), internal_date=to_epoch_ms(at))


def _local_day(now: datetime, days: int) -> datetime:
    local = now.astimezone(ZoneInfo(DEMO_TIME_ZONE))
    return local.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=days)


def _next_weekday(now: datetime, weekday: int, *, weeks: int = 0) -> datetime:
    """Local midnight of the next ``weekday`` (0 = Monday) strictly after today."""
    today = _local_day(now, 0)
    ahead = (weekday - today.weekday() - 1) % 7 + 1
    return today + timedelta(days=ahead + 7 * weeks)


def _timed(day: datetime, hour: float, minutes: int) -> dict[str, Any]:
    start = day + timedelta(hours=hour)
    return {
        "start": {"dateTime": start.isoformat(), "timeZone": DEMO_TIME_ZONE},
        "end": {
            "dateTime": (start + timedelta(minutes=minutes)).isoformat(),
            "timeZone": DEMO_TIME_ZONE,
        },
    }


def _seed_calendar(user: EmulatorUser, now: datetime) -> None:
    cal = user.calendar
    cal.time_zone = DEMO_TIME_ZONE
    cal.calendars[cal.email]["timeZone"] = DEMO_TIME_ZONE
    team = cal.add_calendar(
        "Team", time_zone=DEMO_TIME_ZONE, description="Shared team calendar", color="#7bd148"
    )["id"]
    created = now - timedelta(days=20)
    tuesday = _next_weekday(now, 1)
    first_standup = tuesday - timedelta(weeks=3)
    team_events: list[dict[str, Any]] = [
        {
            "summary": "Weekly team meeting",
            "description": "Agenda in the shared doc. Rotating note-taker.",
            "location": "Room 4 / video link in the invite",
            "recurrence": ["RRULE:FREQ=WEEKLY;BYDAY=TU"],
            "attendees": [
                {"email": DEMO_EMAIL, "responseStatus": "accepted"},
                {"email": "priya.shah@demo.secretary.test", "responseStatus": "accepted"},
                {"email": "marco.bianchi@demo.secretary.test", "responseStatus": "tentative"},
            ],
            **_timed(first_standup, 10, 60),
        },
        {
            "summary": "Sprint planning",
            **_timed(_next_weekday(now, 0), 14, 90),
        },
        {
            "summary": "Release: beta 2",
            "start": {"date": _next_weekday(now, 4).date().isoformat()},
            "end": {"date": (_next_weekday(now, 4) + timedelta(days=1)).date().isoformat()},
            "transparency": "transparent",
        },
    ]
    primary_events: list[dict[str, Any]] = [
        {
            "summary": "1:1 with Priya",
            "recurrence": ["RRULE:FREQ=WEEKLY;BYDAY=TH"],
            "attendees": [
                {"email": DEMO_EMAIL, "responseStatus": "accepted"},
                {"email": "priya.shah@demo.secretary.test", "responseStatus": "accepted"},
            ],
            **_timed(_next_weekday(now, 3) - timedelta(weeks=2), 11, 30),
        },
        {
            "summary": "Dentist",
            "location": "Main St Dental",
            **_timed(_next_weekday(now, 2), 8.5, 60),
        },
        {
            "summary": "Lunch with Marco",
            "location": "Cafe Luna",
            **_timed(_next_weekday(now, 2), 12, 60),
        },
        {
            "summary": "Customer call: Contoso renewal",
            "attendees": [
                {"email": DEMO_EMAIL, "responseStatus": "accepted"},
                {"email": "dana@contoso.example", "responseStatus": "needsAction"},
            ],
            **_timed(_next_weekday(now, 1), 15, 45),
        },
        {"summary": "Focus time", **_timed(_next_weekday(now, 2, weeks=1), 9, 180)},
        {
            "summary": "Board prep",
            "description": "Go through the Q3 proposal and budget sheet.",
            **_timed(_next_weekday(now, 2, weeks=1), 14, 60),
        },
        {
            "summary": "Quarter close (finance deadline)",
            "start": {"date": _next_weekday(now, 3).date().isoformat()},
            "end": {"date": (_next_weekday(now, 3) + timedelta(days=1)).date().isoformat()},
            "transparency": "transparent",
        },
        {"summary": "Gym", **_timed(_local_day(now, -2), 7, 60)},
        {"summary": "Vendor review with Northwind", **_timed(_local_day(now, -6), 13, 60)},
    ]
    for body in team_events:
        cal.insert_event(team, body, now=created)
    for body in primary_events:
        cal.insert_event("primary", body, now=created)


PROPOSAL = """Q3 Proposal: Northwind partnership

Summary
We propose a six-month pilot with Northwind to integrate their logistics data into our
scheduling product. The pilot starts in Q3 and ends with a go/no-go review.

Budget
Engineering: two engineers for six months. Design: one designer at 50%. Travel: $8,000.
Total requested: $212,000 (see the "Budget 2026" sheet).

Risks
Data-sharing terms are not final; the vendor agreement covers the pilot only.

Next steps
Review with Jordan Lee (Northwind) and take the proposal to their board.
"""

ONBOARDING = """Team onboarding guide (draft)

Day one: laptop, accounts, and access to the Team calendar.
Week one: shadow the weekly team meeting and a customer call.
Expenses: submit receipts within 30 days; the daily limit is $50.
Who to ask: Priya (finance, expenses), Marco (engineering), Alex (everything else).
"""

ROADMAP = """# Roadmap

- November: beta 2 (scheduling assistant, smart replies)
- December: calendar sync for shared calendars
- January: mobile notifications
"""

NOTES = """Weekly team meeting notes

- Beta 2 on track for Friday; Marco to finish the release checklist.
- Priya: quarter close next week, needs signed vendor agreement.
- Alex to update the onboarding guide (expense limit, calendar access).
"""

# A one-page PDF we wrote ourselves (text: "Vendor agreement - Northwind - signed").
_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]/Contents 4 0 R"
    b"/Resources<</Font<</F1 5 0 R>>>>>>endobj\n"
    b"4 0 obj<</Length 61>>stream\nBT /F1 18 Tf 72 720 Td (Vendor agreement - Northwind - signed) Tj ET\n"
    b"endstream endobj\n5 0 obj<</Type/Font/Subtype/Type1/BaseFont/Helvetica>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)


def _seed_drive(user: EmulatorUser, now: datetime) -> None:
    drive = user.drive
    drive.display_name = DEMO_NAME

    def ago(days: float) -> datetime:
        return now - timedelta(days=days)

    projects = drive.add_file("Projects", FOLDER, now=ago(60))["id"]
    team = drive.add_file("Team", FOLDER, now=ago(60))["id"]
    drive.add_file(
        "Q3 Proposal - Northwind partnership",
        DOC,
        doc_text=PROPOSAL,
        parents=[projects],
        now=ago(3),
    )
    drive.add_file(
        "Budget 2026",
        SHEET,
        sheet_rows=[
            ["Item", "Q3", "Q4", "Total"],
            ["Engineering", "84000", "84000", "168000"],
            ["Design", "18000", "18000", "36000"],
            ["Travel", "4000", "4000", "8000"],
            ["Total", "106000", "106000", "212000"],
        ],
        parents=[projects],
        now=ago(4),
    )
    drive.add_file(
        "Vendor agreement - Northwind (signed).pdf",
        "application/pdf",
        content=_PDF,
        parents=[projects],
        now=ago(8),
    )
    drive.add_file("Team onboarding guide", DOC, doc_text=ONBOARDING, parents=[team], now=ago(1.2))
    drive.add_file(
        "Vendor contacts",
        SHEET,
        sheet_rows=[
            ["Company", "Contact", "Email", "Renewal"],
            ["Northwind", "Jordan Lee", "jordan.lee@northwind.example", "2027-03-31"],
            ["Contoso", "Dana Wu", "dana@contoso.example", "2026-12-15"],
        ],
        parents=[team],
        now=ago(12),
    )
    drive.add_file("roadmap.md", "text/markdown", content=ROADMAP, now=ago(6))
    drive.add_file("meeting-notes.txt", "text/plain", content=NOTES, parents=[team], now=ago(2))
    old = drive.add_file(
        "Old budget draft", DOC, doc_text="Superseded by Budget 2026.", now=ago(40)
    )
    drive.trash_file(old["id"], now=ago(20))
