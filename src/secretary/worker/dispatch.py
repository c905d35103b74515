"""Enqueue after commit: records are written in the caller's transaction, sent once it commits.

Why: a broker message sent before the commit can reach a worker before the row is visible
(or for a row that is then rolled back). Sending after commit can lose the message if the
process dies in between; the record is then still ``queued`` and the sweeper sends it.
This mirrors Zulip's ``queue_event_on_commit`` and Polar's flush-after-commit middleware.
"""

from __future__ import annotations

import json
import threading
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from sqlalchemy import event
from sqlalchemy.orm import Session

from secretary.kit.logging import get_logger

log = get_logger(__name__)

_PENDING_KEY = "secretary.worker.pending_dispatch"


@dataclass(frozen=True)
class Dispatch:
    """The whole broker message: ids and names only, so it survives a JSON round trip."""

    record_id: int
    name: str
    queue: str
    correlation_id: str
    delay_seconds: float = 0.0

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, raw: str | bytes) -> Dispatch:
        data: dict[str, Any] = json.loads(raw)
        return cls(**data)


class Backend(Protocol):
    """A runtime that can deliver a dispatch to some worker (now or after a delay)."""

    def send(self, dispatch: Dispatch) -> None: ...


_lock = threading.Lock()
_backend: Backend | None = None


def set_backend(backend: Backend | None) -> Backend | None:
    """Install the process-wide backend (at boot); returns the previous one."""
    global _backend
    with _lock:
        previous, _backend = _backend, backend
    return previous


def get_backend() -> Backend | None:
    return _backend


def send_now(dispatch: Dispatch) -> bool:
    """Send outside a transaction (retries, the sweeper). False when no backend is set."""
    backend = _backend
    if backend is None:
        return False
    try:
        backend.send(dispatch)
    except Exception:
        # A broker outage must not fail the caller: the record stays in Postgres and the
        # sweeper re-sends it.
        log.warning(
            "dispatch_failed", task=dispatch.name, task_id=dispatch.record_id, exc_info=True
        )
        return False
    return True


def defer(session: Session, dispatch: Dispatch) -> None:
    """Send ``dispatch`` once ``session``'s transaction commits (dropped on rollback)."""
    session.info.setdefault(_PENDING_KEY, []).append(dispatch)


def take_immediate(session: Session) -> list[Dispatch]:
    """Remove and return the undelayed dispatches waiting for ``session``'s commit.

    The runner runs them itself right after the commit (see ``runner.execute``); if the
    process dies first, the records are committed ``queued`` and the sweeper sends them.
    """
    waiting: list[Dispatch] = session.info.get(_PENDING_KEY, [])
    taken = [d for d in waiting if not d.delay_seconds]
    session.info[_PENDING_KEY] = [d for d in waiting if d.delay_seconds]
    return taken


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    pending: list[Dispatch] = session.info.pop(_PENDING_KEY, [])
    for dispatch in pending:
        send_now(dispatch)


@event.listens_for(Session, "after_soft_rollback")
def _after_rollback(session: Session, _previous_transaction: Any) -> None:
    if not session.in_transaction():
        session.info.pop(_PENDING_KEY, None)
