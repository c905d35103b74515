"""Ask, end to end: intent → plan → agents in parallel → a cited answer, as a stream.

``ask_events`` is the one implementation; the REST API (JSON or server-sent events), the
CLI and the MCP server all consume it. Each step reads the store in its own short
transaction scoped to the user (``tenancy.act_as``), in a worker thread, so independent
steps really overlap. Proposals (a reply draft, an event, an RSVP, a share) are written in
the step's own transaction and wait in the approval queue; nothing here sends, books,
responds or shares. The conversation turn is stored at the end.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from collections.abc import AsyncGenerator, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from secretary.assistant import tools
from secretary.assistant.executor import run_plan
from secretary.assistant.intent import parse_intent
from secretary.assistant.llm import answer_messages, chain_of, cited, intent_with_llm, stream_answer
from secretary.assistant.planner import plan_for
from secretary.assistant.schemas import (
    AskResponse,
    Intent,
    Item,
    ItemKind,
    Plan,
    PlanOut,
    PlanStepOut,
    ProposedActionOut,
    Step,
    StepResult,
    TimeRange,
)
from secretary.assistant.synthesis import Answer, collect_sources, synthesize
from secretary.config import Settings
from secretary.db import tenancy
from secretary.db.models import Conversation, ConversationTurn
from secretary.errors import NotFound
from secretary.kit.clock import utcnow
from secretary.kit.logging import get_logger

if TYPE_CHECKING:
    from secretary.bootstrap import Components

log = get_logger(__name__)

Event = tuple[str, dict[str, Any]]


class Retriever(Protocol):
    """The local index, as the agents use it (``secretary.search`` implements it)."""

    def search(
        self,
        session: Session,
        user_id: int,
        query: str,
        *,
        kind: ItemKind | None,
        limit: int,
        time_range: TimeRange | None,
    ) -> list[Item]:
        """Items of ``kind`` best matching ``query``, best first."""
        ...


ActionProposer = Callable[[Session, int, Step, Mapping[str, StepResult], Intent], StepResult]


class IndexRetriever:
    """The local hybrid index (``secretary.search``) as the agents' retriever.

    A hit becomes an ``Item`` with the text synthesis reads: the message's new text, the
    event's description, the file's exported text. A time range becomes ``after:``/
    ``before:`` operators, which the search parser turns into filters.
    """

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def search(
        self,
        session: Session,
        user_id: int,
        query: str,
        *,
        kind: ItemKind | None,
        limit: int,
        time_range: TimeRange | None,
    ) -> list[Item]:
        from secretary.search.service import search

        terms = [query]
        if time_range is not None and time_range.start is not None:
            terms.append(f"after:{time_range.start:%Y/%m/%d}")
        if time_range is not None and time_range.end is not None:
            terms.append(f"before:{time_range.end:%Y/%m/%d}")
        hits = search(
            session, user_id, " ".join(terms), kind=kind, limit=limit, settings=self._settings
        )
        items: list[Item] = []
        for hit in hits:
            try:
                if hit.kind == "email":
                    item = tools.message_item(tools.read_message(session, user_id, hit.id))
                elif hit.kind == "event":
                    item = tools.read_event(session, user_id, hit.id)
                else:
                    item = tools.read_file(session, user_id, hit.id)
            except NotFound:
                continue  # deleted since it was indexed
            item.score = hit.score
            items.append(item)
        return items


@dataclass(frozen=True)
class AskDeps:
    """What ask needs from the composition root."""

    sessions: sessionmaker[Session]
    retriever: Retriever
    propose: ActionProposer | None = None  # writes proposals into the approval queue
    tier: Callable[[], Any] | None = None  # the intelligence tier; an LLM chain is used when live
    now: Callable[[], datetime] = utcnow
    budgets_ms: dict[str, int] = field(default_factory=dict)


def ask_deps(
    settings: Settings, sessions: sessionmaker[Session], components: Components
) -> AskDeps:
    """Ask's dependencies from a process's composition (web, CLI, MCP use this)."""
    from secretary.assistant.actions import make_proposer

    return AskDeps(
        sessions=sessions,
        retriever=IndexRetriever(settings),
        propose=make_proposer(components.tier.get),
        tier=components.tier.get,
    )


def _user_zone(session: Session, user_id: int) -> str:
    """The owner's zone: the primary calendar's (as Google reports it), else the user's."""
    from secretary.scheduling.service import default_time_zone

    zone = default_time_zone(session, user_id) or "UTC"
    try:
        ZoneInfo(zone)
    except (KeyError, ValueError):
        return "UTC"
    return zone


def _scoped(deps: AskDeps, user_id: int) -> Session:
    session = deps.sessions()
    session.begin()
    tenancy.act_as(session, user_id)
    return session


def _previous_intent(
    session: Session, user_id: int, conversation_id: str | None
) -> tuple[Conversation | None, Intent | None]:
    if not conversation_id:
        return None, None
    conversation = session.scalars(
        select(Conversation).where(
            Conversation.user_id == user_id, Conversation.public_id == conversation_id
        )
    ).first()
    if conversation is None:
        raise NotFound("conversation not found", code="conversation_not_found")
    turn = session.scalars(
        select(ConversationTurn)
        .where(ConversationTurn.conversation_id == conversation.id)
        .order_by(ConversationTurn.position.desc())
        .limit(1)
    ).first()
    if turn is None or not turn.intent:
        return conversation, None
    return conversation, Intent.model_validate(turn.intent)


def plan_out(plan: Plan) -> PlanOut:
    return PlanOut(
        steps=[PlanStepOut(id=s.id, agent=s.agent, depends_on=s.depends_on) for s in plan.steps]
    )


async def ask_events(
    deps: AskDeps, user_id: int, question: str, conversation_id: str | None = None
) -> AsyncGenerator[Event, None]:
    """Yield ``plan``, ``step``, ``delta``, ``citation``, ``action`` and a final ``done``.

    ``done`` carries the ``AskResponse`` JSON. Raises ``NotFound`` for another user's (or an
    unknown) conversation before anything is yielded.
    """
    started = time.perf_counter()
    now = deps.now()
    with _scoped(deps, user_id) as session:
        zone = _user_zone(session, user_id)
        conversation, previous = _previous_intent(session, user_id, conversation_id)
        conversation_pk = conversation.id if conversation is not None else None
        session.rollback()
    chain = chain_of(deps.tier()) if deps.tier is not None else None
    if chain is not None:
        intent = await asyncio.to_thread(
            intent_with_llm, chain, question, now=now, time_zone=zone, previous=previous
        )
    else:
        intent = parse_intent(question, now=now, time_zone=zone, previous=previous)
    plan = plan_for(intent)
    for step in plan.steps:
        step.budget_ms = deps.budgets_ms.get(step.agent, step.budget_ms)
    yield "plan", plan_out(plan).model_dump()

    queue: asyncio.Queue[Event | None] = asyncio.Queue()

    async def sink(event: str, data: dict[str, object]) -> None:
        await queue.put((event, dict(data)))

    async def handler(step: Step, inputs: Mapping[str, StepResult]) -> StepResult:
        return await asyncio.to_thread(_run_step, deps, user_id, step, inputs, intent, now, zone)

    async def run() -> dict[str, StepResult]:
        try:
            return await run_plan(plan, handler, on_event=sink)
        finally:
            await queue.put(None)

    task = asyncio.create_task(run())
    while (event := await queue.get()) is not None:
        yield event
    results = await task

    answer = synthesize(intent, plan, results, time_zone=zone, now=now)
    streamed = False
    if chain is not None:
        sources, facts = collect_sources(intent, plan, results)
        if sources or facts:
            pieces: list[str] = []
            try:
                async for piece in _stream_in_thread(
                    chain, answer_messages(question, sources, facts, zone)
                ):
                    pieces.append(piece)
                    yield "delta", {"text": piece}
                streamed = True
            except RuntimeError:
                streamed = bool(pieces)  # a stream cut short keeps what was said
            if streamed:
                text = "".join(pieces).strip()
                if answer.partial_failures:
                    text += "\n\n" + " ".join(answer.partial_failures)
                answer = Answer(
                    text=text,
                    citations=cited(text, sources),
                    partial_failures=answer.partial_failures,
                )
    if not streamed:
        for line in answer.text.split("\n"):
            yield "delta", {"text": line + "\n"}
    for citation in answer.citations:
        yield "citation", citation.model_dump()
    actions = [
        ProposedActionOut.model_validate(action)
        for result in results.values()
        if result.ok and isinstance(result.value, dict) and (action := result.value.get("action"))
    ]
    for action in actions:
        yield "action", action.model_dump()

    elapsed_ms = int((time.perf_counter() - started) * 1000)
    public_id = await asyncio.to_thread(
        _store_turn, deps, user_id, conversation_pk, question, intent, plan, answer.text,
        [c.model_dump() for c in answer.citations], [a.model_dump() for a in actions],
        answer.partial_failures, elapsed_ms,
    )  # fmt: skip
    response = AskResponse(
        conversation_id=public_id,
        answer=answer.text,
        citations=answer.citations,
        plan=plan_out(plan),
        proposed_actions=actions,
        partial_failures=answer.partial_failures,
    )
    log.info("ask_answered", steps=len(plan.steps), citations=len(answer.citations),
             actions=len(actions), elapsed_ms=elapsed_ms)  # fmt: skip
    yield "done", response.model_dump()


async def ask(
    deps: AskDeps, user_id: int, question: str, conversation_id: str | None = None
) -> AskResponse:
    """The whole answer at once (the non-streaming API, the CLI's ``--json``, MCP)."""
    final: dict[str, Any] | None = None
    async for event, data in ask_events(deps, user_id, question, conversation_id):
        if event == "done":
            final = data
    assert final is not None  # ask_events always ends with "done"
    return AskResponse.model_validate(final)


async def _stream_in_thread(chain: Any, messages: list[Any]) -> AsyncGenerator[str, None]:
    """The provider's blocking stream, piece by piece, without blocking the event loop."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()

    def pump() -> None:
        try:
            for piece in stream_answer(chain, messages):
                loop.call_soon_threadsafe(queue.put_nowait, ("piece", piece))
        except Exception as exc:
            loop.call_soon_threadsafe(queue.put_nowait, ("error", exc))
        else:
            loop.call_soon_threadsafe(queue.put_nowait, ("end", None))

    worker = loop.run_in_executor(None, pump)
    try:
        while True:
            kind, value = await queue.get()
            if kind == "piece":
                yield str(value)
            elif kind == "error":
                raise RuntimeError("the answer stream failed") from value
            else:
                return
    finally:
        await worker


def _store_turn(
    deps: AskDeps,
    user_id: int,
    conversation_pk: int | None,
    question: str,
    intent: Intent,
    plan: Plan,
    answer: str,
    citations: list[dict[str, Any]],
    actions: list[dict[str, Any]],
    failures: list[str],
    elapsed_ms: int,
) -> str:
    with _scoped(deps, user_id) as session:
        existing = session.get(Conversation, conversation_pk) if conversation_pk else None
        if existing is None:
            row = Conversation(
                user_id=user_id, public_id=secrets.token_hex(12), title=question[:200]
            )
            session.add(row)
            session.flush()
        else:
            row = existing
        position = (
            session.scalar(select(func.count()).where(ConversationTurn.conversation_id == row.id))
            or 0
        )
        session.add(
            ConversationTurn(
                user_id=user_id,
                conversation_id=row.id,
                position=int(position),
                question=question,
                intent=intent.model_dump(mode="json"),
                answer=answer,
                citations=citations,
                plan=plan.model_dump(mode="json"),
                actions=actions,
                partial_failures=failures,
                elapsed_ms=elapsed_ms,
            )
        )
        session.commit()
        return row.public_id


def conversation_turns(
    session: Session, user_id: int, conversation_id: str
) -> list[ConversationTurn]:
    conversation = session.scalars(
        select(Conversation).where(
            Conversation.user_id == user_id, Conversation.public_id == conversation_id
        )
    ).first()
    if conversation is None:
        raise NotFound("conversation not found", code="conversation_not_found")
    return list(
        session.scalars(
            select(ConversationTurn)
            .where(ConversationTurn.conversation_id == conversation.id)
            .order_by(ConversationTurn.position)
        ).all()
    )


# --- the agents ----------------------------------------------------------------------------


def _run_step(
    deps: AskDeps,
    user_id: int,
    step: Step,
    inputs: Mapping[str, StepResult],
    intent: Intent,
    now: datetime,
    zone: str,
) -> StepResult:
    """One agent step in its own user-scoped transaction (runs in a worker thread)."""
    with _scoped(deps, user_id) as session:
        if step.agent == "action":
            if deps.propose is None:
                return StepResult(step_id=step.id, ok=False, error="actions are not configured")
            result = deps.propose(session, user_id, step, inputs, intent)
            session.commit()
            return result
        result = _read_step(deps, session, user_id, step, inputs, intent, now, zone)
        session.rollback()
        return result


def _time_range(step: Step) -> TimeRange | None:
    raw = step.args.get("time_range")
    return TimeRange.model_validate(raw) if raw else None


def _read_step(
    deps: AskDeps,
    session: Session,
    user_id: int,
    step: Step,
    inputs: Mapping[str, StepResult],
    intent: Intent,
    now: datetime,
    zone: str,
) -> StepResult:
    time_range = _time_range(step)
    if step.action == "count":
        people = list(step.args.get("people") or [])
        if step.agent == "mail":
            total, sample = tools.count_messages(
                session, user_id, people=people, time_range=time_range
            )
        elif step.agent == "calendar":
            total, sample = tools.count_events(session, user_id, time_range=time_range, zone=zone)
        else:
            total, sample = tools.count_files(session, user_id, time_range=time_range)
        return StepResult(step_id=step.id, ok=True, value=total, items=sample)
    if step.action == "next":
        item = tools.next_event(session, user_id, now, query=str(step.args.get("query", "")))
        return StepResult(step_id=step.id, ok=True, items=[item] if item else [])
    if step.action == "on_dates_of":
        return _events_on_dates_of(session, user_id, step, inputs, intent, zone)
    if step.action == "search":
        kind = step.args.get("kind")
        query = str(step.args.get("query", ""))
        if kind == "email" and intent.target == "inbox":
            # "What emails did I get today?": the mail that arrived then, newest first.
            _, received = tools.count_messages(
                session, user_id, time_range=time_range, sample=10, received_only=True
            )
            return StepResult(step_id=step.id, ok=True, items=received, value={"listing": "mail"})
        if (
            kind == "event"
            and intent.services_named
            and time_range is not None
            and time_range.start
            and time_range.end
        ):
            # "What do I have on Friday?": the day's events themselves, not a text match;
            # "the dentist in December": only the events that match, maybe none.
            listed = tools.events_between(
                session, user_id, time_range.start, time_range.end, zone=zone
            )
            words = [w for w in query.split() if w not in _GENERIC_EVENT_WORDS]
            if words and intent.target != "agenda":
                listed = [i for i in listed if any(w in i.title.lower() for w in words)]
                return StepResult(step_id=step.id, ok=True, items=listed)
            return StepResult(step_id=step.id, ok=True, items=listed, value={"listing": True})
        query = query or intent.question
        # Files are content: "the roadmap for January" is about January, not a file edited
        # then. Mail is filtered by date, and searched again unfiltered when that is empty.
        window = None if kind == "file" else time_range
        items = deps.retriever.search(
            session, user_id, query, kind=kind, limit=step.max_rows, time_range=window
        )
        if not items and window is not None and kind == "email" and not _is_received_window(intent):
            items = deps.retriever.search(
                session, user_id, query, kind=kind, limit=step.max_rows, time_range=None
            )
        if kind in ("event", "file"):
            extra = (tools.match_events if kind == "event" else tools.match_files)(
                session, user_id, query, limit=step.max_rows
            )
            known = {item.id for item in items}
            items = items + [item for item in extra if item.id not in known]
        return StepResult(step_id=step.id, ok=True, items=items)
    if step.action == "slots":
        return StepResult(step_id=step.id, ok=False, error="free-slot search is not available")
    return StepResult(step_id=step.id, ok=False, error=f"unknown action {step.action}")


_GENERIC_EVENT_WORDS = frozenset(
    {"calendar", "meeting", "meetings", "event", "events", "have", "on"}
)
_RECEIVED = re.compile(
    r"\b(?:e-?mail(?:ed|s)?|mails?|messages?|sent|send|wrote|write|received|got|inbox)\b", re.I
)


def _is_received_window(intent: Intent) -> bool:
    """Whether the question's time range is about when mail arrived ("emailed me last
    week"), so an empty filtered search is the answer rather than a reason to look wider."""
    return bool(_RECEIVED.search(intent.question))


def _section_times(text: str, sentence: str, sent_at: datetime | None) -> list[Any]:
    """The dates of the nearest line above ``sentence`` in ``text`` that has one."""
    from secretary.llm.local.extract import find_times

    lines = text.splitlines()
    opening = " ".join(sentence.split()[:4]).lower()
    at = next(
        (i for i, line in enumerate(lines) if opening in " ".join(line.split()).lower()), None
    )
    if at is None:
        return []
    for line in reversed(lines[:at]):
        found = [f for f in find_times(line, sent_at=sent_at) if f.start is not None]
        if found:
            return found
    return []


_CALENDAR_CLAUSE = re.compile(
    r"\b(?:calendar|that day|same day|the day of|then|scheduled|planned|else)\b", re.I
)


def _events_on_dates_of(
    session: Session,
    user_id: int,
    step: Step,
    inputs: Mapping[str, StepResult],
    intent: Intent,
    zone: str,
) -> StepResult:
    """The user's events on the local days that the input items talk about."""
    from secretary.assistant.synthesis import best_sentence, clauses_of, relevant_items
    from secretary.llm.local.extract import find_times

    tz = ZoneInfo(zone)
    days: list[datetime] = []
    # The part of the question that names the thing ("my flight home: when does it leave"),
    # not the part that asks about the calendar, picks the item and its sentence.
    subject = next(
        (c for c in clauses_of(intent) if not _CALENDAR_CLAUSE.search(c.question)), intent
    )
    ranked = relevant_items(subject, inputs) or relevant_items(intent, inputs)
    span = intent.time_range
    if span is not None and span.start and span.end and span.end - span.start <= timedelta(days=1):
        # "I'm flying to Chicago on Thursday. What else do I have that day?": the day is said.
        local = span.start.astimezone(tz)
        days.append(datetime(local.year, local.month, local.day, tzinfo=tz))
        ranked = ranked[:0]
    for item in ranked[:1]:
        if item.kind == "event" and item.at is not None:
            local = item.at.astimezone(tz)
            days.append(datetime(local.year, local.month, local.day, tzinfo=tz))
            continue
        # The date in the sentence that answers comes first, then the date of the section
        # it sits in ("Thursday 19 November" above "- 08:40 arrive Chicago"), then the rest.
        sentence = best_sentence(subject, item.text, pairs=False)
        found_times = (
            [f for f in find_times(sentence, sent_at=item.at) if f.start] if sentence else []
        )
        if sentence and not found_times:
            found_times = _section_times(item.text, sentence, item.at)
        for found in [*found_times, *find_times(item.text, sent_at=item.at)]:
            if found.start is None:
                continue
            # Without a zone the extractor keeps the wall time as written (as UTC): the
            # date is the one written, not that instant moved into the user's zone.
            local = found.start.astimezone(tz) if found.timezone else found.start
            day = datetime(local.year, local.month, local.day, tzinfo=tz)
            if day not in days:
                days.append(day)
    sources = {item.id.split("_", 1)[0] for item in ranked[:1]}
    items: list[Item] = []
    days = days[:1]  # "that day": the first date the best match names
    for day in days:
        items.extend(
            tools.events_between(session, user_id, day, day + timedelta(days=1), zone=zone)
        )
    items = [item for item in items if item.id.split("_", 1)[0] not in sources]
    labels = [day.strftime("%A %-d %B %Y") for day in days]
    return StepResult(step_id=step.id, ok=True, items=items, value=labels)
