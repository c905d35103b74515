"""The approval queue against the Gmail emulator (real HTTP, official client) and Postgres:
approve sends exactly once, reject deletes, edit writes through, regenerate supersedes, and
a human edit made in Gmail is detected and never overwritten."""

from __future__ import annotations

import base64
import itertools
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from secretary.db.models import Draft, DraftStatus
from secretary.drafting import service
from secretary.drafting.gmail import DRAFT_KEY_HEADER, GmailDraftMissing, body_hash, parse_raw
from secretary.errors import Conflict
from secretary.llm.schemas import DraftRequest, DraftResult, Usage
from secretary.worker.runner import Runtime
from tests.triage.conftest import Connected, InlineThread
from tests.triage.helpers import drafts_by_thread, gmail_api, raw_message, sync_now
from tests.triage.tiers import KeywordTier


class RephrasingTier(KeywordTier):
    """Each draft request gets a different body, so a regeneration is visible."""

    def __init__(self) -> None:
        super().__init__()
        self.drafted = itertools.count(1)

    def draft_reply(self, request: DraftRequest) -> DraftResult:
        n = next(self.drafted)
        return DraftResult(
            should_draft=True,
            body=f"Thank you, I will look into it (version {n}).\n\nAlex",
            intent="acknowledge",
            confidence=0.7,
            model=f"rephrase:v{n}",
            usage=Usage(provider="rephrase", model="test", input_tokens=10, output_tokens=n),
        )


@dataclass
class Pending:
    draft_id: int
    gmail_draft_id: str
    thread_id: str
    gmail: Any  # the product's GmailPort for the account
    api: Any  # the official client, as the user


@pytest.fixture
def pending(
    connected: Connected,
    sessions: sessionmaker[Session],
    inline: InlineThread,
    pipeline_runtime: Runtime,
) -> Pending:
    """A message that needs a reply went through the pipeline: a pending draft in Gmail."""
    mailbox = connected.emulator.state.users[connected.email].mailbox
    sync_now(sessions, connected.account_id, connected.settings)
    raw, _mid = raw_message(to=connected.email)
    thread_id = mailbox.add_message(raw, label_ids={"INBOX"}).thread_id
    sync_now(sessions, connected.account_id, connected.settings)
    inline.wait_idle()
    with sessions() as s:
        draft = s.scalars(select(Draft).where(Draft.account_id == connected.account_id)).one()
        assert draft.status == DraftStatus.PENDING
        assert draft.gmail_draft_id
        gmail = pipeline_runtime.deps["gmail"](s, connected.account_id)
        return Pending(
            draft.id,
            draft.gmail_draft_id,
            thread_id,
            gmail,
            gmail_api(connected.emulator.state, connected.emulator.base_url, connected.email),
        )


def _draft(sessions: sessionmaker[Session], draft_id: int) -> Draft:
    with sessions() as s:
        draft = s.get(Draft, draft_id)
        assert draft is not None
        return draft


def _gmail_body(api: Any, gmail_draft_id: str) -> str:
    full = api.users().drafts().get(userId="me", id=gmail_draft_id, format="raw").execute()
    return parse_raw(base64.urlsafe_b64decode(full["message"]["raw"]))[1]


def _sent_in_thread(api: Any, thread_id: str) -> list[dict[str, Any]]:
    """SENT messages of the thread, each with its parsed raw message."""
    thread = api.users().threads().get(userId="me", id=thread_id, format="minimal").execute()
    sent = []
    for m in thread.get("messages", []):
        if "SENT" in m.get("labelIds", []):
            full = api.users().messages().get(userId="me", id=m["id"], format="raw").execute()
            parsed = message_from_bytes(
                base64.urlsafe_b64decode(full["raw"]), policy=policy.default
            )
            sent.append({"id": m["id"], "message": parsed})
    return sent


def _edit_in_gmail(api: Any, p: Pending, body: str) -> None:
    """The user rewrites the draft in Gmail (Gmail's editor keeps no custom headers)."""
    msg = EmailMessage()
    msg["To"] = "pat@example.org"
    msg["Subject"] = "Re: my own words"
    msg.set_content(body)
    raw = base64.urlsafe_b64encode(bytes(msg)).decode()
    api.users().drafts().update(
        userId="me",
        id=p.gmail_draft_id,
        body={"message": {"raw": raw, "threadId": p.thread_id}},
    ).execute()


def test_approve_sends_exactly_once_even_when_called_twice(
    pending: Pending, sessions: sessionmaker[Session]
) -> None:
    for _ in range(2):
        with sessions.begin() as s:
            draft = service.approve_draft(s, pending.draft_id, gmail=pending.gmail)
            assert draft.status == DraftStatus.SENT

    sent = _sent_in_thread(pending.api, pending.thread_id)
    assert len(sent) == 1
    local = _draft(sessions, pending.draft_id)
    assert sent[0]["message"][DRAFT_KEY_HEADER] == local.draft_key
    assert sent[0]["message"]["In-Reply-To"] == local.in_reply_to
    assert body_hash(sent[0]["message"].get_content()) == body_hash(local.body)
    assert local.gmail_message_id == sent[0]["id"]
    assert drafts_by_thread(pending.api) == {}


def test_approve_retried_after_a_lost_commit_adopts_the_sent_message(
    pending: Pending, sessions: sessionmaker[Session]
) -> None:
    # Gmail sends, then the process dies before our commit: the transaction rolls back.
    with sessions() as s, s.begin():
        service.approve_draft(s, pending.draft_id, gmail=pending.gmail)
        s.rollback()
    assert _draft(sessions, pending.draft_id).status == DraftStatus.PENDING
    assert len(_sent_in_thread(pending.api, pending.thread_id)) == 1

    with sessions.begin() as s:
        draft = service.approve_draft(s, pending.draft_id, gmail=pending.gmail)
        assert draft.status == DraftStatus.SENT
    sent = _sent_in_thread(pending.api, pending.thread_id)
    assert len(sent) == 1
    assert _draft(sessions, pending.draft_id).gmail_message_id == sent[0]["id"]


def test_approve_a_draft_deleted_in_gmail_refuses(
    pending: Pending, sessions: sessionmaker[Session]
) -> None:
    pending.api.users().drafts().delete(userId="me", id=pending.gmail_draft_id).execute()
    with pytest.raises(GmailDraftMissing) as caught, sessions.begin() as s:
        service.approve_draft(s, pending.draft_id, gmail=pending.gmail)
    assert caught.value.status_code == 409
    assert _sent_in_thread(pending.api, pending.thread_id) == []
    assert _draft(sessions, pending.draft_id).status == DraftStatus.PENDING


def test_reject_deletes_the_gmail_draft_and_blocks_sending(
    pending: Pending, sessions: sessionmaker[Session]
) -> None:
    assert pending.thread_id in drafts_by_thread(pending.api)
    for _ in range(2):  # idempotent
        with sessions.begin() as s:
            assert service.reject_draft(s, pending.draft_id, gmail=pending.gmail).status == (
                DraftStatus.REJECTED
            )
    assert drafts_by_thread(pending.api) == {}
    with pytest.raises(service.DraftStateConflict) as caught, sessions.begin() as s:
        service.approve_draft(s, pending.draft_id, gmail=pending.gmail)
    assert caught.value.status_code == 409
    with pytest.raises(Conflict) as edit_refused, sessions.begin() as s:
        service.edit_draft(s, pending.draft_id, "too late", gmail=pending.gmail)
    assert edit_refused.value.status_code == 409
    assert _sent_in_thread(pending.api, pending.thread_id) == []


def test_edit_updates_the_gmail_draft_and_is_never_regenerated_over(
    pending: Pending, sessions: sessionmaker[Session]
) -> None:
    text = "Sure, the report is attached.\n\nAlex"
    with sessions.begin() as s:
        draft = service.edit_draft(s, pending.draft_id, text, gmail=pending.gmail)
        assert draft.human_edited
    assert body_hash(_gmail_body(pending.api, pending.gmail_draft_id)) == body_hash(text)
    local = _draft(sessions, pending.draft_id)
    assert local.body_hash == body_hash(text)
    assert (
        (drafts_by_thread(pending.api)[pending.thread_id][0]["headers"]).get(
            DRAFT_KEY_HEADER.lower()
        )
        == local.draft_key
    )

    with pytest.raises(service.DraftHumanEdited), sessions.begin() as s:
        service.regenerate_draft(s, pending.draft_id, tier=RephrasingTier(), gmail=pending.gmail)
    assert body_hash(_gmail_body(pending.api, pending.gmail_draft_id)) == body_hash(text)

    # Approving sends the edited text.
    with sessions.begin() as s:
        service.approve_draft(s, pending.draft_id, gmail=pending.gmail)
    (sent,) = _sent_in_thread(pending.api, pending.thread_id)
    assert body_hash(sent["message"].get_content()) == body_hash(text)


def test_regenerate_supersedes_and_replaces_the_gmail_draft(
    pending: Pending, sessions: sessionmaker[Session]
) -> None:
    tier = RephrasingTier()
    with sessions.begin() as s:
        new = service.regenerate_draft(s, pending.draft_id, tier=tier, gmail=pending.gmail)
        new_id, new_body = new.id, new.body
    assert new_id != pending.draft_id
    old = _draft(sessions, pending.draft_id)
    fresh = _draft(sessions, new_id)
    assert old.status == DraftStatus.SUPERSEDED
    assert fresh.status == DraftStatus.PENDING
    assert fresh.model == "rephrase:v1"
    assert fresh.message_id == old.message_id
    assert fresh.gmail_draft_id == pending.gmail_draft_id
    assert fresh.body_hash == body_hash(new_body)
    # Still exactly one Gmail draft in the thread, now carrying the new text and key.
    (only,) = drafts_by_thread(pending.api)[pending.thread_id]
    assert only["id"] == pending.gmail_draft_id
    assert only["headers"][DRAFT_KEY_HEADER.lower()] == fresh.draft_key
    assert body_hash(_gmail_body(pending.api, pending.gmail_draft_id)) == body_hash(new_body)
    with sessions() as s:
        assert [d.id for d in service.list_drafts(s, user_id=fresh.user_id)] == [new_id]

    # A second regeneration supersedes the new one in turn; the old one stays superseded.
    with sessions.begin() as s:
        newest = service.regenerate_draft(s, new_id, tier=tier, gmail=pending.gmail)
        assert newest.model == "rephrase:v2"
    assert _draft(sessions, new_id).status == DraftStatus.SUPERSEDED
    # A superseded draft can be neither approved, regenerated nor rejected.
    for action, kwargs in (
        (service.approve_draft, {}),
        (service.reject_draft, {}),
        (service.regenerate_draft, {"tier": tier}),
    ):
        with pytest.raises(service.DraftStateConflict) as caught, sessions.begin() as s:
            action(s, pending.draft_id, gmail=pending.gmail, **kwargs)
        assert caught.value.status_code == 409


def test_an_edit_made_in_gmail_is_detected_and_never_overwritten(
    pending: Pending, sessions: sessionmaker[Session]
) -> None:
    mine = "I wrote this myself in Gmail.\n\nAlex"
    _edit_in_gmail(pending.api, pending, mine)
    tier = RephrasingTier()

    with pytest.raises(service.DraftHumanEdited) as caught, sessions.begin() as s:
        service.regenerate_draft(s, pending.draft_id, tier=tier, gmail=pending.gmail)
    assert caught.value.status_code == 409
    assert "edited in Gmail" in caught.value.message
    with pytest.raises(Conflict) as edit_refused, sessions.begin() as s:
        service.edit_draft(s, pending.draft_id, "Our API's text", gmail=pending.gmail)
    assert edit_refused.value.code == "draft_edited_in_gmail"
    assert body_hash(_gmail_body(pending.api, pending.gmail_draft_id)) == body_hash(mine)
    assert _draft(sessions, pending.draft_id).status == DraftStatus.PENDING

    with sessions.begin() as s:
        assert service.detect_human_edit(s, pending.draft_id, gmail=pending.gmail)
    local = _draft(sessions, pending.draft_id)
    assert local.human_edited
    assert local.body.strip() == mine

    # Approving sends the user's words, as Gmail holds them.
    with sessions.begin() as s:
        service.approve_draft(s, pending.draft_id, gmail=pending.gmail)
    (sent,) = _sent_in_thread(pending.api, pending.thread_id)
    assert body_hash(sent["message"].get_content()) == body_hash(mine)
