"""Fault injection for the emulator, per run and per endpoint, deterministic under a seed.

Faults are keyed by discovery method id (``gmail.users.messages.get``), a glob over ids
(``gmail.users.messages.*``) or ``*``. Each rule may inject 429/500/503 with a probability
and add fixed plus random latency. Mailbox-level faults (history expiry, access-token
expiry, refresh-token revocation) are functions called by the control API. Pub/Sub push
drop/duplicate rates live here too and are read by ``push.py``.

State key: ``state.extras["faults"]`` holds the ``FaultInjector``.
"""

from __future__ import annotations

import asyncio
import fnmatch
import random
import threading
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from workspace_emulator.errors import GoogleApiError
from workspace_emulator.state import EmulatorState


@dataclass
class EndpointFaults:
    error_429: float = 0.0
    # Google also reports usage limits as 403 rateLimitExceeded (Gmail and Drive
    # "Resolve errors" pages): clients must retry those like a 429.
    error_403_rate: float = 0.0
    error_500: float = 0.0
    error_503: float = 0.0
    latency_ms: float = 0.0
    latency_jitter_ms: float = 0.0  # uniform extra in [0, jitter]


@dataclass
class FaultConfig:
    seed: int | None = None
    endpoints: dict[str, EndpointFaults] = field(default_factory=dict)
    push_drop: float = 0.0
    push_duplicate: float = 0.0

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FaultConfig:
        endpoints = {
            key: EndpointFaults(**value) for key, value in (data.get("endpoints") or {}).items()
        }
        return cls(
            seed=data.get("seed"),
            endpoints=endpoints,
            push_drop=float(data.get("push_drop", 0.0)),
            push_duplicate=float(data.get("push_duplicate", 0.0)),
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class FaultInjector:
    def __init__(self, config: FaultConfig | None = None) -> None:
        self._lock = threading.Lock()
        self.injected: Counter[str] = Counter()
        self.configure(config or FaultConfig())

    def configure(self, config: FaultConfig) -> None:
        with self._lock:
            self.config = config
            self.rng = random.Random(config.seed)  # noqa: S311  # test faults, not security

    def rule_for(self, method_id: str) -> EndpointFaults | None:
        endpoints = self.config.endpoints
        if method_id in endpoints:
            return endpoints[method_id]
        for pattern, rule in endpoints.items():
            if pattern != "*" and fnmatch.fnmatchcase(method_id, pattern):
                return rule
        return endpoints.get("*")

    def roll(self, method_id: str) -> tuple[float, int | None]:
        """(latency seconds, injected status or None) for one call."""
        rule = self.rule_for(method_id)
        if rule is None:
            return 0.0, None
        with self._lock:
            latency = rule.latency_ms + (
                self.rng.uniform(0, rule.latency_jitter_ms) if rule.latency_jitter_ms else 0.0
            )
            x = self.rng.random()
            status: int | None = None
            for code, p in (
                (429, rule.error_429),
                (403, rule.error_403_rate),
                (500, rule.error_500),
                (503, rule.error_503),
            ):
                if x < p:
                    status = code
                    break
                x -= p
            if status is not None:
                self.injected[f"http_{status}"] += 1
        return latency / 1000.0, status

    async def apply(self, method_id: str) -> None:
        latency, status = self.roll(method_id)
        if latency > 0:
            await asyncio.sleep(latency)
        if status == 429:
            raise GoogleApiError(
                429,
                "Quota exceeded (injected fault).",
                reason="rateLimitExceeded",
                headers={"Retry-After": "1"},
            )
        if status == 403:
            raise GoogleApiError(403, "Rate Limit Exceeded", reason="rateLimitExceeded")
        if status == 500:
            raise GoogleApiError(500, "Backend Error", reason="backendError")
        if status == 503:
            raise GoogleApiError(
                503, "The service is currently unavailable.", reason="backendError"
            )

    def push_fate(self) -> str:
        """``drop``, ``duplicate`` or ``deliver`` for one push notification."""
        with self._lock:
            x = self.rng.random()
            if x < self.config.push_drop:
                self.injected["push_dropped"] += 1
                return "drop"
            if x < self.config.push_drop + self.config.push_duplicate:
                self.injected["push_duplicated"] += 1
                return "duplicate"
            return "deliver"

    def stats(self) -> dict[str, int]:
        with self._lock:
            return dict(self.injected)


def fault_injector(state: EmulatorState) -> FaultInjector:
    with state.lock:
        injector = state.extras.get("faults")
        if injector is None:
            injector = state.extras["faults"] = FaultInjector()
        return injector


def _user(state: EmulatorState, email: str) -> Any:
    user = state.users.get(email)
    if user is None:
        raise GoogleApiError(404, f"Unknown emulator user {email}", reason="notFound")
    return user


def expire_history(state: EmulatorState, email: str) -> int:
    """Drop all history of a mailbox: every stored startHistoryId now answers 404."""
    new_id: int = _user(state, email).mailbox.expire_history()
    fault_injector(state).injected["history_expired"] += 1
    return new_id


def expire_access_tokens(state: EmulatorState, email: str) -> int:
    """Make every access token of the user expired (the client must refresh)."""
    with state.lock:
        n = 0
        for rec in state.access_tokens.values():
            if rec.email == email and not rec.is_expired:
                rec.expires_at = 0.0
                n += 1
    fault_injector(state).injected["access_tokens_expired"] += n
    return n


def revoke_refresh_tokens(state: EmulatorState, email: str) -> Any:
    """Revoke the user's refresh (and access) tokens through the OAuth module."""
    try:
        from workspace_emulator import oauth  # optional teammate module
    except ModuleNotFoundError as exc:
        raise GoogleApiError(
            501, "token revocation needs the emulator's OAuth module (oauth.py)"
        ) from exc
    revoke = getattr(oauth, "revoke_user_tokens", None)
    if revoke is None:
        raise GoogleApiError(501, "oauth.revoke_user_tokens(state, email) is not available")
    fault_injector(state).injected["tokens_revoked"] += 1
    return revoke(state, email)


def expire_calendar_sync_tokens(state: EmulatorState, email: str) -> None:
    """Every Calendar sync token of the user answers 410 ``fullSyncRequired`` from now on."""
    with state.lock:
        _user(state, email).calendar.invalidate_sync_tokens()
    fault_injector(state).injected["calendar_sync_tokens_expired"] += 1


def expire_drive_page_tokens(state: EmulatorState, email: str) -> None:
    """Every Drive change-feed token of the user is refused (400 invalid) from now on; the
    client must list the Drive again and start from a fresh ``getStartPageToken``."""
    with state.lock:
        _user(state, email).drive.expire_page_tokens()
    fault_injector(state).injected["drive_page_tokens_expired"] += 1
