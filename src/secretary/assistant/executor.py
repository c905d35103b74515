"""Run a plan's DAG: independent steps concurrently, each within its budget, failures kept
to the step that failed.

A step starts as soon as every step it depends on has finished; it receives their results.
A step whose dependency failed still runs (it decides what partial input means) unless
every dependency failed, in which case it is skipped with the reason. Each step has a time
budget; running over it is a failure of that step only. Events (``step`` started/finished)
go to an optional callback so the API can stream them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping

from secretary.assistant.planner import validate
from secretary.assistant.schemas import Plan, Step, StepResult

StepHandler = Callable[[Step, Mapping[str, StepResult]], Awaitable[StepResult]]
EventSink = Callable[[str, dict[str, object]], Awaitable[None]]


async def run_plan(
    plan: Plan,
    handler: StepHandler,
    *,
    on_event: EventSink | None = None,
    skip: frozenset[str] = frozenset({"synthesis"}),
) -> dict[str, StepResult]:
    """Run every step whose agent is not in ``skip``; return results by step id."""
    validate(plan)
    steps = [step for step in plan.steps if step.agent not in skip]
    results: dict[str, StepResult] = {}
    done: dict[str, asyncio.Event] = {step.id: asyncio.Event() for step in steps}

    async def emit(event: str, data: dict[str, object]) -> None:
        if on_event is not None:
            await on_event(event, data)

    async def run_one(step: Step) -> None:
        try:
            deps = [dep for dep in step.depends_on if dep in done]
            for dep in deps:
                await done[dep].wait()
            inputs = {dep: results[dep] for dep in deps}
            if deps and not any(result.ok for result in inputs.values()):
                results[step.id] = StepResult(
                    step_id=step.id, ok=False, error="skipped: every step it needs failed"
                )
                await emit("step", {"id": step.id, "status": "skipped"})
                return
            await emit("step", {"id": step.id, "agent": step.agent, "status": "running"})
            started = time.perf_counter()
            try:
                result = await asyncio.wait_for(handler(step, inputs), step.budget_ms / 1000)
            except TimeoutError:
                result = StepResult(
                    step_id=step.id, ok=False, error=f"over its {step.budget_ms} ms budget"
                )
            except Exception as exc:  # a step's failure stays with the step
                result = StepResult(step_id=step.id, ok=False, error=_describe(exc))
            result.elapsed_ms = round((time.perf_counter() - started) * 1000, 2)
            if len(result.items) > step.max_rows:
                result.items = result.items[: step.max_rows]
            results[step.id] = result
            await emit(
                "step",
                {
                    "id": step.id,
                    "agent": step.agent,
                    "status": "done" if result.ok else "failed",
                    "items": len(result.items),
                    "elapsed_ms": result.elapsed_ms,
                },
            )
        finally:
            done[step.id].set()

    await asyncio.gather(*(run_one(step) for step in steps))
    return results


def _describe(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}"[:200] if text else type(exc).__name__
