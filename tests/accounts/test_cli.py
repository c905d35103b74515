"""`secretary accounts …` and `secretary keys rotate` against the emulator and the test DB.

The CLI commits through its own engine, so these tests use a unique user and delete it
(and with it, by cascade, its accounts) afterwards.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from cryptography.fernet import Fernet
from pydantic import SecretStr
from sqlalchemy import delete
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner
from workspace_emulator import oauth

from secretary.accounts import service
from secretary.cli import accounts as accounts_cli
from secretary.cli import context
from secretary.cli import keys as keys_cli
from secretary.cli.main import app as root_app
from secretary.config import Settings
from secretary.db.models import GoogleAccount, User
from secretary.google.errors import AccountNeedsReauth
from secretary.kit.crypto import TokenCipher
from tests.accounts.conftest import Emulator

runner = CliRunner()


@pytest.fixture
def cli_user(
    oauth_settings: Settings, sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    ctx = context.CliContext(settings=oauth_settings)
    monkeypatch.setattr(context, "_ctx", ctx)
    email = f"cli.{uuid.uuid4().hex[:8]}@example.test"
    # The root callback would send logs to stderr; unconfigured structlog prints to stdout,
    # which would mix with --json. Capture them instead (and check them for addresses).
    with structlog.testing.capture_logs() as events:
        yield email
    assert events
    assert "@" not in repr(events)
    ctx.close()
    with sessions() as s, s.begin():
        s.execute(delete(User).where(User.email == email))


def _run(app: Any, *args: str) -> Any:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, (result.stdout, result.exception)
    return json.loads(result.stdout) if "--json" in args else result.stdout


def test_accounts_group_is_registered_on_the_root_cli() -> None:
    assert "accounts" in {g.name for g in root_app.registered_groups}


def test_connect_list_needs_reauth_reauth_rotate_remove(
    cli_user: str,
    emulator: Emulator,
    oauth_settings: Settings,
    sessions: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    connected = _run(accounts_cli.app, "connect", "--no-browser", "--user", cli_user, "--json")
    assert connected["status"] == "active"
    account_id = connected["account_id"]

    listed = {a["id"]: a for a in _run(accounts_cli.app, "list", "--json")}
    assert listed[account_id]["status"] == "active"
    assert listed[account_id]["reauth_url"] is None

    # Google revokes the grant; the next refresh marks the account, the CLI shows it.
    oauth.revoke_user_tokens(emulator.state, emulator.email)
    with sessions() as s, s.begin(), pytest.raises(AccountNeedsReauth):
        service.refresh_after_unauthorized(
            s, account_id, settings=oauth_settings, rejected_token=None
        )
    entry = {a["id"]: a for a in _run(accounts_cli.app, "list", "--json")}[account_id]
    assert entry["status"] == "needs_reauth"
    assert "invalid_grant" in entry["status_reason"]
    assert entry["reauth_url"].endswith(f"/oauth/google/start?account_id={account_id}")
    table = _run(accounts_cli.app, "list")
    assert "needs_reauth" in table
    assert f"secretary accounts reauth {account_id}" in table

    again = _run(accounts_cli.app, "reauth", str(account_id), "--no-browser", "--json")
    assert (again["account_id"], again["status"], again["created"]) == (account_id, "active", False)

    # Key rotation through `secretary keys rotate`.
    old_key = oauth_settings.encryption_keys[0].get_secret_value()
    new_key = Fernet.generate_key().decode()
    rotated = oauth_settings.model_copy(
        update={"encryption_keys": [SecretStr(new_key), SecretStr(old_key)]}
    )
    monkeypatch.setattr(context, "_ctx", context.CliContext(settings=rotated))
    assert _run(keys_cli.app, "rotate", "--json")["rotated_accounts"] >= 1
    with sessions() as s:
        account = s.get(GoogleAccount, account_id)
        assert account is not None
        assert account.refresh_token_enc is not None
        TokenCipher([new_key]).decrypt(account.refresh_token_enc)

    removed = _run(accounts_cli.app, "remove", str(account_id), "--yes", "--json")
    assert removed == {"account_id": account_id, "revoked": True}
    assert all(r.revoked for r in oauth.oauth_state(emulator.state).refresh_tokens.values())
    assert account_id not in {a["id"] for a in _run(accounts_cli.app, "list", "--json")}
