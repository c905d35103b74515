"""The message pipeline, declared in one place.

Each row of ``STAGES`` is a stage: its name, the task that runs it, the stages that may
follow, its queue and the id its task takes. A message's run is a chain of task records,
one per stage, keyed ``{task}:{id}`` so a replay never runs a stage twice::

    stored ─→ classify ─→ draft ─→ gmail_draft ─→ label
                      ╰──────────────╰─────────────↗   (no reply needed / no draft)

``stored`` is the entry, not a task: the sync calls ``entry(settings)`` with the ids of
newly stored messages (wired at boot by ``bootstrap.compose``), and every stage listed in
its ``next`` starts. A task moves its message on with ``advance(ctx, "classify",
"draft", ...)``; only the stages its row lists are allowed, so this table is the whole
graph. Tasks import this module, never each other (no ``triage`` <-> ``drafting`` circle).

Adding a stage (e.g. the search stream's index after ``stored``): declare the task with
``@task("search.index", stage="index")`` in ``search/tasks.py``, add the module to
``worker.registry.TASK_MODULES``, add ``Stage("index", "search.index", queue="batch")``
here and ``"index"`` to the ``next`` of ``stored``. ``tests/test_pipeline.py`` checks the
table against the registered tasks.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from sqlalchemy.orm import Session

from secretary.config import Settings
from secretary.sync.listeners import MessagesStoredListener, legacy_listeners
from secretary.worker import repository as tasks_repo
from secretary.worker.task import TaskContext

STORED = "stored"

# ``start(session, account_id, message_ids, settings=...)``: how a stage right after
# ``stored`` begins (filters, dedupe). None: one record per message, keyed by message id.
Starter = Callable[..., object]


@dataclass(frozen=True)
class Stage:
    name: str
    task: str | None  # None only for the entry
    next: tuple[str, ...] = ()
    queue: str = "default"
    arg: Literal["message_id", "draft_id"] = "message_id"
    start: str | None = None  # "module:function", a Starter (stages after ``stored`` only)


STAGES: tuple[Stage, ...] = (
    Stage(STORED, None, next=("classify", "index")),
    Stage(
        "classify",
        "triage.classify",
        next=("draft", "label"),
        start="secretary.triage.service:enqueue_new_messages",
    ),
    Stage("draft", "drafting.generate", next=("gmail_draft", "label")),
    Stage("gmail_draft", "drafting.create_gmail_draft", next=("label",), arg="draft_id"),
    Stage("label", "triage.apply_labels"),
    # Search: one idempotent pass per stored batch (the user's changes, whoever caused them).
    Stage("index", "search.index", queue="batch", start="secretary.search.tasks:enqueue_index"),
)

_BY_NAME = {stage.name: stage for stage in STAGES}


class StageNotAllowed(ValueError):
    """A task tried to move to a stage its row does not list (a wiring bug)."""


def stage(name: str) -> Stage:
    return _BY_NAME[name]


def advance(
    ctx: TaskContext,
    current: str,
    to: str,
    *,
    message_id: int,
    draft_id: int | None = None,
    user_id: int | None = None,
) -> int | None:
    """Queue stage ``to`` after ``current`` in the task's transaction (after its commit).

    Returns the record id, or None when the stage already ran for this id (a replay).
    """
    if to not in stage(current).next:
        raise StageNotAllowed(f"{current!r} cannot be followed by {to!r}")
    target = stage(to)
    if target.task is None:
        raise StageNotAllowed(f"{to!r} is not a task stage")
    ident = draft_id if target.arg == "draft_id" else message_id
    if ident is None:
        raise StageNotAllowed(f"{to!r} needs a {target.arg}")
    return tasks_repo.enqueue(
        ctx.session,
        target.task,
        {target.arg: ident},
        dedupe_key=f"{target.task}:{ident}",
        correlation_id=ctx.correlation_id,
        user_id=user_id,
        message_id=message_id,
        origin_at=ctx.origin_at,
        queue=target.queue,
    )


def _starter(target: Stage) -> Starter | None:
    if target.start is None:
        return None
    module, _, attr = target.start.partition(":")
    fn: Starter = getattr(importlib.import_module(module), attr)
    return fn


def _start_each(session: Session, target: Stage, message_ids: list[int]) -> None:
    assert target.task is not None
    for message_id in message_ids:
        tasks_repo.enqueue(
            session,
            target.task,
            {"message_id": message_id},
            dedupe_key=f"{target.task}:{message_id}",
            message_id=message_id,
            queue=target.queue,
        )


def entry(settings: Settings) -> MessagesStoredListener:
    """The "messages stored" listener the sync calls: start every stage after ``stored``."""
    followers = [stage(name) for name in stage(STORED).next]
    starters = [(target, _starter(target)) for target in followers]

    def on_messages_stored(session: Session, account_id: int, message_ids: list[int]) -> None:
        for target, start in starters:
            if start is None:
                _start_each(session, target, message_ids)
            else:
                start(session, account_id, message_ids, settings=settings)
        for listener in legacy_listeners():  # deprecated hook (see sync.listeners)
            listener(session, account_id, message_ids)

    return on_messages_stored
