from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from secretary.bootstrap import compose
from secretary.config import Settings
from secretary.db.session import make_sessionmaker
from secretary.web.app import create_app
from secretary.web.deps import AppState


@pytest.fixture
def client(settings: Settings, engine: Engine) -> Iterator[TestClient]:
    state = AppState(root=compose(settings, engine=engine, sessions=make_sessionmaker(engine)))
    with TestClient(create_app(settings, state=state)) as c:
        yield c


def test_healthz(client: TestClient) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.json()["status"] == "ok"
    assert r.headers["x-correlation-id"]


def test_readyz_checks_db_and_migrations(client: TestClient) -> None:
    r = client.get("/readyz")
    assert r.status_code == 200, r.text
    assert r.json()["checks"] == {"database": "ok", "migrations": "ok"}


def test_metrics_prometheus_format(client: TestClient) -> None:
    client.get("/healthz")
    r = client.get("/metrics")
    assert r.status_code == 200
    assert "secretary_http_requests_total" in r.text


def test_openapi_served(client: TestClient) -> None:
    r = client.get("/openapi.json")
    assert r.status_code == 200
    assert "/readyz" in r.json()["paths"]
