"""Gmail push notifications (Pub/Sub): decoding, the stale/unknown filter, duplicates."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from secretary.db.models import AccountStatus
from secretary.sync import repository as repo


@dataclass(frozen=True)
class PushDecision:
    """What to do with one Pub/Sub notification: sync ``account_id`` or drop it (``reason``)."""

    account_id: int | None
    history_id: int | None
    reason: str  # "sync", "stale", "unknown_account", "malformed", "not_syncable"

    @property
    def should_sync(self) -> bool:
        return self.reason == "sync"


def decode_push_data(data_b64: str) -> tuple[str, int] | None:
    """``message.data`` of a Gmail push: base64 JSON ``{emailAddress, historyId}``."""
    import base64
    import binascii
    import json

    try:
        payload = json.loads(base64.b64decode(data_b64 + "=" * (-len(data_b64) % 4)))
        return str(payload["emailAddress"]), int(payload["historyId"])
    except (binascii.Error, ValueError, KeyError, TypeError):
        return None


def accept_push(session: Session, data_b64: str) -> PushDecision:
    """Decide whether a push needs a sync: drops pushes for unknown accounts and those whose
    ``historyId`` the store already covers (duplicates and stragglers)."""
    decoded = decode_push_data(data_b64)
    if decoded is None:
        return PushDecision(None, None, "malformed")
    email, history_id = decoded
    account = repo.find_account_by_email(session, email)
    if account is None:
        return PushDecision(None, history_id, "unknown_account")
    if account.status != AccountStatus.ACTIVE:
        return PushDecision(account.id, history_id, "not_syncable")
    state = repo.get_state(session, account)
    if state.phase == "incremental" and state.cursor and history_id <= int(state.cursor):
        return PushDecision(account.id, history_id, "stale")
    return PushDecision(account.id, history_id, "sync")


@dataclass
class PushDeduplicator:
    """Remembers recent Pub/Sub ``messageId``s (Pub/Sub delivers at least once)."""

    capacity: int = 10_000
    _seen: OrderedDict[str, None] = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def first_time(self, message_id: str) -> bool:
        with self._lock:
            if message_id in self._seen:
                self._seen.move_to_end(message_id)
                return False
            self._seen[message_id] = None
            if len(self._seen) > self.capacity:
                self._seen.popitem(last=False)
            return True
