"""The emulator's clock: timezone-aware UTC, pinned by ``SECRETARY_NOW`` when set.

The emulator is its own package, so it does not import Secretary's clock; it honours the
same variable (an RFC 3339 timestamp; zone-less means UTC) so a demo or a test can pin both
to one instant: the first read returns it, and the clock advances in real time from there.
Token lifetimes and history retention are measured on the machine's real clock (they are
about elapsed time, not "now" in the data).
"""

from __future__ import annotations

import os
import threading
import time
from datetime import UTC, datetime, timedelta
from functools import lru_cache

_anchors: dict[str, float] = {}
_anchor_lock = threading.Lock()


@lru_cache(maxsize=8)
def _parse(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.strip().replace("z", "Z").replace("Z", "+00:00"))
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def utcnow() -> datetime:
    pinned = os.environ.get("SECRETARY_NOW", "").strip()
    if pinned:
        with _anchor_lock:
            anchor = _anchors.setdefault(pinned, time.monotonic())
        return _parse(pinned) + timedelta(seconds=time.monotonic() - anchor)
    return datetime.now(UTC)


def now_ms() -> int:
    return to_epoch_ms(utcnow())


def to_epoch_ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)
