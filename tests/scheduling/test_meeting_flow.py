"""Issue 10 acceptance, end to end against the Workspace emulator over HTTP.

meeting request → draft with real free slots → acceptance reply → booking proposal →
approve → exactly one event with attendees and one confirmation in the thread; the same
with the slot taken meanwhile; a retried booking task never creates a second event.

The mail goes through the real Gmail sync, triage and drafting pipeline (inline runtime),
the local tier's extractors and drafter; Calendar calls go to the emulator through the
official client. The synced Calendar store is written the way workspace sync writes it.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from email import message_from_bytes, policy
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker
from workspace_emulator import oauth

from secretary.bootstrap import compose
from secretary.config import Settings
from secretary.db.models import (
    Draft,
    GoogleAccount,
    MeetingOffer,
    ProposedAction,
    User,
)
from secretary.identity import service as identity
from secretary.kit.clock import utcnow
from secretary.kit.crypto import TokenCipher
from secretary.llm.local import drafter
from secretary.llm.local.extract import extract
from secretary.llm.schemas import (
    Category,
    Classification,
    DraftRequest,
    DraftResult,
    EmailInput,
    Extraction,
    Priority,
)
from secretary.scheduling import calendar_api, slots
from secretary.scheduling import tasks as scheduling_tasks
from secretary.web.app import create_app
from secretary.web.deps import AppState
from secretary.worker.runner import Runtime
from tests.scheduling.conftest import Owner, add_calendar, add_event
from tests.sync.conftest import Emulator
from tests.triage.conftest import InlineThread
from tests.triage.helpers import gmail_api, raw_message, sync_now

NOW = "2027-03-01T14:00:00Z"  # Monday 09:00 in New York
NEW_YORK = ZoneInfo("America/New_York")
PARIS = ZoneInfo("Europe/Paris")
SCOPES = [
    "https://www.googleapis.com/auth/gmail.modify",
    "https://www.googleapis.com/auth/gmail.compose",
    "https://www.googleapis.com/auth/calendar",
    "openid",
    "email",
]


class LocalRulesTier:
    """The local tier's extractors and drafter with a keyword classifier (no ONNX model)."""

    name = "local-rules"

    def classify(self, email: EmailInput) -> Classification:
        text = f"{email.subject}\n{email.body_text}".lower()
        return Classification(
            category=Category.NEEDS_REPLY if "?" in text or "meet" in text else Category.FYI,
            category_confidence=0.9,
            meeting_request="meet" in text,
            priority=Priority.NORMAL,
            reason="keywords",
            model="local-rules:test",
        )

    def extract(self, email: EmailInput) -> Extraction:
        return extract(email)

    def draft_reply(self, request: DraftRequest) -> DraftResult:
        return drafter.draft_reply(
            request, extract(request.email), self.classify(request.email), model="local:test"
        )


@pytest.fixture(autouse=True)
def _pinned_now(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRETARY_NOW", NOW)


@dataclass
class World:
    owner: Owner
    emulator: Emulator
    settings: Settings
    sessions: sessionmaker[Session]
    api: TestClient
    inline: InlineThread
    calendar_google_id: str

    def sync(self) -> None:
        sync_now(self.sessions, self.owner.account_id, self.settings)
        self.inline.wait_idle()

    @property
    def calendar_store(self) -> Any:
        return self.emulator.state.users[self.owner.email].calendar

    def busy(self, start: datetime, end: datetime, summary: str, *, store: bool = True) -> None:
        """An event in Google and (as sync would write it) in the store."""
        body = {
            "summary": summary,
            "start": {"dateTime": start.isoformat(), "timeZone": "America/New_York"},
            "end": {"dateTime": end.isoformat(), "timeZone": "America/New_York"},
        }
        made = self.calendar_store.insert_event(self.owner.email, body)
        if store:
            with self.sessions.begin() as session:
                from secretary.db.models import Calendar

                calendar = session.scalars(
                    select(Calendar).where(
                        Calendar.user_id == self.owner.user_id,
                        Calendar.google_id == self.calendar_google_id,
                    )
                ).one()
                add_event(
                    session, self.owner, calendar, start, end, google_id=made["id"], summary=summary
                )

    def events_with_id(self, event_id: str) -> list[dict[str, Any]]:
        listed = self.calendar_store.list_events(self.owner.email, {"singleEvents": "true"})
        return [e for e in listed["items"] if e["id"] == event_id]

    def thread_messages(self, thread_id: str) -> list[dict[str, Any]]:
        api = gmail_api(self.emulator.state, self.emulator.base_url, self.owner.email)
        thread = api.users().threads().get(userId="me", id=thread_id, format="full").execute()
        return list(thread["messages"])


def _body_of(api: Any, message_id: str) -> str:
    raw = api.users().messages().get(userId="me", id=message_id, format="raw").execute()["raw"]
    parsed = message_from_bytes(base64.urlsafe_b64decode(raw), policy=policy.default)
    part = parsed.get_body(preferencelist=("plain",))
    return str(part.get_content()) if part is not None else ""


def _connect(
    sessions: sessionmaker[Session], emulator: Emulator, settings: Settings, email: str
) -> Owner:
    emulator.state.add_user(email, name="Alex Owner")
    oauth.register_client(
        emulator.state, settings.google.client_id, settings.google.client_secret.get_secret_value()
    )
    tokens = oauth.issue_tokens(emulator.state, email, SCOPES, client_id=settings.google.client_id)
    cipher = TokenCipher([k.get_secret_value() for k in settings.encryption_keys])
    with sessions.begin() as session:
        user = User(email=email, display_name="Alex Owner")
        session.add(user)
        session.flush()
        account = GoogleAccount(
            user_id=user.id,
            google_sub=emulator.state.users[email].sub,
            email=email,
            scopes=SCOPES,
            access_token_enc=cipher.encrypt(tokens["access_token"]),
            refresh_token_enc=cipher.encrypt(tokens["refresh_token"]),
            token_expires_at=utcnow() + timedelta(seconds=int(tokens["expires_in"])),
            status="active",
        )
        session.add(account)
        session.flush()
        secret, _ = identity.create_token(
            session, user.id, name="tests", scopes=["read", "draft", "send"]
        )
        return Owner(user.id, account.id, email, secret)


@pytest.fixture
def world(
    request: pytest.FixtureRequest, sessions: sessionmaker[Session], engine: Any
) -> Iterator[World]:
    emulator: Emulator = request.getfixturevalue("emulator")
    settings: Settings = request.getfixturevalue("pipeline_settings")
    email = f"alex.{uuid.uuid4().hex[:8]}@acme.example"
    owner = _connect(sessions, emulator, settings, email)
    with sessions.begin() as session:
        add_calendar(session, owner, email, time_zone="America/New_York", primary=True)
    tier = LocalRulesTier()
    runtime: Runtime = compose(settings, sessions=sessions, tier=tier).runtime
    inline = InlineThread(runtime)
    state = AppState(root=compose(settings, engine=engine, sessions=sessions, tier=tier))
    try:
        with TestClient(create_app(settings, state=state), raise_server_exceptions=False) as api:
            api.headers["Authorization"] = f"Bearer {owner.token}"
            made = World(owner, emulator, settings, sessions, api, inline, email)
            sync_now(sessions, owner.account_id, settings)  # empty mailbox: the baseline
            yield made
    finally:
        inline.stop()
        with sessions.begin() as session:
            session.execute(delete(User).where(User.id == owner.user_id))


REQUEST_BODY = (
    "Hi Alex,\n\nCould we meet next week about the Q3 plan? Half an hour would do, "
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


def _reply(world: World, thread_id: str, in_reply_to: str, body: str) -> None:
    mailbox = world.emulator.state.users[world.owner.email].mailbox
    raw, _ = raw_message(
        to=f"Alex Owner <{world.owner.email}>",
        sender="Jamie Doe <jamie@partner.example>",
        subject="Re: Q3 plan",
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

    def confirmations() -> list[str]:
        api = gmail_api(world.emulator.state, world.emulator.base_url, world.owner.email)
        sent = [m for m in world.thread_messages(thread_id) if "SENT" in m.get("labelIds", [])]
        return [m["id"] for m in sent if "that's booked" in _body_of(api, m["id"])]

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
