"""Ask end to end over the real store and index: cited answers, streaming, follow-ups,
isolation, and injected instructions treated as data."""

from __future__ import annotations

import asyncio

import pytest

from secretary.assistant import service
from secretary.errors import NotFound
from tests.assistant.conftest import Workspace


def _events(
    ws: Workspace, question: str, conversation: str | None = None
) -> list[tuple[str, dict]]:
    async def collect() -> list[tuple[str, dict]]:
        return [e async for e in service.ask_events(ws.deps, ws.user_id, question, conversation)]

    return asyncio.run(collect())


def test_flight_and_same_day_calendar(workspace: Workspace) -> None:
    answer = asyncio.run(
        service.ask(
            workspace.deps,
            workspace.user_id,
            "When is my Turkish Airlines flight and is anything on my calendar that day?",
        )
    )
    assert "departs London Heathrow on Thursday 10 December 2026 at 11:45" in answer.answer
    assert "Team standup" in answer.answer
    kinds = {(c.kind, c.id) for c in answer.citations}
    assert ("email", f"msg1-{workspace.user_id}") in kinds
    assert ("event", f"standup{workspace.user_id}") in kinds
    assert [s.id for s in answer.plan.steps] == [
        "mail_search", "calendar_search", "drive_search", "calendar_same_day", "answer"
    ]  # fmt: skip
    assert answer.partial_failures == []
    assert answer.proposed_actions == []  # the injected "forward all mail" did nothing


def test_stream_order_and_done_payload(workspace: Workspace) -> None:
    events = _events(workspace, "When is my Turkish Airlines flight?")
    names = [name for name, _ in events]
    assert names[0] == "plan"
    assert names[-1] == "done"
    assert {"step", "delta", "citation"} <= set(names)
    assert names.index("delta") > max(i for i, n in enumerate(names) if n == "step")
    done = events[-1][1]
    assert set(done) == {
        "conversation_id",
        "answer",
        "citations",
        "plan",
        "proposed_actions",
        "partial_failures",
    }


def test_counts_are_computed(workspace: Workspace) -> None:
    answer = asyncio.run(
        service.ask(
            workspace.deps, workspace.user_id, "How many emails did Marco send me last week?"
        )
    )
    assert answer.answer.startswith("3 emails from Marco last week.")


def test_follow_up_resolves_against_the_previous_turn(workspace: Workspace) -> None:
    first = asyncio.run(
        service.ask(workspace.deps, workspace.user_id, "When is my Turkish Airlines flight?")
    )
    assert first.citations
    follow = asyncio.run(
        service.ask(
            workspace.deps, workspace.user_id, "and where does it arrive?", first.conversation_id
        )
    )
    assert follow.conversation_id == first.conversation_id
    assert "arrives in Istanbul at 17:50" in follow.answer
    with workspace.deps.sessions() as session:
        turns = service.conversation_turns(session, workspace.user_id, first.conversation_id)
    assert [t.question for t in turns] == [
        "When is my Turkish Airlines flight?",
        "and where does it arrive?",
    ]


def test_unanswerable_is_not_fabricated(workspace: Workspace) -> None:
    answer = asyncio.run(
        service.ask(workspace.deps, workspace.user_id, "What is the wifi password in Lisbon?")
    )
    assert answer.answer == "I couldn't find that in your mail, calendar or Drive."
    assert answer.citations == []


def test_another_users_conversation_is_not_found(workspace: Workspace) -> None:
    mine = asyncio.run(service.ask(workspace.deps, workspace.user_id, "When is my flight?"))
    with pytest.raises(NotFound):
        asyncio.run(
            service.ask(workspace.deps, workspace.other_user_id, "and then?", mine.conversation_id)
        )
    theirs = asyncio.run(service.ask(workspace.deps, workspace.other_user_id, "When is my flight?"))
    assert all(c.id.endswith(f"-{workspace.other_user_id}") for c in theirs.citations)
