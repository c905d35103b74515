"""Timezone-aware time. UTC inside; convert to the user's zone only at the edges.

Every "now" in the product reads ``utcnow()``. ``SECRETARY_NOW`` (an RFC 3339 timestamp,
e.g. ``2026-11-18T14:30:00Z``) pins it for the demo and the tests: the first read in a
process returns that instant, and the clock then advances in real time from there (so task
retries, leases and token lifetimes keep working in a long-running demo). The Workspace
emulator's own clock (``workspace_emulator._clock``) honours the same variable the same way,
so both sides agree on "now".
"""

from __future__ import annotations

import os
import threading
import time
from datetime import UTC, datetime, timedelta
from functools import lru_cache

NOW_ENV = "SECRETARY_NOW"


@lru_cache(maxsize=8)
def parse_pinned(value: str) -> datetime:
    """The instant an RFC 3339 ``SECRETARY_NOW`` names (a zone-less value is read as UTC)."""
    try:
        parsed = datetime.fromisoformat(value.strip().replace("z", "Z").replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{NOW_ENV} must be an RFC 3339 timestamp like 2026-11-18T14:30:00Z, got {value!r}"
        ) from None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


_anchors: dict[str, float] = {}
_anchor_lock = threading.Lock()


def pinned_now() -> datetime | None:
    """The pinned clock's reading, or None when the clock runs freely."""
    value = os.environ.get(NOW_ENV, "").strip()
    if not value:
        return None
    start = parse_pinned(value)
    with _anchor_lock:
        anchor = _anchors.setdefault(value, time.monotonic())
    return start + timedelta(seconds=time.monotonic() - anchor)


def utcnow() -> datetime:
    pinned = pinned_now()
    return pinned if pinned is not None else datetime.now(UTC)


def from_epoch_ms(ms: int | str) -> datetime:
    return datetime.fromtimestamp(int(ms) / 1000, tz=UTC)


def to_epoch_ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)
