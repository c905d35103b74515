"""Parse a search box query: Gmail operators, quoted phrases, ``-`` and natural time phrases.

Pure: ``parse_query(text, now=...)`` returns a ``ParsedQuery`` and never calls Google (Gmail's
own ``q`` costs quota on every call). Supported operators, as Gmail documents them:
``from: to: cc: subject: label: has:attachment after: before: newer_than: older_than:
is:unread is:read is:starred in:spam in:trash in:anywhere in:inbox in:sent filename:``,
``"quoted phrases"`` and ``-`` before a word, phrase or operator. Time phrases ("yesterday",
"last week", "in March", "past 3 days", "since May 2") become a date range through dateparser.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

Kind = Literal["email", "event", "file"]
KINDS: tuple[Kind, ...] = ("email", "event", "file")

_TOKEN = re.compile(r'(-?)(?:(\w+):)?(?:"([^"]*)"|\(([^)]*)\)|(\S+))')
_UNITS = {"d": 1, "m": 30, "y": 365}
_MONTHS = (
    "january|february|march|april|may|june|july|august|september|october|november|december|"
    "jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
)
_TIME_PHRASES = re.compile(
    r"\b(?:(today|yesterday)"
    r"|(this|last|past|previous)\s+(week|month|year)"
    r"|(?:last|past)\s+(\d{1,3})\s+(days?|weeks?|months?|years?)"
    rf"|(?:in|during)\s+((?:{_MONTHS})(?:\s+\d{{4}})?|\d{{4}})"
    rf"|(since|after|before|on)\s+((?:{_MONTHS})\s+\d{{1,2}}(?:,?\s+\d{{4}})?|\d{{4}}-\d{{2}}-\d{{2}}"
    r"|monday|tuesday|wednesday|thursday|friday|saturday|sunday))\b",
    re.IGNORECASE,
)


@dataclass
class ParsedQuery:
    """What the user asked for; empty lists mean "no constraint"."""

    terms: list[str] = field(default_factory=list)
    phrases: list[str] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)  # words or phrases after ``-``
    from_: list[str] = field(default_factory=list)
    to: list[str] = field(default_factory=list)
    subject: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    excluded_labels: list[str] = field(default_factory=list)
    filenames: list[str] = field(default_factory=list)
    excluded_from: list[str] = field(default_factory=list)
    has_attachment: bool | None = None
    is_unread: bool | None = None
    is_starred: bool | None = None
    in_: str | None = None  # spam | trash | anywhere | inbox | sent
    after: datetime | None = None  # inclusive
    before: datetime | None = None  # exclusive
    names_date: bool = False  # the query names a date or range (recurring events: instances)
    kind: Kind | None = None

    @property
    def text(self) -> str:
        """The free text (terms and phrases): what the lexical and vector sides rank by."""
        return " ".join([*self.terms, *self.phrases, *self.subject]).strip()

    @property
    def has_filters(self) -> bool:
        return bool(
            self.from_
            or self.to
            or self.labels
            or self.excluded_labels
            or self.filenames
            or self.excluded_from
            or self.has_attachment is not None
            or self.is_unread is not None
            or self.is_starred is not None
            or self.after
            or self.before
        )

    @property
    def needs_lexical_match(self) -> bool:
        """Phrases and exclusions are exact: a vector-only candidate cannot satisfy them."""
        return bool(self.phrases or self.excluded or self.subject)


def _parse_date(value: str) -> datetime | None:
    value = value.strip()
    if value.isdigit() and len(value) >= 9:  # Gmail accepts epoch seconds
        return datetime.fromtimestamp(int(value), tz=UTC)
    for fmt in ("%Y/%m/%d", "%Y-%m-%d", "%m/%d/%Y", "%Y/%m", "%Y"):
        try:
            return datetime.strptime(value, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    return _dateparse(value, now=None)


def _dateparse(value: str, *, now: datetime | None, prefer: str = "past") -> datetime | None:
    import dateparser  # imported lazily: ~0.3 s, and most queries name no date

    settings: dict[str, object] = {
        "PREFER_DATES_FROM": prefer,
        "RETURN_AS_TIMEZONE_AWARE": True,
        "TIMEZONE": "UTC",
        "TO_TIMEZONE": "UTC",
    }
    if now is not None:
        settings["RELATIVE_BASE"] = now.replace(tzinfo=None)
    parsed = dateparser.parse(value, languages=["en"], settings=settings)
    return parsed.astimezone(UTC) if parsed else None


def _day(moment: datetime) -> datetime:
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def _month_range(year: int, month: int) -> tuple[datetime, datetime]:
    start = datetime(year, month, 1, tzinfo=UTC)
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=UTC)
    return start, end


def time_phrase_range(
    match: re.Match[str], now: datetime
) -> tuple[datetime | None, datetime | None]:
    """The ``[after, before)`` range a time phrase names (weeks start on Monday)."""
    today = _day(now)
    day_word, rel, unit, count, count_unit, month_text, op, when = match.groups()
    if day_word:
        start = today - timedelta(days=1 if day_word.lower() == "yesterday" else 0)
        return start, start + timedelta(days=1)
    if rel:
        rel, unit = rel.lower(), unit.lower()
        if unit == "week":
            this_week = today - timedelta(days=today.weekday())
            if rel == "this":
                return this_week, None
            if rel == "past":
                return today - timedelta(days=7), None
            return this_week - timedelta(days=7), this_week
        if unit == "month":
            this_month = today.replace(day=1)
            if rel == "this":
                return this_month, None
            if rel == "past":
                return today - timedelta(days=30), None
            prev = (this_month - timedelta(days=1)).replace(day=1)
            return prev, this_month
        this_year = today.replace(month=1, day=1)
        if rel == "this":
            return this_year, None
        if rel == "past":
            return today - timedelta(days=365), None
        return this_year.replace(year=this_year.year - 1), this_year
    if count:
        days = {"d": 1, "w": 7, "m": 30, "y": 365}[count_unit[0].lower()] * int(count)
        return today - timedelta(days=days), None
    if month_text:
        text = month_text.strip()
        if text.isdigit():
            return datetime(int(text), 1, 1, tzinfo=UTC), datetime(int(text) + 1, 1, 1, tzinfo=UTC)
        parsed = _dateparse(f"1 {text}", now=now)
        if parsed is None:
            return None, None
        year = parsed.year
        if not re.search(r"\d{4}", text) and (year, parsed.month) > (now.year, now.month):
            year -= 1  # "in March" in February means last March
        return _month_range(year, parsed.month)
    # "on Dec 8" may be ahead (a meeting); "since"/"before"/"after" look back.
    day = _dateparse(when, now=now, prefer="current_period" if op.lower() == "on" else "past")
    if day is None:
        return None, None
    day = _day(day)
    op = op.lower()
    if op in ("since", "after"):
        return day if op == "since" else day + timedelta(days=1), None
    if op == "before":
        return None, day
    return day, day + timedelta(days=1)


def _narrow(query: ParsedQuery, after: datetime | None, before: datetime | None) -> None:
    if after is not None:
        query.after = max(query.after, after) if query.after else after
    if before is not None:
        query.before = min(query.before, before) if query.before else before
    if after is not None or before is not None:
        query.names_date = True


def parse_query(text: str, *, now: datetime, kind: Kind | None = None) -> ParsedQuery:
    """Parse ``text`` relative to ``now`` (timezone-aware UTC)."""
    query = ParsedQuery(kind=kind)
    rest = text
    for match in list(_TIME_PHRASES.finditer(text)):
        after, before = time_phrase_range(match, now)
        if after is None and before is None:
            continue
        _narrow(query, after, before)
        rest = rest.replace(match.group(0), " ", 1)
    for match in _TOKEN.finditer(rest):
        negated, op, quoted, grouped, bare = match.groups()
        value = quoted if quoted is not None else grouped if grouped is not None else bare
        value = (value or "").strip()
        op = (op or "").lower()
        if not op:
            if not value:
                continue
            if quoted is not None:
                (query.excluded if negated else query.phrases).append(value)
            elif negated:
                query.excluded.append(value)
            elif value.upper() not in ("OR", "AND"):
                query.terms.append(value)
            continue
        if not value:
            continue
        low = value.lower()
        if op == "from":
            (query.excluded_from if negated else query.from_).append(low)
        elif op in ("to", "cc", "bcc"):
            query.to.append(low)
        elif op == "subject":
            query.subject.append(value)
        elif op == "label":
            (query.excluded_labels if negated else query.labels).append(low)
        elif op == "filename":
            query.filenames.append(low)
        elif op == "has" and low in ("attachment", "attachments"):
            query.has_attachment = not negated
        elif op == "is" and low in ("unread", "read"):
            query.is_unread = (low == "unread") != bool(negated)
        elif op == "is" and low == "starred":
            query.is_starred = not negated
        elif op == "in" and low in ("spam", "trash", "anywhere", "inbox", "sent"):
            query.in_ = low
        elif op in ("after", "since"):
            _narrow(query, _parse_date(value), None)
        elif op == "before":
            _narrow(query, None, _parse_date(value))
        elif op in ("newer_than", "older_than") and re.fullmatch(r"\d+[dmy]", low):
            moment = now - timedelta(days=int(low[:-1]) * _UNITS[low[-1]])
            if op == "newer_than":
                _narrow(query, moment, None)
            else:
                _narrow(query, None, moment)
        else:
            # Not an operator we know (a URL, "re:", a time "10:30"): keep it as words.
            query.terms.append(match.group(0).lstrip("-"))
    return query
