"""The stage table (``secretary.pipeline.STAGES``) is the whole pipeline graph: every row
names a registered task whose declared stage matches, every ``next`` exists, the graph
has no cycle, and a task can only move to a stage its row lists."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from secretary import pipeline
from secretary.bootstrap import Components
from secretary.config import Settings
from secretary.worker import registry
from secretary.worker.task import QUEUES, TaskContext

SRC = Path(__file__).resolve().parents[1] / "src" / "secretary"


def test_every_stage_is_a_registered_task_on_a_known_queue() -> None:
    registry.load_all()
    names = {stage.name for stage in pipeline.STAGES}
    for stage in pipeline.STAGES:
        assert set(stage.next) <= names, stage
        assert stage.queue in QUEUES, stage
        if stage.name == pipeline.STORED:
            assert stage.task is None
            continue
        assert stage.task is not None, stage
        definition = registry.get(stage.task)
        assert definition.stage == stage.name, (stage, definition)


def test_the_graph_has_no_cycle_and_reaches_every_stage_from_stored() -> None:
    seen: set[str] = set()

    def walk(name: str, path: tuple[str, ...]) -> None:
        assert name not in path, f"cycle: {(*path, name)}"
        seen.add(name)
        for nxt in pipeline.stage(name).next:
            walk(nxt, (*path, name))

    walk(pipeline.STORED, ())
    assert seen == {stage.name for stage in pipeline.STAGES}


def test_advance_refuses_a_stage_the_row_does_not_list(settings: Settings) -> None:
    ctx = TaskContext(
        session=None,  # type: ignore[arg-type]  # refused before any SQL
        settings=settings,
        record_id=1,
        attempt=1,
        correlation_id="c",
        origin_at=None,
        deps=Components(),
        sessions=None,  # type: ignore[arg-type]
    )
    with pytest.raises(pipeline.StageNotAllowed):
        pipeline.advance(ctx, "label", "classify", message_id=1)
    with pytest.raises(pipeline.StageNotAllowed):
        pipeline.advance(ctx, "draft", "gmail_draft", message_id=1)  # needs a draft_id


def test_stage_tasks_do_not_import_each_other() -> None:
    """The old ``triage.tasks`` <-> ``drafting.tasks`` circle stays gone: task modules talk
    through the stage table only."""
    for path in (SRC / "triage" / "tasks.py", SRC / "drafting" / "tasks.py"):
        tree = ast.parse(path.read_text())
        imported = {
            node.module
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module is not None
        }
        assert not {"secretary.triage.tasks", "secretary.drafting.tasks"} & imported, path
