"""Sign in with Google (OpenID Connect) against the emulator over real HTTP, then sessions:
the cookie's attributes, logout, expiry, and a forged answer refused."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from secretary.bootstrap import compose
from secretary.config import Settings
from secretary.db.models import AuditLog, User, WebSession
from secretary.db.session import make_sessionmaker
from secretary.identity import oidc
from secretary.identity.errors import SignInFailed
from secretary.kit.clock import utcnow
from secretary.web.app import create_app
from secretary.web.auth import SESSION_COOKIE
from secretary.web.deps import AppState
from tests.accounts.conftest import (  # noqa: F401 (pytest fixtures, used by name)
    Emulator,
    emulator,
    oauth_settings,
)
from tests.auth import TEST_ORIGIN


@pytest.fixture
def signin_client(
    oauth_settings: Settings,  # noqa: F811 (the fixture imported above)
    engine: Engine,
    emulator: Emulator,  # noqa: F811
    sessions: sessionmaker[Session],
) -> Iterator[TestClient]:
    state = AppState(
        root=compose(oauth_settings, engine=engine, sessions=make_sessionmaker(engine))
    )
    with TestClient(create_app(oauth_settings, state=state)) as c:
        yield c
    sub = emulator.state.users[emulator.email].sub
    with sessions.begin() as s:
        s.execute(delete(User).where(User.google_sub == sub))


def sign_in_with_google(client: TestClient, next_path: str = "/drafts") -> httpx.Response:
    start = client.get("/auth/google/start", params={"next": next_path}, follow_redirects=False)
    assert start.status_code == 302
    url = start.headers["location"]
    query = dict(parse_qsl(urlsplit(url).query))
    assert query["scope"].split() == ["openid", *oidc.SIGN_IN_SCOPES[1:]]
    assert query["nonce"]
    assert query["code_challenge_method"] == "S256"
    consent = httpx.get(url, follow_redirects=False)  # the emulator auto-approves
    assert consent.status_code == 302, consent.text
    back = dict(parse_qsl(urlsplit(consent.headers["location"]).query))
    return client.get(oidc.CALLBACK_PATH, params=back, follow_redirects=False)


def test_sign_in_with_google_starts_a_session_for_the_sub(
    signin_client: TestClient,
    emulator: Emulator,  # noqa: F811 (the fixture imported above)
    sessions: sessionmaker[Session],
) -> None:
    client = signin_client
    done = sign_in_with_google(client)
    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/drafts"
    cookie = done.headers["set-cookie"]
    assert f"{SESSION_COOKIE}=" in cookie
    assert "HttpOnly" in cookie
    assert "samesite=lax" in cookie.lower()
    assert "Secure" not in cookie  # plain-HTTP base_url; behind HTTPS it is Secure
    me = client.get("/api/v1/me")
    assert me.status_code == 200, me.text
    assert me.json()["email"] == emulator.email
    assert me.json()["via"] == "session"
    sub = emulator.state.users[emulator.email].sub
    with sessions() as s:
        user = s.scalars(select(User).where(User.google_sub == sub)).one()
        uid = user.id
        actions = s.scalars(select(AuditLog.action).where(AuditLog.user_id == uid)).all()
    assert "auth.signed_in" in actions
    # Signing in again is the same user (by sub), in a new session.
    client.cookies.clear()
    assert sign_in_with_google(client).status_code == 303
    assert client.get("/api/v1/me").json()["id"] == uid

    # Logout ends the session: the same cookie no longer works.
    old = client.cookies.get(SESSION_COOKIE)
    page = client.get("/settings/tokens")
    assert page.status_code == 200
    csrf = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    out = client.post(
        "/logout",
        data={"csrf_token": csrf},
        headers={"Origin": TEST_ORIGIN},  # what a browser sends with a form post
        follow_redirects=False,
    )
    assert out.status_code == 303
    client.cookies.set(SESSION_COOKIE, old or "")
    assert client.get("/api/v1/me").status_code == 401


def test_an_expired_session_is_refused(
    signin_client: TestClient, sessions: sessionmaker[Session]
) -> None:
    client = signin_client
    assert sign_in_with_google(client).status_code == 303
    assert client.get("/api/v1/me").status_code == 200
    with sessions.begin() as s:
        s.execute(update(WebSession).values(expires_at=utcnow()))
    assert client.get("/api/v1/me").status_code == 401
    r = client.get("/drafts", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"].startswith("/login")
    # Signing in again sweeps the expired session away.
    assert sign_in_with_google(client).status_code == 303
    uid = client.get("/api/v1/me").json()["id"]
    with sessions() as s:
        expired = s.scalars(
            select(WebSession.id).where(
                WebSession.user_id == uid, WebSession.expires_at <= utcnow()
            )
        ).all()
    assert expired == []


def test_a_forged_or_replayed_answer_is_refused(
    signin_client: TestClient,
    oauth_settings: Settings,  # noqa: F811
) -> None:
    client = signin_client
    start = client.get("/auth/google/start", follow_redirects=False)
    consent = httpx.get(start.headers["location"], follow_redirects=False)
    back = dict(parse_qsl(urlsplit(consent.headers["location"]).query))
    # Another browser (no sealed cookie) cannot finish this sign-in.
    stranger = TestClient(client.app)
    r = stranger.get(oidc.CALLBACK_PATH, params=back, follow_redirects=False)
    assert r.status_code == 400
    assert SESSION_COOKIE not in r.headers.get("set-cookie", "")
    # A forged state is refused, and nothing was signed in.
    forged = client.get(
        oidc.CALLBACK_PATH, params={**back, "state": "x" * 32}, follow_redirects=False
    )
    assert forged.status_code == 400
    assert client.get("/api/v1/me").status_code == 401
    # An ID token minted for another request (nonce) or audience does not verify.
    token = httpx.post(
        f"{oauth_settings.google.oauth_base_url}/token",
        data={
            "grant_type": "authorization_code",
            "code": back["code"],
            "redirect_uri": oidc.redirect_uri(oauth_settings),
            "client_id": oauth_settings.google.client_id,
            "client_secret": oauth_settings.google.client_secret.get_secret_value(),
        },
    )
    assert token.status_code == 400  # PKCE: without the verifier the code is useless
    with pytest.raises(SignInFailed):
        oidc.verify_id_token(oauth_settings, "not.a.jwt", nonce="n")


def test_next_never_leaves_the_site() -> None:
    assert oidc.safe_next("https://evil.example/") == "/"
    assert oidc.safe_next("//evil.example/") == "/"
    assert oidc.safe_next("/\\evil.example") == "/"
    assert oidc.safe_next("/drafts?x=1") == "/drafts?x=1"


def test_an_address_is_never_merged_across_google_accounts(
    signin_client: TestClient,
    emulator: Emulator,  # noqa: F811 (the fixture imported above)
    sessions: sessionmaker[Session],
) -> None:
    """Google reassigns addresses: a second sub with a known address is not that user."""
    with sessions.begin() as s:
        s.add(User(email=emulator.email, google_sub="another-google-account"))
    try:
        r = sign_in_with_google(signin_client)
        assert r.status_code == 400
        assert "belongs to another Secretary user" in r.text
        assert signin_client.get("/api/v1/me").status_code == 401
    finally:
        with sessions.begin() as s:
            s.execute(delete(User).where(User.google_sub == "another-google-account"))


def test_a_signed_in_user_connects_several_google_accounts(
    signin_client: TestClient,
    emulator: Emulator,  # noqa: F811 (the fixture imported above)
) -> None:
    """The user is the sign-in's sub; each mailbox connected afterwards is theirs."""
    from urllib.parse import urlencode

    from tests.accounts.conftest import follow_consent

    client = signin_client
    assert sign_in_with_google(client).status_code == 303
    second = f"work.{emulator.email}"
    emulator.state.add_user(second, name="Ada at work")
    for hint in (emulator.email, second):
        start = client.get(
            "/oauth/google/start", params={"login_hint": hint}, follow_redirects=False
        )
        assert start.status_code == 302, start.text
        params = follow_consent(start.headers["location"])
        done = client.get(f"/oauth/google/callback?{urlencode(params)}")
        assert done.status_code == 200, done.text
    me = client.get("/api/v1/me").json()
    accounts = client.get("/api/v1/accounts").json()
    assert sorted(a["email"] for a in accounts) == sorted([emulator.email, second])
    assert {a["user_id"] for a in accounts} == {me["id"]}
