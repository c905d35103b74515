"""Acceptance 1 (small): mail inserted into the emulator becomes a classified task and, when
it needs a reply, a thread-aware Gmail draft visible through the Gmail API."""

from __future__ import annotations

import time

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from secretary.db.models import Draft, Message, TaskRecord, TaskStatus, TriageResult
from secretary.triage import service
from tests.triage.conftest import Connected, InlineThread
from tests.triage.helpers import drafts_by_thread, gmail_api, label_names_of, raw_message, sync_now
from tests.triage.tiers import KeywordTier


def _stored(sessions: sessionmaker[Session], account_id: int) -> dict[str, Message]:
    with sessions() as s:
        rows = s.scalars(select(Message).where(Message.account_id == account_id)).all()
        return {m.gmail_id: m for m in rows}


def test_new_mail_is_triaged_drafted_in_thread_and_labelled(
    connected: Connected,
    sessions: sessionmaker[Session],
    inline: InlineThread,
    tier: KeywordTier,
) -> None:
    state, email = connected.emulator.state, connected.email
    mailbox = state.users[email].mailbox
    sync_now(sessions, connected.account_id, connected.settings)  # empty mailbox: baseline

    ask_raw, ask_mid = raw_message(
        to=f"Alex <{email}>", cc="Robin <robin@example.net>", subject="Report?"
    )
    ask = mailbox.add_message(ask_raw, label_ids={"INBOX", "UNREAD"})
    news_raw, _ = raw_message(
        to=email,
        subject="Weekly digest",
        body="Top stories this week.",
        headers={"List-Id": "<digest.example.org>", "List-Unsubscribe": "<mailto:u@example.org>"},
    )
    news = mailbox.add_message(news_raw, label_ids={"INBOX"})
    old_raw, _ = raw_message(to=email, subject="Ancient question?")
    old = mailbox.add_message(
        old_raw, label_ids={"INBOX"}, internal_date=int((time.time() - 10 * 86400) * 1000)
    )

    sync_now(sessions, connected.account_id, connected.settings)
    inline.wait_idle()

    stored = _stored(sessions, connected.account_id)
    api = gmail_api(state, connected.emulator.base_url, email)
    drafts = drafts_by_thread(api)

    # The question got exactly one draft, in its thread, threaded and addressed right.
    assert list(drafts) == [ask.thread_id]
    (draft,) = drafts[ask.thread_id]
    headers = draft["headers"]
    assert headers["in-reply-to"] == ask_mid
    assert ask_mid in headers["references"]
    assert headers["subject"] == "Re: Report?"
    assert "pat" in headers["to"]
    assert "robin@example.net" in headers["cc"]  # reply-all: the user was addressed with Robin
    assert email not in headers.get("cc", "")

    # Labels in Gmail.
    assert "Secretary/Needs reply" in label_names_of(api, ask.id)
    assert "Secretary/Newsletter" in label_names_of(api, news.id)

    with sessions() as s:
        results = {r.message_id: r for r in s.scalars(select(TriageResult)).all()}
        ask_result = results[stored[ask.id].id]
        assert ask_result.category == "needs_reply"
        assert ask_result.model == "keyword:test"
        assert results[stored[news.id].id].category == "newsletter"
        # Older than triage.max_age_days: stored by sync, never entered the pipeline.
        assert stored[old.id].id not in results
        records = s.scalars(
            select(TaskRecord).where(TaskRecord.message_id == stored[ask.id].id)
        ).all()
        assert sorted(r.name for r in records) == [
            "drafting.create_gmail_draft",
            "drafting.generate",
            "triage.apply_labels",
            "triage.classify",
        ]
        assert {r.status for r in records} == {TaskStatus.SUCCEEDED}
        assert len({r.correlation_id for r in records}) == 1
        local = s.scalars(select(Draft).where(Draft.message_id == stored[ask.id].id)).one()
        assert local.gmail_draft_id == draft["id"]
        assert local.status == "pending"
        assert local.input_tokens == 12

    # A replayed notification (same message ids again) creates nothing and drafts nothing.
    with sessions.begin() as s:
        again = service.enqueue_new_messages(
            s,
            connected.account_id,
            [stored[ask.id].id, stored[news.id].id],
            settings=connected.settings,
        )
    assert again == []
    inline.wait_idle()
    assert sum(len(v) for v in drafts_by_thread(api).values()) == 1
    assert tier.classified.count(ask.id) == 1
