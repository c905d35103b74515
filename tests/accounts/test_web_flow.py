"""The OAuth web flow end to end: FastAPI app ↔ Google emulator over real HTTP ↔ Postgres."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from sqlalchemy.orm import Session
from workspace_emulator import oauth

from secretary.config import Settings
from secretary.db.models import AuditLog, GoogleAccount
from secretary.google import auth
from secretary.kit.crypto import TokenCipher
from tests.accounts.conftest import Emulator, follow_consent


def _start(client: TestClient, query: str = "") -> str:
    resp = client.get(f"/oauth/google/start{query}", follow_redirects=False)
    assert resp.status_code == 302, resp.text
    assert "secretary_oauth" in resp.cookies
    return resp.headers["location"]


def _callback(client: TestClient, params: dict[str, str]) -> httpx.Response:
    return client.get(f"/oauth/google/callback?{urlencode(params)}")


def _connect(client: TestClient) -> httpx.Response:
    return _callback(client, follow_consent(_start(client)))


def test_start_redirects_to_consent_with_offline_pkce_and_signed_state(
    client: TestClient, emulator: Emulator
) -> None:
    location = _start(client, "?login_hint=someone%40example.test")
    parts = urlsplit(location)
    assert f"{parts.scheme}://{parts.netloc}" == emulator.base_url
    assert parts.path == "/o/oauth2/v2/auth"
    q = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert q["access_type"] == "offline"
    assert q["prompt"] == "consent"
    assert q["include_granted_scopes"] == "true"
    assert q["code_challenge_method"] == "S256"
    assert len(q["code_challenge"]) == 43
    assert q["login_hint"] == "someone@example.test"
    assert set(q["scope"].split()) == set(auth.SCOPES)
    assert q["state"].count(".") == 2


def test_connect_stores_account_with_tokens_encrypted_at_rest(
    client: TestClient, emulator: Emulator, oauth_settings: Settings, clean_session: Session
) -> None:
    resp = _connect(client)
    assert resp.status_code == 200, resp.text
    assert "Connected" in resp.text
    assert "secretary_oauth" not in client.cookies  # single use

    account = clean_session.scalars(select(GoogleAccount)).one()
    assert account.email == emulator.email
    assert account.status == "active"
    assert set(account.scopes) >= set(auth.REQUIRED_SCOPES)

    # The plaintext tokens the emulator issued.
    st = oauth.oauth_state(emulator.state)
    (refresh_plain,) = [r.token for r in st.refresh_tokens.values() if r.email == emulator.email]
    (access_plain,) = [
        t for t, rec in emulator.state.access_tokens.items() if rec.email == emulator.email
    ]
    row = (
        clean_session.execute(
            text(
                "select access_token_enc, refresh_token_enc, email from google_accounts "
                "where id = :id"
            ),
            {"id": account.id},
        )
        .mappings()
        .one()
    )
    raw_access, raw_refresh = bytes(row["access_token_enc"]), bytes(row["refresh_token_enc"])
    for raw, plain in ((raw_access, access_plain), (raw_refresh, refresh_plain)):
        assert plain.encode() not in raw
        assert raw.startswith(b"gAAAAA")  # Fernet version byte 0x80, base64url
        cipher = TokenCipher([k.get_secret_value() for k in oauth_settings.encryption_keys])
        assert cipher.decrypt(raw) == plain

    audit = clean_session.scalars(select(AuditLog).where(AuditLog.account_id == account.id)).one()
    assert audit.action == "account.connected"
    assert "@" not in str(audit.details)

    listed = client.get("/api/v1/accounts").json()
    assert [(a["id"], a["status"], a["missing_scopes"]) for a in listed] == [
        (account.id, "active", [])
    ]


def test_state_mismatch_shows_error_page_and_stores_nothing(
    client: TestClient, clean_session: Session
) -> None:
    first = follow_consent(_start(client))
    _start(client)  # a second start replaces the browser's cookie
    resp = _callback(client, first)
    assert resp.status_code == 400
    assert "did not match this browser" in resp.text
    assert "href='/oauth/google/start'>Start again</a>" in resp.text
    tampered = follow_consent(_start(client))
    tampered["state"] = tampered["state"][:-2] + "xx"
    assert _callback(client, tampered).status_code == 400
    assert clean_session.scalars(select(GoogleAccount)).first() is None


def test_callback_without_the_browser_cookie_is_rejected(
    client: TestClient, clean_session: Session
) -> None:
    params = follow_consent(_start(client))
    client.cookies.clear()
    resp = _callback(client, params)
    assert resp.status_code == 400
    assert "not started in this browser" in resp.text
    assert clean_session.scalars(select(GoogleAccount)).first() is None


def test_access_denied_explains_and_offers_to_connect_again(
    client: TestClient, emulator: Emulator, clean_session: Session
) -> None:
    emulator.configure(deny=True)
    params = follow_consent(_start(client))
    assert params["error"] == "access_denied"
    resp = _callback(client, params)
    assert resp.status_code == 403
    assert "You declined access" in resp.text
    assert "Connect again" in resp.text
    assert clean_session.scalars(select(GoogleAccount)).first() is None


def test_partial_grant_stores_account_as_needs_reauth_then_reconnect_fixes_it(
    client: TestClient, emulator: Emulator, clean_session: Session
) -> None:
    emulator.configure(
        grant_scopes=[auth.GMAIL_MODIFY, auth.OPENID, auth.USERINFO_EMAIL, auth.USERINFO_PROFILE]
    )
    resp = _connect(client)
    assert resp.status_code == 200
    assert "some access is missing" in resp.text
    for name in ("calendar", "drive.readonly"):
        assert name in resp.text
    # gmail.modify covers Gmail's drafts methods, so gmail.compose is not reported missing.
    assert "gmail.compose" not in resp.text
    account = clean_session.scalars(select(GoogleAccount)).one()
    assert account.status == "needs_reauth"
    assert account.status_reason is not None
    assert "calendar" in account.status_reason
    assert f"/oauth/google/start?account_id={account.id}" in resp.text

    listed = client.get("/api/v1/accounts").json()[0]
    assert listed["status"] == "needs_reauth"
    assert listed["missing_scopes"] == ["calendar", "drive.readonly"]
    assert listed["reauth_url"].endswith(f"/oauth/google/start?account_id={account.id}")

    emulator.configure(grant_scopes=None)
    resp = _callback(client, follow_consent(_start(client, f"?account_id={account.id}")))
    assert resp.status_code == 200
    assert "Reconnected" in resp.text
    clean_session.refresh(account)
    assert (account.status, account.status_reason) == ("active", None)


def test_reused_code_gets_a_clear_invalid_grant_message(
    client: TestClient, clean_session: Session
) -> None:
    location = _start(client)
    sealed = client.cookies["secretary_oauth"]
    params = follow_consent(location)
    assert _callback(client, params).status_code == 200
    client.cookies.set("secretary_oauth", sealed, path="/oauth/google")
    resp = _callback(client, params)
    assert resp.status_code == 400
    assert "already used or has expired" in resp.text
    assert len(clean_session.scalars(select(GoogleAccount)).all()) == 1


def test_userinfo_failure_is_explained_and_the_grant_revoked(
    client: TestClient, emulator: Emulator, clean_session: Session
) -> None:
    params = follow_consent(_start(client))
    del emulator.state.users[emulator.email]  # the profile service no longer knows the user
    resp = _callback(client, params)
    assert resp.status_code == 502
    assert "did not share your profile" in resp.text
    st = oauth.oauth_state(emulator.state)
    assert all(r.revoked for r in st.refresh_tokens.values())
    assert clean_session.scalars(select(GoogleAccount)).first() is None


def test_reauth_via_api_then_wrong_google_account_is_refused(
    client: TestClient, emulator: Emulator, clean_session: Session
) -> None:
    assert _connect(client).status_code == 200
    account = clean_session.scalars(select(GoogleAccount)).one()
    started = client.post(f"/api/v1/accounts/{account.id}/reauth").json()
    assert started["authorization_url"].endswith(f"/oauth/google/start?account_id={account.id}")

    path = urlsplit(started["authorization_url"])
    location = _start(client, f"?{path.query}")
    assert parse_qs(urlsplit(location).query)["login_hint"] == [emulator.email]
    # The user picks another Google account on the consent screen.
    other = location.replace(
        urlencode({"login_hint": emulator.email}), urlencode({"login_hint": "bob@example.test"})
    )
    resp = _callback(client, follow_consent(other))
    assert resp.status_code == 409
    assert "different Google account" in resp.text
    assert f"account_id={account.id}" in resp.text


def test_delete_revokes_at_google_and_removes_the_account(
    client: TestClient, emulator: Emulator, clean_session: Session
) -> None:
    assert _connect(client).status_code == 200
    account = clean_session.scalars(select(GoogleAccount)).one()
    resp = client.delete(f"/api/v1/accounts/{account.id}")
    assert resp.status_code == 200
    assert resp.json() == {"account_id": account.id, "revoked": True}
    st = oauth.oauth_state(emulator.state)
    assert all(r.revoked for r in st.refresh_tokens.values())
    assert clean_session.scalars(select(GoogleAccount)).first() is None
    removed = clean_session.scalars(
        select(AuditLog).where(AuditLog.action == "account.removed")
    ).one()
    assert removed.details == {"removed_account_id": account.id, "revoked": True}
    assert client.delete(f"/api/v1/accounts/{account.id}").status_code == 404
