"""Google API quota units per method, as Google publishes them (the emulator enforces these;
Secretary's client bucket keeps its own copy of the same table, held equal by a test).

Gmail numbers follow Google's published per-method table
(developers.google.com/gmail/api/reference/quota). Per-user allowance: Google's table lists
15,000 units/user/minute for older projects; projects created since 2026-05 get 6,000, which
is our default (``GoogleSettings.quota_units_per_minute``). Calendar and Drive price every
call at 1 unit against their own per-minute request quotas.
"""

from __future__ import annotations

GMAIL_UNITS: dict[str, int] = {
    "drafts.create": 10,
    "drafts.delete": 10,
    "drafts.get": 5,
    "drafts.list": 5,
    "drafts.send": 100,
    "drafts.update": 15,
    "getProfile": 1,
    "history.list": 2,
    "labels.create": 5,
    "labels.delete": 5,
    "labels.get": 1,
    "labels.list": 1,
    "labels.patch": 5,
    "labels.update": 5,
    "messages.attachments.get": 5,
    "messages.batchDelete": 50,
    "messages.batchModify": 50,
    "messages.delete": 10,
    "messages.get": 5,
    "messages.import": 25,
    "messages.insert": 25,
    "messages.list": 5,
    "messages.modify": 5,
    "messages.send": 100,
    "messages.trash": 5,
    "messages.untrash": 5,
    "stop": 50,
    "threads.delete": 20,
    "threads.get": 10,
    "threads.list": 10,
    "threads.modify": 10,
    "threads.trash": 10,
    "threads.untrash": 10,
    "watch": 100,
}

CALENDAR_UNITS_DEFAULT = 1
DRIVE_UNITS_DEFAULT = 1
# Drive prices listing files far above the other calls (issue #8: "files.list is expensive,
# 100 units"); the change feed, exports and downloads cost the default. A full listing at
# pageSize=1000 therefore costs 0.1 unit per file, and incremental sync uses changes.list.
DRIVE_UNITS: dict[str, int] = {"files.list": 100}

DEFAULT_USER_UNITS_PER_MINUTE = 6000
DEFAULT_MAX_CONCURRENT_PER_USER = 10


def gmail_units(method: str) -> int:
    """Units for a Gmail method id like ``messages.get`` (unknown methods cost 5)."""
    return GMAIL_UNITS.get(method.removeprefix("gmail.users."), 5)


def calendar_units(method: str) -> int:
    """Units for a Calendar method id like ``events.list`` (every call costs the default)."""
    return CALENDAR_UNITS_DEFAULT


def drive_units(method: str) -> int:
    """Units for a Drive method id like ``files.list`` or ``drive.files.list``."""
    return DRIVE_UNITS.get(method.removeprefix("drive."), DRIVE_UNITS_DEFAULT)
