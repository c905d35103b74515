"""The one ``Retry-After`` parser (RFC 9110 §10.2.3): delta-seconds or an HTTP date.

Google, the LLM providers and the task runner all honour it; parsing it once keeps "a
date in the past" and "garbage" meaning the same everywhere (0 and None).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import Any

from secretary.kit.clock import utcnow


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait: ``"7"`` -> 7.0, an HTTP date -> seconds until it (0 if past)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # HTTP dates are GMT by definition
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - utcnow()).total_seconds())


def retry_after_seconds(headers: Mapping[str, str] | Any) -> float | None:
    """``parse_retry_after`` of a response's headers (any mapping with ``get``), or None."""
    if headers is None or not hasattr(headers, "get"):
        return None
    value = headers.get("retry-after") or headers.get("Retry-After")
    return parse_retry_after(str(value)) if value else None
