"""The local tier's answer: extractive, every sentence cited, facts computed in code. Pure.

No model writes here, so nothing can be invented: the answer is made of sentences and
fields taken from retrieved items (each followed by its citation number), and of facts the
code computes (a count, the next event, the events on a given day). When nothing retrieved
supports an answer the answer says so. Retrieved text is quoted, never obeyed.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from secretary.assistant.lexicon import (
    ALTERNATIVE_UNIT,
    canonical,
    expected_shapes,
    has_shape,
    is_value_word,
    mentions,
)
from secretary.assistant.schemas import (
    Citation,
    Intent,
    Item,
    Operation,
    Plan,
    Step,
    StepResult,
)
from secretary.kit.clock import utcnow
from secretary.kit.text import split_sentences

NOT_FOUND = "I couldn't find that in your mail, calendar or Drive."
_DATE_CUE = re.compile(
    r"\b(?:\d{1,2}:\d{2}|\d{1,2}\s?(?:am|pm)|(?:mon|tues?|wed(?:nes)?|thu(?:rs)?|fri|sat(?:ur)?|"
    r"sun)(?:day)?|jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?|today|tomorrow|noon|"
    r"\d{4}-\d{2}-\d{2}|departs?|arrives?)\b",
    re.I,
)
_AMOUNT_CUE = re.compile(
    r"[$€£¥]\s?\d|\b\d[\d,]*(?:\.\d+)?\s?(?:USD|EUR|GBP|k)\b|\b(?:USD|EUR|GBP)\s?\d|\b\d+\s?%",
    re.I,
)
_WHEN_Q = re.compile(r"\b(?:when|what time|which day|what date|date)\b", re.I)
_AMOUNT_Q = re.compile(
    r"\b(?:how much|cost|price|total|budget|amount|spend|spent|owe|fee|fare|rate|limit|left|"
    r"cap|share)\b",
    re.I,
)
_PLACE_CUE = re.compile(
    r"\b(?:\d+ [A-Z]?[a-z]* ?(?:st|street|ave|avenue|dr|drive|rd|road)\b|room|floor|suite|hq|"
    r"terminal)|\([A-Z]{3}\)",
    re.I,
)
_WHERE_Q = re.compile(
    r"\b(?:where|address|located|which (?:airport|hotel|room|office|venue|city|terminal))\b",
    re.I,
)
_NUMBER_WORDS = frozenset({"number", "code", "id", "no"})
_NUMBER_CUE = re.compile(r"#?\b[A-Za-z0-9]*\d{3,}[A-Za-z0-9]*\b")
_DURATION_Q = re.compile(
    r"\b(?:how long|how many (?:days|weeks|months|years)|period|duration|term)\b", re.I
)
_DURATION_CUE = re.compile(r"\b\d+\s?(?:months?|years?|weeks?|days?|hours?|minutes?)\b", re.I)
_TYPE_WORDS = frozenset(
    {
        "price", "cost", "time", "date", "day", "number", "code", "address", "amount", "total",
        "fee", "rate", "limit", "period", "duration", "place", "location", "id", "much", "many",
        "position", "airport", "city", "room", "venue", "terminal", "office", "street",
        "percentage", "percent", "night", "nights", "reference", "locator", "name",
    }
)  # fmt: skip
_GENERIC_EVENT_NOUNS = frozenset(
    {"appointment", "meeting", "call", "event", "session", "time", "calendar", "my"}
)
_WHEN_WHERE_Q = re.compile(r"\b(?:when|where|what time|which day|what date)\b", re.I)
_AGENT_NAMES = {
    "mail": "Mail search",
    "calendar": "The calendar",
    "drive": "Drive search",
    "action": "The proposal",
}


@dataclass
class Answer:
    text: str
    citations: list[Citation] = field(default_factory=list)
    partial_failures: list[str] = field(default_factory=list)


@dataclass
class _Citer:
    citations: list[Citation] = field(default_factory=list)

    def cite(self, item: Item) -> str:
        for index, citation in enumerate(self.citations, start=1):
            if citation.id == item.id and citation.kind == item.kind:
                return f"[{index}]"
        self.citations.append(Citation(kind=item.kind, id=item.id, title=item.title))
        return f"[{len(self.citations)}]"


def synthesize(
    intent: Intent,
    plan: Plan,
    results: Mapping[str, StepResult],
    *,
    time_zone: str = "UTC",
    now: datetime | None = None,
) -> Answer:
    """Compose the answer from the steps' results."""
    zone = ZoneInfo(time_zone)
    citer = _Citer()
    failures = _failures(plan, results)
    lines: list[str] = []
    by_step = {step.id: step for step in plan.steps}

    for step_id, result in results.items():
        step = by_step.get(step_id)
        if step is None or not result.ok:
            continue
        if step.action == "count":
            lines.append(_count_line(intent, result, citer))
        elif step.action == "next":
            if result.items:
                item = result.items[0]
                lines.append(f"Your next event is {_event_line(item, zone)} {citer.cite(item)}.")
            else:
                lines.append("There is no upcoming event on your calendar.")

    listed: set[tuple[str, str]] = set()
    for result in results.values():
        if result.ok and isinstance(result.value, dict) and result.value.get("listing"):
            span = intent.time_range.text if intent.time_range else ""
            if result.value.get("listing") == "mail":
                mails = "; ".join(
                    f"“{item.title}”"
                    + (f" from {item.people[0]}" if item.people else "")
                    + f" {citer.cite(item)}"
                    for item in result.items[:10]
                )
                lines.append(
                    f"Your mail{' ' + span if span else ''}: {mails}."
                    if result.items
                    else f"No mail arrived{' ' + span if span else ''}."
                )
                listed.update((item.kind, item.id) for item in result.items)
            elif result.items:
                events = "; ".join(
                    f"{_event_line(item, zone)} {citer.cite(item)}" for item in result.items[:12]
                )
                lines.append(f"Your calendar{' ' + span if span else ''}: {events}.")
                listed.update((item.kind, item.id) for item in result.items)
            else:
                lines.append(f"Nothing is on your calendar{' ' + span if span else ''}.")
    lines.extend(_address_lines(intent, results, citer))
    ranked = _relevant(intent, results, by_step, now)
    top = 3 if intent.wants_latest is False else 1
    clauses = clauses_of(intent)
    if len(clauses) > 1:
        ranked = ranked[:top]
        # Each part of a two-part question brings its best item ("when is it" → the event).
        for clause in clauses:
            options = _relevant(clause, results, by_step, now, every=True)
            kinds = [k for k, pattern in _CLAUSE_KINDS.items() if pattern.search(clause.question)]
            preferred = [i for i in options if i.kind in kinds] or options
            # "… is it in my Drive?": the item that *is* the thing, named in its title.
            title_terms = _terms(intent)
            preferred.sort(key=lambda i: _hits(title_terms, i.title), reverse=True)
            ranked += [i for i in preferred[:1] if i not in ranked]
        top = len(ranked)  # each part's pick is answered, whatever the whole ranked
    found = [i for i in ranked if (i.kind, i.id) not in listed]
    if intent.operation is not Operation.COUNT or intent.target == "amount":
        for item in found[:top]:
            line = _item_line(intent, item, zone)
            if line:
                lines.append(f"{line} {citer.cite(item)}")

    same_day = results.get("calendar_same_day")
    if same_day is not None and same_day.ok:
        days = same_day.value if isinstance(same_day.value, list) else []
        if same_day.items:
            events = "; ".join(
                f"{_event_line(item, zone)} {citer.cite(item)}" for item in same_day.items[:5]
            )
            lines.append(f"That day your calendar has: {events}.")
        elif days:
            lines.append(f"Nothing is on your calendar on {', '.join(days)}.")

    for step_id, result in results.items():
        step = by_step.get(step_id)
        if step is not None and step.agent == "action" and result.ok:
            summary = result.value.get("summary") if isinstance(result.value, dict) else None
            if summary:
                lines.append(f"Proposed, waiting for your approval: {summary}.")

    if not lines:
        return Answer(text=NOT_FOUND, citations=[], partial_failures=failures)
    text = "\n".join(lines)
    if failures:
        text += "\n\n" + " ".join(failures)
    return Answer(text=text, citations=citer.citations, partial_failures=failures)


_ADDRESS_Q = re.compile(r"\be-?mail address(?:es)?\b|\baddress(?:es)? (?:to|for) e-?mail\b", re.I)


def _address_lines(intent: Intent, results: Mapping[str, StepResult], citer: _Citer) -> list[str]:
    """ "What's Marco's email address?": the address a named person writes from (or is
    invited with), read from the headers of retrieved items, cited to one of them."""
    if not _ADDRESS_Q.search(intent.question):
        return []
    lines = []
    for person in intent.entities.people:
        first = person.split()[0].lower()
        for result in results.values():
            found = None
            for item in result.items if result.ok else []:
                named = item.kind == "email" and any(first in p.lower() for p in item.people[:1])
                for address in item.people:
                    local = address.partition("@")[0].lower()
                    if "@" in address and (named or re.match(rf"{re.escape(first)}\b", local)):
                        found = (address, item)
                        break
                if found:
                    break
            if found:
                lines.append(f"{person}: {found[0]} {citer.cite(found[1])}")
                break
    return lines


def _failures(plan: Plan, results: Mapping[str, StepResult]) -> list[str]:
    out = []
    for step in plan.steps:
        result = results.get(step.id)
        if result is None or result.ok:
            continue
        who = _AGENT_NAMES.get(step.agent, step.agent)
        consequence = step.fallback or "that step gave nothing"
        out.append(f"{who} was unavailable ({result.error}), so {consequence}.")
    return out


def _count_line(intent: Intent, result: StepResult, citer: _Citer) -> str:
    count = int(result.value or 0)
    noun = {"emails": "email", "events": "event", "files": "file"}.get(intent.target or "", "item")
    plural = noun if count == 1 else f"{noun}s"
    qualifiers = []
    people = intent.entities.people + intent.entities.emails
    if people:
        qualifiers.append(("from " if noun == "email" else "with ") + " and ".join(people))
    if intent.time_range and intent.time_range.text:
        qualifiers.append(intent.time_range.text)
    cites = " ".join(citer.cite(item) for item in result.items[:5])
    head = f"{count} {plural}" + (" " + " ".join(qualifiers) if qualifiers else "")
    return f"{head}." + (f" {cites}" if cites else "")


_UPDATE_CUE = re.compile(
    r"\b(?:now|update[ds]?|changed?|new|revised|instead|moved|raised|lowered|increased|"
    r"decreased|reduced|offer|compromise|counter)\b",
    re.I,
)
_OPERATOR_WORDS = frozenset(
    {"latest", "current", "currently", "final", "finally", "newest", "updated", "recent"}
)
_MONTH_OR_DAY = re.compile(
    r"\b(?:january|february|march|april|may|june|july|august|september|october|november|"
    r"december|monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b"
)


def _terms(intent: Intent) -> list[str]:
    terms = [k for k in intent.keywords if k not in _OPERATOR_WORDS]
    terms += [
        m.group(0).lower()
        for m in re.finditer(
            r"(?<=\s)(?:Events?|Meetings?|Files?|Docs?|Calendar|Drive)\b", intent.question
        )
    ]
    if intent.time_range is not None:
        # "the roadmap for January": the month is content as well as a filter.
        terms += _MONTH_OR_DAY.findall(intent.time_range.text.lower())
    for entity in intent.entities.people + intent.entities.organizations:
        terms.extend(word.lower() for word in entity.split())
    terms.extend(locator.lower() for locator in intent.entities.locators)
    return list(dict.fromkeys(t for t in terms if len(t) > 1))


def _has(term: str, text: str) -> bool:
    """``term`` starts a word of ``text`` ("depart" finds "departs"); ``text`` is lowered."""
    # A word, or the word with a short ending ("depart" finds "departs", "limit" does not
    # find "limitless").
    if len(term) > 5 and term.endswith("ly"):
        term = term[:-2]  # "nightly" finds "night"
    pattern = rf"(?<![a-z0-9]){re.escape(term)}(?:s|es|ed|d|ing|al|als|er|ers|'s)?(?![a-z0-9])"
    # Then by stem and paraphrase: "arrival" finds "arrives", "fare" finds "price".
    return re.search(pattern, text) is not None or mentions(term, text)


def _hits(terms: list[str], text: str) -> int:
    lowered = text.lower()
    return sum(1 for term in terms if _has(term, lowered))


_WH_LEAD = re.compile(
    r"^\s*(?P<wh>how (?:much|many|long|often)|what time|what|which|who|whom|whose|where|when|how)"
    r"(?:'s)?\b(?:\s+(?P<aux>is|are|was|were|do|does|did|will|would|should|can|could|has|have|"
    r"had))?",
    re.I,
)
_TYPE_LEADS = frozenset({"when", "where", "what time", "how much", "how many", "how long"})
_FOCUS_STOP = re.compile(
    r"\b(?:at|for|in|on|of|from|with|to|by|about|during|before|after|do|does|did|is|was|will|"
    r"would|should|can|have|has|had|i|we|me|according|per)\b",
    re.I,
)
_YES_NO = re.compile(r"^\s*(?:is|are|was|were|does|do|did|has|have|will|can)\b", re.I)
_SAYS_ABOUT = re.compile(
    r"\b(?:say|says|said|mention|mentions|mentioned|write|wrote|written|state|states)\s+"
    r"(?:about|on|regarding)\s+(?P<topic>.+)$",
    re.I,
)
_FOCUS_SKIP = frozenset({"the", "my", "our", "a", "an", "on", "this", "that", "its", "their"})
# Words that frame a question rather than name its subject: "what came in from Priya",
# "what's planned for December", "our newest position on data retention".
# "Which Drive file has the notes": the service is where to look, not what to find.
_SERVICE_NOUNS = frozenset({"drive", "calendar", "inbox", "mail", "email", "gmail"})
_FRAME_WORDS = frozenset(
    {"came", "come", "coming", "get", "got", "received", "receive", "sent", "send", "need",
     "needed", "needs", "want", "wants", "wanted", "say", "said", "planned", "happening",
     "going", "happen", "position", "stance", "status", "situation", "news", "update",
     "else", "new", "ask", "asked", "asking", "expected", "estimated", "supposed", "likely",
     "agree", "agreed", "confirm", "confirmed", "decided", "settled", "says"}
)  # fmt: skip


def focus_terms(intent: Intent) -> list[str]:
    """The words naming what a wh-question asks for ("the wifi password at ..." → wifi,
    password). An answer must mention them, or carry the kind of value asked for."""
    question = canonical(intent.question)
    lead = _WH_LEAD.match(question)
    if lead is None:
        # "Is the booking for one night or two?": the unit of the alternatives.
        alternative = ALTERNATIVE_UNIT.search(question)
        if alternative:
            return [alternative["unit"].lower()]
        if _YES_NO.match(question) and len(_CLAUSE_SPLIT.split(question)) == 1:
            # "Is a meal included on my return flight?": all of it must be there.
            return [t for t in intent.keywords if t not in _FRAME_WORDS and t not in _SERVICE_NOUNS]
        return []
    words: list[str] = []
    tokens = [
        raw.strip('?,.!:;"()').lower().removesuffix("'s") for raw in question[lead.end() :].split()
    ]
    if (
        lead.group("aux")
        and len(tokens) >= 3
        and tokens[0] in ("i", "we", "you")
        and tokens[2] in ("on", "for", "about", "at")
    ):
        tokens = tokens[3:]  # "How much did I spend on taxis?": what the verb is about
    elif about := _SAYS_ABOUT.search(question):
        # "What does the guide say about expenses?": the topic, not the source.
        tokens = [t.strip('?,.!:;"()').lower() for t in about["topic"].split()]
    for word in tokens:
        if not words and word in _FOCUS_SKIP:
            continue
        if _FOCUS_STOP.fullmatch(word):
            break
        words.append(word)
    keywords = set(_terms(intent))
    return [w for w in words if w in keywords and w not in _FRAME_WORDS and w not in _SERVICE_NOUNS]


def _answers_type(question: str, sentence: str) -> bool:
    """Whether ``sentence`` holds the kind of value the question asks for."""
    shapes = expected_shapes(question)
    if shapes:
        return has_shape(shapes, sentence)
    if _WHEN_Q.search(question) and _DATE_CUE.search(sentence):
        return True
    if _DURATION_Q.search(question) and _DURATION_CUE.search(sentence):
        return True
    if _AMOUNT_Q.search(question) and _AMOUNT_CUE.search(sentence):
        return True
    return bool(_WHERE_Q.search(question) and _PLACE_CUE.search(sentence))


_POSSESSIVE = re.compile(r"\b(?P<owner>[a-z]{3,})'s\b")


def _possessors(intent: Intent) -> list[str]:
    """Common nouns the question makes owners ("the hotel's policy"): what it is about."""
    return [m["owner"] for m in _POSSESSIVE.finditer(intent.question) if m["owner"] not in _STOPS]


_STOPS = frozenset({"what", "who", "where", "when", "that", "there", "here", "it", "one", "today"})


def _named(intent: Intent) -> list[str]:
    """Entities an answer must mention: all of them, except a person who is only the
    source of the request ("Priya asked for the agreement: is it in my Drive?")."""
    source = re.compile(
        r"\s+(?:asked|asks|said|says|wrote|mentioned|told|wants|needs|requested|emailed|"
        r"confirmed|sent|replied)\b"
    )
    people = [
        p
        for p in intent.entities.people
        if not re.search(re.escape(p) + source.pattern, intent.question)
    ]
    return intent.entities.organizations + intent.entities.locators + people


def _supports(intent: Intent, item: Item) -> bool:
    """Whether ``item`` can answer at all: it names every entity the question names, and
    it mentions what a wh-question asks for (or holds that kind of value)."""
    haystack = f"{item.title} {item.text} {item.location or ''} {' '.join(item.people)}".lower()
    for entity in _named(intent):
        # Every word of a name ("Chicago Uber" is not found by "Chicago" alone).
        words = [w.lower() for w in entity.split() if len(w) > 2] or [entity.lower()]
        if not all(_has(word, haystack) for word in words):
            return False
    for owner in _possessors(intent):
        if not _has(owner, haystack):
            return False  # "the hotel's cancellation policy" is about the hotel
    if not _bound(intent, item):
        return False
    focus = focus_terms(intent)
    if not focus:
        return True
    if item.kind == "event":
        # An event answers "when" and "where" by what it is, if it is the event named.
        shapes = expected_shapes(intent.question)
        named = [t for t in focus if t not in _GENERIC_EVENT_NOUNS and not is_value_word(t, shapes)]
        text = f"{item.title} {item.location or ''} {item.text}".lower()
        if not named:
            return bool(_WHEN_WHERE_Q.search(intent.question))
        return _enough(named, text)
    title = item.title if item.kind == "file" else ""
    sentence = best_sentence(intent, item.text, title=title) or item.title
    if (head := _EVENT_HEAD.search(intent.question)) and not _names_event(
        head["noun"].lower(), focus_terms(intent), f"{item.title} {' '.join(item.people)}", sentence
    ):
        return False  # "when is the board meeting?" is not "before we take it to our board"
    for quarter in _QUARTER.findall(intent.question):
        if not _has(quarter.lower(), f"{item.title} {sentence}".lower()):
            return False  # "the Design budget for Q1" is not the Q3 and Q4 figures
    if (
        len(_CLAUSE_SPLIT.split(intent.question)) == 1
        and (shapes := [s for s in expected_shapes(intent.question) if s in _GATED_SHAPES])
        and not has_shape(shapes, sentence)
    ):
        return False  # "when …?" answered by a sentence without a date is no answer
    lowered = f"{item.title} {sentence} {' '.join(item.people)}".lower()
    # What the question is about must be there; what kind of value it wants ("price",
    # "time", "number") may be there as a word or as a value of that kind. Names are
    # checked above, as entities.
    names = {w.lower() for p in _named(intent) + intent.entities.people for w in p.split()}
    if _VERB_OBJECT.match(canonical(intent.question)) and not _enough(
        [t for t in focus if t not in names], lowered
    ):
        return False  # "How much did I spend on taxis?": no taxis, no answer
    shapes_wanted = expected_shapes(intent.question)
    content = [
        t
        for t in focus
        if t not in _TYPE_WORDS and t not in names and not is_value_word(t, shapes_wanted)
    ]
    if content and not _enough(content, lowered):
        return False
    if (
        item.kind == "email"
        and len(content) > 1
        and _split_between(content, item.title.lower(), sentence.lower())
    ):
        # "the board meeting": "board" in the sentence and "meet" only in the title is
        # two things, not the one asked about.
        return False
    wanted = [t for t in focus if t in _TYPE_WORDS or is_value_word(t, shapes_wanted)]
    if not wanted or _enough(wanted, lowered):
        return True
    return _answers_type(intent.question, sentence)


_QUARTER = re.compile(r"\bQ[1-4]\b")
_EVENT_NOUNS = (
    "meeting", "call", "appointment", "session", "conference", "interview", "review", "lunch",
    "dinner", "on-site", "offsite", "webinar", "standup", "1:1",
)  # fmt: skip
_EVENT_HEAD = re.compile(
    r"^\s*(?:when|what time|what day|what date)\b.*\b(?P<noun>" + "|".join(_EVENT_NOUNS) + r")s?"
    r"\s*\??\s*$",
    re.I,
)


def _names_event(noun: str, focus: list[str], title: str, sentence: str) -> bool:
    """Whether the answer is about the kind of event asked for: the sentence names it, or
    the title names it together with the question's other words."""
    if mentions(noun, sentence):
        return True
    others = [t for t in focus if not mentions(t, noun)]
    return mentions(noun, title) and all(_has(t, title.lower()) for t in others)


def _split_between(words: list[str], title: str, sentence: str) -> bool:
    """Whether some of ``words`` are only in the title and others only in the sentence."""
    only_title = [w for w in words if _has(w, title) and not _has(w, sentence)]
    only_sentence = [w for w in words if _has(w, sentence) and not _has(w, title)]
    return bool(only_title) and bool(only_sentence)


_VERB_OBJECT = re.compile(
    r"^\s*(?:how much|how many|how often|what|when|where)\s+(?:did|do|does|have|has|will)\s+"
    r"(?:i|we|you)\s+\S+\s+(?:on|for|about|at)\s",
    re.I,
)
_GATED_SHAPES = frozenset({"time", "date", "amount", "percent", "duration", "code", "place"})
_CLAUSE = re.compile(r";\s*|\s+[—–]\s+")


def _bound(intent: Intent, item: Item) -> bool:
    """Whether every entity the question names is what ``item`` is about: in its title,
    place or people, or in one clause of its text together with something else the
    question asks about. "My flight to Boston" is not answered by a budget row whose
    notes say "Boston trip 487.27; Chicago flights 486.20"."""
    entities = _named(intent)
    if not entities:
        return True
    entity_words = {w.lower() for e in entities for w in e.split()}
    others = [t for t in _terms(intent) if t not in entity_words and t not in _TYPE_WORDS]
    about = f"{item.title} {item.location or ''} {' '.join(item.people)}".lower()
    clauses: list[str] | None = None
    for entity in entities:
        words = [w.lower() for w in entity.split()]
        if any(_has(w, about) for w in words):
            continue
        if not others:
            continue
        if clauses is None:
            clauses = _text_clauses(item.text)
        if not any(
            any(_has(w, clause) for w in words) and any(_has(t, clause) for t in others)
            for clause in clauses
        ):
            return False
    return True


def _text_clauses(text: str) -> list[str]:
    """The text's clauses, lowered; a sheet row's first cell stays with each of its cells."""
    out: list[str] = []
    for sentence in _sentences(text):
        head, dash, rest = sentence.partition(" — ")
        parts = _CLAUSE.split(rest if dash else sentence)
        out.extend(f"{head if dash else ''} {part}".lower() for part in parts)
    return out


def _enough(focus: list[str], text: str) -> bool:
    """All of one or two focus words, or two thirds of more. "number", "code" and the like
    are found when the text holds an identifier ("order #48213")."""
    has_number = bool(_NUMBER_CUE.search(text))
    found = sum(1 for term in focus if _has(term, text) or (term in _NUMBER_WORDS and has_number))
    return found == len(focus) if len(focus) <= 2 else found * 3 >= len(focus) * 2


def _relevant(
    intent: Intent,
    results: Mapping[str, StepResult],
    by_step: Mapping[str, object],
    now: datetime | None = None,
    *,
    every: bool = False,
) -> list[Item]:
    """Items from search steps that can answer the question, best first: the leading
    cluster only, so a weak match never trails a strong one into the answer."""
    terms = _terms(intent)
    scored: list[tuple[float, Item]] = []
    seen: set[tuple[str, str]] = set()
    named_kinds = {_KIND_OF[service.value] for service in intent.services}
    said = _SOURCE.search(intent.question)
    source = [t for t in _terms(intent) if said and t in said["source"].lower()]
    for step_id, result in results.items():
        step = by_step.get(step_id)
        if not result.ok or getattr(step, "action", "") not in ("search",):
            continue
        for rank, item in enumerate(result.items):
            key = (item.kind, item.id)
            if key in seen:
                continue
            seen.add(key)
            body = f"{item.text} {item.location or ''} {' '.join(item.people)}"
            title_hits = _hits(terms, item.title)
            hits = _hits(terms, f"{item.title} {body}")
            if terms and hits == 0:
                continue
            coverage = hits / len(terms) if terms else 0.5
            if terms and coverage < 0.34 and hits < 2:
                continue
            if not _supports(intent, item):
                continue
            bonus = 0.3 * title_hits / len(terms) if terms else 0.0
            # The sentence that would be quoted counts as well as the item as a whole, so a
            # sheet row holding the words beats a long mail that scatters them.
            sentence = best_sentence(intent, item.text) if item.kind != "event" else ""
            quoted = f"{item.title} {sentence} {' '.join(item.people)}"
            evidence = 0.3 * _hits(terms, quoted) / len(terms) if terms else 0.0
            # The service the question names ("did Jordan email me") comes first, and the
            # item it names as the source ("according to the roadmap") before that.
            named = 0.1 if intent.services_named and item.kind in named_kinds else 0.0
            if source and _hits(source, item.title) == len(source):
                named += 0.3
            scored.append((coverage + bonus + evidence + named + 0.05 / (rank + 1), item))
    if not scored:
        return []
    scored.sort(key=lambda pair: pair[0], reverse=True)
    top = scored[0][0]
    if intent.wants_latest:
        # The newest of the items that answer well; a future event is not "the latest".
        cluster = [(score, item) for score, item in scored if score >= top * 0.6]
        moment = now or utcnow()
        floor = datetime.min.replace(tzinfo=ZoneInfo("UTC"))
        # An answer that says it changed ("the limit is now $75") beats one that does not,
        # then the newest.
        cluster.sort(
            key=lambda pair: (
                bool(_UPDATE_CUE.search(best_sentence(intent, pair[1].text, pairs=False))),
                round(pair[0], 1),
                pair[1].at if pair[1].at and pair[1].at <= moment else floor,
            ),
            reverse=True,
        )
        return [item for _, item in cluster]
    if every:
        # One part of a two-part question picks its own kind from all that can answer.
        return [item for _, item in scored]
    chosen = [item for score, item in scored if score >= top * 0.8]
    # A service the question names ("... and when is it on my calendar?", "is it in my
    # Drive?") contributes its best supported item even when another kind leads.
    if intent.services_named:
        kinds = {"mail": "email", "calendar": "event", "drive": "file"}
        for service in intent.services:
            kind = kinds[service.value]
            if any(item.kind == kind for item in chosen):
                continue
            best = next(((sc, it) for sc, it in scored if it.kind == kind), None)
            if best is not None and best[0] >= top * 0.5:
                chosen.append(best[1])
    return chosen


_IT = re.compile(r"\b(?:it|its|that|they|them|there)\b", re.I)
_KIND_OF = {"mail": "email", "calendar": "event", "drive": "file"}
_SOURCE = re.compile(
    r"\b(?:according to|as per|based on|in|from)\s+(?:the|my|our)\s+(?P<source>[\w\s-]{3,40}?)"
    r"\s*(?:sheet|doc|document|notes|file|spreadsheet)?\s*(?:\?|$|,)",
    re.I,
)
_CLAUSE_SPLIT = re.compile(
    r"(?:,?\s+and|[:;?]|,)\s+(?=(?:what|when|where|who|which|how|is|are|does|do|did)\b)",
    re.I,
)


_CLAUSE_KINDS = {
    "event": re.compile(r"\b(?:calendar|meeting|event|scheduled)\b|^\s*(?:when|what time)\b", re.I),
    "file": re.compile(r"\b(?:drive|docs?|document|file|notes|sheet)\b", re.I),
    "email": re.compile(r"\b(?:e-?mail|mail|message|wrote|sent)\b", re.I),
}


def clauses_of(intent: Intent) -> list[Intent]:
    """One intent per part of a two-part question ("When is X, and what should I bring?"),
    each keeping only its own words, so each part gets its own sentence."""
    parts = _CLAUSE_SPLIT.split(canonical(intent.question))
    if len(parts) < 2:
        return [intent]
    out = []
    for part in parts:
        lowered = part.lower()
        own = [k for k in intent.keywords if k in lowered]
        if _IT.search(part) or all(k in _TYPE_WORDS or is_value_word(k, ["time"]) for k in own):
            # "… and what time does *it* start?": the subject is the other part's.
            own = list(intent.keywords)
        # A part names only its own entities: "Priya needs X: when is that on my calendar?"
        # asks the calendar about X, not about Priya.
        entities = intent.entities.model_copy(
            update={
                "people": [p for p in intent.entities.people if p.lower() in lowered],
                "organizations": [o for o in intent.entities.organizations if o.lower() in lowered],
            }
        )
        out.append(
            intent.model_copy(
                update={"question": part, "keywords": own or intent.keywords, "entities": entities}
            )
        )
    return out


def relevant_items(intent: Intent, inputs: Mapping[str, StepResult]) -> list[Item]:
    """The items of search results that answer the question, best first."""
    searches = {step_id: Step(id=step_id, agent="search", action="search") for step_id in inputs}
    return _relevant(intent, inputs, searches)


def _item_line(intent: Intent, item: Item, zone: ZoneInfo) -> str:
    if item.kind == "event":
        line = f"{_event_line(item, zone)}."
        detail = best_sentence(intent, item.text)
        return f"{line} {detail}" if detail else line
    title = item.title if item.kind == "file" else ""
    parts = [best_sentence(clause, item.text, title=title) for clause in clauses_of(intent)]
    picked = list(dict.fromkeys(p for p in parts if p))
    sentence = " … ".join(picked[:2]) or _lead(item.text) or item.title
    if item.kind == "email":
        when = item.at.astimezone(zone).strftime("%-d %b %Y") if item.at else ""
        sender = item.people[0] if item.people else ""
        source = (
            f"“{item.title}”"
            + (f", from {sender}" if sender else "")
            + (f", {when}" if when else "")
        )
        return f"{sentence} ({source})"
    return f"{sentence} (“{item.title}”)"


_TRIVIAL = re.compile(
    r"^(?:hi|hello|hey|dear|thanks|thank you|best|cheers|regards|kind regards|sincerely)\b"
    r"[^.!?]{0,40}$|^[A-Z][a-z]+(?: [A-Z][a-z]+)?[.,!]?$",
    re.I,
)


_WRAPPED = re.compile(r"(?<=[a-z,;])\n(?=[a-z(])")
_INDENTED = re.compile(r"\n[ \t]+(?=\S)")
_LIST_ITEM = re.compile(r"^(?:\d+[.)]|[-*•])\s")


def _csv_rows(text: str) -> list[str] | None:
    """A sheet's rows as "Name — Header: value; ..." sentences (None when not CSV)."""
    import csv
    import io

    lines = [ln for ln in text.splitlines() if ln.strip()]
    if len(lines) < 2 or lines[0].count(",") < 1:
        return None
    rows = list(csv.reader(io.StringIO("\n".join(lines[:400]))))
    header = rows[0]
    if not all(len(row) == len(header) for row in rows[1:]):
        return None
    out = []
    for row in rows[1:]:
        cells = "; ".join(f"{h}: {v}" for h, v in zip(header[1:], row[1:], strict=True) if v)
        out.append(f"{row[0]} — {cells}" if cells else row[0])
    return out


def _sentences(text: str) -> list[str]:
    rows = _csv_rows(text)
    if rows is not None:
        return rows
    # A line wrapped mid-sentence ("Company\nproposes 30 days") is one sentence, and so
    # is a heading with its indented lines ("Return: Friday" / "  Flight SH 517" / "  Seat").
    text = _WRAPPED.sub(" ", text)
    text = _INDENTED.sub(" ", text)
    out: list[str] = []
    heading = False
    # A quote (">") or a heading ("#") is no answer. Dropped per sentence after the split,
    # not per line first as ``drop_quoted`` does: answers have always been picked this way.
    for sentence in split_sentences(text, min_chars=3, max_chars=400):
        if sentence.startswith((">", "#")):
            continue
        if (
            out
            and ((out[-1].endswith(":") and len(out[-1]) < 40) or heading)
            and (_LIST_ITEM.match(sentence) or out[-1].endswith(":"))
            and len(out[-1]) + len(sentence) < 320
        ):
            out[-1] = f"{out[-1]} {sentence}"  # "Agenda:" and its items read as one
            heading = True
            continue
        heading = False
        out.append(sentence)
    return out


def _lead(text: str, count: int = 2) -> str:
    """The first substantive sentences (no greeting, sign-off or bare name)."""
    kept = [s for s in _sentences(text) if not _TRIVIAL.match(s) and len(s) > 15]
    return " ".join(kept[:count])


def best_sentence(intent: Intent, text: str, *, pairs: bool = True, title: str = "") -> str:
    """The sentence (or two adjacent short lines) of ``text`` that best answers the
    question; ties go to the shorter, then the earlier. Empty when nothing matches.

    Words the item's ``title`` already has ("what does the onboarding *guide* say about
    expenses") are true of every sentence, so they do not pick one."""
    names = {w.lower() for p in intent.entities.people for w in p.split()}
    terms = [t for t in _terms(intent) if t not in names]
    titled = {t for t in terms if _has(t, title.lower())} if title else set()
    name_terms = [t for t in _terms(intent) if t in names]
    question = intent.question
    sentences = [s for s in _sentences(text) if not _TRIVIAL.match(s)]
    candidates = list(sentences)
    if pairs:
        candidates += [
            f"{a} {b}" for a, b in itertools.pairwise(sentences) if len(a) + len(b) < 220
        ]
    # "and what seat do I have?" after "my flight to Chicago": the earlier turn's direction.
    ends = _trip_ends(intent.question) or _trip_ends(intent.context)
    fresh = [t for t in intent.new_keywords if t in terms] if intent.follow_up else []
    # The words naming what is asked for ("how much *notice*") weigh more than the rest.
    focus = [t for t in focus_terms(intent) if t in terms and t not in titled]
    # "How much is Contoso *paying*": an amount stands in for the verb naming it.
    shapes = expected_shapes(question)
    value_terms = [t for t in terms if is_value_word(t, shapes)]
    best, best_key = "", (0.0, 0)
    for sentence in candidates:
        score = (
            float(_hits(terms, sentence))
            - 0.7 * _hits(list(titled), sentence)
            + 0.5 * _hits(name_terms, sentence)
            + 2.0 * _hits(fresh, sentence)
            + _hits(focus, sentence)
        )
        if value_terms and not _hits(value_terms, sentence) and has_shape(shapes, sentence):
            score += 1.0
        if score == 0:
            continue
        if _answers_type(question, sentence):
            score += 1.5
        if ends and _against(ends, sentence):
            score -= 2.0  # "my flight *to* Chicago" is not the one departing Chicago
        key = (score, -len(sentence))
        if key > best_key:
            best, best_key = sentence, key
    return best


_TO_PLACE = re.compile(r"\b(?P<way>to|from)\s+(?P<place>(?-i:[A-Z][\w']+))", re.I)


def _trip_ends(question: str) -> dict[str, str]:
    """The places a question travels to or from: {"chicago": "to"} for "my flight to
    Chicago"."""
    return {m["place"].lower(): m["way"].lower() for m in _TO_PLACE.finditer(question)}


def _against(ends: dict[str, str], sentence: str) -> bool:
    """Whether ``sentence`` has a place the other way round: leaving the place the
    question goes to ("18:10 depart Chicago"), or arriving where it comes from."""
    lowered = sentence.lower()
    for place, way in ends.items():
        name = re.escape(place)
        leaving = re.search(
            rf"\b(?:depart\w*|leav\w*|from)\s+(?:\S+\s+)?{name}\b|\b{name}\b[^>.;]{{0,30}}->",
            lowered,
        )
        arriving = re.search(rf"(?:\barriv\w*|\bto|->)\s+(?:\S+\s+)?{name}\b", lowered)
        if way == "to" and leaving and not arriving:
            return True
        if way == "from" and arriving and not leaving:
            return True
    return False


def _event_line(item: Item, zone: ZoneInfo) -> str:
    if item.at is None:
        return item.title
    start = item.at.astimezone(zone)
    if item.all_day:
        when = start.strftime("%A %-d %B %Y") + " (all day)"
    else:
        when = start.strftime("%A %-d %B %Y, %H:%M")
        if item.end is not None:
            when += "–" + item.end.astimezone(zone).strftime("%H:%M")
    where = f" at {item.location}" if item.location else ""
    return f"{item.title} on {when}{where}"


def collect_sources(
    intent: Intent, plan: Plan, results: Mapping[str, StepResult], *, limit: int = 8
) -> tuple[list[Item], list[str]]:
    """What an LLM answer may draw on: the relevant items (best first, then the events of
    the day and the next event) and the facts computed in code (counts)."""
    by_step = {step.id: step for step in plan.steps}
    sources: list[Item] = []

    def add(item: Item) -> None:
        if all((s.kind, s.id) != (item.kind, item.id) for s in sources):
            sources.append(item)

    for item in _relevant(intent, results, by_step)[:limit]:
        add(item)
    facts: list[str] = []
    citer = _Citer()
    for step_id, result in results.items():
        step = by_step.get(step_id)
        if step is None or not result.ok:
            continue
        if step.action in ("on_dates_of", "next"):
            for item in result.items[:5]:
                add(item)
        elif step.action == "count":
            facts.append(re.sub(r"\s*\[\d+\]", "", _count_line(intent, result, citer)))
    return sources[: limit + 5], facts
