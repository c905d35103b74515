"""`secretary schedule slots` and `secretary schedule prefs` over the test database."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from secretary.cli import context
from secretary.cli.main import app
from secretary.config import Settings
from tests.scheduling.conftest import Owner, add_calendar, add_event

runner = CliRunner()


@pytest.fixture
def cli(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("SECRETARY_NOW", "2027-02-01T00:00:00Z")
    ctx = context.CliContext(settings=settings)
    monkeypatch.setattr(context, "_ctx", ctx)
    yield
    ctx.close()


def test_prefs_set_show_and_slots(cli: None, sessions: sessionmaker[Session], owner: Owner) -> None:
    uid = str(owner.user_id)
    with sessions.begin() as session:
        primary = add_calendar(
            session, owner, owner.email, time_zone="Asia/Kathmandu", primary=True
        )
        add_event(
            session,
            owner,
            primary,
            datetime(2027, 3, 1, 9, tzinfo=ZoneInfo("Asia/Kathmandu")),
            datetime(2027, 3, 1, 10, tzinfo=ZoneInfo("Asia/Kathmandu")),
        )
    shown = runner.invoke(app, ["schedule", "prefs", "--user-id", uid, "--json"])
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout)["time_zone"] == "Asia/Kathmandu"

    changed = runner.invoke(
        app,
        [
            "schedule", "prefs", "set", "--user-id", uid, "--json",
            "--hours", "mon=09:00-11:00", "--hours", "fri=", "--buffer", "0",
            "--override", "2027-03-02=", "--no-meeting-day", "wed",
        ],
    )  # fmt: skip
    assert changed.exit_code == 0, changed.output
    prefs = json.loads(changed.stdout)
    assert prefs["working_hours"]["mon"] == [["09:00", "11:00"]]
    assert "fri" not in prefs["working_hours"]
    assert prefs["date_overrides"] == {"2027-03-02": []}
    assert prefs["no_meeting_days"] == ["wed"]

    text = runner.invoke(app, ["schedule", "prefs", "show", "--user-id", uid])
    assert text.exit_code == 0
    assert "mon 09:00-11:00" in text.stdout

    found = runner.invoke(
        app,
        [
            "schedule", "slots", "--duration", "30", "--from", "2027-03-01", "--to", "2027-03-05",
            "--user-id", uid, "--json", "--max", "50",
        ],
    )  # fmt: skip
    assert found.exit_code == 0, found.output
    body = json.loads(found.stdout)
    assert body["time_zone"] == "Asia/Kathmandu"
    assert sorted(s["start"] for s in body["slots"]) == [
        "2027-03-01T10:00:00+05:45",
        "2027-03-01T10:30:00+05:45",
        # tuesday: a day off by override; wednesday: no-meeting day; friday: no hours
        "2027-03-04T09:00:00+05:45",
        "2027-03-04T09:30:00+05:45",
        "2027-03-04T10:00:00+05:45",
        "2027-03-04T10:30:00+05:45",
        "2027-03-04T11:00:00+05:45",
        "2027-03-04T11:30:00+05:45",
        "2027-03-04T12:00:00+05:45",
        "2027-03-04T12:30:00+05:45",
        "2027-03-04T13:00:00+05:45",
        "2027-03-04T13:30:00+05:45",
        "2027-03-04T14:00:00+05:45",
        "2027-03-04T14:30:00+05:45",
        "2027-03-04T15:00:00+05:45",
        "2027-03-04T15:30:00+05:45",
        "2027-03-04T16:00:00+05:45",
        "2027-03-04T16:30:00+05:45",
    ]

    table = runner.invoke(
        app,
        ["schedule", "slots", "--duration", "30", "--from", "2027-03-01", "--to", "2027-06-01",
         "--user-id", uid],
    )  # fmt: skip
    assert table.exit_code == 1
