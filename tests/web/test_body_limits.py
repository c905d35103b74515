"""Request bodies are limited while they are read (issue 7): a 100 MB PATCH used to be
accepted and copied into a Gmail draft (peak 2.4 GB). The bodies here are streamed from a
generator, never allocated, and the test counts how much of them the server pulled."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from secretary.bootstrap import compose
from secretary.config import Settings
from secretary.db.session import make_sessionmaker
from secretary.web.app import create_app
from secretary.web.deps import AppState

CHUNK = 64 * 1024
MiB = 1024 * 1024


class Stream:
    """``total`` bytes in ``CHUNK``-sized pieces, counting what was pulled."""

    def __init__(self, total: int, piece: bytes = b"x") -> None:
        self.total = total
        self.pulled = 0
        self.piece = piece * CHUNK

    def __iter__(self) -> Iterator[bytes]:
        while self.pulled < self.total:
            self.pulled += CHUNK
            yield self.piece


@pytest.fixture
def client(settings: Settings, engine: Engine) -> Iterator[TestClient]:
    state = AppState(root=compose(settings, engine=engine, sessions=make_sessionmaker(engine)))
    with TestClient(create_app(settings, state=state), raise_server_exceptions=False) as c:
        yield c


def asgi_request(
    client: TestClient, method: str, path: str, body: Stream, headers: dict[str, str]
) -> tuple[int, bytes]:
    """Drive the app over ASGI with a body that arrives chunk by chunk, as from a socket
    (``TestClient`` would read the whole body into memory before the app sees it)."""
    chunks = iter(body)

    async def receive() -> dict[str, Any]:
        piece = next(chunks, None)
        if piece is None:
            return {"type": "http.request", "body": b"", "more_body": False}
        return {"type": "http.request", "body": piece, "more_body": True}

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "scheme": "http",
        "server": ("testserver", 80),
        "client": ("127.0.0.1", 5000),
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]
        + [(b"host", b"testserver")],
        "state": {},
    }
    client.portal.call(client.app, scope, receive, send)  # type: ignore[union-attr,call-arg,arg-type]
    start = next(m for m in sent if m["type"] == "http.response.start")
    payload = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return int(start["status"]), payload


def test_a_streamed_100_mb_patch_is_cut_off_at_one_mib(client: TestClient) -> None:
    body = Stream(100 * MiB)
    status, payload = asgi_request(
        client, "PATCH", "/api/v1/drafts/1", body, {"content-type": "application/json"}
    )
    assert status == 413, payload
    error = json.loads(payload)["error"]
    assert error["code"] == "payload_too_large"
    assert error["request_id"]
    assert body.pulled <= MiB + 2 * CHUNK  # read up to the limit, not one chunk further


def test_a_declared_100_mb_body_is_refused_before_reading(client: TestClient) -> None:
    body = Stream(100 * MiB)
    headers = {"content-type": "application/json", "content-length": str(100 * MiB)}
    status, payload = asgi_request(client, "PATCH", "/api/v1/drafts/1", body, headers)
    assert status == 413
    assert json.loads(payload)["error"]["code"] == "payload_too_large"
    assert body.pulled == 0


def test_bodies_under_the_limit_still_work(client: TestClient) -> None:
    r = client.patch("/api/v1/drafts/1", json={"body": "x" * (MiB // 2)})
    assert r.status_code != 413
