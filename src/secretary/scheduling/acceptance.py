"""Which offered slot a reply accepts ("Tuesday at 10 works", "the first one", "March 2"). Pure.

The reply is matched only against the slots we offered in that thread, in every zone the
offer showed (the requester's and the owner's), so "10" means 10:00 where the reader saw
10:00. It answers None unless exactly one slot fits: a booking proposal is never made from
a guess, and a "none of these work" is never read as a yes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime
from zoneinfo import ZoneInfo

_QUOTE_MARKERS = re.compile(
    r"^\s*(?:>|on .{4,120} wrote:\s*$|-{2,}\s*original message|from:\s)", re.I | re.M
)
_NEGATIVE = re.compile(
    r"\b(?:none of (?:these|those|them|the)|neither|(?:doesn'?t|does not|don'?t|do not|won'?t|"
    r"will not|can'?t|cannot|can not|couldn'?t)\s+(?:work|make|do|attend)|not available|"
    r"unavailable|no good|another time|other times?|reschedule|no longer|not possible)\b",
    re.IGNORECASE,
)
_POSITIVE = re.compile(
    r"\b(?:works?|working|good|great|perfect|fine|suits?|ok(?:ay)?|sounds good|let'?s (?:do|go|book)|"
    r"go with|i'?ll take|take the|book|confirm(?:ed)?|see you|yes|please|lovely|ideal|best)\b",
    re.IGNORECASE,
)
_ORDINALS = {
    "first": 0, "1st": 0, "one": 0, "1": 0,
    "second": 1, "2nd": 1, "two": 1, "2": 1,
    "third": 2, "3rd": 2, "three": 2, "3": 2,
}  # fmt: skip
_ORDINAL = re.compile(
    r"\b(?:the\s+)?(?P<n>first|1st|second|2nd|third|3rd|last)\s+(?:one|option|slot|time|choice)?\b"
    r"|\boption\s*#?\s*(?P<k>[123]|one|two|three)\b|#(?P<h>[123])\b",
    re.IGNORECASE,
)
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WEEKDAY = re.compile(
    r"\b(?P<d>mon|tues?|wed(?:nes)?|thu(?:rs?)?|fri|sat(?:ur)?|sun)(?:day)?\b", re.IGNORECASE
)
_MONTHS = (
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
)  # fmt: skip
_MONTH = r"(?P<m>jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"
_DATE_MD = re.compile(rf"\b{_MONTH}\s+(?P<d>\d{{1,2}})(?:st|nd|rd|th)?\b", re.IGNORECASE)
_DATE_DM = re.compile(
    rf"\b(?P<d>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}(?=\W|$)", re.IGNORECASE
)
_DATE_ISO = re.compile(r"\b(?P<y>\d{4})-(?P<mo>\d{2})-(?P<d>\d{2})\b")
_DAY_ORD = re.compile(r"\bthe\s+(?P<d>\d{1,2})(?:st|nd|rd|th)\b", re.IGNORECASE)
_TIME = re.compile(
    r"(?<![\d:/-])(?P<h>\d{1,2})(?:[:.](?P<mi>\d{2}))?\s*(?P<ap>a\.?m\.?|p\.?m\.?)?(?![\d/-])"
    r"|\b(?P<noon>noon)\b",
    re.IGNORECASE,
)

Offered = tuple[datetime, datetime]


def newest_reply(text: str) -> str:
    """The reply's own words: everything above the first quoted line or header block."""
    match = _QUOTE_MARKERS.search(text)
    return text[: match.start()] if match else text


def _times(text: str) -> list[tuple[int, int, str | None]]:
    """(hour, minute, am/pm) mentions; bare numbers count only after "at" or with a colon."""
    out: list[tuple[int, int, str | None]] = []
    for match in _TIME.finditer(text):
        if match.group("noon"):
            out.append((12, 0, "pm"))
            continue
        hour, minute = int(match.group("h")), int(match.group("mi") or 0)
        meridiem = (match.group("ap") or "").replace(".", "").lower() or None
        before = text[max(0, match.start() - 4) : match.start()].lower()
        if meridiem is None and match.group("mi") is None and not before.rstrip().endswith("at"):
            continue
        if hour > 23 or minute > 59:
            continue
        out.append((hour, minute, meridiem))
    return out


def _dates(text: str, years: set[int]) -> set[date]:
    found: set[date] = set()
    for pattern in (_DATE_MD, _DATE_DM):
        for match in pattern.finditer(text):
            month = _MONTHS.index(match.group("m").lower()[:3]) + 1
            for year in years:
                try:
                    found.add(date(year, month, int(match.group("d"))))
                except ValueError:
                    continue
    for match in _DATE_ISO.finditer(text):
        try:
            found.add(date(int(match.group("y")), int(match.group("mo")), int(match.group("d"))))
        except ValueError:
            continue
    return found


def _hour_matches(local: datetime, mention: tuple[int, int, str | None]) -> bool:
    hour, minute, meridiem = mention
    if local.minute != minute:
        return False
    if meridiem == "am":
        return local.hour == hour % 12
    if meridiem == "pm":
        return local.hour == hour % 12 + 12
    return local.hour in (hour, hour + 12)


def match_acceptance(
    text: str, offered: Sequence[Offered], zones: Sequence[ZoneInfo]
) -> int | None:
    """The index of the one offered slot the reply accepts, else None."""
    reply = newest_reply(text)
    if not offered or not reply.strip() or _NEGATIVE.search(reply):
        return None
    ordinal = _ORDINAL.search(reply)
    if ordinal:
        word = (ordinal.group("n") or ordinal.group("k") or ordinal.group("h") or "").lower()
        index = len(offered) - 1 if word == "last" else _ORDINALS.get(word)
        if index is not None and index < len(offered):
            return index
    weekdays = {_WEEKDAYS.index(m.group("d").lower()[:3]) for m in _WEEKDAY.finditer(reply)}
    years = {s.astimezone(z).year for s, _ in offered for z in zones}
    dates = _dates(reply, years)
    day_numbers = {int(m.group("d")) for m in _DAY_ORD.finditer(reply)}
    times = _times(reply)
    if not (weekdays or dates or day_numbers or times):
        # We confirmed the one time they proposed: "Great, see you then!" books it.
        if len(offered) == 1 and _POSITIVE.search(reply) and len(reply.split()) <= 40:
            return 0
        return None
    short = len(reply.split()) <= 25
    if not _POSITIVE.search(reply) and not short:
        return None
    matches = []
    for index, (start, _end) in enumerate(offered):
        for zone in zones:
            local = start.astimezone(zone)
            if weekdays and local.weekday() not in weekdays:
                continue
            if dates and local.date() not in dates:
                continue
            if day_numbers and local.day not in day_numbers:
                continue
            if times and not any(_hour_matches(local, t) for t in times):
                continue
            matches.append(index)
            break
    return matches[0] if len(set(matches)) == 1 else None
