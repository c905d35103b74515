"""Name → task definition. Task modules register on import; ``load_all`` imports them."""

from __future__ import annotations

import importlib

from secretary.errors import NotFound
from secretary.worker.task import TaskDef

_tasks: dict[str, TaskDef] = {}

# Modules that declare tasks. Both runtimes import these at boot so that a worker knows
# every name a producer may enqueue.
TASK_MODULES = [
    "secretary.sync.tasks",  # sync.run and the sync.poll periodic job (the safety poll)
    "secretary.triage.tasks",
    "secretary.drafting.tasks",
    "secretary.scheduling.tasks",
    "secretary.search.tasks",
]


def register(definition: TaskDef) -> None:
    existing = _tasks.get(definition.name)
    # Re-importing the same module is fine; two functions claiming one name is a bug.
    if (
        existing is not None
        and existing.fn is not definition.fn
        and getattr(existing.fn, "__qualname__", None)
        != getattr(definition.fn, "__qualname__", None)
    ):
        raise ValueError(f"task name {definition.name!r} registered twice")
    _tasks[definition.name] = definition


def get(name: str) -> TaskDef:
    try:
        return _tasks[name]
    except KeyError:
        raise NotFound(f"no task named {name!r}", code="unknown_task") from None


def all_tasks() -> dict[str, TaskDef]:
    return dict(_tasks)


def load_all(extra: list[str] | None = None) -> None:
    for module in [*TASK_MODULES, *(extra or [])]:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
