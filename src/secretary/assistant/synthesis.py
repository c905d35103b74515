"""The local tier's answer: extractive, every sentence cited, facts computed in code. Pure.

No model writes here, so nothing can be invented: the answer is made of sentences and
fields taken from retrieved items (each followed by its citation number), and of facts the
code computes (a count, the next event, the events on a given day). When nothing retrieved
supports an answer the answer says so. Retrieved text is quoted, never obeyed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from secretary.assistant.schemas import (
    Citation,
    Intent,
    Item,
    Operation,
    Plan,
    StepResult,
)

NOT_FOUND = "I couldn't find that in your mail, calendar or Drive."
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
_DATE_CUE = re.compile(
    r"\b(?:\d{1,2}:\d{2}|\d{1,2}\s?(?:am|pm)|mon|tue|wed|thu|fri|sat|sun|jan|feb|mar|apr|may|"
    r"jun|jul|aug|sep|oct|nov|dec|today|tomorrow|\d{4}-\d{2}-\d{2}|departs?|arrives?)\w*",
    re.I,
)
_AMOUNT_CUE = re.compile(r"[$€£¥]\s?\d|\b\d[\d,]*(?:\.\d+)?\s?(?:USD|EUR|GBP|k)\b", re.I)
_WHEN_Q = re.compile(r"\b(?:when|what time|which day|what date|date)\b", re.I)
_AMOUNT_Q = re.compile(r"\b(?:how much|cost|price|total|budget|amount|spend|spent|owe)\b", re.I)
_WHERE_Q = re.compile(r"\bwhere\b", re.I)
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

    found = _relevant(intent, results, by_step)
    if intent.operation is not Operation.COUNT or intent.target == "amount":
        for item in found[:3]:
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


def _terms(intent: Intent) -> list[str]:
    terms = list(intent.keywords)
    for entity in intent.entities.people + intent.entities.organizations:
        terms.extend(word.lower() for word in entity.split())
    terms.extend(locator.lower() for locator in intent.entities.locators)
    return list(dict.fromkeys(t for t in terms if len(t) > 1))


def _relevant(
    intent: Intent, results: Mapping[str, StepResult], by_step: Mapping[str, object]
) -> list[Item]:
    """Items from search steps that share at least one query term, best first."""
    terms = _terms(intent)
    scored: list[tuple[float, Item]] = []
    seen: set[tuple[str, str]] = set()
    for step_id, result in results.items():
        step = by_step.get(step_id)
        if not result.ok or getattr(step, "action", "") not in ("search",):
            continue
        for rank, item in enumerate(result.items):
            key = (item.kind, item.id)
            if key in seen:
                continue
            seen.add(key)
            haystack = f"{item.title} {item.text} {' '.join(item.people)}".lower()
            hits = sum(1 for term in terms if term in haystack)
            if terms and hits == 0:
                continue
            coverage = hits / len(terms) if terms else 0.5
            if terms and coverage < 0.34 and hits < 2:
                continue
            scored.append((coverage + 1.0 / (rank + 2), item))
    scored.sort(key=lambda pair: pair[0], reverse=True)
    items = [item for _, item in scored]
    if intent.wants_latest:
        items.sort(
            key=lambda item: item.at or datetime.min.replace(tzinfo=ZoneInfo("UTC")), reverse=True
        )
    return items


def _item_line(intent: Intent, item: Item, zone: ZoneInfo) -> str:
    if item.kind == "event":
        return f"{item.title}: {_event_line(item, zone)}."
    sentence = best_sentence(intent, item.text) or item.title
    if item.kind == "email":
        when = item.at.astimezone(zone).strftime("%-d %b %Y") if item.at else ""
        source = f"“{item.title}”" + (f", {when}" if when else "")
        return f"{sentence} ({source})"
    return f"{sentence} (“{item.title}”)"


def best_sentence(intent: Intent, text: str) -> str:
    """The sentence of ``text`` that best answers the question (ties: the earlier one)."""
    terms = _terms(intent)
    question = intent.question
    best, best_score = "", 0.0
    for raw in _SENTENCE.split(text):
        sentence = " ".join(raw.split())
        if not 3 <= len(sentence) <= 400 or sentence.startswith(">"):
            continue
        lowered = sentence.lower()
        score = float(sum(1 for term in terms if term in lowered))
        if _WHEN_Q.search(question) and _DATE_CUE.search(sentence):
            score += 1.5
        if _AMOUNT_Q.search(question) and _AMOUNT_CUE.search(sentence):
            score += 1.5
        if _WHERE_Q.search(question) and re.search(
            r"\b(?:at|in|room|floor|street|st\.)\b", lowered
        ):
            score += 0.5
        if score > best_score:
            best, best_score = sentence, score
    return best


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
