"""The credentials provider: refresh before expiry, revoked grants, concurrency, rotation,
removal, and what reaches the logs. Real Postgres, the emulator over real HTTP."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
import structlog
from cryptography.fernet import Fernet
from pydantic import SecretStr
from sqlalchemy import delete, select, text
from sqlalchemy.orm import Session, sessionmaker
from workspace_emulator import oauth

from secretary.accounts import service
from secretary.accounts.errors import AccountNotFound
from secretary.config import Settings
from secretary.db.models import AuditLog, GoogleAccount, Label, SyncState, User
from secretary.errors import ConfigurationError
from secretary.google.client import ManagedCredentials
from secretary.google.errors import AccountNeedsReauth, GoogleUnavailable, is_retryable
from secretary.kit.clock import utcnow
from secretary.kit.crypto import TokenCipher
from tests.accounts.conftest import Emulator


def _connect(session: Session, settings: Settings, **kw: object) -> int:
    result = service.connect_via_loopback(session, settings=settings, open_browser=False, **kw)  # type: ignore[arg-type]
    assert result.status == "active", result
    return result.account_id


def _raw_tokens(session: Session, account_id: int) -> tuple[bytes, bytes]:
    row = session.execute(
        text("select access_token_enc, refresh_token_enc from google_accounts where id = :i"),
        {"i": account_id},
    ).one()
    return bytes(row[0]), bytes(row[1])


def _token_works(emulator: Emulator, token: str) -> bool:
    resp = httpx.get(
        f"{emulator.base_url}/oauth2/v3/userinfo", headers={"Authorization": f"Bearer {token}"}
    )
    return resp.status_code == 200


def test_loopback_connect_runs_headless_against_auto_approve(
    clean_session: Session, oauth_settings: Settings, emulator: Emulator
) -> None:
    result = service.connect_via_loopback(
        clean_session, settings=oauth_settings, open_browser=False
    )
    assert (result.status, result.created, result.email) == ("active", True, emulator.email)
    # Single-user default: the first account's address names the user.
    user = clean_session.get(User, result.user_id)
    assert user is not None
    assert (user.email, user.display_name) == (emulator.email, "Ada Lovelace")
    # A second Google account joins the same (only) user.
    other = "grace.hopper@example.test"
    emulator.state.add_user(other, name="Grace Hopper")
    second = service.connect_via_loopback(
        clean_session, settings=oauth_settings, login_hint=other, open_browser=False
    )
    assert second.user_id == result.user_id
    assert second.account_id != result.account_id
    # Connecting the first again updates it instead of adding a row.
    again = service.connect_via_loopback(clean_session, settings=oauth_settings, open_browser=False)
    assert (again.account_id, again.created) == (result.account_id, False)
    # An explicit user keeps several users apart.
    third = service.connect_via_loopback(
        clean_session,
        settings=oauth_settings,
        login_hint=other,
        user_email="team@example.test",
        open_browser=False,
    )
    assert third.user_id != result.user_id


def test_loopback_waits_for_a_browser_when_consent_needs_a_human(
    clean_session: Session, oauth_settings: Settings, emulator: Emulator
) -> None:
    emulator.configure(auto_approve=False)
    shown: list[str] = []

    def approve_in_browser(url: str) -> None:
        shown.append(url)
        page = httpx.get(url)
        assert page.status_code == 200  # the consent page
        request_id = page.text.split('name="request_id" value="', 1)[1].split('"', 1)[0]
        scopes = parse_qs(urlsplit(url).query)["scope"][0].split()
        form = [("request_id", request_id), ("decision", "allow"), ("email", emulator.email)]
        form += [("scope", s) for s in scopes]
        consent = httpx.post(
            f"{emulator.base_url}/o/oauth2/v2/auth/consent",
            content=urlencode(form),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert consent.status_code == 302
        # The browser follows the redirect to the CLI's loopback receiver.
        threading.Thread(target=httpx.get, args=(consent.headers["location"],)).start()

    result = service.connect_via_loopback(
        clean_session, settings=oauth_settings, open_browser=False, on_url=approve_in_browser
    )
    assert len(shown) == 1
    assert result.status == "active"


def test_fresh_token_is_returned_without_refresh(
    clean_session: Session, oauth_settings: Settings
) -> None:
    account_id = _connect(clean_session, oauth_settings)
    before = _raw_tokens(clean_session, account_id)
    creds = service.get_credentials(clean_session, account_id, settings=oauth_settings)
    assert creds.valid
    assert _raw_tokens(clean_session, account_id) == before
    cipher = service.cipher_for(oauth_settings)
    assert creds.token == cipher.decrypt(before[0])


def test_token_expiring_within_five_minutes_is_refreshed_and_stored_encrypted(
    clean_session: Session, oauth_settings: Settings, emulator: Emulator
) -> None:
    emulator.configure(access_token_ttl=120)  # shorter than the refresh margin
    account_id = _connect(clean_session, oauth_settings)
    old_access, old_refresh = _raw_tokens(clean_session, account_id)
    cipher = service.cipher_for(oauth_settings)

    creds = service.get_credentials(clean_session, account_id, settings=oauth_settings)

    new_access, new_refresh = _raw_tokens(clean_session, account_id)
    assert new_access != old_access
    assert new_refresh == old_refresh  # the emulator, like Google, keeps the refresh token
    assert creds.token == cipher.decrypt(new_access)
    assert creds.token.encode() not in new_access
    assert creds.token != cipher.decrypt(old_access)
    assert _token_works(emulator, creds.token)
    account = clean_session.get(GoogleAccount, account_id)
    assert account is not None
    assert account.token_expires_at is not None
    assert account.token_expires_at > utcnow() + timedelta(seconds=60)


def test_revoked_refresh_token_marks_needs_reauth_without_a_retry_loop(
    clean_session: Session, oauth_settings: Settings, emulator: Emulator
) -> None:
    account_id = _connect(clean_session, oauth_settings)
    oauth.revoke_user_tokens(emulator.state, emulator.email)
    oauth.expire_access_tokens(emulator.state, emulator.email)
    account = clean_session.get(GoogleAccount, account_id)
    assert account is not None
    account.token_expires_at = utcnow() - timedelta(seconds=1)
    clean_session.flush()

    with pytest.raises(AccountNeedsReauth) as err:
        service.get_credentials(clean_session, account_id, settings=oauth_settings)
    assert err.value.code == "account_needs_reauth"
    assert err.value.account_id == account_id
    clean_session.refresh(account)
    assert account.status == "needs_reauth"
    assert account.status_reason is not None
    assert "invalid_grant" in account.status_reason
    audits = clean_session.scalars(
        select(AuditLog).where(
            AuditLog.account_id == account_id, AuditLog.action == "account.needs_reauth"
        )
    ).all()
    assert [a.details for a in audits] == [{"reason": "invalid_grant"}]

    # Later calls fail fast without asking Google: point the OAuth server at a dead port.
    dead = oauth_settings.model_copy(
        update={
            "google": oauth_settings.google.model_copy(
                update={"oauth_base_url": "http://127.0.0.1:9"}
            )
        }
    )
    for _ in range(3):
        with pytest.raises(AccountNeedsReauth):
            service.get_credentials(clean_session, account_id, settings=dead)
    assert service.list_accounts(clean_session)[0].status == "needs_reauth"

    # Re-authorizing makes the account active again.
    result = service.connect_via_loopback(
        clean_session, settings=oauth_settings, account_id=account_id, open_browser=False
    )
    assert (result.account_id, result.status) == (account_id, "active")
    assert service.get_credentials(clean_session, account_id, settings=oauth_settings).valid


def test_refresh_after_unauthorized_and_the_sync_clients_refresher(
    clean_session: Session, oauth_settings: Settings, emulator: Emulator
) -> None:
    account_id = _connect(clean_session, oauth_settings)
    first = service.get_access_token(clean_session, account_id, settings=oauth_settings)
    forced = service.refresh_after_unauthorized(
        clean_session, account_id, settings=oauth_settings, rejected_token=first
    )
    assert forced.token != first
    # Someone else already replaced the rejected token: use theirs, no second refresh.
    again = service.refresh_after_unauthorized(
        clean_session, account_id, settings=oauth_settings, rejected_token=first
    )
    assert again.token == forced.token

    service.mark_needs_reauth(clean_session, account_id, reason="Google rejected the token")
    with pytest.raises(AccountNeedsReauth, match="Google rejected the token"):
        service.get_credentials(clean_session, account_id, settings=oauth_settings)
    with pytest.raises(AccountNotFound):
        service.get_credentials(clean_session, 987654321, settings=oauth_settings)


@pytest.fixture
def committed_user(sessions: sessionmaker[Session]) -> Iterator[str]:
    """A unique user whose rows (committed by the code under test) are deleted afterwards."""
    email = f"owner.{uuid.uuid4().hex[:8]}@example.test"
    yield email
    with sessions() as s, s.begin():
        s.execute(delete(User).where(User.email == email))


def test_needs_reauth_survives_the_callers_rollback(
    sessions: sessionmaker[Session],
    oauth_settings: Settings,
    emulator: Emulator,
    committed_user: str,
) -> None:
    with sessions() as s, s.begin():
        account_id = _connect(s, oauth_settings, user_email=committed_user)
    oauth.revoke_user_tokens(emulator.state, emulator.email)

    with sessions() as s:
        s.begin()
        with pytest.raises(AccountNeedsReauth):
            service.refresh_after_unauthorized(
                s, account_id, settings=oauth_settings, rejected_token=None
            )
        s.rollback()  # the failing sync job's transaction

    with sessions() as s:
        account = s.get(GoogleAccount, account_id)
        assert account is not None
        assert account.status == "needs_reauth"

    # The sync engine's client: its refresher raises instead of looping.
    creds = ManagedCredentials(
        "stale",
        service.make_token_refresher(sessions, account_id, settings=oauth_settings),
    )
    with pytest.raises(AccountNeedsReauth):
        creds.refresh(None)


def test_concurrent_refreshes_of_one_account_do_not_clobber(
    sessions: sessionmaker[Session],
    oauth_settings: Settings,
    emulator: Emulator,
    committed_user: str,
) -> None:
    emulator.configure(access_token_ttl=60)
    with sessions() as s, s.begin():
        account_id = _connect(s, oauth_settings, user_email=committed_user)
    tokens: list[str] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def worker() -> None:
        try:
            barrier.wait()
            with sessions() as s, s.begin():
                creds = service.get_credentials(s, account_id, settings=oauth_settings)
                tokens.append(str(creds.token))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors
    # One refresh under the row lock; the others saw its token once they got the lock.
    assert len(set(tokens)) == 1
    with sessions() as s:
        stored = s.get(GoogleAccount, account_id)
        assert stored is not None
        assert stored.access_token_enc is not None
        assert service.cipher_for(oauth_settings).decrypt(stored.access_token_enc) == tokens[0]


def test_rotate_token_keys_re_encrypts_under_the_newest_key(
    clean_session: Session, oauth_settings: Settings
) -> None:
    account_id = _connect(clean_session, oauth_settings)
    old_raw = _raw_tokens(clean_session, account_id)
    old_key = oauth_settings.encryption_keys[0].get_secret_value()
    plain = [TokenCipher([old_key]).decrypt(r) for r in old_raw]
    new_key = Fernet.generate_key().decode()
    rotated_settings = oauth_settings.model_copy(
        update={"encryption_keys": [SecretStr(new_key), SecretStr(old_key)]}
    )

    assert service.rotate_token_keys(clean_session, settings=rotated_settings) >= 1

    new_raw = _raw_tokens(clean_session, account_id)
    assert all(n != o for n, o in zip(new_raw, old_raw, strict=True))
    assert [TokenCipher([new_key]).decrypt(r) for r in new_raw] == plain
    with pytest.raises(ConfigurationError):
        TokenCipher([old_key]).decrypt(new_raw[0])
    # After rotation the old key can go: the account still works with the new key alone.
    new_only = oauth_settings.model_copy(update={"encryption_keys": [SecretStr(new_key)]})
    assert service.get_credentials(clean_session, account_id, settings=new_only).token == plain[0]
    audit = clean_session.scalars(select(AuditLog).where(AuditLog.action == "keys.rotated"))
    assert audit.first() is not None


def test_logs_hold_no_address_and_no_token(
    clean_session: Session,
    oauth_settings: Settings,
    emulator: Emulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("DEBUG")
    emulator.configure(access_token_ttl=30)
    with structlog.testing.capture_logs() as events:
        account_id = _connect(clean_session, oauth_settings)
        service.get_credentials(clean_session, account_id, settings=oauth_settings)
        oauth.revoke_user_tokens(emulator.state, emulator.email)
        with pytest.raises(AccountNeedsReauth):
            service.refresh_after_unauthorized(
                clean_session, account_id, settings=oauth_settings, rejected_token=None
            )
        service.remove_account(clean_session, account_id, settings=oauth_settings)
    names = [e["event"] for e in events]
    for expected in (
        "google_account_connected",
        "google_token_refreshed",
        "google_account_needs_reauth",
        "google_account_removed",
    ):
        assert expected in names
    st = oauth.oauth_state(emulator.state)
    secrets_ = [emulator.email, *st.refresh_tokens, *emulator.state.access_tokens]
    secrets_ += [oauth_settings.google.client_secret.get_secret_value()]
    captured = repr(events) + "\n".join(r.getMessage() for r in caplog.records)
    for secret in secrets_:
        assert secret not in captured
    assert "@" not in captured


def test_remove_deletes_the_accounts_synced_data(
    clean_session: Session, oauth_settings: Settings
) -> None:
    account_id = _connect(clean_session, oauth_settings)
    account = clean_session.get(GoogleAccount, account_id)
    assert account is not None
    clean_session.add_all(
        [
            Label(user_id=account.user_id, account_id=account_id, gmail_label_id="L1", name="x"),
            SyncState(user_id=account.user_id, account_id=account_id, service="gmail"),
        ]
    )
    clean_session.flush()
    assert service.remove_account(clean_session, account_id, settings=oauth_settings).revoked
    for model in (Label, SyncState, GoogleAccount):
        assert clean_session.scalars(select(model)).first() is None


def test_google_outage_during_refresh_is_retryable_and_keeps_the_account_active(
    clean_session: Session, oauth_settings: Settings
) -> None:
    account_id = _connect(clean_session, oauth_settings)
    account = clean_session.get(GoogleAccount, account_id)
    assert account is not None
    account.token_expires_at = utcnow() + timedelta(seconds=30)
    clean_session.flush()
    before = _raw_tokens(clean_session, account_id)
    dead = oauth_settings.model_copy(
        update={
            "google": oauth_settings.google.model_copy(
                update={"oauth_base_url": "http://127.0.0.1:9"}
            )
        }
    )
    with pytest.raises(GoogleUnavailable) as err:
        service.get_credentials(clean_session, account_id, settings=dead)
    assert is_retryable(err.value)
    clean_session.refresh(account)
    assert (account.status, account.status_reason) == ("active", None)
    assert _raw_tokens(clean_session, account_id) == before
