"""Events for the UI's live stream, published from tasks through Postgres ``NOTIFY``.

``pg_notify`` is transactional: the event is delivered only if the task's transaction
commits, and it crosses processes (a Celery worker publishes, the API streams it) without
another broker. Payloads hold ids and categories only, never content or addresses.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from secretary.kit.clock import utcnow

CHANNEL = "secretary_events"


def publish(session: Session, kind: str, *, user_id: int | None, **data: Any) -> None:
    payload = json.dumps(
        {"kind": kind, "user_id": user_id, "at": utcnow().isoformat(), **data}, default=str
    )
    session.execute(
        text("select pg_notify(:channel, :payload)"), {"channel": CHANNEL, "payload": payload}
    )
