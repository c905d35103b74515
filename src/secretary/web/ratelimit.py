"""Per-user rate tiers (issue 7): limits per user and route class, 429 with ``Retry-After``.

Tiers live in ``identity.rate_tiers`` (``{"standard": {"read": "600/minute", ...}}``); a
user's tier is ``users.rate_tier`` or ``identity.default_rate_tier``. Counting uses the
maintained ``limits`` library with its sliding-window counter: in process memory by default,
in Redis when ``identity.rate_limit_storage`` says so or when the Celery runtime runs on a
Redis broker (so every API process shares one count).
"""

from __future__ import annotations

import math
import threading
import time

from fastapi import Request
from limits import RateLimitItem, parse_many
from limits.storage import Storage, storage_from_string
from limits.strategies import SlidingWindowCounterRateLimiter

from secretary.config import Settings
from secretary.errors import SecretaryError
from secretary.identity.schemas import Principal

ROUTE_CLASSES = ("read", "write", "send", "expensive")
# Calls that make an LLM or Gmail do real work per request.
_EXPENSIVE_SUFFIXES = ("/preview", "/regenerate", "/reprocess")


class RateLimited(SecretaryError):
    status_code = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def route_class(method: str, path: str) -> str:
    if path.endswith(_EXPENSIVE_SUFFIXES):
        return "expensive"
    if path.endswith("/approve"):
        return "send"
    if method in ("GET", "HEAD", "OPTIONS"):
        return "read"
    return "write"


def storage_uri(settings: Settings) -> str:
    ident = settings.identity
    if ident.rate_limit_storage:
        return ident.rate_limit_storage
    broker = settings.worker.broker_url
    if settings.worker.runtime == "celery" and broker.startswith(("redis://", "rediss://")):
        return broker
    return "memory://"


class RateLimiter:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        storage = storage_from_string(storage_uri(settings))
        assert isinstance(storage, Storage)  # a synchronous storage (memory://, redis://)
        self.storage = storage
        self.strategy = SlidingWindowCounterRateLimiter(self.storage)
        self._tiers: dict[str, dict[str, list[RateLimitItem]]] = {
            tier: {cls: parse_many(spec) for cls, spec in classes.items()}
            for tier, classes in settings.identity.rate_tiers.items()
        }

    def limits_for(self, tier: str | None, cls: str) -> list[RateLimitItem]:
        ident = self.settings.identity
        classes = self._tiers.get(tier or ident.default_rate_tier) or self._tiers.get(
            ident.default_rate_tier, {}
        )
        return classes.get(cls, [])

    def hit(self, principal: Principal, cls: str) -> None:
        """Count one request; ``RateLimited`` (with the seconds to wait) past a limit."""
        for item in self.limits_for(principal.rate_tier, cls):
            if not self.strategy.hit(item, str(principal.user_id), cls):
                stats = self.strategy.get_window_stats(item, str(principal.user_id), cls)
                wait = max(1, math.ceil(stats.reset_time - time.time()))
                raise RateLimited(
                    f"Too many {cls} requests: the limit is {item}. Try again in {wait} s.",
                    retry_after=wait,
                )


_lock = threading.Lock()


def limiter_for(request: Request) -> RateLimiter:
    """One limiter per app, kept on the app (its counts and settings are the app's)."""
    limiter: RateLimiter | None = getattr(request.app.state, "rate_limiter", None)
    if limiter is None:
        with _lock:
            limiter = getattr(request.app.state, "rate_limiter", None)
            if limiter is None:
                settings: Settings = request.app.state.secretary.settings
                limiter = RateLimiter(settings)
                request.app.state.rate_limiter = limiter
    return limiter


def hit(request: Request, principal: Principal) -> None:
    route = request.scope.get("route")
    path = str(getattr(route, "path", request.url.path))
    limiter_for(request).hit(principal, route_class(request.method, path))
