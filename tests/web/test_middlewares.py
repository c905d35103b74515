"""The app's outer layers as pure ASGI middlewares (issue 14) behave as the
``BaseHTTPMiddleware`` versions did: one correlation id per response, the hardening headers
unless a response sets its own, the docs' looser policy, requests counted by route, and
pages refused before any handler when nobody is signed in."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from secretary.bootstrap import compose
from secretary.config import Settings
from secretary.db.session import make_sessionmaker
from secretary.web.app import create_app
from secretary.web.deps import AppState
from secretary.web.security import CSP, DOCS_CSP


@pytest.fixture
def client(settings: Settings, engine: Engine) -> Iterator[TestClient]:
    state = AppState(root=compose(settings, engine=engine, sessions=make_sessionmaker(engine)))
    with TestClient(create_app(settings, state=state)) as c:
        yield c


def test_the_correlation_id_is_echoed_once_or_made_up(client: TestClient) -> None:
    given = client.get("/healthz", headers={"x-correlation-id": "given-1"})
    assert given.headers.get_list("x-correlation-id") == ["given-1"]
    # An error body sets its own request id header; the response still carries one.
    missing = client.get("/api/v1/drafts/1", headers={"x-correlation-id": "given-2"})
    assert missing.headers.get_list("x-correlation-id") == ["given-2"]
    made = client.get("/healthz").headers.get_list("x-correlation-id")
    assert len(made) == 1
    assert len(made[0]) == 16
    assert made != client.get("/healthz").headers.get_list("x-correlation-id")


def test_hardening_headers_on_every_response_and_the_docs_policy(client: TestClient) -> None:
    for r in (client.get("/healthz"), client.post("/webhooks/google/pubsub", json={})):
        assert r.headers.get_list("content-security-policy") == [CSP]
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "same-origin"
        assert r.headers["x-frame-options"] == "DENY"
        assert "strict-transport-security" not in r.headers  # http://localhost base URL
    assert client.get("/docs").headers["content-security-policy"] == DOCS_CSP


def test_requests_are_counted_by_route(client: TestClient) -> None:
    client.post("/webhooks/google/pubsub", json={})  # no token: 401
    client.get("/no-such-page-at-all")
    metrics = client.get("/metrics").text
    assert (
        'secretary_http_requests_total{method="POST",route="/webhooks/google/pubsub",'
        'status="401"}' in metrics
    )
    assert 'route="unmatched"' in metrics


def test_pages_need_a_session_before_any_handler(client: TestClient) -> None:
    page = client.get("/triage?view=all", follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"] == "/login?next=%2Ftriage%3Fview%3Dall"
    assert page.headers["content-security-policy"] == CSP
    post = client.post(
        "/rules",
        data={"name": "x"},
        headers={"accept": "application/json"},
        follow_redirects=False,
    )
    assert post.status_code == 401
    assert post.json()["error"]["code"] == "not_authenticated"


def test_an_unexpected_error_is_a_500_with_every_layer_applied(
    settings: Settings, engine: Engine
) -> None:
    """A bug's 500 carries the hardening headers and the correlation id and is counted,
    like every other answer (Starlette's own last-resort layer gave it none of these), and
    the exception still reaches the server (or here the test client)."""

    def app_with_a_bug() -> FastAPI:
        state = AppState(root=compose(settings, engine=engine, sessions=make_sessionmaker(engine)))
        app = create_app(settings, state=state)

        @app.get("/api/test-only/boom")
        def boom() -> None:
            raise RuntimeError("a bug")

        return app

    with TestClient(app_with_a_bug(), raise_server_exceptions=False) as client:
        r = client.get("/api/test-only/boom", headers={"x-correlation-id": "boom-1"})
        assert r.status_code == 500, r.text[:300]
        assert r.json()["error"]["code"] == "internal_error"
        assert "a bug" not in r.text
        assert r.headers.get_list("content-security-policy") == [CSP]
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers.get_list("x-correlation-id") == ["boom-1"]
        metrics = client.get("/metrics").text
    assert (
        'secretary_http_requests_total{method="GET",route="/api/test-only/boom",status="500"}'
        in metrics
    )
    with TestClient(app_with_a_bug()) as strict, pytest.raises(RuntimeError, match="a bug"):
        strict.get("/api/test-only/boom")
