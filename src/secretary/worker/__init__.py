"""Durable background work: task records in Postgres, dispatched to a runtime after commit.

Owns the ``@task`` decorator and registry, the task-record lifecycle (claim, retry with
backoff, dead-letter, sweep) and two runtimes (in-process asyncio, Celery). It knows
nothing about mail: domains declare tasks in their ``tasks.py`` and enqueue them by name.
"""
