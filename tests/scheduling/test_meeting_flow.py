"""Issue 10 acceptance, end to end against the Workspace emulator over HTTP.

meeting request → draft with real free slots → acceptance reply → booking proposal →
approve → exactly one event with attendees and one confirmation in the thread; the same
with the slot taken meanwhile; a retried booking task never creates a second event.

The mail goes through the real Gmail sync, triage and drafting pipeline (inline runtime),
the local tier's extractors and drafter; Calendar calls go to the emulator through the
official client. The synced Calendar store is written the way workspace sync writes it.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select

from secretary.db.models import (
    Draft,
    MeetingOffer,
    ProposedAction,
)
from secretary.scheduling import calendar_api, slots
from secretary.scheduling import tasks as scheduling_tasks
from tests.scheduling.conftest import NEW_YORK, PARIS, World, body_of
from tests.triage.helpers import gmail_api, raw_message

REQUEST_BODY = (
    "Hi Alex,\n\nCould we meet next week about the Q3 plan? Half an hour on a video call would do, "
    "ideally after 3pm CET.\n\nThanks,\nJamie\n"
)


def _meeting_request(world: World) -> tuple[str, str]:
    mailbox = world.emulator.state.users[world.owner.email].mailbox
    raw, mid = raw_message(
        to=f"Alex Owner <{world.owner.email}>",
        cc="Robin <robin@partner.example>",
        sender="Jamie Doe <jamie@partner.example>",
        subject="Q3 plan",
        body=REQUEST_BODY,
    )
    added = mailbox.add_message(raw, label_ids={"INBOX", "UNREAD"})
    world.sync()
    return added.thread_id, mid


def _send_first_draft(world: World, thread_id: str) -> Draft:
    with world.sessions() as session:
        draft = session.scalars(
            select(Draft).where(Draft.gmail_thread_id == thread_id, Draft.status == "pending")
        ).one()
    shown = world.api.get(f"/api/v1/drafts/{draft.id}")
    assert shown.status_code == 200, shown.text
    r = world.api.post(
        f"/api/v1/drafts/{draft.id}/approve", json={"digest": shown.json()["digest"]}
    )
    assert r.status_code == 200, r.text
    return draft


def _reply(
    world: World, thread_id: str, in_reply_to: str, body: str, *, subject: str = "Re: Q3 plan"
) -> None:
    mailbox = world.emulator.state.users[world.owner.email].mailbox
    raw, _ = raw_message(
        to=f"Alex Owner <{world.owner.email}>",
        sender="Jamie Doe <jamie@partner.example>",
        subject=subject,
        body=body,
        headers={"In-Reply-To": in_reply_to, "References": in_reply_to},
    )
    mailbox.add_message(raw, label_ids={"INBOX", "UNREAD"}, thread_id=thread_id)
    world.sync()


def _offer(world: World, thread_id: str) -> MeetingOffer:
    with world.sessions() as session:
        return session.scalars(
            select(MeetingOffer).where(MeetingOffer.gmail_thread_id == thread_id)
        ).one()


def _pending(world: World) -> list[dict[str, Any]]:
    r = world.api.get("/api/v1/approvals")
    assert r.status_code == 200, r.text
    return list(r.json())


def _draft_offers_free_slots(world: World, thread_id: str) -> MeetingOffer:
    with world.sessions() as session:
        draft = session.scalars(select(Draft).where(Draft.gmail_thread_id == thread_id)).one()
        body = draft.body
    assert "check my calendar" not in body.lower()
    offer = _offer(world, thread_id)
    assert offer.requester_time_zone == "Europe/Paris"
    assert offer.duration_minutes == 30
    offered = [
        (slots.parse_rfc3339(s["start"]), slots.parse_rfc3339(s["end"])) for s in offer.slots
    ]
    assert 2 <= len(offered) <= 3
    # Different days, all next week, 30 minutes, inside the owner's working hours.
    days = {s.astimezone(NEW_YORK).date() for s, _ in offered}
    assert len(days) == len(offered)
    for start, end in offered:
        local = start.astimezone(NEW_YORK)
        assert local.date() >= date(2027, 3, 8)
        assert local.date() <= date(2027, 3, 12)
        assert end - start == timedelta(minutes=30)
        assert local.hour >= 9
        assert end.astimezone(NEW_YORK).hour * 60 + end.minute <= 17 * 60
        # Each one in the draft, in the requester's zone with the owner's beside it.
        paris = start.astimezone(PARIS)
        assert f"{paris:%A} {paris.day} {paris:%B}, {paris:%H:%M}" in body
        assert f"{local:%H:%M}–" in body
        assert "Europe/Paris" in body
        assert "America/New_York" in body
    return offer


def test_meeting_request_to_booked_event_exactly_once(world: World) -> None:
    # Tuesday 10:00-12:00 is busy; the engine must not offer it.
    world.busy(
        datetime(2027, 3, 9, 9, tzinfo=NEW_YORK),
        datetime(2027, 3, 9, 17, tzinfo=NEW_YORK),
        "Offsite",
    )
    thread_id, request_mid = _meeting_request(world)
    offer = _draft_offers_free_slots(world, thread_id)
    assert all(slots.parse_rfc3339(s["start"]).astimezone(NEW_YORK).day != 9 for s in offer.slots)
    _send_first_draft(world, thread_id)

    # "Thursday at 15:30 works for me" in the zone the reader saw first (Paris).
    chosen = slots.parse_rfc3339(offer.slots[1]["start"])
    paris = chosen.astimezone(PARIS)
    _reply(
        world,
        thread_id,
        request_mid,
        f"{paris:%A} at {paris:%H:%M} works for me. See you then!\n\nJamie\n",
    )
    (proposal,) = _pending(world)
    assert proposal["kind"] == "create_event"
    assert proposal["status"] == "pending_approval"
    assert set(proposal) >= {"id", "kind", "status", "summary", "payload"}
    event = proposal["payload"]["event"]
    assert {a["email"] for a in event["attendees"]} == {
        "jamie@partner.example",
        "robin@partner.example",
    }
    assert slots.parse_rfc3339(event["start"]["dateTime"]) == chosen
    # The acceptance got no reply draft of its own: the proposal carries the confirmation.
    with world.sessions() as session:
        drafts = session.scalars(select(Draft).where(Draft.gmail_thread_id == thread_id)).all()
    assert len(drafts) == 1
    # Nothing is booked before approval.
    event_id = calendar_api.event_id_for(world.owner.account_id, thread_id)
    assert world.events_with_id(event_id) == []

    approved = world.api.post(f"/api/v1/approvals/{proposal['id']}/approve")
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "applied"
    (booked,) = world.events_with_id(event_id)
    assert {a["email"] for a in booked["attendees"]} == {
        "jamie@partner.example",
        "robin@partner.example",
    }
    assert slots.parse_rfc3339(booked["start"]["dateTime"]) == chosen
    assert "Google Meet" in proposal["summary"]  # the request asked for a video call
    assert booked["conferenceData"]["createRequest"]["requestId"] == event_id

    def confirmations() -> list[str]:
        api = gmail_api(world.emulator.state, world.emulator.base_url, world.owner.email)
        sent = [m for m in world.thread_messages(thread_id) if "SENT" in m.get("labelIds", [])]
        return [m["id"] for m in sent if "that's booked" in body_of(api, m["id"])]

    assert len(confirmations()) == 1

    # Approving again, and re-running the booking task (a worker retry after a crash that
    # lost the "applied" commit), book nothing new and send nothing new.
    again = world.api.post(f"/api/v1/approvals/{proposal['id']}/approve")
    assert again.json()["status"] == "applied"
    with world.sessions.begin() as session:
        row = session.get(ProposedAction, proposal["id"])
        assert row is not None
        row.status = "applying"
    from secretary.worker import repository as tasks_repo

    with world.sessions.begin() as session:
        tasks_repo.enqueue(
            session,
            scheduling_tasks.APPLY_TASK,
            {"action_id": proposal["id"]},
            dedupe_key=f"retry:{proposal['id']}",
            user_id=world.owner.user_id,
        )
    world.inline.wait_idle()
    with world.sessions() as session:
        row = session.get(ProposedAction, proposal["id"])
        assert row is not None
        assert row.status == "applied"
    assert len(world.events_with_id(event_id)) == 1
    assert len(confirmations()) == 1
    assert _offer(world, thread_id).status == "booked"
    # What the user accepted now weighs in the next scores (learned from bookings).
    from secretary.scheduling import service

    with world.sessions() as session:
        learned = service.learned_scoring(session, world.owner.user_id, NEW_YORK).learned
    local = chosen.astimezone(NEW_YORK)
    assert learned == {(local.weekday(), local.hour): 1}


def test_slot_taken_meanwhile_offers_new_slots_instead(world: World) -> None:
    thread_id, request_mid = _meeting_request(world)
    offer = _draft_offers_free_slots(world, thread_id)
    _send_first_draft(world, thread_id)
    _reply(world, thread_id, request_mid, "The first one is perfect.\n\nJamie\n")
    (proposal,) = _pending(world)
    first = slots.parse_rfc3339(offer.slots[0]["start"])
    assert slots.parse_rfc3339(proposal["payload"]["slot"]["start"]) == first

    # Someone books the owner meanwhile, in Google only (the store has not synced it yet).
    world.busy(
        first - timedelta(minutes=15), first + timedelta(minutes=45), "Board call", store=False
    )
    r = world.api.post(f"/api/v1/approvals/{proposal['id']}/approve")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "superseded"
    assert body["result"]["slot_taken"] is True
    new_starts = [slots.parse_rfc3339(s["start"]) for s in body["result"]["new_slots"]]
    assert new_starts
    assert first not in new_starts
    event_id = calendar_api.event_id_for(world.owner.account_id, thread_id)
    assert world.events_with_id(event_id) == []
    # The new slots wait as a reply draft in the same thread, in the drafts queue.
    with world.sessions() as session:
        fresh = session.get(Draft, body["result"]["draft_id"])
        assert fresh is not None
        assert fresh.status == "pending"
        assert fresh.gmail_thread_id == thread_id
        assert fresh.gmail_draft_id
        assert "has just been taken" in fresh.body
    assert _offer(world, thread_id).status == "offered"

    # The next acceptance books one of the new slots.
    chosen = new_starts[-1].astimezone(PARIS)
    _reply(world, thread_id, request_mid, f"OK, {chosen:%A} at {chosen:%H:%M} then.\n")
    (second,) = _pending(world)
    assert world.api.post(f"/api/v1/approvals/{second['id']}/approve").json()["status"] == "applied"
    (booked,) = world.events_with_id(event_id)
    assert slots.parse_rfc3339(booked["start"]["dateTime"]) == new_starts[-1]


def test_rejected_booking_books_nothing(world: World) -> None:
    thread_id, request_mid = _meeting_request(world)
    _draft_offers_free_slots(world, thread_id)
    _send_first_draft(world, thread_id)
    _reply(world, thread_id, request_mid, "Let's go with the second option.\n")
    (proposal,) = _pending(world)
    r = world.api.post(f"/api/v1/approvals/{proposal['id']}/reject")
    assert r.json()["status"] == "rejected"
    assert _pending(world) == []
    event_id = calendar_api.event_id_for(world.owner.account_id, thread_id)
    assert world.events_with_id(event_id) == []
    assert _offer(world, thread_id).status == "closed"


def test_a_free_proposed_time_is_confirmed_and_booked_on_yes(world: World) -> None:
    mailbox = world.emulator.state.users[world.owner.email].mailbox
    raw, mid = raw_message(
        to=f"Alex Owner <{world.owner.email}>",
        sender="Jamie Doe <jamie@partner.example>",
        subject="Quick sync",
        body="Hi Alex,\n\nCould we meet on Tuesday 9 March at 10am ET?\n\nJamie\n",
    )
    added = mailbox.add_message(raw, label_ids={"INBOX", "UNREAD"})
    world.sync()
    thread_id = added.thread_id
    with world.sessions() as session:
        draft = session.scalars(select(Draft).where(Draft.gmail_thread_id == thread_id)).one()
        assert draft.intent == "confirm"
        assert "Tuesday 9 March, 10:00–10:30" in draft.body
    offer = _offer(world, thread_id)
    wanted = datetime(2027, 3, 9, 10, tzinfo=NEW_YORK)
    assert [slots.parse_rfc3339(s["start"]) for s in offer.slots] == [wanted]
    _send_first_draft(world, thread_id)
    _reply(world, thread_id, mid, "Great, see you then!\n", subject="Re: Quick sync")
    (proposal,) = _pending(world)
    assert world.api.post(f"/api/v1/approvals/{proposal['id']}/approve").json()["status"] == (
        "applied"
    )
    (booked,) = world.events_with_id(calendar_api.event_id_for(world.owner.account_id, thread_id))
    assert slots.parse_rfc3339(booked["start"]["dateTime"]) == wanted
