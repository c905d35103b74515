"""``/api/v1/preferences/scheduling`` and ``/api/v1/availability`` over the real app and DB."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from tests.scheduling.conftest import Owner, add_calendar, add_event

BERLIN = ZoneInfo("Europe/Berlin")
PREF_KEYS = {
    "time_zone",
    "working_hours",
    "buffer_minutes",
    "minimum_notice_minutes",
    "no_meeting_days",
    "date_overrides",
    "max_meetings_per_day",
    "slot_step_minutes",
    "calendars",
}


@pytest.fixture(autouse=True)
def _now(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRETARY_NOW", "2027-02-01T00:00:00Z")


@pytest.fixture
def calendars(sessions: sessionmaker[Session], owner: Owner) -> None:
    with sessions.begin() as session:
        primary = add_calendar(session, owner, owner.email, time_zone="Europe/Berlin", primary=True)
        add_calendar(session, owner, "team@group.calendar.google.com", access_role="owner")
        add_calendar(
            session, owner, "en.german#holiday@group.v.calendar.google.com", access_role="reader"
        )
        add_event(
            session,
            owner,
            primary,
            datetime(2027, 3, 1, 10, tzinfo=BERLIN),
            datetime(2027, 3, 1, 11, tzinfo=BERLIN),
        )


def test_defaults_follow_the_issue(api: TestClient, calendars: None, owner: Owner) -> None:
    r = api.get("/api/v1/preferences/scheduling")
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == PREF_KEYS
    assert body["time_zone"] == "Europe/Berlin"  # the primary Calendar's zone
    assert body["working_hours"] == {
        d: [["09:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")
    }
    assert body["buffer_minutes"] == 10
    assert body["minimum_notice_minutes"] == 240
    assert body["slot_step_minutes"] == 30
    assert body["max_meetings_per_day"] is None
    assert body["no_meeting_days"] == []
    assert body["date_overrides"] == {}
    # calendars the user owns count; the subscribed holiday calendar does not
    assert body["calendars"] == [owner.email, "team@group.calendar.google.com"]


def test_put_stores_per_user_and_validates(api: TestClient, calendars: None) -> None:
    wanted = {
        "time_zone": "Asia/Kolkata",
        "working_hours": {"mon": [["13:00", "17:00"], ["09:00", "12:00"]], "sat": []},
        "buffer_minutes": 5,
        "minimum_notice_minutes": 60,
        "no_meeting_days": ["fri"],
        "date_overrides": {"2027-03-06": [["10:00", "12:00"]], "2027-03-08": []},
        "max_meetings_per_day": 4,
        "slot_step_minutes": 15,
        "calendars": ["a@example.com"],
    }
    r = api.put("/api/v1/preferences/scheduling", json=wanted)
    assert r.status_code == 200, r.text
    got = api.get("/api/v1/preferences/scheduling").json()
    assert got["working_hours"] == {"mon": [["09:00", "12:00"], ["13:00", "17:00"]], "sat": []}
    assert got["date_overrides"] == wanted["date_overrides"]
    assert {k: got[k] for k in ("time_zone", "buffer_minutes", "max_meetings_per_day")} == {
        "time_zone": "Asia/Kolkata",
        "buffer_minutes": 5,
        "max_meetings_per_day": 4,
    }
    # a key left out goes back to its default
    r = api.put("/api/v1/preferences/scheduling", json={"buffer_minutes": 0})
    assert r.json()["time_zone"] == "Europe/Berlin"
    assert r.json()["buffer_minutes"] == 0
    for bad in (
        {"time_zone": "Mars/Olympus"},
        {"working_hours": {"monday": [["09:00", "17:00"]]}},
        {"working_hours": {"mon": [["17:00", "09:00"]]}},
        {"date_overrides": {"next friday": []}},
        {"no_meeting_days": ["funday"]},
        {"surprise": 1},
    ):
        r = api.put("/api/v1/preferences/scheduling", json=bad)
        assert r.status_code == 422, (bad, r.text)
        assert r.json()["error"]["message"]


def test_availability_shape_zone_and_busy_time(api: TestClient, calendars: None) -> None:
    r = api.post(
        "/api/v1/availability",
        json={"duration_minutes": 30, "start": "2027-03-01", "end": "2027-03-01", "max_slots": 500},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"time_zone", "slots"}
    assert body["time_zone"] == "Europe/Berlin"
    starts = sorted(s["start"] for s in body["slots"])
    assert starts[0] == "2027-03-01T09:00:00+01:00"
    assert "2027-03-01T10:00:00+01:00" not in starts  # the stored meeting
    assert "2027-03-01T11:00:00+01:00" not in starts  # its 10-minute buffer
    assert all(set(s) == {"start", "end", "score"} for s in body["slots"])
    scores = [(-s["score"], s["start"]) for s in body["slots"]]
    assert scores == sorted(scores)

    r = api.post(
        "/api/v1/availability",
        json={
            "duration_minutes": 60,
            "start": "2027-03-01T00:00:00Z",
            "end": "2027-03-02T00:00:00Z",
            "time_zone": "America/New_York",
        },
    )
    body = r.json()
    assert body["time_zone"] == "America/New_York"
    assert len(body["slots"]) == 10  # max_slots defaults to 10
    assert all(s["start"].endswith("-05:00") for s in body["slots"])


def test_availability_limits_are_clear_422s(api: TestClient, calendars: None) -> None:
    ok = api.post(
        "/api/v1/availability",
        json={"duration_minutes": 30, "start": "2027-03-01", "end": "2027-05-01"},
    )
    assert ok.status_code == 200, ok.text  # 62 days
    too_long = api.post(
        "/api/v1/availability",
        json={"duration_minutes": 30, "start": "2027-03-01", "end": "2027-05-02"},
    )
    assert too_long.status_code == 422
    assert too_long.json()["error"]["code"] == "window_too_large"
    assert "62" in too_long.json()["error"]["message"]
    too_many = api.post(
        "/api/v1/availability",
        json={"duration_minutes": 30, "start": "2027-03-01", "end": "2027-03-02", "max_slots": 501},
    )
    assert too_many.status_code == 422
    backwards = api.post(
        "/api/v1/availability",
        json={"duration_minutes": 30, "start": "2027-03-02", "end": "2027-03-01"},
    )
    assert backwards.status_code == 422


def test_scheduling_routes_need_a_signed_in_user(api: TestClient) -> None:
    del api.headers["Authorization"]
    assert api.get("/api/v1/preferences/scheduling").status_code == 401
    r = api.post(
        "/api/v1/availability",
        json={"duration_minutes": 30, "start": "2027-03-01", "end": "2027-03-02"},
    )
    assert r.status_code == 401


def test_all_day_event_in_store_blocks_the_local_day(
    api: TestClient, sessions: sessionmaker[Session], owner: Owner
) -> None:
    with sessions.begin() as session:
        primary = add_calendar(session, owner, owner.email, time_zone="Asia/Kolkata", primary=True)
        add_event(session, owner, primary, date(2027, 3, 2), date(2027, 3, 3))
        weekly = add_event(
            session,
            owner,
            primary,
            datetime(2027, 3, 1, 9, tzinfo=ZoneInfo("Asia/Kolkata")),
            datetime(2027, 3, 1, 12, tzinfo=ZoneInfo("Asia/Kolkata")),
            recurrence=["RRULE:FREQ=WEEKLY"],
            start_time_zone="Asia/Kolkata",
        )
        assert weekly.id
    r = api.post(
        "/api/v1/availability",
        json={"duration_minutes": 60, "start": "2027-03-01", "end": "2027-03-09", "max_slots": 500},
    )
    days = {s["start"][:10] for s in r.json()["slots"]}
    assert "2027-03-02" not in days
    mondays = sorted(s["start"] for s in r.json()["slots"] if s["start"][:10] == "2027-03-08")
    assert mondays[0] == "2027-03-08T12:30:00+05:30"  # weekly 09-12 plus the buffer
    assert datetime.fromisoformat(mondays[0]).astimezone(UTC).hour == 7


def test_moved_and_cancelled_instances_keyed_as_the_sync_keys_them(
    api: TestClient, sessions: sessionmaker[Session], owner: Owner
) -> None:
    ny = ZoneInfo("America/New_York")
    with sessions.begin() as session:
        primary = add_calendar(
            session, owner, owner.email, time_zone="America/New_York", primary=True
        )
        add_event(
            session,
            owner,
            primary,
            datetime(2027, 3, 1, 10, tzinfo=ny),
            datetime(2027, 3, 1, 11, tzinfo=ny),
            google_id="daily",
            recurrence=["RRULE:FREQ=DAILY;COUNT=5"],
            start_time_zone="America/New_York",
        )
        add_event(  # Tuesday's 10:00 moved to 14:00
            session,
            owner,
            primary,
            datetime(2027, 3, 2, 14, tzinfo=ny),
            datetime(2027, 3, 2, 15, tzinfo=ny),
            google_id="daily_20270302T150000Z",
            recurring_event_id="daily",
            original_start="20270302T150000Z",
        )
        add_event(  # Wednesday's cancelled
            session,
            owner,
            primary,
            datetime(2027, 3, 3, 10, tzinfo=ny),
            datetime(2027, 3, 3, 11, tzinfo=ny),
            google_id="daily_20270303T150000Z",
            recurring_event_id="daily",
            original_start="20270303T150000Z",
            status="cancelled",
        )
    r = api.post(
        "/api/v1/availability",
        json={"duration_minutes": 60, "start": "2027-03-01", "end": "2027-03-03", "max_slots": 500},
    )
    starts = {s["start"] for s in r.json()["slots"]}
    assert "2027-03-01T10:30:00-05:00" not in starts  # the series (with its buffer)
    assert "2027-03-02T10:00:00-05:00" in starts  # moved away ...
    assert "2027-03-02T14:00:00-05:00" not in starts  # ... to here
    assert "2027-03-03T10:00:00-05:00" in starts  # cancelled


def test_another_users_proposed_action_is_not_found(
    api: TestClient, sessions: sessionmaker[Session], owner: Owner
) -> None:
    from secretary.approvals import service as approvals
    from tests.scheduling.conftest import create_owner, delete_owner

    other = create_owner(sessions)
    try:
        with sessions.begin() as session:
            theirs = approvals.propose(
                session,
                user_id=other.user_id,
                kind="create_event",
                summary="Book a secret meeting",
                payload={"event": {}},
                dedupe_key="secret",
            ).id
            mine = approvals.propose(
                session,
                user_id=owner.user_id,
                kind="respond_to_invite",
                summary="Accept “Mine”",
                payload={},
                dedupe_key="mine",
            ).id
        listed = api.get("/api/v1/approvals").json()
        assert [a["id"] for a in listed] == [mine]
        everything = api.get("/api/v1/approvals", params={"kind": "create_event"}).json()
        assert everything == []  # Bob's booking is not listed to Alice under any filter
        for method, path in (
            ("GET", f"/api/v1/approvals/{theirs}"),
            ("POST", f"/api/v1/approvals/{theirs}/approve"),
            ("POST", f"/api/v1/approvals/{theirs}/reject"),
        ):
            r = api.request(method, path)
            assert r.status_code == 404, (path, r.text)
        # Proposing again with the same key returns the first proposal.
        with sessions.begin() as session:
            again = approvals.propose(
                session,
                user_id=owner.user_id,
                kind="respond_to_invite",
                summary="Accept “Mine” (again)",
                payload={},
                dedupe_key="mine",
            )
            assert again.id == mine
            assert again.summary == "Accept “Mine”"
    finally:
        delete_owner(sessions, other)
