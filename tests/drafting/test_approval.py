"""The approval queue against the Gmail emulator (real HTTP, official client) and Postgres:
approve sends exactly once, reject deletes, edit writes through, regenerate supersedes, and
a human edit made in Gmail is detected and never overwritten."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy.orm import Session, sessionmaker

from secretary.db.models import Draft, DraftStatus
from secretary.drafting import service
from secretary.drafting.gmail import DRAFT_KEY_HEADER, GmailDraftMissing, body_hash
from secretary.errors import Conflict
from tests.drafting.queue import (  # noqa: F401 (pending_fixture registers the `pending` fixture)
    Pending,
    RephrasingTier,
    draft_row,
    edit_in_gmail,
    gmail_body,
    pending_fixture,
    sent_in_thread,
)
from tests.triage.helpers import drafts_by_thread


def approve(s: Session, p: Pending, body: str | None = None) -> Draft:
    """Approve what the queue shows right now (its digest), as a user would."""
    digest = service.draft_digest(service.get_draft(s, p.draft_id))
    return service.approve_draft(s, p.draft_id, gmail=p.gmail, digest=digest, body=body)


def test_approve_sends_exactly_once_even_when_called_twice(
    pending: Pending, sessions: sessionmaker[Session]
) -> None:
    with sessions.begin() as s:
        digest = service.draft_digest(service.get_draft(s, pending.draft_id))
        assert approve(s, pending).status == DraftStatus.SENT
    # A second approve from a stale form: not "sent" again, but when it was.
    with pytest.raises(service.DraftAlreadySent) as again, sessions.begin() as s:
        service.approve_draft(s, pending.draft_id, gmail=pending.gmail, digest=digest)
    assert again.value.status_code == 409
    assert again.value.message.startswith("Already sent at ")
    assert again.value.details is not None
    assert (
        again.value.details["sent_at"] == draft_row(sessions, pending.draft_id).sent_at.isoformat()
    )  # type: ignore[union-attr]

    sent = sent_in_thread(pending.api, pending.thread_id)
    assert len(sent) == 1
    local = draft_row(sessions, pending.draft_id)
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
        approve(s, pending)
        s.rollback()
    assert draft_row(sessions, pending.draft_id).status == DraftStatus.PENDING
    assert len(sent_in_thread(pending.api, pending.thread_id)) == 1

    with sessions.begin() as s:
        draft = approve(s, pending)
        assert draft.status == DraftStatus.SENT
    sent = sent_in_thread(pending.api, pending.thread_id)
    assert len(sent) == 1
    assert draft_row(sessions, pending.draft_id).gmail_message_id == sent[0]["id"]


def test_approve_a_draft_deleted_in_gmail_refuses(
    pending: Pending, sessions: sessionmaker[Session]
) -> None:
    pending.api.users().drafts().delete(userId="me", id=pending.gmail_draft_id).execute()
    with pytest.raises(GmailDraftMissing) as caught, sessions.begin() as s:
        approve(s, pending)
    assert caught.value.status_code == 409
    assert sent_in_thread(pending.api, pending.thread_id) == []
    assert draft_row(sessions, pending.draft_id).status == DraftStatus.PENDING


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
        approve(s, pending)
    assert caught.value.status_code == 409
    with pytest.raises(Conflict) as edit_refused, sessions.begin() as s:
        service.edit_draft(s, pending.draft_id, "too late", gmail=pending.gmail)
    assert edit_refused.value.status_code == 409
    assert sent_in_thread(pending.api, pending.thread_id) == []


def test_edit_updates_the_gmail_draft_and_is_never_regenerated_over(
    pending: Pending, sessions: sessionmaker[Session]
) -> None:
    text = "Sure, the report is attached.\n\nAlex"
    with sessions.begin() as s:
        draft = service.edit_draft(s, pending.draft_id, text, gmail=pending.gmail)
        assert draft.human_edited
    assert body_hash(gmail_body(pending.api, pending.gmail_draft_id)) == body_hash(text)
    local = draft_row(sessions, pending.draft_id)
    assert local.body_hash == body_hash(text)
    assert (
        (drafts_by_thread(pending.api)[pending.thread_id][0]["headers"]).get(
            DRAFT_KEY_HEADER.lower()
        )
        == local.draft_key
    )

    with pytest.raises(service.DraftHumanEdited), sessions.begin() as s:
        service.regenerate_draft(s, pending.draft_id, tier=RephrasingTier(), gmail=pending.gmail)
    assert body_hash(gmail_body(pending.api, pending.gmail_draft_id)) == body_hash(text)

    # Approving sends the edited text.
    with sessions.begin() as s:
        approve(s, pending)
    (sent,) = sent_in_thread(pending.api, pending.thread_id)
    assert body_hash(sent["message"].get_content()) == body_hash(text)


def test_regenerate_supersedes_and_replaces_the_gmail_draft(
    pending: Pending, sessions: sessionmaker[Session]
) -> None:
    tier = RephrasingTier()
    with sessions.begin() as s:
        new = service.regenerate_draft(s, pending.draft_id, tier=tier, gmail=pending.gmail)
        new_id, new_body = new.id, new.body
    assert new_id != pending.draft_id
    old = draft_row(sessions, pending.draft_id)
    fresh = draft_row(sessions, new_id)
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
    assert body_hash(gmail_body(pending.api, pending.gmail_draft_id)) == body_hash(new_body)
    with sessions() as s:
        assert [d.id for d in service.list_drafts(s, user_id=fresh.user_id)] == [new_id]

    # A second regeneration supersedes the new one in turn; the old one stays superseded.
    with sessions.begin() as s:
        newest = service.regenerate_draft(s, new_id, tier=tier, gmail=pending.gmail)
        assert newest.model == "rephrase:v2"
    assert draft_row(sessions, new_id).status == DraftStatus.SUPERSEDED
    # A superseded draft can be neither approved, regenerated nor rejected.
    for action, kwargs in (
        (service.approve_draft, {"digest": "0" * 64}),
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
    edit_in_gmail(pending.api, pending, mine)
    tier = RephrasingTier()

    with pytest.raises(service.DraftHumanEdited) as caught, sessions.begin() as s:
        service.regenerate_draft(s, pending.draft_id, tier=tier, gmail=pending.gmail)
    assert caught.value.status_code == 409
    assert "edited in Gmail" in caught.value.message
    with pytest.raises(Conflict) as edit_refused, sessions.begin() as s:
        service.edit_draft(s, pending.draft_id, "Our API's text", gmail=pending.gmail)
    assert edit_refused.value.code == "draft_edited_in_gmail"
    assert body_hash(gmail_body(pending.api, pending.gmail_draft_id)) == body_hash(mine)
    assert draft_row(sessions, pending.draft_id).status == DraftStatus.PENDING

    with sessions.begin() as s:
        assert service.detect_human_edit(s, pending.draft_id, gmail=pending.gmail)
        # The queue now shows Gmail's version, recipients and subject included.
        shown = service.get_draft(s, pending.draft_id)
        assert shown.to_addrs == ["pat@example.org"]
        assert shown.subject == "Re: my own words"
    local = draft_row(sessions, pending.draft_id)
    assert local.human_edited
    assert local.body.strip() == mine

    # Approving sends the user's words, as Gmail holds them. The new subject took the draft
    # out of the thread (Gmail's threading rules): look where Gmail said it is.
    with sessions.begin() as s:
        approve(s, pending)
    (sent,) = sent_in_thread(pending.api, draft_row(sessions, pending.draft_id).gmail_thread_id)
    assert body_hash(sent["message"].get_content()) == body_hash(mine)


def test_concurrent_approvals_send_once(pending: Pending, sessions: sessionmaker[Session]) -> None:
    """Two approvals racing (a double click, two devices): the row lock makes one wait."""
    results: list[str] = []
    errors: list[BaseException] = []

    def approve_once() -> None:
        try:
            with sessions.begin() as s:
                results.append(approve(s, pending).status)
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=approve_once) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert results == [DraftStatus.SENT]
    assert [type(e) for e in errors] == [service.DraftAlreadySent]
    assert len(sent_in_thread(pending.api, pending.thread_id)) == 1


def test_a_draft_that_never_reached_gmail(
    pending: Pending, sessions: sessionmaker[Session]
) -> None:
    """Rejected or superseded before its mirror task ran: it never appears in Gmail; a
    regeneration of it creates the Gmail draft for the new suggestion instead."""
    with sessions.begin() as s:
        service.reject_draft(s, pending.draft_id, gmail=pending.gmail)
        message_id = draft_row(sessions, pending.draft_id).message_id
    tier = RephrasingTier()
    with sessions.begin() as s:
        unmirrored = service.generate_draft(s, message_id, tier=tier)
        assert unmirrored is not None
        first = unmirrored.id
        service.reject_draft(s, first, gmail=pending.gmail)
        assert service.mirror_to_gmail(s, first, gmail=pending.gmail, first_attempt=True) == ""
    assert drafts_by_thread(pending.api) == {}

    with sessions.begin() as s:
        second = service.generate_draft(s, message_id, tier=tier)
        assert second is not None
        second_id = second.id
    with sessions.begin() as s:
        newest = service.regenerate_draft(s, second_id, tier=tier, gmail=pending.gmail)
        newest_id, gmail_id = newest.id, newest.gmail_draft_id
    with sessions.begin() as s:
        # The superseded one's mirror task, arriving late, must not create a second draft.
        assert service.mirror_to_gmail(s, second_id, gmail=pending.gmail, first_attempt=True) == ""
    (only,) = drafts_by_thread(pending.api)[pending.thread_id]
    assert only["id"] == gmail_id
    assert draft_row(sessions, newest_id).status == DraftStatus.PENDING
