"""Rule-based extractors: dates and times, meeting requests, asks, deadlines, people, orgs.

Why candidate spans first: ``dateparser.search.search_dates`` alone reads "we" as Wednesday
and "May I" as a month. We find date/time-shaped spans with explicit patterns, then let
``dateparser`` resolve each span relative to when the mail was sent. No NLP model is needed,
so this stays fast enough to run on every message. Pure: text in, values out.
"""

from __future__ import annotations

import re
import warnings
from datetime import datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from secretary.kit.clock import utcnow
from secretary.kit.text import split_sentences
from secretary.llm.schemas import EmailInput, ExtractedTime, Extraction

_WEEKDAY = r"(?:mon|tues?|wed(?:nes)?|thu(?:rs?)?|fri|sat(?:ur)?|sun)(?:day)?\.?"
_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_DAY_NUM = r"\d{1,2}(?:st|nd|rd|th)?"
_DATE = (
    rf"(?:(?:next|this|coming|on)\s+)?{_WEEKDAY}(?:,?\s+(?:{_MONTH}\s+{_DAY_NUM}|{_DAY_NUM}\s+{_MONTH}|\d{{1,2}}/\d{{1,2}}))?"
    rf"|{_MONTH}\s+{_DAY_NUM}(?:,?\s+\d{{4}})?"
    rf"|{_DAY_NUM}\s+(?:of\s+)?{_MONTH}(?:,?\s+\d{{4}})?"
    r"|\d{4}-\d{2}-\d{2}|\d{1,2}/\d{1,2}(?:/\d{2,4})?"
    r"|today|tomorrow|tonight|next\s+week|this\s+week|later\s+this\s+week"
)
_TIME = r"(?:\d{1,2}(?::\d{2})?\s*(?:am|pm|a\.m\.|p\.m\.)|\d{1,2}:\d{2}|noon|midnight)"
_TZ_ABBR = {
    "pst": "America/Los_Angeles", "pdt": "America/Los_Angeles", "pt": "America/Los_Angeles",
    "mst": "America/Denver", "mdt": "America/Denver", "cst": "America/Chicago",
    "cdt": "America/Chicago", "ct": "America/Chicago", "est": "America/New_York",
    "edt": "America/New_York", "et": "America/New_York", "utc": "UTC", "gmt": "UTC",
    "bst": "Europe/London", "cet": "Europe/Paris", "cest": "Europe/Paris",
    "ist": "Asia/Kolkata", "jst": "Asia/Tokyo", "aest": "Australia/Sydney",
}  # fmt: skip
_TZ = r"(?:" + "|".join(_TZ_ABBR) + r"|[A-Z][a-z]+/[A-Z][A-Za-z_]+)"
_TIME_RANGE = rf"{_TIME}(?:\s*(?:-|–|to|until)\s*{_TIME})?"
_WHEN = re.compile(
    rf"\b(?:(?P<date>{_DATE})(?:\s*(?:at|,|@|from)?\s*(?P<time>{_TIME_RANGE}))?"
    rf"|(?P<time_only>{_TIME_RANGE})(?:\s+(?:on\s+)?(?P<date2>{_DATE}))?)"
    rf"(?:\s*\(?(?P<tz>{_TZ})\b\)?)?",
    re.IGNORECASE,
)
_NUMBER_WORDS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "half an": 0.5, "half": 0.5}
_DURATION = re.compile(
    r"\b(?P<n>\d+(?:\.\d+)?|an?|one|two|three|half an?)\s*-?\s*(?P<unit>min(?:ute)?s?|hours?|hrs?|h)\b",
    re.IGNORECASE,
)
_DEADLINE_CUE = re.compile(
    r"\b(?:by|before|no later than|not later than|due(?:\s+(?:on|by))?|deadline(?:\s+is)?:?|"
    r"until|till|prior to)\s*$",
    re.IGNORECASE,
)
_DEADLINE_WORDS = re.compile(
    r"\b(?:EOD|COB|EOW|end of (?:the )?(?:day|week|month|business)|ASAP|as soon as possible|"
    r"close of business|deadline|urgent(?:ly)?)\b",
    re.IGNORECASE,
)
_MEETING = re.compile(
    r"\b(?:meet(?:ing)?s?|call|chat|catch up|sync|get together|lunch|coffee|breakfast|dinner|"
    r"conference call|con ?call|schedule|reschedule|calendar|availability|available|free (?:on|at|for)|"
    r"slot|appointment|interview|demo|zoom|teams call|hangout|invite)\b",
    re.IGNORECASE,
)
# Logistics around a meeting rather than the asking: invitations and agendas, rooms,
# dial-in details, travel. Berkeley's 1.4 "logistic arrangements" label covers these.
_LOGISTICS = re.compile(
    r"\b(?:invit(?:e|ed|ation)|rsvp|agenda|attend(?:ance)?|please plan|will be held|join us|"
    r"calendar|conference room|room\s*#?\s*\d+|eb\s*\d{3,}|location|dial[- ]?in|call[- ]?in|"
    r"passcode|participant code|flight|hotel|itinerary|reservation|directions|parking)\b",
    re.IGNORECASE,
)
_ASK = re.compile(
    r"^(?:please|pls|kindly)\b|\b(?:could|can|would|will) you\b|\blet me know\b|"
    r"\b(?:i|we) (?:need|would like|'d like|want) (?:you|your)\b|\bi(?:'d| would) appreciate\b|"
    r"\b(?:send|forward|share|review|sign|confirm|approve|call) (?:me|us|it|this|the)\b|"
    r"\bplease\b|\bdo you (?:have|know|mind)\b|\bare you (?:able|available|free)\b",
    re.IGNORECASE,
)
_ORG = re.compile(
    r"\b(?:[A-Z][\w&.-]*(?:\s+(?:&\s+)?[A-Z][\w&.-]*){0,4})\s+"
    r"(?:Inc|LLC|Ltd|Limited|Corp|Corporation|GmbH|AG|S\.A|PLC|Co|Company|University|Institute|"
    r"Foundation|Bank|Group|Partners|Technologies|Labs|Associates|Holdings|Capital)\b\.?"
)
_NAME = re.compile(r"\b([A-Z][a-z]+(?:\s+[A-Z]\.)?\s+[A-Z][a-z]+(?:-[A-Z][a-z]+)?)\b")
_NOT_NAMES = frozenset(
    [
        "the",
        "this",
        "that",
        "thanks",
        "thank",
        "best",
        "regards",
        "kind",
        "dear",
        "hi",
        "hello",
        "please",
        "let",
        "next",
        "last",
        "new",
        "good",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
        "conference",
        "call",
        "meeting",
        "street",
        "road",
        "avenue",
        "suite",
        "united",
        "states",
        "north",
        "south",
        "east",
        "west",
        "san",
        "los",
        "las",
        "new",
        "york",
    ]
)
_CLOSINGS = re.compile(
    r"^(?:thanks|thank you|best|regards|best regards|kind regards|cheers|sincerely|warm regards|"
    r"all the best|many thanks|thx|br)[,!.]?\s*$",
    re.IGNORECASE,
)


_HISTORY = re.compile(
    r"^\s*(?:-{2,}\s*(?:original message|forwarded by|forwarded message)|_{8,}\s*$|"
    r"on .{4,120} wrote:\s*$|begin forwarded message:|"
    # Lotus Notes: '"Scott G" <s@x.com> on 07/16/2001 01:58:41 PM' / 'Ann Lee 04/10/2001 10:10 AM'
    r".{2,100}?\b(?:on )?\d{1,2}/\d{1,2}/\d{2,4} \d{1,2}:\d{2}(?::\d{2})? ?(?:AM|PM)\s*$)",
    re.IGNORECASE | re.MULTILINE,
)
_HEADER_BLOCK = re.compile(r"^\s*from:\s.+\n(?:.*\n){0,2}?\s*(?:sent|date|to):\s", re.I | re.M)


def newest_text(text: str) -> str:
    """The sender's own words: cut at the first forwarded/quoted history marker.

    The parser already separates most quoting; this catches what it leaves, such as Lotus
    Notes "----- Forwarded by" blocks and Outlook "From:/Sent:" headers, so that dates and
    asks inside old mail are not read as the sender's.
    """
    cuts = [m.start() for m in (_HISTORY.search(text), _HEADER_BLOCK.search(text)) if m]
    return text[: min(cuts)] if cuts else text


def body_sentences(text: str) -> list[str]:
    """Sentences of the newest text (quoted lines dropped), whitespace-normalised.

    Mail wraps at 72 columns and abbreviates ("e.g. the", "3 p.m. on"), so only a blank
    line or a list item breaks a line, and a stop ends a sentence only before a capital.
    """
    return split_sentences(
        text,
        capital_after_stop=True,
        line_breaks="paragraph",
        drop_quoted=True,
        min_chars=3,
        max_chars=400,
    )


def _zone(name: str | None) -> str | None:
    if not name:
        return None
    zone = _TZ_ABBR.get(name.lower(), name)
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return zone


# One message's spans are resolved several times (classify reads deadlines for priority,
# the drafter reads times and deadlines, and find_deadlines re-runs find_times); dateparser
# costs ~1 ms a span, the largest CPU share of the pipeline. Pure and immutable: cache it.
def _parse(span: str, base: datetime, zone: str | None) -> datetime | None:
    # Keyed on the naive wall time dateparser reads: aware datetimes hash by instant, so two
    # bases at one instant in different offsets would share an entry.
    return _parse_at(span, base.replace(tzinfo=None), zone)


@lru_cache(maxsize=4096)
def _parse_at(span: str, relative_base: datetime, zone: str | None) -> datetime | None:
    settings: dict[str, object] = {
        "PREFER_DATES_FROM": "future",
        "RELATIVE_BASE": relative_base,
        "RETURN_AS_TIMEZONE_AWARE": True,
        "TIMEZONE": zone or "UTC",
        "TO_TIMEZONE": "UTC",
    }
    cleaned = re.sub(r"\b(?:on|at|this|coming|from)\b", " ", span, flags=re.IGNORECASE)
    cleaned = re.sub(r"\bnext\s+(" + _WEEKDAY + r")", r"\1", cleaned, flags=re.IGNORECASE)
    import dateparser  # ~0.5 s import: only paid when a date is parsed

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # dateparser emits pytz/regex deprecation noise
        parsed: datetime | None = dateparser.parse(
            " ".join(cleaned.split()), languages=["en"], settings=settings
        )
    return parsed


def find_times(text: str, *, sent_at: datetime | None = None) -> list[ExtractedTime]:
    """Date/time mentions with their resolved start (UTC), end, duration and time zone."""
    base = sent_at or utcnow()
    found: list[ExtractedTime] = []
    durations = list(_DURATION.finditer(text))
    for match in _WHEN.finditer(text):
        span = match.group(0).strip()
        date = match.group("date") or match.group("date2")
        time_part = match.group("time") or match.group("time_only")
        if not date and not time_part:
            continue
        if not date and time_part and re.fullmatch(r"\d{1,2}:\d{2}", time_part.strip()):
            continue  # a bare "10:30" is too often a score, a verse or a version
        zone = _zone(match.group("tz"))
        start_text, end_text = time_part, None
        if time_part:
            pieces = re.split(r"\s*(?:-|–|to|until)\s*", time_part, maxsplit=1)
            if len(pieces) == 2:
                start_text, end_text = pieces
        start = _parse(f"{date or ''} {start_text or ''}", base, zone)
        if start is None:
            continue
        end = _parse(f"{date or ''} {end_text}", base, zone) if end_text else None
        minutes = None
        if end and end > start:
            minutes = int((end - start).total_seconds() // 60)
        else:
            near = [d for d in durations if 0 <= d.start() - match.end() < 40]
            if near:
                minutes = _minutes(near[0])
                end = start + timedelta(minutes=minutes) if time_part else None
        found.append(
            ExtractedTime(text=span, start=start, end=end, duration_minutes=minutes, timezone=zone)
        )
    return found


def _minutes(match: re.Match[str]) -> int:
    raw = match.group("n").lower()
    number = (
        float(_NUMBER_WORDS.get(raw, 0) or raw) if raw not in _NUMBER_WORDS else _NUMBER_WORDS[raw]
    )
    unit = match.group("unit").lower()
    return int(number * (60 if unit.startswith("h") else 1))


def find_deadlines(text: str, *, sent_at: datetime | None = None) -> list[ExtractedTime]:
    """ "by Friday", "no later than March 3", "EOD", "ASAP"."""
    out = []
    for item in find_times(text, sent_at=sent_at):
        index = text.find(item.text)
        if index >= 0 and _DEADLINE_CUE.search(text[max(0, index - 25) : index]):
            out.append(item)
    base = sent_at or utcnow()
    for match in _DEADLINE_WORDS.finditer(text):
        word = match.group(0).lower()
        start = None
        if (
            word in ("eod", "cob", "close of business")
            or "end of the day" in word
            or word == "end of day"
        ):
            start = base.replace(hour=23, minute=59, second=0, microsecond=0)
        elif word == "eow" or "week" in word:
            start = (base + timedelta(days=(4 - base.weekday()) % 7)).replace(
                hour=23, minute=59, second=0, microsecond=0
            )
        out.append(ExtractedTime(text=match.group(0), start=start))
    return out


def has_deadline_cue(text: str) -> bool:
    """Cheap check used by the classifier (no date parsing)."""
    if _DEADLINE_WORDS.search(text):
        return True
    return any(
        _DEADLINE_CUE.search(text[max(0, m.start() - 25) : m.start()])
        for m in _WHEN.finditer(text)
        if m.group("date") or m.group("date2")
    )


def has_time_mention(text: str) -> bool:
    return any(
        m.group("date") or m.group("time") or m.group("time_only") for m in _WHEN.finditer(text)
    )


def is_ask(sentence: str) -> bool:
    return bool(_ASK.search(sentence)) and not sentence.lower().startswith(("thanks", "thank you"))


def meeting_evidence(text: str) -> int:
    """Number of scheduling words; the classifier combines it with times and asks."""
    return len(_MEETING.findall(text))


def logistics_evidence(text: str) -> int:
    """Number of meeting-logistics words (invitation, agenda, room, dial-in, travel)."""
    return len(_LOGISTICS.findall(text))


def find_people(email: EmailInput, text: str) -> list[str]:
    """Sender name, the name signed under a closing, capitalised full names in the text."""
    people: list[str] = []
    if email.from_name and "@" not in email.from_name:
        people.append(" ".join(email.from_name.replace('"', "").split()))
    lines = [ln.strip() for ln in text.splitlines()]
    for i, line in enumerate(lines[:-1]):
        if _CLOSINGS.match(line):
            candidate = lines[i + 1]
            if re.fullmatch(r"[A-Z][a-z]+(?:\s+[A-Z][a-z.]+){0,2}", candidate):
                people.append(candidate)
    orgs = " ".join(find_organizations(text))
    for match in _NAME.finditer(text):
        name = match.group(1)
        if name in orgs or any(part.lower().rstrip(".") in _NOT_NAMES for part in name.split()):
            continue
        people.append(name)
    full = [p for p in people if " " in p]
    # A bare first name signed under the closing is the same person as a full name we have.
    return _unique(p for p in people if " " in p or not any(f.startswith(p + " ") for f in full))


def find_organizations(text: str) -> list[str]:
    return _unique(" ".join(m.group(0).split()).rstrip(".") for m in _ORG.finditer(text))


def _unique(items: object) -> list[str]:
    seen: dict[str, str] = {}
    for item in items:  # type: ignore[attr-defined]
        seen.setdefault(str(item).lower(), str(item))
    return list(seen.values())


def extract(email: EmailInput) -> Extraction:
    text = newest_text(email.body_text or email.full_text or "")
    sentences = body_sentences(text)
    subject_and_text = f"{email.subject}\n{text}"
    times = find_times(text, sent_at=email.sent_at)
    deadlines = find_deadlines(text, sent_at=email.sent_at)
    deadline_spans = {d.text for d in deadlines}
    questions = [s for s in sentences if s.endswith("?")]
    asks = [s for s in sentences if not s.endswith("?") and is_ask(s)]
    meeting_words = meeting_evidence(subject_and_text)
    meeting = meeting_words > 0 and bool(times or questions or asks)
    proposed = [t for t in times if t.text not in deadline_spans] if meeting else []
    return Extraction(
        meeting_request=meeting,
        proposed_times=proposed,
        dates=times,
        deadlines=deadlines,
        questions=questions,
        asks=asks,
        people=find_people(email, text),
        organizations=find_organizations(subject_and_text),
    )
