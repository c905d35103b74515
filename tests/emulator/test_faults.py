"""Fault injection: per-endpoint errors and latency (seeded), history and token faults."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest
from googleapiclient.errors import HttpError
from workspace_emulator.control import EmulatorControl
from workspace_emulator.errors import GoogleApiError
from workspace_emulator.faults import EndpointFaults, FaultConfig, FaultInjector
from workspace_emulator.server import RunningEmulator
from workspace_emulator.state import EmulatorUser


def test_seeded_rolls_are_deterministic_and_rates_hold() -> None:
    config = FaultConfig(
        seed=42,
        endpoints={
            "gmail.users.messages.*": EndpointFaults(error_429=0.1, error_500=0.05, error_503=0.05)
        },
    )
    first = FaultInjector(config)
    second = FaultInjector(FaultConfig.from_dict(config.to_dict()))
    rolls = [first.roll("gmail.users.messages.get")[1] for _ in range(2000)]
    assert rolls == [second.roll("gmail.users.messages.get")[1] for _ in range(2000)]
    assert 150 < rolls.count(429) < 250
    assert 60 < rolls.count(500) < 140
    assert 60 < rolls.count(503) < 140
    assert first.roll("gmail.users.history.list") == (0.0, None)  # not matched
    assert first.stats()["http_429"] == rolls.count(429)


def test_exact_rule_wins_over_glob_and_star() -> None:
    injector = FaultInjector(
        FaultConfig(
            endpoints={
                "*": EndpointFaults(error_500=1.0),
                "gmail.users.messages.*": EndpointFaults(error_503=1.0),
                "gmail.users.messages.get": EndpointFaults(error_429=1.0),
            }
        )
    )
    assert injector.roll("gmail.users.messages.get")[1] == 429
    assert injector.roll("gmail.users.messages.list")[1] == 503
    assert injector.roll("gmail.users.labels.list")[1] == 500


def test_errors_and_latency_over_http(emulator: RunningEmulator, gmail: Any) -> None:
    control = EmulatorControl(emulator.base_url)
    control.set_faults(
        endpoints={
            "gmail.users.getProfile": {"error_503": 1.0},
            "gmail.users.labels.list": {"latency_ms": 150},
        }
    )
    with pytest.raises(HttpError) as err:
        gmail.users().getProfile(userId="me").execute()
    assert err.value.resp.status == 503
    assert json.loads(err.value.content)["error"]["errors"][0]["reason"] == "backendError"
    started = time.perf_counter()
    gmail.users().labels().list(userId="me").execute()
    assert time.perf_counter() - started >= 0.15
    control.clear_faults()
    assert gmail.users().getProfile(userId="me").execute()["emailAddress"]
    assert control.stats()["faults"]["http_503"] == 1
    control.close()


def test_history_expiry_and_token_expiry(
    emulator: RunningEmulator, gmail: Any, gmail_user: EmulatorUser, token: str
) -> None:
    control = EmulatorControl(emulator.base_url)
    start = gmail.users().getProfile(userId="me").execute()["historyId"]
    control.deliver(gmail_user.email, b"Subject: x\r\n\r\nbody\r\n")
    new_id = control.expire_history(gmail_user.email)
    assert int(new_id) > int(start)
    with pytest.raises(HttpError) as err:
        gmail.users().history().list(userId="me", startHistoryId=start).execute()
    assert err.value.resp.status == 404

    assert control.expire_tokens(gmail_user.email) >= 1
    resp = httpx.get(
        f"{emulator.base_url}/gmail/v1/users/me/profile",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert resp.status_code == 401
    fresh = control.token(gmail_user.email)
    ok = httpx.get(
        f"{emulator.base_url}/gmail/v1/users/me/profile",
        headers={"Authorization": f"Bearer {fresh}"},
    )
    assert ok.json()["historyId"] == new_id
    control.close()


def test_refresh_token_revocation_goes_through_oauth(
    emulator: RunningEmulator, gmail_user: EmulatorUser
) -> None:
    oauth = pytest.importorskip("workspace_emulator.oauth")
    if not hasattr(oauth, "revoke_user_tokens"):
        pytest.skip("oauth.revoke_user_tokens not available yet")
    control = EmulatorControl(emulator.base_url)
    token = control.token(gmail_user.email)
    control.revoke_tokens(gmail_user.email)
    resp = httpx.get(
        f"{emulator.base_url}/gmail/v1/users/me/profile",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert resp.status_code == 401
    assert control.stats()["faults"]["tokens_revoked"] == 1
    control.close()


def test_control_acts_as_the_user_and_resets(
    emulator: RunningEmulator, gmail: Any, gmail_user: EmulatorUser
) -> None:
    control = EmulatorControl(emulator.base_url)
    start = gmail.users().getProfile(userId="me").execute()["historyId"]
    first = control.deliver(gmail_user.email, b"Subject: one\r\n\r\nbody\r\n")
    second = control.deliver(gmail_user.email, b"Subject: two\r\n\r\nbody\r\n", labels=["INBOX"])
    assert first["labelIds"] == ["INBOX", "UNREAD"]
    control.modify(gmail_user.email, first["id"], add=["STARRED"], remove=["UNREAD"])
    control.trash(gmail_user.email, second["id"])
    control.delete(gmail_user.email, second["id"])
    snap = control.snapshot(gmail_user.email)
    assert snap["messages"] == {
        first["id"]: {"threadId": first["threadId"], "labelIds": ["INBOX", "STARRED"]}
    }
    assert snap["historyId"] == gmail.users().getProfile(userId="me").execute()["historyId"]
    history = gmail.users().history().list(userId="me", startHistoryId=start).execute()["history"]
    assert [sorted(k for k in r if k not in ("id", "messages")) for r in history] == [
        ["messagesAdded"],
        ["messagesAdded"],
        ["labelsAdded", "labelsRemoved"],
        ["labelsAdded", "labelsRemoved"],
        ["messagesDeleted"],
    ]
    control.set_history_retention(gmail_user.email, max_records=1)
    with pytest.raises(HttpError):
        gmail.users().history().list(userId="me", startHistoryId=start).execute()
    other = control.create_user("sam@example.test", name="Sam")
    assert other["email"] == "sam@example.test"
    with pytest.raises(GoogleApiError):
        control.load("sam@example.test", "/nonexistent/path/for/test")
    control.reset()
    assert control.stats()["mailboxes"] == {}
    control.close()
