"""The executor overlaps independent steps and keeps each failure to its step."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from secretary.assistant.executor import run_plan
from secretary.assistant.schemas import Item, Plan, Step, StepResult


def _plan() -> Plan:
    return Plan(
        steps=[
            Step(id="mail", agent="mail", action="search"),
            Step(id="calendar", agent="calendar", action="search"),
            Step(id="drive", agent="drive", action="search", budget_ms=200),
            Step(id="after", agent="calendar", action="on_dates_of", depends_on=["mail"]),
            Step(
                id="answer",
                agent="synthesis",
                action="answer",
                depends_on=["mail", "calendar", "drive", "after"],
            ),
        ]
    )


def test_independent_steps_overlap_and_failures_stay_local() -> None:
    running: set[str] = set()
    overlapped: list[set[str]] = []
    both_started = asyncio.Event()
    seen_inputs: dict[str, list[str]] = {}

    async def handler(step: Step, inputs: Mapping[str, StepResult]) -> StepResult:
        seen_inputs[step.id] = sorted(inputs)
        running.add(step.id)
        overlapped.append(set(running))
        if {"mail", "calendar"} <= running:
            both_started.set()
        try:
            if step.id == "mail":
                # Finishes only once calendar is running too: proves they overlap.
                await asyncio.wait_for(both_started.wait(), 5)
                return StepResult(
                    step_id=step.id, ok=True, items=[Item(kind="email", id="m1", title="Flight")]
                )
            if step.id == "calendar":
                await asyncio.wait_for(both_started.wait(), 5)
                raise ConnectionError("calendar unavailable")
            if step.id == "drive":
                await asyncio.sleep(5)  # over its 200 ms budget
            return StepResult(step_id=step.id, ok=True)
        finally:
            running.discard(step.id)

    events: list[tuple[str, dict[str, object]]] = []

    async def sink(event: str, data: dict[str, object]) -> None:
        events.append((event, data))

    results = asyncio.run(run_plan(_plan(), handler, on_event=sink))
    assert any({"mail", "calendar"} <= s for s in overlapped)
    assert results["mail"].ok
    assert results["after"].ok
    assert not results["calendar"].ok
    assert "calendar unavailable" in (results["calendar"].error or "")
    assert not results["drive"].ok
    assert "budget" in (results["drive"].error or "")
    assert seen_inputs["after"] == ["mail"]
    assert "answer" not in results  # synthesis is the service's job
    statuses = {(d["id"], d["status"]) for _, d in events}
    assert ("calendar", "failed") in statuses
    assert ("mail", "done") in statuses


def test_dependent_step_is_skipped_when_all_inputs_failed() -> None:
    async def handler(step: Step, inputs: Mapping[str, StepResult]) -> StepResult:
        if step.id == "mail":
            raise RuntimeError("boom")
        return StepResult(step_id=step.id, ok=True)

    plan = Plan(
        steps=[
            Step(id="mail", agent="mail", action="search"),
            Step(id="after", agent="calendar", action="on_dates_of", depends_on=["mail"]),
        ]
    )
    results = asyncio.run(run_plan(plan, handler))
    assert results["after"].error == "skipped: every step it needs failed"
