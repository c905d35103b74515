"""Timezone-aware time. UTC inside; convert to the user's zone only at the edges.

Every "now" in the product reads ``utcnow()``. ``SECRETARY_NOW`` (an RFC 3339 timestamp,
e.g. ``2026-11-18T14:30:00Z``) pins it to one instant for the demo and the tests; the
Workspace emulator's own clock (``workspace_emulator._clock``) honours the same variable, so
both sides agree on "now". A pinned clock does not advance.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
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


def pinned_now() -> datetime | None:
    """The pinned instant, or None when the clock runs freely."""
    value = os.environ.get(NOW_ENV, "").strip()
    return parse_pinned(value) if value else None


def utcnow() -> datetime:
    pinned = pinned_now()
    return pinned if pinned is not None else datetime.now(UTC)


def from_epoch_ms(ms: int | str) -> datetime:
    return datetime.fromtimestamp(int(ms) / 1000, tz=UTC)


def to_epoch_ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)
