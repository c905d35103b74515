"""The emulator's OAuth 2.0 server driven by google-auth-oauthlib and google-auth over HTTP."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from google.auth.exceptions import RefreshError
from google.auth.transport.requests import Request as AuthRequest
from google.oauth2 import id_token as google_id_token
from google_auth_oauthlib.flow import Flow
from oauthlib.oauth2.rfc6749.errors import InvalidGrantError
from workspace_emulator import oauth
from workspace_emulator.state import EmulatorState

from tests.emulator._live import serve

GMAIL = "https://www.googleapis.com/auth/gmail.modify"
CAL = "https://www.googleapis.com/auth/calendar"
DRIVE = "https://www.googleapis.com/auth/drive.readonly"
EMAIL = "https://www.googleapis.com/auth/userinfo.email"
REDIRECT = "http://127.0.0.1:8080/oauth/callback"
USER = "ada@example.test"


@pytest.fixture
def emulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[EmulatorState, str]]:
    # oauthlib refuses http:// URLs unless told; the emulator is plain-HTTP loopback.
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    state = EmulatorState()
    state.add_user(USER, name="Ada Lovelace")
    with serve(state) as base:
        yield state, base


def make_flow(base: str, scopes: list[str]) -> Flow:
    config = {
        "web": {
            "client_id": oauth.DEFAULT_CLIENT_ID,
            "client_secret": oauth.DEFAULT_CLIENT_SECRET,
            "auth_uri": f"{base}/o/oauth2/v2/auth",
            "token_uri": f"{base}/token",
            "redirect_uris": [REDIRECT],
        }
    }
    return Flow.from_client_config(config, scopes=scopes, redirect_uri=REDIRECT)


def authorize(flow: Flow, **params: str) -> tuple[str, str]:
    """Follow the auth URL as a browser would; returns (redirect location, sent state)."""
    url, sent_state = flow.authorization_url(access_type="offline", prompt="consent", **params)
    resp = httpx.get(url, follow_redirects=False)
    assert resp.status_code == 302, resp.text
    return resp.headers["location"], sent_state


def test_full_flow_with_auto_approve_then_refresh_and_userinfo(
    emulator: tuple[EmulatorState, str],
) -> None:
    state, base = emulator
    oauth.configure(state, auto_approve=True)
    flow = make_flow(base, [GMAIL, CAL, EMAIL])
    location, sent_state = authorize(flow)
    query = parse_qs(urlsplit(location).query)
    assert location.startswith(REDIRECT)
    assert query["state"] == [sent_state]
    assert query["scope"][0].split() == [GMAIL, CAL, EMAIL]

    token = flow.fetch_token(authorization_response=location)
    assert token["token_type"] == "Bearer"
    assert token["expires_in"] == 3600
    assert token["refresh_token"].startswith("1//")
    creds = flow.credentials
    assert creds.valid
    assert set(creds.granted_scopes or []) == {GMAIL, CAL, EMAIL}

    info = httpx.get(
        f"{base}/oauth2/v3/userinfo", headers={"Authorization": f"Bearer {creds.token}"}
    ).json()
    assert info["email"] == USER
    assert info["email_verified"] is True
    assert info["name"] == "Ada Lovelace"
    assert info["sub"] == state.users[USER].sub
    v2 = httpx.get(f"{base}/oauth2/v2/userinfo", params={"access_token": creds.token}).json()
    assert v2["id"] == info["sub"]
    assert v2["verified_email"] is True

    old = creds.token
    creds.refresh(AuthRequest())
    assert creds.token != old
    assert creds.valid
    assert state.access_tokens[creds.token].scopes == [GMAIL, CAL, EMAIL]


def test_pkce_is_enforced(emulator: tuple[EmulatorState, str]) -> None:
    state, base = emulator
    oauth.configure(state, auto_approve=True)
    flow = make_flow(base, [GMAIL])
    location, _ = authorize(flow)
    assert flow.code_verifier  # google-auth-oauthlib sends an S256 challenge by default
    code = parse_qs(urlsplit(location).query)["code"][0]
    resp = httpx.post(
        f"{base}/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "client_id": oauth.DEFAULT_CLIENT_ID,
            "client_secret": oauth.DEFAULT_CLIENT_SECRET,
            "code_verifier": "x" * 50,
        },
    )
    assert resp.status_code == 400
    assert resp.json() == {"error": "invalid_grant", "error_description": "Invalid code verifier."}


def test_consent_page_lists_scopes_and_partial_grant_narrows_scope(
    emulator: tuple[EmulatorState, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _state, base = emulator
    flow = make_flow(base, [GMAIL, CAL, DRIVE])
    url, sent_state = flow.authorization_url(access_type="offline", prompt="consent")
    page = httpx.get(url)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    boxes = re.findall(r'type="checkbox" name="scope" value="([^"]+)"', page.text)
    assert boxes == [GMAIL, CAL, DRIVE]
    assert "Allow" in page.text
    assert "Deny" in page.text
    request_id = re.search(r'name="request_id" value="([^"]+)"', page.text)
    assert request_id

    # The user unticks Drive, as with Google's granular consent screen.
    resp = httpx.post(
        f"{base}/o/oauth2/v2/auth/consent",
        data={
            "request_id": request_id.group(1),
            "email": USER,
            "scope": [GMAIL, CAL],
            "decision": "allow",
        },
    )
    assert resp.status_code == 302
    location = resp.headers["location"]
    query = parse_qs(urlsplit(location).query)
    assert query["state"] == [sent_state]
    assert query["scope"][0].split() == [GMAIL, CAL]
    # oauthlib treats a narrowed scope as an error unless relaxed; clients must relax it and
    # then check granted_scopes themselves.
    monkeypatch.setenv("OAUTHLIB_RELAX_TOKEN_SCOPE", "1")
    token = flow.fetch_token(authorization_response=location)
    assert token["scope"] == [GMAIL, CAL]
    assert set(flow.credentials.granted_scopes or []) == {GMAIL, CAL}


def test_auto_approve_grant_scopes_subset(emulator: tuple[EmulatorState, str]) -> None:
    state, base = emulator
    oauth.configure(state, auto_approve=True, grant_scopes=[GMAIL])
    location, _ = authorize(make_flow(base, [GMAIL, CAL]))
    assert parse_qs(urlsplit(location).query)["scope"] == [GMAIL]


def test_deny_redirects_with_access_denied(emulator: tuple[EmulatorState, str]) -> None:
    state, base = emulator
    oauth.configure(state, deny=True)
    location, sent_state = authorize(make_flow(base, [GMAIL]))
    query = parse_qs(urlsplit(location).query)
    assert query == {"error": ["access_denied"], "state": [sent_state]}

    # The Deny button on the page does the same.
    oauth.configure(state, deny=False)
    url, sent_state = make_flow(base, [GMAIL]).authorization_url()
    request_id = re.search(r'name="request_id" value="([^"]+)"', httpx.get(url).text)
    assert request_id
    resp = httpx.post(
        f"{base}/o/oauth2/v2/auth/consent",
        data={"request_id": request_id.group(1), "scope": [GMAIL], "decision": "deny"},
    )
    assert parse_qs(urlsplit(resp.headers["location"]).query)["error"] == ["access_denied"]


def test_code_reuse_is_invalid_grant(emulator: tuple[EmulatorState, str]) -> None:
    state, base = emulator
    oauth.configure(state, auto_approve=True)
    flow = make_flow(base, [GMAIL])
    location, _ = authorize(flow)
    flow.fetch_token(authorization_response=location)
    again = make_flow(base, [GMAIL])
    again.code_verifier = flow.code_verifier
    with pytest.raises(InvalidGrantError):
        again.fetch_token(authorization_response=location)


def test_expired_code_is_invalid_grant(emulator: tuple[EmulatorState, str]) -> None:
    state, base = emulator
    oauth.configure(state, auto_approve=True)
    flow = make_flow(base, [GMAIL])
    location, _ = authorize(flow)
    code = parse_qs(urlsplit(location).query)["code"][0]
    oauth.oauth_state(state).codes[code].expires_at = 0
    with pytest.raises(InvalidGrantError):
        flow.fetch_token(authorization_response=location)


def test_client_and_redirect_errors(emulator: tuple[EmulatorState, str]) -> None:
    state, base = emulator
    oauth.configure(state, auto_approve=True)
    bad_client = httpx.get(
        f"{base}/o/oauth2/v2/auth",
        params={"client_id": "nope", "redirect_uri": REDIRECT, "scope": GMAIL},
    )
    assert bad_client.status_code == 401
    assert "invalid_client" in bad_client.text
    bad_redirect = httpx.get(
        f"{base}/o/oauth2/v2/auth",
        params={
            "client_id": oauth.DEFAULT_CLIENT_ID,
            "redirect_uri": "https://evil.example/cb",
            "scope": GMAIL,
        },
    )
    assert bad_redirect.status_code == 400
    assert "redirect_uri_mismatch" in bad_redirect.text

    flow = make_flow(base, [GMAIL])
    location, _ = authorize(flow)
    code = parse_qs(urlsplit(location).query)["code"][0]
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": "http://127.0.0.1:9999/other",
        "client_id": oauth.DEFAULT_CLIENT_ID,
        "client_secret": oauth.DEFAULT_CLIENT_SECRET,
        "code_verifier": flow.code_verifier or "",
    }
    assert httpx.post(f"{base}/token", data=form).json()["error"] == "redirect_uri_mismatch"
    wrong_secret = httpx.post(f"{base}/token", data={**form, "client_secret": "guess"})
    assert wrong_secret.status_code == 401
    assert wrong_secret.json()["error"] == "invalid_client"
    assert httpx.post(f"{base}/token", data={**form, "grant_type": "password"}).json() == {
        "error": "unsupported_grant_type",
        "error_description": "Invalid grant_type: password",
    }


def test_revoked_refresh_token_raises_refresh_error(emulator: tuple[EmulatorState, str]) -> None:
    state, base = emulator
    oauth.configure(state, auto_approve=True)
    flow = make_flow(base, [GMAIL])
    location, _ = authorize(flow)
    flow.fetch_token(authorization_response=location)
    creds = flow.credentials

    resp = httpx.post(f"{base}/revoke", data={"token": creds.refresh_token})
    assert resp.status_code == 200
    # The access token minted with the grant dies with it.
    assert state.user_for_token(creds.token) is None
    with pytest.raises(RefreshError, match="invalid_grant"):
        creds.refresh(AuthRequest())
    assert httpx.post(f"{base}/revoke", data={"token": creds.refresh_token}).status_code == 400


def test_fault_helpers_revoke_and_expire(emulator: tuple[EmulatorState, str]) -> None:
    state, base = emulator
    tokens = oauth.issue_tokens(state, USER, [GMAIL])
    assert state.user_for_token(tokens["access_token"]) is not None
    assert oauth.expire_access_tokens(state, USER) == 1
    assert state.user_for_token(tokens["access_token"]) is None
    unauthorized = httpx.get(
        f"{base}/oauth2/v3/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert unauthorized.status_code == 401
    assert unauthorized.json()["error"]["status"] == "UNAUTHENTICATED"

    form = {
        "grant_type": "refresh_token",
        "refresh_token": tokens["refresh_token"],
        "client_id": oauth.DEFAULT_CLIENT_ID,
        "client_secret": oauth.DEFAULT_CLIENT_SECRET,
    }
    refreshed = httpx.post(f"{base}/token", data=form).json()
    assert state.user_for_token(refreshed["access_token"]) is not None
    assert "refresh_token" not in refreshed

    # The refresh token and both access tokens (the expired one is dropped too).
    assert oauth.revoke_user_tokens(state, USER) == 3
    assert state.user_for_token(refreshed["access_token"]) is None
    assert httpx.post(f"{base}/token", data=form).json()["error"] == "invalid_grant"


def test_control_config_clients_and_discovery(emulator: tuple[EmulatorState, str]) -> None:
    _state, base = emulator
    cfg = httpx.post(
        f"{base}/emulator/oauth/config", json={"auto_approve": True, "access_token_ttl": 60}
    ).json()
    assert cfg["auto_approve"] is True
    assert httpx.get(f"{base}/emulator/oauth/config").json()["access_token_ttl"] == 60
    httpx.post(
        f"{base}/emulator/oauth/clients",
        json={
            "client_id": "web-app",
            "client_secret": "s3",
            "redirect_uris": ["https://app.example/cb"],
            "allow_loopback": False,
        },
    ).raise_for_status()
    ok = httpx.get(
        f"{base}/o/oauth2/auth",
        params={"client_id": "web-app", "redirect_uri": "https://app.example/cb", "scope": GMAIL},
    )
    assert ok.status_code == 302
    assert ok.headers["location"].startswith("https://app.example/cb?")
    loopback = httpx.get(
        f"{base}/o/oauth2/auth",
        params={"client_id": "web-app", "redirect_uri": REDIRECT, "scope": GMAIL},
    )
    assert loopback.status_code == 400

    code = parse_qs(urlsplit(ok.headers["location"]).query)["code"][0]
    token = httpx.post(
        f"{base}/token",
        auth=("web-app", "s3"),  # client_secret_basic
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": "https://app.example/cb",
        },
    ).json()
    assert token["expires_in"] == 60
    assert "refresh_token" not in token  # online access: no refresh token

    discovery = httpx.get(f"{base}/.well-known/openid-configuration").json()
    assert discovery["token_endpoint"] == f"{base}/token"
    assert discovery["authorization_endpoint"] == f"{base}/o/oauth2/v2/auth"


def test_include_granted_scopes_adds_to_the_earlier_grant(
    emulator: tuple[EmulatorState, str],
) -> None:
    state, base = emulator
    oauth.configure(state, auto_approve=True, grant_scopes=[GMAIL])
    first, _ = authorize(make_flow(base, [GMAIL, CAL]))
    assert parse_qs(urlsplit(first).query)["scope"] == [GMAIL]

    # Re-consent asking only for what is missing: the answer covers both.
    oauth.configure(state, grant_scopes=None)
    second, _ = authorize(make_flow(base, [CAL]), include_granted_scopes="true")
    assert parse_qs(urlsplit(second).query)["scope"][0].split() == [CAL, GMAIL]
    # Without the flag the grant is exactly what this request asked for.
    third, _ = authorize(make_flow(base, [CAL]))
    assert parse_qs(urlsplit(third).query)["scope"] == [CAL]
    # Revocation forgets the remembered grant.
    oauth.revoke_user_tokens(state, USER)
    fourth, _ = authorize(make_flow(base, [DRIVE]), include_granted_scopes="true")
    assert parse_qs(urlsplit(fourth).query)["scope"] == [DRIVE]


def test_openid_scope_returns_a_verifiable_id_token(emulator: tuple[EmulatorState, str]) -> None:
    state, base = emulator
    oauth.configure(state, auto_approve=True)
    flow = make_flow(base, ["openid", EMAIL, GMAIL])
    location, _ = authorize(flow)
    flow.fetch_token(authorization_response=location)
    id_token = flow.credentials.id_token
    assert id_token
    claims = google_id_token.verify_token(
        id_token,
        AuthRequest(),
        audience=oauth.DEFAULT_CLIENT_ID,
        certs_url=f"{base}/oauth2/v3/certs",
    )
    assert claims["sub"] == state.users[USER].sub
    assert claims["email"] == USER
    assert claims["iss"] == "https://accounts.google.com"


def test_id_token_carries_the_requests_nonce_and_the_oidc_claims(
    emulator: tuple[EmulatorState, str],
) -> None:
    """Google's OpenID Connect doc ("Obtain user information from the ID token"): the ID
    token has iss, aud (the client id), sub, email, email_verified, iat, exp and echoes the
    authentication request's nonce; userinfo's sub is the same."""
    state, base = emulator
    oauth.configure(state, auto_approve=True)
    flow = make_flow(base, ["openid", EMAIL, "https://www.googleapis.com/auth/userinfo.profile"])
    location, _ = authorize(flow, nonce="n-0S6_WzA2Mj")
    flow.fetch_token(authorization_response=location)
    claims = google_id_token.verify_token(
        flow.credentials.id_token,
        AuthRequest(),
        audience=oauth.DEFAULT_CLIENT_ID,
        certs_url=f"{base}/oauth2/v3/certs",
    )
    assert claims["nonce"] == "n-0S6_WzA2Mj"
    assert claims["aud"] == oauth.DEFAULT_CLIENT_ID
    assert claims["email_verified"] is True
    assert claims["exp"] > claims["iat"]
    header = flow.credentials.id_token.split(".")[0]
    alg = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["alg"]
    assert alg == "RS256"
    info = httpx.get(
        f"{base}/oauth2/v3/userinfo",
        headers={"Authorization": f"Bearer {flow.credentials.token}"},
    ).json()
    assert info["sub"] == claims["sub"]
    # A token without a nonce in the request has no nonce claim (Google's behaviour).
    plain = make_flow(base, ["openid", EMAIL])
    location, _ = authorize(plain)
    plain.fetch_token(authorization_response=location)
    claims = google_id_token.verify_token(
        plain.credentials.id_token,
        AuthRequest(),
        audience=oauth.DEFAULT_CLIENT_ID,
        certs_url=f"{base}/oauth2/v3/certs",
    )
    assert "nonce" not in claims
