from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from secretary.db.base import Base, IdMixin, TimestampMixin


class TaskStatus:
    QUEUED = "queued"  # committed, dispatched (or waiting for the sweeper to dispatch it)
    RUNNING = "running"  # claimed by a worker until ``lease_until``
    RETRYING = "retrying"  # failed; runs again at ``run_after``
    SUCCEEDED = "succeeded"
    DEAD = "dead"  # out of attempts; retryable by hand from the API or CLI

    ACTIVE = (QUEUED, RUNNING, RETRYING)


class TaskRecord(IdMixin, TimestampMixin, Base):
    """One durable unit of background work; the broker message only carries its id.

    ``dedupe_key`` makes enqueueing idempotent (``triage.classify:<message id>``): a replayed
    sync or a re-delivered push can never create a second record for the same stage.
    """

    __tablename__ = "task_records"
    __table_args__ = (
        Index("ix_task_records_status_run_after", "status", "run_after"),
        Index("ix_task_records_message_id", "message_id"),
    )

    name: Mapped[str] = mapped_column(String(128))
    dedupe_key: Mapped[str] = mapped_column(String(255), unique=True)
    queue: Mapped[str] = mapped_column(String(32), default="default")
    args: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    status: Mapped[str] = mapped_column(String(16), default=TaskStatus.QUEUED)
    stage: Mapped[str] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=5)
    correlation_id: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    message_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("messages.id", ondelete="CASCADE")
    )
    run_after: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    dispatched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    origin_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True)
    )  # when the work was born (the push), carried down the chain for latency metrics
    last_error: Mapped[str | None] = mapped_column(Text)
    last_traceback: Mapped[str | None] = mapped_column(Text)
