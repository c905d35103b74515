"""The local intent parser: a question in, a structured ``Intent`` out. Pure, no model.

Built from patterns rather than a model so that ask works offline and in microseconds:
operator words pick the operation, service words pick the agents, small extractors find
people, addresses, amounts and record locators, and a time-phrase reader turns "last week"
or "in March" into a UTC interval in the user's time zone. An LLM, when configured, can
replace this step with structured output; the rest of the pipeline does not change.
"""

from __future__ import annotations

import calendar
import re
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from secretary.assistant.lexicon import canonical
from secretary.assistant.schemas import Entities, Intent, Operation, Service, TimeRange

_STOP = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "but",
        "if",
        "of",
        "on",
        "in",
        "at",
        "to",
        "for",
        "from",
        "by",
        "with",
        "about",
        "into",
        "over",
        "after",
        "before",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "do",
        "does",
        "did",
        "have",
        "has",
        "had",
        "i",
        "me",
        "my",
        "mine",
        "we",
        "our",
        "you",
        "your",
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "there",
        "here",
        "what",
        "when",
        "where",
        "which",
        "who",
        "whom",
        "whose",
        "why",
        "how",
        "any",
        "anything",
        "anyone",
        "all",
        "some",
        "can",
        "could",
        "would",
        "should",
        "will",
        "shall",
        "may",
        "might",
        "must",
        "please",
        "tell",
        "show",
        "give",
        "find",
        "list",
        "get",
        "let",
        "know",
        "see",
        "look",
        "up",
        "out",
        "me",
        "us",
        "them",
        "they",
        "their",
        "he",
        "she",
        "his",
        "her",
        "him",
        "than",
        "then",
        "so",
        "just",
        "also",
        "still",
        "yet",
        "ever",
        "never",
        "not",
        "no",
        "yes",
        "am",
        "pm",
        "s",
        "t",
        "don",
        "didn",
        "isn",
        "wasn",
        "aren",
        "weren",
        "did",
        "does",
        "much",
        "many",
        "last",
        "next",
        "this",
        "week",
        "month",
        "year",
        "today",
        "tomorrow",
        "yesterday",
        "day",
        "days",
        "email",
        "emails",
        "mail",
        "mails",
        "message",
        "messages",
        "inbox",
        "calendar",
        "event",
        "events",
        "meeting",
        "meetings",
        "file",
        "files",
        "doc",
        "docs",
        "document",
        "documents",
        "drive",
        "sheet",
        "thread",
        "threads",
        "one",
        "ones",
        "before",
        "after",
        "draft",
        "reply",
        "respond",
        "write",
        "compose",
        "summarize",
        "summarise",
        "summary",
        "accepting",
        "accept",
        "decline",
        "declining",
        "else",
        "send",
        "i'm",
        "i've",
        "i'll",
        "i'd",
        "we're",
        "we've",
        "you're",
        "let's",
    ]
)
_OPERATIONS: tuple[tuple[Operation, re.Pattern[str]], ...] = (
    (
        Operation.DRAFT,
        re.compile(
            r"\b(?:draft|write|compose)\s+(?:a\s+|an\s+|the\s+)?(?:quick\s+|short\s+)?"
            r"(?:reply|response|answer|email|message|note)\b|\b(?:reply|respond)\s+to\b|"
            r"\b(?:write|get)\s+back\s+to\b|\blet\s+(?-i:[A-Z][a-z]+)\s+know\b|"
            r"^\s*(?:tell|email|e-mail|message)\s+(?-i:[A-Z][a-z]+)\b|"
            r"\bsend\s+(?-i:[A-Z][a-z]+)\s+(?:a|an)\s+(?:note|message|email|reply)\b",
            re.I,
        ),
    ),
    (
        Operation.SCHEDULE,
        re.compile(
            r"\b(?<!my\s)(?<!the\s)(?<!our\s)(?<!your\s)(?:schedule|book|set up|arrange|"
            r"find (?:a )?(?:time|slot)s?|free slots?|"
            r"when am i free|availability)\b",
            re.I,
        ),
    ),
    (
        Operation.UPDATE,
        re.compile(
            r"\b(?:move|reschedule|postpone|cancel|accept|decline|rsvp|share|rename)\b", re.I
        ),
    ),
    (
        Operation.COUNT,
        re.compile(
            r"\bhow many (?:e-?mails|messages|meetings|events|calls|files|docs|documents|"
            r"invites|invitations|threads|replies|things|items|appointments|entries)\b|"
            r"\bhow many\s+\w+\s+(?:are|were|do i have)\s+(?:on|in) my (?:calendar|inbox|drive)\b|\b(?:count|sum of|add up|in total|"
            r"total (?:of|spent))\b|"
            r"\bnumber of (?:e-?mails|messages|events|meetings|calls|files|docs|documents)\b",
            re.I,
        ),
    ),
    (Operation.COMPARE, re.compile(r"\b(?:compare|comparison|difference|versus|vs\.?)\b", re.I)),
    (
        Operation.SUMMARIZE,
        re.compile(r"\b(?:summari[sz]e|summary|recap|tl;?dr|overview|catch me up)\b", re.I),
    ),
)
_SERVICE_WORDS: dict[Service, re.Pattern[str]] = {
    Service.MAIL: re.compile(
        r"\b(?:e-?mails?|mails?|messages?|inbox|wrote|write|sent|send|said|say|says|replied|"
        r"reply|thread|newsletters?|confirmation|receipt|invoice|flight|booking|reservation|"
        r"from\s+[A-Z@a-z]|draft)\b",
        re.I,
    ),
    Service.CALENDAR: re.compile(
        r"\b(?:calendar|meetings?|events?|appointments?|schedule[ds]?|busy|free|1:1s?|"
        r"one-on-ones?|call|agenda|invites?|invitation|standup|stand-up|book|slots?|"
        r"on my calendar|that day|same day|offsite|lunch|dinner|conference|planned|plans|"
        r"happening|going on|look like|looks like|booked)\b|"
        r"\b(?:do i have|did i have|am i (?:doing|busy|free)|what'?s on|what is on)\b",
        re.I,
    ),
    Service.DRIVE: re.compile(
        r"\b(?:docs?|documents?|files?|drive|sheets?|spreadsheets?|slides?|notes|pdf|"
        r"budget|contract|itinerary|folder|share)\b",
        re.I,
    ),
}
_SAME_DAY = re.compile(
    r"\b(?:(?:that|the same|same) (?:day|date|morning|afternoon|evening|night)|the day of|"
    r"on that date|at that time|the day (?:it|it's|it is|they|that)\b)|"
    r"\b(?:calendar|scheduled|planned|booked|have)\s+then\b",
    re.I,
)
_BARE_FOLLOW_UP = frozenset(
    {"time", "where", "when", "who", "how", "much", "long", "date", "day", "address", "place",
     "price", "cost", "else", "more", "details"}
)  # fmt: skip
# With a time phrase and no other content, the question is about the calendar of that time:
# "What does my Wednesday look like?", "Anything planned for this weekend?".
_AGENDA_WORDS = frozenset(
    {"schedule", "planned", "plans", "plan", "look", "like", "looks", "happening", "going",
     "agenda", "busy", "free", "booked", "up", "else", "lined", "coming", "morning", "doing",
     "afternoon", "evening", "night", "tonight", "weekend", "after", "before"}
)  # fmt: skip
_LATEST = re.compile(r"\b(?:latest|current|final|newest|most recent|last agreed|updated)\b", re.I)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_AMOUNT = re.compile(
    r"(?:[$€£¥]\s?\d[\d,]*(?:\.\d+)?(?:\s?[kKmM])?|\b\d[\d,]*(?:\.\d+)?\s?(?:USD|EUR|GBP|dollars|euros)\b)"
)
# Record locators and reference numbers: 5-8 characters, capitals and digits, at least one
# digit and one letter (PNRs like "K7QX2M", invoice numbers like "INV-2041").
_LOCATOR = re.compile(r"\b(?=[A-Z0-9-]*\d)(?=[A-Z0-9-]*[A-Z])[A-Z0-9][A-Z0-9-]{4,11}\b")
_CAPITALISED = re.compile(r"(?<![\w'])[A-Z](?:'[A-Z])?[a-z]+(?:[\s-][A-Z](?:'[A-Z])?[a-z]+)*\b")
_ORG_SUFFIX = re.compile(
    r"\b(?:Airlines?|Airways|Air|Bank|Inc|Ltd|LLC|GmbH|Corp|Corporation|Group|Hotels?|"
    r"University|Partners|Capital|Labs?|Technologies|Systems|Insurance)\b"
)
_NOT_NAMES = frozenset(
    [
        "When",
        "What",
        "Where",
        "Which",
        "Who",
        "Why",
        "How",
        "Is",
        "Are",
        "Was",
        "Were",
        "Do",
        "Does",
        "Did",
        "Can",
        "Could",
        "Would",
        "Should",
        "Will",
        "Please",
        "Draft",
        "Write",
        "Reply",
        "Send",
        "Show",
        "Find",
        "Tell",
        "List",
        "Give",
        "Summarize",
        "Summarise",
        "Compare",
        "Schedule",
        "Book",
        "Move",
        "Cancel",
        "Accept",
        "Decline",
        "And",
        "The",
        "My",
        "Any",
        "Anything",
        "I",
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
        "Today",
        "Tomorrow",
        "Yesterday",
        "Next",
        "Last",
        "This",
        "Q1",
        "Q2",
        "Q3",
        "Q4",
        "Gmail",
        "Google",
        "Calendar",
        "Drive",
        "Doc",
        "Docs",
        "Sheet",
        "Sheets",
        "Zoom",
        "Meet",
        "Hi",
        "Hello",
        "Thanks",
    ]
)
# Capitalised for emphasis or as a title ("the Events budget", "Partnerships"), not names.
_COMMON_NOUN = re.compile(
    r"(?:ships?|ments?|tions?|ness|ity|ings?)$|^(?:Events?|Meetings?|Files?|Docs?|Calendar|"
    r"Drive|Budget|Sheet|Team|Agenda|Roadmap|Release|Beta)$"
)
# "the latest budget": how to pick among matches, not something to search for.
_OPERATOR_WORDS = frozenset(
    {"latest", "current", "currently", "final", "finally", "newest", "updated", "recent", "most",
     "position", "stance", "now", "per"}
)  # fmt: skip
_MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
_MONTHS.update({name.lower(): i for i, name in enumerate(calendar.month_abbr) if name})
_WEEKDAYS = {name.lower(): i for i, name in enumerate(calendar.day_name)}
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'&.-]*")
_PRONOUN_FOLLOW_UP = re.compile(
    r"^\s*(?:and|what about|how about|also|then)\b|\b(?:it|its|that one|the one before|"
    r"the previous one|them|they|their|theirs|he|she|his|her|there|that meeting|that email|"
    r"that file|that flight|that call|that event|before that|after that)\b",
    re.I,
)


def parse_intent(
    question: str,
    *,
    now: datetime,
    time_zone: str = "UTC",
    previous: Intent | None = None,
) -> Intent:
    """Read a question into an intent, resolving a follow-up against the previous turn."""
    text = canonical(" ".join(question.split()))
    operation = next((op for op, pattern in _OPERATIONS if pattern.search(text)), Operation.FIND)
    services = [service for service, pattern in _SERVICE_WORDS.items() if pattern.search(text)]
    time_range = parse_time_range(text, now=now, time_zone=time_zone)
    entities = _entities(text)
    # The time phrase is a filter, not content: "two days from now" searches no "two".
    keywords = _keywords(text.replace(time_range.text, " ") if time_range else text, entities)
    same_day = bool(_SAME_DAY.search(text))
    if same_day and Service.CALENDAR not in services:
        services.append(Service.CALENDAR)
    if (
        time_range is not None
        and operation in (Operation.FIND, Operation.SUMMARIZE)
        and previous is None
        and not entities.people
        and not entities.organizations
        and all(k in _AGENDA_WORDS for k in keywords)
    ):
        # Only a time and agenda words: the calendar (or, when only mail is named, the
        # mail) of that time is the whole question.
        listing = (
            "inbox" if Service.MAIL in services and Service.CALENDAR not in services else "agenda"
        )
        services = [Service.MAIL if listing == "inbox" else Service.CALENDAR]
    else:
        listing = None
    new_keywords = list(keywords)
    # "and the one before that?", or a bare "what time?" that names nothing of its own.
    follow_up = previous is not None and (
        bool(_PRONOUN_FOLLOW_UP.search(text))
        or (
            len(text.split()) <= 4
            and not entities.people
            and not entities.organizations
            and all(k in _BARE_FOLLOW_UP for k in keywords)
        )
    )
    if follow_up and previous is not None:
        # "and the one before that?" keeps the subject of the previous turn.
        if not services:
            services = list(previous.services)
        keywords = _unique([*previous.keywords, *keywords])
        context = " ".join(filter(None, [previous.context, previous.question]))[-400:]
        for field in ("people", "emails", "organizations", "locators"):
            if not getattr(entities, field):
                setattr(entities, field, list(getattr(previous.entities, field)))
        if time_range is None:
            time_range = previous.time_range
    if not follow_up:
        context = ""
    if operation is Operation.SCHEDULE and Service.CALENDAR not in services:
        services.append(Service.CALENDAR)
    if operation is Operation.DRAFT and Service.MAIL not in services:
        services.insert(0, Service.MAIL)
    confidence = 0.8 if services else 0.5
    services_named = bool(services)
    if not services:
        services = [Service.MAIL, Service.CALENDAR, Service.DRIVE]
    return Intent(
        question=question,
        services=services,
        operation=operation,
        entities=entities,
        time_range=time_range,
        keywords=keywords,
        target=listing or _target(text, operation),
        same_day=same_day,
        services_named=services_named,
        new_keywords=new_keywords,
        wants_latest=bool(_LATEST.search(text)),
        follow_up=follow_up,
        context=context,
        confidence=confidence,
    )


def _target(text: str, operation: Operation) -> str | None:
    lowered = text.lower()
    if re.search(r"\bnext (?:meeting|event|call|appointment)\b", lowered):
        return "next_event"
    if operation is Operation.COUNT:
        for word, target in (
            ("calendar", "events"),
            ("appointment", "events"),
            ("meeting", "events"),
            ("event", "events"),
            ("file", "files"),
            ("doc", "files"),
            ("mail", "emails"),
            ("message", "emails"),
        ):
            if word in lowered:
                return target
        if re.search(r"\b(?:total|sum|how much|cost|spend|spent|amount)\b", lowered):
            return "amount"
        return "emails"
    return None


def _entities(text: str) -> Entities:
    emails = _unique(m.group(0).lower() for m in _EMAIL.finditer(text))
    amounts = _unique(m.group(0).strip() for m in _AMOUNT.finditer(text))
    locators = _unique(
        m.group(0)
        for m in _LOCATOR.finditer(text)
        if not re.fullmatch(r"Q[1-4]|\d{4}|[A-Z]{2,5}\d?", m.group(0))
    )
    people: list[str] = []
    organizations: list[str] = []
    for match in _CAPITALISED.finditer(text):
        phrase = match.group(0)
        words = [
            w for w in re.split(r"[\s-]", phrase) if w not in _NOT_NAMES and w.lower() not in _STOP
        ]
        if not words:
            continue
        cleaned = " ".join(words)
        tail = text[match.end() : match.end() + 24]
        if _ORG_SUFFIX.search(cleaned) or re.match(r"\s+(?:Airlines|Bank|Inc|Ltd)\b", tail):
            organizations.append(cleaned)
        elif (
            cleaned.lower() not in _MONTHS
            and cleaned.lower() not in _WEEKDAYS
            and not _COMMON_NOUN.search(cleaned)
        ):
            people.append(cleaned)
    return Entities(
        people=_unique(people),
        emails=emails,
        organizations=_unique(organizations),
        amounts=amounts,
        locators=locators,
    )


def _keywords(text: str, entities: Entities) -> list[str]:
    words = []
    for match in _WORD.finditer(text):
        word = match.group(0).strip("'.-")
        lowered = word.lower().removesuffix("'s")
        if (
            len(lowered) < 2
            or lowered in _STOP
            or lowered in _OPERATOR_WORDS
            or lowered in _MONTHS
            or lowered in _WEEKDAYS
        ):
            continue
        if lowered.isdigit() and len(lowered) < 3:
            continue  # "at 10" is a time; flight numbers and amounts are kept
        words.append(lowered)
    words.extend(locator.lower() for locator in entities.locators)
    return _unique(words)


def _unique(items: object) -> list[str]:
    seen: dict[str, None] = {}
    for item in items:  # type: ignore[attr-defined]
        key = str(item)
        if key and key.lower() not in {k.lower() for k in seen}:
            seen[key] = None
    return list(seen)


# --- time phrases --------------------------------------------------------------------------

_RELATIVE = re.compile(
    r"\b(?P<which>this|next|last|past|previous|coming)\s+(?P<unit>week|month|year|weekend)\b",
    re.I,
)
_LAST_N = re.compile(
    r"\b(?:last|past|previous)\s+(?P<n>\d{1,3})\s+(?P<unit>days?|weeks?|months?)\b", re.I
)
_SINGLE_DAY = re.compile(
    r"\b(?P<word>(?:the\s+)?day\s+after\s+tomorrow|(?:the\s+)?day\s+before\s+yesterday|"
    r"overmorrow|today|tonight|tomorrow|yesterday|this\s+(?:morning|afternoon|evening))\b",
    re.I,
)
_PART_OF_TODAY = re.compile(
    r"\b(?:this\s+(?P<part>morning|afternoon|evening)|(?P<tonight>tonight))\b", re.I
)
_PARTS = {"morning": (0, 12), "afternoon": (12, 17), "evening": (17, 24), "tonight": (17, 24)}
_DAY_OFFSETS = {"after": 2, "overmorrow": 2, "before": -2, "tomorrow": 1, "yesterday": -1}
_IN_N_DAYS = re.compile(
    r"\b(?:in\s+(?P<ahead>\d{1,2}|a|one|two|three|four|five|six|seven)\s+days?(?:\s+time)?|"
    r"(?P<ago>\d{1,2}|one|two|three|four|five|six|seven)\s+days?\s+ago|"
    r"(?P<from>\d{1,2}|one|two|three|four|five|six|seven)\s+days?\s+from\s+(?:now|today))\b",
    re.I,
)
_NUMBER_WORDS = {"a": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
                 "seven": 7}  # fmt: skip
# Past tense: "What did I have on Monday?" means the Monday just gone.
_PAST = re.compile(
    r"\b(?:did|was|were|had|went|met|happened|sent|got|received|emailed|wrote|attended)\b", re.I
)
_REST_OF = re.compile(
    r"\b(?:(?:for|during)\s+)?(?:the\s+)?(?:rest|remainder)\s+of\s+(?:the|this)\s+"
    r"(?P<unit>week|month)\b|\blater\s+this\s+(?P<unit2>week)\b",
    re.I,
)
# "on the 23rd": the next such date (the last one when the question looks back).
_ORDINAL_DAY = re.compile(r"\b(?:on\s+)?the\s+(?P<day>[12]?\d|3[01])(?:st|nd|rd|th)\b", re.I)
_WEEKEND = re.compile(r"\b(?:on\s+|over\s+|for\s+)?the\s+weekend\b", re.I)
_ON_WEEKDAY = re.compile(
    r"\b(?:(?P<which>this|next|last|on|coming)\s+)?(?P<day>monday|tuesday|wednesday|thursday|"
    r"friday|saturday|sunday)\b",
    re.I,
)
_MONTH_DAY = re.compile(
    r"\b(?P<month>jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?\s+(?P<day>\d{1,2})"
    r"(?:st|nd|rd|th)?(?:,?\s+(?P<year>\d{4}))?\b",
    re.I,
)
_DAY_MONTH = re.compile(
    r"\b(?P<day>\d{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<month>jan(?:uary)?|feb(?:ruary)?|"
    r"mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|"
    r"nov(?:ember)?|dec(?:ember)?)\b(?:,?\s+(?P<year>\d{4}))?",
    re.I,
)
_ISO_DATE = re.compile(r"\b(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})\b")
_IN_MONTH = re.compile(
    r"\b(?:in|during|for|since|throughout)\s+(?P<month>january|february|march|april|may|june|"
    r"july|august|september|october|november|december)(?:\s+(?P<year>\d{4}))?\b",
    re.I,
)


def parse_time_range(text: str, *, now: datetime, time_zone: str = "UTC") -> TimeRange | None:
    """The first time phrase in ``text`` as a UTC interval of whole local days."""
    zone = ZoneInfo(time_zone)
    today = now.astimezone(zone).date()

    def days(start: date, end: date, span: str) -> TimeRange:
        return TimeRange(
            start=datetime.combine(start, time(), zone).astimezone(ZoneInfo("UTC")),
            end=datetime.combine(end, time(), zone).astimezone(ZoneInfo("UTC")),
            text=span,
        )

    if m := _ISO_DATE.search(text):
        day = date(int(m["year"]), int(m["month"]), int(m["day"]))
        return days(day, day + timedelta(days=1), m.group(0))
    for pattern in (_MONTH_DAY, _DAY_MONTH):
        if m := pattern.search(text):
            month = _MONTHS[m["month"].lower().rstrip(".")[:3]]
            year = int(m["year"]) if m["year"] else _nearest_year(today, month, int(m["day"]))
            try:
                day = date(year, month, int(m["day"]))
            except ValueError:
                continue
            return days(day, day + timedelta(days=1), m.group(0))
    if m := _PART_OF_TODAY.search(text):
        # "tonight", "this afternoon": that part of today, in local hours.
        first, last = _PARTS[(m["part"] or m["tonight"]).lower()]
        return TimeRange(
            start=datetime.combine(today, time(first), zone).astimezone(ZoneInfo("UTC")),
            end=(datetime.combine(today, time(), zone) + timedelta(hours=last)).astimezone(
                ZoneInfo("UTC")
            ),
            text=m.group(0),
        )
    if m := _SINGLE_DAY.search(text):
        words = m["word"].lower().split()
        offset = next((_DAY_OFFSETS[w] for w in words if w in _DAY_OFFSETS), 0)
        if words[-1] in ("tomorrow", "yesterday") and len(words) > 1:
            offset = _DAY_OFFSETS[words[-2]]
        day = today + timedelta(days=offset)
        return days(day, day + timedelta(days=1), m.group(0))
    if m := _IN_N_DAYS.search(text):
        raw = (m["ahead"] or m["ago"] or m["from"]).lower()
        n = int(raw) if raw.isdigit() else _NUMBER_WORDS[raw]
        day = today + timedelta(days=-n if m["ago"] else n)
        return days(day, day + timedelta(days=1), m.group(0))
    if m := _LAST_N.search(text):
        n = int(m["n"])
        unit = m["unit"].lower().rstrip("s")
        span_days = n * {"day": 1, "week": 7, "month": 30}[unit]
        return days(today - timedelta(days=span_days), today + timedelta(days=1), m.group(0))
    if m := _REST_OF.search(text):
        # "the rest of the week": from tomorrow to the end of this week (or month).
        start = today + timedelta(days=1)
        if (m["unit"] or m["unit2"]).lower() == "week":
            end = today - timedelta(days=today.weekday()) + timedelta(days=7)
        else:
            end = date(today.year + today.month // 12, today.month % 12 + 1, 1)
        return days(start, max(end, start + timedelta(days=1)), m.group(0))
    if m := _RELATIVE.search(text):
        return _relative(m["which"].lower(), m["unit"].lower(), today, m.group(0), days)
    if m := _ORDINAL_DAY.search(text):
        wanted = int(m["day"])
        step = -1 if _PAST.search(text) else 1
        for offset in range(0, 62 * step, step):
            day = today + timedelta(days=offset)
            if day.day == wanted:
                return days(day, day + timedelta(days=1), m.group(0))
    if m := _WEEKEND.search(text):
        # "the weekend": the coming one, or the one just gone when the question looks back.
        which = "last" if _PAST.search(text) and today.weekday() < 5 else "this"
        return _relative(which, "weekend", today, m.group(0), days)
    if m := _IN_MONTH.search(text):
        month = _MONTHS[m["month"].lower()]
        year = int(m["year"]) if m["year"] else _nearest_year(today, month, 1, prefer_past=True)
        last = calendar.monthrange(year, month)[1]
        return days(date(year, month, 1), date(year, month, last) + timedelta(days=1), m.group(0))
    if m := _ON_WEEKDAY.search(text):
        target = _WEEKDAYS[m["day"].lower()]
        which = (m["which"] or "").lower()
        delta = (target - today.weekday()) % 7
        if which == "last":
            delta = delta - 7 if delta else -7
        elif which == "next":
            # "next Wednesday" is the Wednesday of next week (said on a Tuesday: not
            # tomorrow, which would be "this Wednesday" or "on Wednesday").
            delta = 7 - today.weekday() + target
        elif which in ("", "on") and delta and _PAST.search(text):
            delta -= 7  # "which meetings did I have on Monday?": the Monday just gone
        day = today + timedelta(days=delta)
        return days(day, day + timedelta(days=1), m.group(0))
    return None


def _relative(which: str, unit: str, today: date, span: str, days: object) -> TimeRange:
    make = days  # a closure over the zone: (start, end, span) -> TimeRange
    step = {"this": 0, "coming": 1, "next": 1, "last": -1, "past": -1, "previous": -1}[which]
    if unit in ("week", "weekend"):
        monday = today - timedelta(days=today.weekday()) + timedelta(weeks=step)
        if unit == "weekend":
            start = monday + timedelta(days=5)
            return make(start, start + timedelta(days=2), span)  # type: ignore[operator,no-any-return]
        return make(monday, monday + timedelta(days=7), span)  # type: ignore[operator,no-any-return]
    if unit == "month":
        month_index = today.year * 12 + today.month - 1 + step
        year, month = divmod(month_index, 12)
        start = date(year, month + 1, 1)
        end = date(year + (month + 1) // 12, (month + 1) % 12 + 1, 1)
        return make(start, end, span)  # type: ignore[operator,no-any-return]
    year = today.year + step
    return make(date(year, 1, 1), date(year + 1, 1, 1), span)  # type: ignore[operator,no-any-return]


def _nearest_year(today: date, month: int, day: int, *, prefer_past: bool = False) -> int:
    """The year that puts month/day closest to today (questions mostly look back or near)."""
    candidates = []
    for year in (today.year - 1, today.year, today.year + 1):
        try:
            candidates.append(date(year, month, min(day, 28 if month == 2 else day)))
        except ValueError:
            continue
    if prefer_past:
        past = [c for c in candidates if c <= today]
        if past and not (month == today.month and today.year == max(past).year):
            return max(past).year
        if month == today.month:
            return today.year
    return min(candidates, key=lambda c: abs((c - today).days)).year
