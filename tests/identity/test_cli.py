"""``secretary tokens create|list|revoke`` and ``secretary audit`` on the real database; the
token the CLI prints works against the API, once revoked it does not."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from secretary.cli import context
from secretary.cli.main import app as root_app
from secretary.config import Settings
from secretary.db.models import User
from tests.auth import create_user

runner = CliRunner()


@pytest.fixture
def cli(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    ctx = context.CliContext(settings=settings)
    monkeypatch.setattr(context, "_ctx", ctx)
    yield
    ctx.close()


def run(*args: str) -> object:
    result = runner.invoke(root_app, [*args, "--json"])
    assert result.exit_code == 0, (result.output, result.exception)
    return json.loads(result.stdout)


def test_tokens_cli_round_trip(
    cli: None, client: TestClient, sessions: sessionmaker[Session]
) -> None:
    uid = create_user(sessions)
    with sessions() as s:
        user = s.get(User, uid)
        assert user is not None
        email = user.email
    try:
        created = run(
            "tokens", "create", "laptop", "--scope", "read", "--scope", "draft", "--user", email
        )
        assert isinstance(created, dict)
        secret = created["token"]
        assert created["scopes"] == ["read", "draft"]
        auth = {"Authorization": f"Bearer {secret}"}
        assert client.get("/api/v1/me", headers=auth).json()["id"] == uid
        listed = run("tokens", "list", "--user", email)
        assert isinstance(listed, list)
        assert [t["name"] for t in listed] == ["laptop"]
        assert listed[0]["last_used_at"] is not None
        assert secret not in json.dumps(listed)
        run("tokens", "revoke", str(created["id"]), "--user", email)
        assert client.get("/api/v1/me", headers=auth).status_code == 401
        entries = run("audit", "--user", email)
        assert isinstance(entries, list)
        assert [e["action"] for e in entries][:2] == ["token.revoked", "token.created"]
        bad = runner.invoke(root_app, ["tokens", "create", "x", "--scope", "root", "--user", email])
        assert bad.exit_code != 0
    finally:
        with sessions.begin() as s:
            s.execute(delete(User).where(User.id == uid))
