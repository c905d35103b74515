from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import delete
from sqlalchemy.orm import Session, sessionmaker

from secretary.config import Settings
from secretary.db.models import AuditLog, TaskRecord
from secretary.worker.dispatch import set_backend
from secretary.worker.runner import Runtime


@pytest.fixture
def fast_settings(settings: Settings) -> Settings:
    """Tiny retry delays and leases so retries and sweeps happen within a test."""
    worker = settings.worker.model_copy(
        update={
            "retry_base_seconds": 0.01,
            "retry_max_seconds": 0.05,
            "lease_seconds": 5.0,
            "stuck_after_seconds": 0.2,
            "sweep_interval_seconds": 0.1,
            "concurrency": 3,
        }
    )
    return settings.model_copy(update={"worker": worker})


@pytest.fixture
def runtime(fast_settings: Settings, sessions: sessionmaker[Session]) -> Iterator[Runtime]:
    yield Runtime(settings=fast_settings, sessions=sessions)
    set_backend(None)
    # These tests commit for real (the point is after-commit dispatch): clean up.
    with sessions() as s, s.begin():
        s.execute(delete(TaskRecord).where(TaskRecord.name.like("test.%")))
        s.execute(delete(AuditLog).where(AuditLog.actor == "test-task"))


@pytest.fixture
def batch(sessions: sessionmaker[Session]) -> Iterator[str]:
    """A tag for one test's ``test.slow`` records; they and their effects go afterwards."""
    tag = uuid.uuid4().hex[:10]
    yield tag
    with sessions.begin() as s:
        s.execute(delete(TaskRecord).where(TaskRecord.dedupe_key.like(f"test.slow:{tag}:%")))
        s.execute(delete(AuditLog).where(AuditLog.details["key"].astext.like(f"{tag}:%")))
