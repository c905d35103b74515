"""``GmailClient`` over real HTTP against the emulator: paging, batches with failing parts,
token refresh after 401, history expiry, and quota charging that matches the emulator's."""

from __future__ import annotations

import pytest
from workspace_emulator import oauth
from workspace_emulator.faults import (
    EndpointFaults,
    FaultConfig,
    expire_access_tokens,
    expire_history,
    fault_injector,
)
from workspace_emulator.quota import quota_book

from secretary.config import Settings
from secretary.google.client import ManagedCredentials
from secretary.google.errors import HistoryExpired
from secretary.google.gmail import FetchItem, GmailClient
from secretary.google.quota import QuotaGovernor
from secretary.google.resilience import CircuitBreaker
from tests.sync.conftest import SCOPES, Emulator, emulator, make_raw  # noqa: F401 - fixture

EMAIL = "client@example.com"


@pytest.fixture
def gmail(emulator: Emulator, settings: Settings) -> GmailClient:  # noqa: F811 - fixture
    emulator.state.add_user(EMAIL)
    tokens = oauth.issue_tokens(emulator.state, EMAIL, SCOPES)
    refreshed: list[str] = []

    def refresher() -> str:
        new = oauth.issue_tokens(emulator.state, EMAIL, SCOPES)["access_token"]
        refreshed.append(new)
        return str(new)

    google = settings.google.model_copy(update={"api_base_url": emulator.base_url})
    client = GmailClient(
        ManagedCredentials(tokens["access_token"], refresher),
        settings=settings.model_copy(update={"google": google}),
        account_key=EMAIL,
        governor=QuotaGovernor(6000, 4),
        breaker=CircuitBreaker("gmail:test"),
        sleep=lambda _s: None,
    )
    mailbox = emulator.state.users[EMAIL].mailbox
    for _ in range(120):
        mailbox.add_message(make_raw()[0], label_ids={"INBOX"})
    return client


def test_listing_pages_through_everything(gmail: GmailClient) -> None:
    ids = list(gmail.iter_message_ids())
    assert len(ids) == 120
    assert len({i for i, _ in ids}) == 120


def test_batch_reports_missing_parts_and_retries_failed_ones(
    gmail: GmailClient,
    emulator: Emulator,  # noqa: F811 - fixture
) -> None:
    ids = [i for i, _ in gmail.iter_message_ids()][:40]
    emulator.state.users[EMAIL].mailbox.delete(ids[0])
    fault_injector(emulator.state).configure(
        FaultConfig(
            seed=1,
            endpoints={"gmail.users.messages.get": EndpointFaults(error_429=0.2, error_503=0.2)},
        )
    )
    result = gmail.fetch([FetchItem("message", i) for i in ids])
    assert {item.id for item in result.missing} == {ids[0]}
    assert {item.id for item in result.found} == set(ids[1:])
    assert all("raw" in r for r in result.found.values())
    assert gmail.counters.retries > 0
    assert gmail.counters.http_429 > 0


def test_401_refreshes_once_and_continues(
    gmail: GmailClient,
    emulator: Emulator,  # noqa: F811 - fixture
) -> None:
    old = gmail.credentials.token
    expire_access_tokens(emulator.state, EMAIL)
    assert gmail.get_profile()["emailAddress"] == EMAIL
    ids = [i for i, _ in gmail.iter_message_ids()][:10]
    expire_access_tokens(emulator.state, EMAIL)
    result = gmail.fetch([FetchItem("message", i) for i in ids])
    assert len(result.found) == 10
    assert gmail.credentials.token != old
    assert gmail.credentials.refresh_count == 2


def test_expired_history_raises_history_expired(
    gmail: GmailClient,
    emulator: Emulator,  # noqa: F811 - fixture
) -> None:
    start = int(gmail.get_profile()["historyId"])
    emulator.state.users[EMAIL].mailbox.add_message(make_raw()[0], label_ids={"INBOX"})
    records, latest = gmail.list_history(start)
    assert latest > start
    assert any("messagesAdded" in r for r in records)
    expire_history(emulator.state, EMAIL)
    with pytest.raises(HistoryExpired):
        gmail.list_history(start)


def test_units_charged_match_the_emulators_count(
    gmail: GmailClient,
    emulator: Emulator,  # noqa: F811 - fixture
) -> None:
    quota_book(emulator.state).reset_stats()
    before = gmail.governor.stats.units_charged
    ids = [i for i, _ in gmail.iter_message_ids()]
    gmail.fetch([FetchItem("message", i) for i in ids[:50]])
    gmail.list_labels()
    charged = gmail.governor.stats.units_charged - before
    assert charged == 5 + 50 * 5 + 1
    assert quota_book(emulator.state).stats()["users"][EMAIL]["units"] == charged
