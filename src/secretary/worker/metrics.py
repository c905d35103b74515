"""Prometheus metrics of the task system (one registry per process; Celery children each
expose their own through the worker's metrics port when configured)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

STAGE_SECONDS = Histogram(
    "secretary_task_stage_seconds",
    "Duration of one task run, by task name and outcome",
    ["task", "outcome"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
# CPU of the worker thread per run (claim, task, finish; not the emulator's or Postgres's):
# ``bench/pipeline.py`` divides it by the run count to print CPU-seconds per stage.
STAGE_CPU_SECONDS = Counter(
    "secretary_task_stage_cpu_seconds",
    "CPU seconds spent by the worker thread running tasks, by task name",
    ["task"],
)
TASK_RETRIES = Counter(
    "secretary_task_retries_total",
    "Task failures that will be retried, by reason",
    ["task", "reason"],
)
TASK_DEAD = Counter("secretary_task_dead_total", "Tasks that ran out of attempts", ["task"])
QUEUE_DEPTH = Gauge("secretary_task_queue_depth", "Task records by status", ["status"])
SWEPT = Counter(
    "secretary_task_swept_total",
    "Stuck tasks found by the sweeper, by the status they had",
    ["status"],
)
