"""Scheduling's expected failures (4xx)."""

from __future__ import annotations

from secretary.errors import SecretaryError


class InvalidSchedulingRequest(SecretaryError):
    status_code = 422
    code = "invalid_scheduling_request"


class WindowTooLarge(InvalidSchedulingRequest):
    code = "window_too_large"


class SlotUnavailable(SecretaryError):
    status_code = 409
    code = "slot_unavailable"
