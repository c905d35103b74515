"""Issue 7 hygiene over the real app and database: one error body everywhere, inputs that
used to give a 500 (and reset the connection) answer 4xx, and personal data sent through a
failing request reaches no log line, whichever logger wrote it."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from secretary.bootstrap import compose
from secretary.config import Settings
from secretary.db.models import Rule
from secretary.db.session import make_sessionmaker
from secretary.kit.logging import configure_logging, get_logger
from secretary.web.app import create_app
from secretary.web.deps import AppState, SessionDep
from tests.auth import authenticate, create_user


@pytest.fixture
def client(
    settings: Settings, engine: Engine, sessions: sessionmaker[Session]
) -> Iterator[TestClient]:
    state = AppState(root=compose(settings, engine=engine, sessions=make_sessionmaker(engine)))
    # raise_server_exceptions=False: see what a real client sees, 500s included.
    with TestClient(create_app(settings, state=state), raise_server_exceptions=False) as c:
        authenticate(c, sessions, create_user(sessions))  # a signed-in caller with a token
        yield c


def assert_error_body(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) <= {"code", "message", "request_id", "details"}
    assert error["code"]
    assert error["message"]
    assert error["request_id"]
    return dict(error)


def test_validation_and_not_found_share_the_error_body(client: TestClient) -> None:
    invalid = assert_error_body(client.get("/api/v1/drafts", params={"status": "bogus"}), 422)
    assert invalid["code"] == "validation_error"
    assert invalid["details"]["errors"][0]["loc"] == ["query", "status"]
    missing = assert_error_body(client.get("/api/v1/drafts/999999999"), 404)
    assert missing["code"] == "draft_not_found"
    assert_error_body(client.get("/api/v1/no-such-route"), 404)
    r = client.get("/healthz", headers={"x-correlation-id": "abc123"})
    assert r.headers["x-correlation-id"] == "abc123"
    same = client.get("/api/v1/drafts/999999999", headers={"x-correlation-id": "req-42"})
    assert same.json()["error"]["request_id"] == "req-42"


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("GET", "/api/v1/drafts/99999999999999999999999", {}),
        ("GET", "/api/v1/tasks?name=%00", {}),
        ("GET", "/api/v1/tasks/99999999999999999999999", {}),
        ("PATCH", "/api/v1/drafts/1", {"json": {"body": "hello\u0000world"}}),
    ],
)
def test_the_inputs_that_gave_500_are_4xx(
    client: TestClient, method: str, path: str, kwargs: dict[str, Any]
) -> None:
    r = client.request(method, path, **kwargs)
    assert 400 <= r.status_code < 500, r.text
    assert_error_body(r, r.status_code)


def test_a_foreign_key_to_nothing_is_not_a_500(client: TestClient) -> None:
    """``?user_id=99999`` was a foreign key to nothing (500). The caller's own user is used
    now (the parameter is gone); either way the answer is never a server error."""
    r = client.post(
        "/api/v1/rules",
        params={"user_id": 99999},
        json={"name": "x", "conditions": {"from": ["*@b.example"]}, "actions": {"archive": True}},
    )
    assert r.status_code < 500, r.text


def test_integrity_errors_are_4xx_generally(client: TestClient) -> None:
    """Any route whose flush breaks a foreign key answers 404, not 500 (the database's
    message, which quotes the values, stays out of the answer)."""
    app: FastAPI = client.app  # type: ignore[assignment]

    @app.post("/api/v1/_test/orphan")
    def orphan(session: SessionDep) -> dict[str, str]:
        session.add(Rule(user_id=987654321, name="orphan", position=0))
        session.flush()
        return {"status": "stored"}

    r = client.post("/api/v1/_test/orphan")
    error = assert_error_body(r, 404)
    assert error["code"] == "referenced_object_not_found"
    assert "987654321" not in r.text


def test_pii_sent_through_a_failing_request_reaches_no_log(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A handler that fails with personal data in its exception and in a SQL error: the
    stdlib, uvicorn's error logger and structlog all render through the redactor."""
    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    configure_logging("INFO", json=True)
    secrets = [
        "jane.doe@example.org",
        "+44 20 7946 0958",
        "GB33BUKB20201555555555",
        "4111 1111 1111 1111",
        "123-45-6789",
    ]
    try:
        failing = client.patch(
            "/api/v1/drafts/1",
            json={"body": " ".join(secrets) + "\u0000"},
        )
        assert 400 <= failing.status_code < 500
        client.get("/api/v1/tasks", params={"name": "jane.doe@example.org\u0000"})
        app: FastAPI = client.app  # type: ignore[assignment]

        @app.post("/api/v1/_test/explode")
        def explode(payload: dict[str, str]) -> None:
            raise RuntimeError(f"could not store {payload['note']}")

        boom = client.post("/api/v1/_test/explode", json={"note": " ".join(secrets)})
        assert boom.status_code == 500
        assert boom.json()["error"]["code"] == "internal_error"
        assert "jane.doe" not in boom.text
        # What uvicorn prints for an unhandled error, and a third-party library's message.
        try:
            raise RuntimeError(f"could not store draft for {secrets[0]} ({secrets[3]})")
        except RuntimeError:
            logging.getLogger("uvicorn.error").exception("Exception in ASGI application")
        logging.getLogger("sqlalchemy.engine").warning("params: %s", secrets)
        get_logger("test").info("draft_failed", note=f"call {secrets[1]} or {secrets[4]}")
    finally:
        logging.getLogger().handlers.clear()
    captured = stream.getvalue()
    assert "Exception in ASGI application" in captured
    assert "RuntimeError" in captured
    assert "<email>" in captured
    for secret in secrets:
        assert secret not in captured, secret
    # The database error hides its parameters.
    assert "jane.doe" not in captured
