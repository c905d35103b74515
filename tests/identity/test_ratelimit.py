"""Per-user rate tiers: limits per user and route class from settings, 429 with
``Retry-After``, one user's flood does not throttle another."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, update
from sqlalchemy.orm import Session, sessionmaker

from secretary.bootstrap import compose
from secretary.config import Settings
from secretary.db.models import User
from secretary.db.session import make_sessionmaker
from secretary.web.app import create_app
from secretary.web.deps import AppState
from secretary.web.ratelimit import route_class, storage_uri
from tests.identity.conftest import Tenant


def test_route_classes() -> None:
    assert route_class("GET", "/api/v1/drafts") == "read"
    assert route_class("POST", "/api/v1/drafts/{draft_id}/approve") == "send"
    assert route_class("POST", "/api/v1/rules/preview") == "expensive"
    assert route_class("DELETE", "/api/v1/rules/{rule_id}") == "write"


def test_storage_is_memory_by_default_and_redis_with_celery(settings: Settings) -> None:
    assert storage_uri(settings) == "memory://"
    worker = settings.worker.model_copy(
        update={"runtime": "celery", "broker_url": "redis://127.0.0.1:6379/3"}
    )
    assert storage_uri(settings.model_copy(update={"worker": worker})) == "redis://127.0.0.1:6379/3"


def test_a_user_past_their_tier_gets_429_with_retry_after(
    settings: Settings,
    engine: Engine,
    tenants: tuple[Tenant, Tenant],
    sessions: sessionmaker[Session],
) -> None:
    alice, bob = tenants
    identity = settings.identity.model_copy(
        update={
            "rate_tiers": {
                "standard": {
                    "read": "3/minute",
                    "write": "2/minute",
                    "send": "1/minute",
                    "expensive": "1/minute",
                },
                "generous": {
                    "read": "100/minute",
                    "write": "100/minute",
                    "send": "100/minute",
                    "expensive": "100/minute",
                },
            }
        }
    )
    tight = settings.model_copy(update={"identity": identity})
    with sessions.begin() as s:
        s.execute(update(User).where(User.id == bob.user_id).values(rate_tier="generous"))
    state = AppState(root=compose(tight, engine=engine, sessions=make_sessionmaker(engine)))
    with TestClient(create_app(tight, state=state)) as client:
        as_alice = {"Authorization": f"Bearer {alice.token}"}
        for _ in range(3):
            assert client.get("/api/v1/rules", headers=as_alice).status_code == 200
        limited = client.get("/api/v1/rules", headers=as_alice)
        assert limited.status_code == 429
        assert limited.json()["error"]["code"] == "rate_limited"
        assert 1 <= int(limited.headers["retry-after"]) <= 60
        # Another route class has its own budget; another user (another tier) too.
        preview = client.post(
            "/api/v1/rules/preview", json={"conditions": {"subject": "x"}}, headers=as_alice
        )
        assert preview.status_code == 200
        again = client.post(
            "/api/v1/rules/preview", json={"conditions": {"subject": "x"}}, headers=as_alice
        )
        assert again.status_code == 429
        as_bob = {"Authorization": f"Bearer {bob.token}"}
        for _ in range(5):
            assert client.get("/api/v1/rules", headers=as_bob).status_code == 200


def test_redis_storage_shares_counts_between_processes(settings: Settings) -> None:
    """With Redis (the Celery runtime's broker) two API processes count together."""
    import uuid

    from secretary.identity.schemas import Principal
    from secretary.web.ratelimit import RateLimited, RateLimiter

    identity = settings.identity.model_copy(
        update={
            "rate_limit_storage": "redis://127.0.0.1:6379/15",
            "rate_tiers": {"standard": {"read": "2/minute"}},
        }
    )
    shared = settings.model_copy(update={"identity": identity})
    first, second = RateLimiter(shared), RateLimiter(shared)
    caller = Principal(user_id=10**9 + uuid.uuid4().int % 10**6, via="token")
    first.hit(caller, "read")
    second.hit(caller, "read")
    with pytest.raises(RateLimited) as limited:
        first.hit(caller, "read")
    assert limited.value.retry_after >= 1
