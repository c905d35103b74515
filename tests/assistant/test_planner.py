"""Plans are DAGs: independent searches in parallel, dependent steps after their inputs."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from secretary.assistant.intent import parse_intent
from secretary.assistant.planner import plan_for, validate
from secretary.assistant.schemas import Plan, Step

NOW = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)


def _edges(plan: Plan) -> dict[str, list[str]]:
    return {step.id: step.depends_on for step in plan.steps}


def test_searches_in_parallel_then_the_day_of_the_best_match() -> None:
    plan = plan_for(
        parse_intent("When is my flight and is anything on my calendar that day?", now=NOW)
    )
    searches = ["mail_search", "calendar_search", "drive_search"]
    assert _edges(plan) == {
        **{step: [] for step in searches},
        "calendar_same_day": searches,
        "answer": [*searches, "calendar_same_day"],
    }


def test_independent_services_have_no_edges() -> None:
    plan = plan_for(parse_intent("anything about the offsite budget?", now=NOW))
    roots = [step.id for step in plan.steps if not step.depends_on]
    assert set(roots) >= {"calendar_search", "drive_search"}
    assert plan.steps[-1].id == "answer"


def test_draft_request_proposes_after_the_search() -> None:
    plan = plan_for(parse_intent("Draft a reply to Priya accepting Thursday", now=NOW))
    edges = _edges(plan)
    assert edges["propose_reply"] == ["mail_search"]
    step = next(s for s in plan.steps if s.id == "propose_reply")
    assert (step.agent, step.action) == ("action", "draft_email")


def test_counts_and_next_event() -> None:
    count = plan_for(parse_intent("How many emails from Marco last week?", now=NOW))
    assert [s.action for s in count.steps] == ["count", "answer"]
    upcoming = plan_for(parse_intent("What is my next meeting?", now=NOW))
    assert upcoming.steps[0].action == "next"


def test_validate_rejects_cycles_and_unknown_steps() -> None:
    with pytest.raises(ValueError, match="unknown or later"):
        validate(
            Plan(
                steps=[
                    Step(id="a", agent="mail", action="search", depends_on=["b"]),
                    Step(id="b", agent="mail", action="search", depends_on=["a"]),
                ]
            )
        )
    with pytest.raises(ValueError, match="duplicate"):
        validate(Plan(steps=[Step(id="a", agent="mail", action="search")] * 2))
