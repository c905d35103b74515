"""google/auth.py and google/errors.py: state signing, scopes, error translation, and the
token calls against the emulator's OAuth server over real HTTP."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import replace

import httplib2
import pytest
from google.auth.exceptions import RefreshError
from googleapiclient.errors import HttpError
from pydantic import SecretStr
from workspace_emulator import oauth
from workspace_emulator.state import EmulatorState

from secretary.config import Settings
from secretary.google import auth, errors
from tests.emulator._live import serve

SETTINGS = Settings(env="test")


def _pending(**kw: object) -> tuple[auth.PendingAuthorization, str]:
    return auth.new_pending_authorization(
        SETTINGS,
        redirect_uri="http://127.0.0.1:8000/cb",
        code_verifier="v" * 64,
        **kw,  # type: ignore[arg-type]
    )


# --- state ------------------------------------------------------------------------------


def test_state_round_trips_through_the_sealed_cookie() -> None:
    pending, state = _pending(user_id=7, account_id=3, login_hint="a@example.test")
    sealed = auth.seal_pending(SETTINGS, pending)
    assert "v" * 64 not in sealed  # the PKCE verifier is encrypted, not just signed
    opened = auth.unseal_pending(SETTINGS, sealed)
    assert opened == pending
    auth.verify_state(SETTINGS, state, opened)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda s: s[:-1] + ("A" if s[-1] != "A" else "B"),  # forged signature
        lambda s: "x" + s,  # another nonce
        lambda s: s.replace(".", "-"),  # malformed
        lambda s: "",
    ],
)
def test_tampered_state_is_rejected(mutate: object) -> None:
    pending, state = _pending()
    with pytest.raises(errors.OAuthStateInvalid):
        auth.verify_state(SETTINGS, mutate(state), pending)  # type: ignore[operator]


def test_state_is_bound_to_the_user_and_expires() -> None:
    pending, state = _pending(user_id=1)
    with pytest.raises(errors.OAuthStateInvalid):
        auth.verify_state(SETTINGS, state, replace(pending, user_id=2))
    later = time.time() + auth.STATE_TTL.total_seconds() + 1
    with pytest.raises(errors.OAuthStateInvalid, match="expired"):
        auth.verify_state(SETTINGS, state, pending, now=later)
    other_key = SETTINGS.model_copy(update={"encryption_keys": [SecretStr("A" * 43 + "=")]})
    with pytest.raises(errors.OAuthStateInvalid):
        auth.verify_state(other_key, state, pending)
    with pytest.raises(errors.OAuthStateInvalid):
        auth.unseal_pending(other_key, auth.seal_pending(SETTINGS, pending))
    with pytest.raises(errors.OAuthStateInvalid, match="not started in this browser"):
        auth.unseal_pending(SETTINGS, None)


# --- scopes and endpoints ----------------------------------------------------------------


def test_missing_scopes_understands_aliases_and_broader_scopes() -> None:
    assert auth.missing_scopes(list(auth.SCOPES)) == []
    assert auth.missing_scopes([auth.GMAIL_MODIFY, "email"]) == [
        auth.CALENDAR,
        auth.DRIVE_READONLY,
    ]
    broad = ["https://mail.google.com/", auth.CALENDAR, "https://www.googleapis.com/auth/drive"]
    assert auth.missing_scopes(broad) == []
    assert auth.normalize_scopes("openid email profile") == sorted(
        [auth.OPENID, auth.USERINFO_EMAIL, auth.USERINFO_PROFILE]
    )
    assert auth.short_scope(auth.GMAIL_COMPOSE) == "gmail.compose"


def test_endpoints_are_google_unless_configured() -> None:
    google = auth.oauth_endpoints(SETTINGS)
    assert google.token_uri == "https://oauth2.googleapis.com/token"
    emulated = SETTINGS.model_copy(
        update={
            "google": SETTINGS.google.model_copy(
                update={"oauth_base_url": "http://127.0.0.1:8765/"}
            )
        }
    )
    ep = auth.oauth_endpoints(emulated)
    assert (ep.auth_uri, ep.token_uri, ep.revoke_uri, ep.userinfo_uri) == (
        "http://127.0.0.1:8765/o/oauth2/v2/auth",
        "http://127.0.0.1:8765/token",
        "http://127.0.0.1:8765/revoke",
        "http://127.0.0.1:8765/oauth2/v3/userinfo",
    )
    cfg = auth.client_config(emulated, redirect_uri="http://127.0.0.1:1/")["web"]
    assert cfg["auth_uri"] == ep.auth_uri
    assert cfg["redirect_uris"] == ["http://127.0.0.1:1/"]


def test_token_grant_repr_hides_tokens() -> None:
    grant = auth.TokenGrant("ya29.secret", "1//refresh", None, [])
    assert "secret" not in repr(grant)
    assert "refresh" not in repr(grant)


# --- error translation -------------------------------------------------------------------


def _http_error(status: int, body: object, **headers: str) -> HttpError:
    resp = httplib2.Response({"status": str(status), **headers})
    return HttpError(resp, json.dumps(body).encode(), uri="https://gmail.googleapis.com/x")


def _google_body(code: int, reason: str) -> dict[str, object]:
    return {"error": {"code": code, "message": "m", "errors": [{"reason": reason}]}}


@pytest.mark.parametrize(
    ("status", "reason", "method", "expected", "retryable"),
    [
        (429, "rateLimitExceeded", None, errors.GoogleRateLimited, True),
        (403, "userRateLimitExceeded", None, errors.GoogleRateLimited, True),
        (403, "insufficientPermissions", None, errors.GoogleForbidden, False),
        (500, "backendError", None, errors.GoogleUnavailable, True),
        (503, "backendError", None, errors.GoogleUnavailable, True),
        (401, "authError", None, errors.GoogleAuthError, False),
        (404, "notFound", "gmail.users.history.list", errors.HistoryExpired, False),
        (404, "notFound", "gmail.users.messages.get", errors.GoogleNotFound, False),
        (400, "invalidArgument", None, errors.GoogleBadRequest, False),
    ],
)
def test_http_errors_map_onto_the_hierarchy(
    status: int, reason: str, method: str | None, expected: type, retryable: bool
) -> None:
    exc = errors.from_http_error(_http_error(status, _google_body(status, reason)), method=method)
    assert type(exc) is expected
    assert exc.reason == reason
    assert exc.http_status == status
    assert errors.is_retryable(exc) is retryable
    assert isinstance(exc.__cause__, HttpError)


def test_retry_after_is_kept_and_odd_bodies_tolerated() -> None:
    exc = errors.from_http_error(_http_error(429, "not json", **{"retry-after": "7"}))
    assert isinstance(exc, errors.GoogleRateLimited)
    assert exc.retry_after == 7.0
    assert exc.reason is None
    assert errors.from_status(302).code == "google_error"


def test_refresh_errors_distinguish_revoked_from_outage() -> None:
    revoked = RefreshError(
        "invalid_grant: Token has been expired or revoked.",
        {"error": "invalid_grant", "error_description": "Token has been expired or revoked."},
    )
    translated = errors.from_refresh_error(revoked, account_id=5)
    assert isinstance(translated, errors.AccountNeedsReauth)
    assert (translated.code, translated.account_id) == ("account_needs_reauth", 5)
    assert translated.recovery_url == "/oauth/google/start?account_id=5"
    assert errors.is_invalid_grant(revoked)
    outage = RefreshError("server_error", {"error": "server_error"}, retryable=True)
    assert isinstance(errors.from_refresh_error(outage), errors.GoogleUnavailable)
    bad_client = RefreshError("invalid_client: Unauthorized", {"error": "invalid_client"})
    assert type(errors.from_refresh_error(bad_client)) is errors.GoogleAuthError


# --- against the emulator ----------------------------------------------------------------


@pytest.fixture
def live(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[EmulatorState, Settings]]:
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    monkeypatch.setenv("OAUTHLIB_RELAX_TOKEN_SCOPE", "1")
    state = EmulatorState()
    state.add_user("ada@example.test", name="Ada Lovelace")
    with serve(state) as base:
        google = SETTINGS.google.model_copy(update={"oauth_base_url": base})
        yield state, SETTINGS.model_copy(update={"google": google})


def test_refresh_revoke_and_userinfo_against_the_emulator(
    live: tuple[EmulatorState, Settings],
) -> None:
    state, settings = live
    issued = oauth.issue_tokens(state, "ada@example.test", list(auth.SCOPES))
    info = auth.fetch_userinfo(settings, issued["access_token"])
    assert (info.email, info.name) == ("ada@example.test", "Ada Lovelace")

    grant = auth.refresh_access_token(settings, issued["refresh_token"])
    assert grant.access_token != issued["access_token"]
    assert grant.refresh_token == issued["refresh_token"]
    assert grant.expires_at is not None
    assert grant.expires_at.tzinfo is not None
    creds = auth.build_credentials(
        settings,
        access_token=grant.access_token,
        refresh_token=grant.refresh_token,
        expires_at=grant.expires_at,
        scopes=grant.scopes,
    )
    assert creds.valid

    assert auth.revoke_token(settings, issued["refresh_token"]) is True
    with pytest.raises(errors.AccountNeedsReauth):
        auth.refresh_access_token(settings, issued["refresh_token"], account_id=1)
    with pytest.raises(errors.OAuthUserinfoFailed):
        auth.fetch_userinfo(settings, grant.access_token)  # revoked with its refresh token


def test_unreachable_oauth_server_is_retryable_not_reauth() -> None:
    dead = SETTINGS.model_copy(
        update={
            "google": SETTINGS.google.model_copy(update={"oauth_base_url": "http://127.0.0.1:9"})
        }
    )
    with pytest.raises(errors.GoogleUnavailable):
        auth.refresh_access_token(dead, "1//whatever")
    assert auth.revoke_token(dead, "1//whatever") is False
