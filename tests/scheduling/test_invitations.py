"""Invitations: accept / decline / tentative suggestions with conflicts named, applied
through the Calendar API only after approval (emulator over HTTP)."""

from __future__ import annotations

import json
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from secretary.cli import context
from secretary.cli.main import app
from secretary.db.models import ProposedAction
from secretary.kit.clock import utcnow
from tests.scheduling.conftest import NEW_YORK, World

runner = CliRunner()

ICS = """BEGIN:VCALENDAR
METHOD:REQUEST
PRODID:-//Example//EN
VERSION:2.0
BEGIN:VEVENT
UID:{uid}
DTSTART:20270310T150000Z
DTEND:20270310T160000Z
SUMMARY:Budget review
ORGANIZER:mailto:boss@acme.example
END:VEVENT
END:VCALENDAR
"""


def _invite(world: World, summary: str, start: datetime, end: datetime) -> str:
    """An invitation from a colleague: on the owner's calendar with needsAction (as
    Google puts it there), synced into the store."""
    body = {
        "summary": summary,
        "start": {"dateTime": start.isoformat(), "timeZone": "America/New_York"},
        "end": {"dateTime": end.isoformat(), "timeZone": "America/New_York"},
        "organizer": {"email": "boss@acme.example"},
        "attendees": [
            {"email": "boss@acme.example", "organizer": True, "responseStatus": "accepted"},
            {"email": world.owner.email, "responseStatus": "needsAction"},
        ],
    }
    made = world.calendar_store.insert_event(world.owner.email, body)
    world.sync_calendar()
    return str(made["id"])


def _owner_answer(world: World, event_id: str) -> str:
    event = world.calendar_store.get_event(world.owner.email, event_id)
    (me,) = [a for a in event["attendees"] if a["email"] == world.owner.email]
    return str(me["responseStatus"])


def _mail_with_invite(world: World) -> None:
    msg = EmailMessage()
    msg["From"] = "Boss <boss@acme.example>"
    msg["To"] = world.owner.email
    msg["Subject"] = "Invitation: Budget review"
    msg["Date"] = format_datetime(utcnow())
    msg["Message-ID"] = make_msgid(domain="acme.example")
    msg.set_content("You have been invited to Budget review.")
    msg.add_attachment(
        ICS.format(uid="budget-1@acme.example").encode(),
        maintype="text",
        subtype="calendar",
        filename="invite.ics",
        params={"method": "REQUEST"},
    )
    mailbox = world.emulator.state.users[world.owner.email].mailbox
    mailbox.add_message(bytes(msg), label_ids={"INBOX", "UNREAD"})


def _by_event(world: World) -> dict[str, dict[str, Any]]:
    r = world.api.get("/api/v1/approvals", params={"kind": "respond_to_invite"})
    assert r.status_code == 200, r.text
    return {p["payload"]["event_id"]: p for p in r.json()}


def test_invitations_get_suggestions_applied_only_after_approval(world: World) -> None:
    world.busy(
        datetime(2027, 3, 10, 10, tzinfo=NEW_YORK),
        datetime(2027, 3, 10, 11, 30, tzinfo=NEW_YORK),
        "Customer call",
    )
    clash = _invite(
        world,
        "Budget review",
        datetime(2027, 3, 10, 10, 30, tzinfo=NEW_YORK),
        datetime(2027, 3, 10, 11, 30, tzinfo=NEW_YORK),
    )
    free = _invite(
        world,
        "Team lunch",
        datetime(2027, 3, 11, 12, tzinfo=NEW_YORK),
        datetime(2027, 3, 11, 13, tzinfo=NEW_YORK),
    )
    late = _invite(
        world,
        "Late drinks",
        datetime(2027, 3, 11, 19, tzinfo=NEW_YORK),
        datetime(2027, 3, 11, 21, tzinfo=NEW_YORK),
    )

    # The invitation mail triggers the scan (the event itself is on the calendar).
    _mail_with_invite(world)
    world.sync()
    proposals = _by_event(world)
    assert set(proposals) == {clash, free, late}
    decline = proposals[clash]
    assert decline["payload"]["response"] == "declined"
    assert [c["summary"] for c in decline["payload"]["conflicts"]] == ["Customer call"]
    assert "Customer call" in decline["summary"]
    assert proposals[free]["payload"]["response"] == "accepted"
    assert proposals[free]["payload"]["conflicts"] == []
    assert proposals[late]["payload"]["response"] == "tentative"  # outside working hours

    # Nothing was answered yet.
    assert {_owner_answer(world, e) for e in (clash, free, late)} == {"needsAction"}

    r = world.api.post(f"/api/v1/approvals/{decline['id']}/approve")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "applied"
    assert _owner_answer(world, clash) == "declined"
    assert _owner_answer(world, free) == "needsAction"

    r = world.api.post(f"/api/v1/approvals/{proposals[free]['id']}/approve")
    assert r.json()["result"]["response"] == "accepted"
    assert _owner_answer(world, free) == "accepted"

    # The user may answer otherwise while approving; rejecting answers nothing.
    r = world.api.post(
        f"/api/v1/approvals/{proposals[late]['id']}/approve", json={"response": "declined"}
    )
    assert r.json()["result"]["response"] == "declined"
    assert _owner_answer(world, late) == "declined"

    # A second scan proposes nothing new (one proposal per invitation version).
    from secretary.scheduling import invitations

    with world.sessions.begin() as session:
        invitations.scan_invitations(session, world.owner.user_id)
    with world.sessions() as session:
        rows = session.scalars(
            select(ProposedAction).where(
                ProposedAction.user_id == world.owner.user_id,
                ProposedAction.kind == "respond_to_invite",
            )
        ).all()
    assert len(rows) == 3


def test_rejected_invitation_suggestion_answers_nothing(world: World) -> None:
    event_id = _invite(
        world,
        "Planning",
        datetime(2027, 3, 12, 14, tzinfo=NEW_YORK),
        datetime(2027, 3, 12, 15, tzinfo=NEW_YORK),
    )
    from secretary.scheduling import invitations

    with world.sessions.begin() as session:
        (proposal,) = invitations.scan_invitations(session, world.owner.user_id)
        proposal_id = proposal.id
    r = world.api.post(f"/api/v1/approvals/{proposal_id}/reject")
    assert r.json()["status"] == "rejected"
    assert _owner_answer(world, event_id) == "needsAction"
    again = world.api.post(f"/api/v1/approvals/{proposal_id}/approve")
    assert again.status_code == 409


def test_cli_lists_and_answers_invitations(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    event_id = _invite(
        world,
        "Offsite prep",
        datetime(2027, 3, 12, 10, tzinfo=NEW_YORK),
        datetime(2027, 3, 12, 11, tzinfo=NEW_YORK),
    )
    from secretary.scheduling import invitations

    with world.sessions.begin() as session:
        invitations.scan_invitations(session, world.owner.user_id)
    ctx = context.CliContext(settings=world.settings)
    monkeypatch.setattr(context, "_ctx", ctx)
    uid = str(world.owner.user_id)
    try:
        listed = runner.invoke(app, ["approvals", "list", "--user-id", uid, "--json"])
        assert listed.exit_code == 0, listed.output
        (item,) = json.loads(listed.stdout)
        assert item["kind"] == "respond_to_invite"
        assert item["payload"]["response"] == "accepted"
        done = runner.invoke(
            app,
            ["approvals", "approve", str(item["id"]), "--user-id", uid, "--json",
             "--response", "tentative"],
        )  # fmt: skip
        assert done.exit_code == 0, done.output
        assert json.loads(done.stdout)["status"] == "applied"
        assert _owner_answer(world, event_id) == "tentative"
    finally:
        ctx.close()


def test_periodic_scan_finds_invitations_that_came_without_mail(world: World) -> None:
    from secretary.bootstrap import compose
    from secretary.scheduling.tasks import scan_all_invitations

    event_id = _invite(
        world,
        "Quarterly kickoff",
        datetime(2027, 3, 15, 11, tzinfo=NEW_YORK),
        datetime(2027, 3, 15, 12, tzinfo=NEW_YORK),
    )
    assert _by_event(world) == {}
    root = compose(world.settings, sessions=world.sessions)
    totals = scan_all_invitations(root.runtime)
    assert totals["proposals"] >= 1
    proposal = _by_event(world)[event_id]
    assert proposal["payload"]["response"] == "accepted"
    assert _owner_answer(world, event_id) == "needsAction"
