"""Process-wide emulator state: users, their stores, issued tokens, faults and quotas.

Ownership (see the module of each): ``gmail_store.Mailbox`` (Gmail), ``calendar_store.
CalendarStore`` (Calendar), ``drive_store.DriveStore`` (Drive), ``oauth`` (clients and
tokens). A single ``threading.RLock`` guards everything: the emulator favours exactness
over throughput, and one lock makes history ids strictly increasing across endpoints.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from workspace_emulator.calendar_store import CalendarStore
from workspace_emulator.drive_store import DriveStore
from workspace_emulator.gmail_store import Mailbox


@dataclass
class EmulatorUser:
    email: str
    sub: str
    name: str
    mailbox: Mailbox
    calendar: CalendarStore
    drive: DriveStore


@dataclass
class TokenRecord:
    """An access token issued by the emulator's OAuth server."""

    token: str
    email: str
    client_id: str
    scopes: list[str]
    expires_at: float

    @property
    def is_expired(self) -> bool:
        return time.time() >= self.expires_at


@dataclass
class EmulatorState:
    base_url: str = "http://127.0.0.1:8765"
    lock: threading.RLock = field(default_factory=threading.RLock)
    users: dict[str, EmulatorUser] = field(default_factory=dict)
    access_tokens: dict[str, TokenRecord] = field(default_factory=dict)
    # Free-form per-module state (oauth clients/codes/refresh tokens, quota buckets, faults,
    # push subscriptions...). Each module owns its key and documents it.
    extras: dict[str, Any] = field(default_factory=dict)

    def add_user(self, email: str, *, name: str | None = None) -> EmulatorUser:
        with self.lock:
            if email in self.users:
                return self.users[email]
            sub = str(100000000000000000000 + len(self.users) + 1)
            user = EmulatorUser(
                email=email,
                sub=sub,
                name=name or email.split("@")[0].replace(".", " ").title(),
                mailbox=Mailbox(email=email, lock=self.lock),
                calendar=CalendarStore(email=email),
                drive=DriveStore(email=email),
            )
            self.users[email] = user
            return user

    def user_for_token(self, token: str) -> EmulatorUser | None:
        """The user an unexpired access token belongs to, else None (the caller answers 401)."""
        with self.lock:
            rec = self.access_tokens.get(token)
            if rec is None or rec.is_expired:
                return None
            return self.users.get(rec.email)
