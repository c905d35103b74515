"""The emulator's clock: timezone-aware UTC, pinned by ``SECRETARY_NOW`` when set.

The emulator is its own package, so it does not import Secretary's clock; it honours the
same variable so a demo or a test can pin both to one instant.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime


def utcnow() -> datetime:
    pinned = os.environ.get("SECRETARY_NOW")
    if pinned:
        value = datetime.fromisoformat(pinned.replace("Z", "+00:00"))
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.now(UTC)


def to_epoch_ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)
