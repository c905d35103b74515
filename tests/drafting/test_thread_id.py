"""Secretary keeps the thread Gmail chose, and finds its own drafts and sent replies by their
key wherever Gmail threaded them.

Google documents that a draft or message joins the requested ``threadId`` only when its
``References``/``In-Reply-To`` name a message of that thread *and* the subjects match; else
Gmail starts a new thread and says so in the returned ``threadId``
(https://developers.google.com/workspace/gmail/api/guides/threads, "Add drafts and messages
to threads"; ``Message.threadId`` in
https://developers.google.com/workspace/gmail/api/reference/rest/v1/users.messages). The
emulator does the same, so a reply to a message without a ``Message-ID`` lands in a new thread.
Before the fix, the exactly-once lookups searched only the thread Secretary had asked for: a
retried mirror made a second Gmail draft, and a retried approval reported a sent reply as
"deleted in Gmail and never sent".
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from secretary.db.models import Draft, DraftStatus
from secretary.drafting import service
from secretary.worker.runner import Runtime
from tests.sync.conftest import Connected
from tests.triage.conftest import InlineThread
from tests.triage.helpers import drafts_by_thread, gmail_api, raw_message, sync_now


def _pending_outside_its_thread(
    connected: Connected,
    sessions: sessionmaker[Session],
    inline: InlineThread,
    pipeline_runtime: Runtime,
) -> tuple[int, str, Any, Any]:
    """(draft id, the message's thread id, the product's GmailPort, the user's client) for
    a pending draft that Gmail put in a thread of its own."""
    mailbox = connected.emulator.state.users[connected.email].mailbox
    sync_now(sessions, connected.account_id, connected.settings)
    raw, _mid = raw_message(to=connected.email)
    raw = re.sub(rb"(?im)^Message-ID:.*\r?\n", b"", raw)  # nothing for a reply to reference
    message_thread = mailbox.add_message(raw, label_ids={"INBOX"}).thread_id
    sync_now(sessions, connected.account_id, connected.settings)
    inline.wait_idle()
    with sessions() as s:
        draft = s.scalars(select(Draft).where(Draft.account_id == connected.account_id)).one()
        assert draft.status == DraftStatus.PENDING
        assert draft.gmail_draft_id
        # Gmail answered with a thread of its own, and Secretary kept that one.
        assert draft.gmail_thread_id != message_thread
        assert list(drafts_by_thread(_api(connected))) == [draft.gmail_thread_id]
        gmail = pipeline_runtime.deps.gmail(s, connected.account_id)
        return draft.id, message_thread, gmail, _api(connected)


def _approve(s: Session, draft_id: int, gmail: Any) -> Draft:
    """Approve as the queue does (with the digest of what the user saw, where it exists)."""
    extra: dict[str, Any] = {}
    digest_of = getattr(service, "draft_digest", None)
    if digest_of is not None:
        extra["digest"] = digest_of(service.get_draft(s, draft_id))
    approved: Draft = service.approve_draft(s, draft_id, gmail=gmail, **extra)
    return approved


def _api(connected: Connected) -> Any:
    return gmail_api(connected.emulator.state, connected.emulator.base_url, connected.email)


def test_retried_mirror_adopts_the_draft_gmail_threaded_elsewhere(
    connected: Connected,
    sessions: sessionmaker[Session],
    inline: InlineThread,
    pipeline_runtime: Runtime,
) -> None:
    draft_id, message_thread, gmail, api = _pending_outside_its_thread(
        connected, sessions, inline, pipeline_runtime
    )
    # The first attempt's commit was lost: the row is as it was before the Gmail call.
    with sessions.begin() as s:
        draft = s.get(Draft, draft_id)
        assert draft is not None
        draft.gmail_draft_id = None
        draft.gmail_message_id = None
        draft.gmail_thread_id = message_thread
    with sessions.begin() as s:
        adopted = service.mirror_to_gmail(s, draft_id, gmail=gmail, first_attempt=False)
    drafts = drafts_by_thread(api)
    assert sum(len(v) for v in drafts.values()) == 1, "a retry must not duplicate the draft"
    ((thread, (only,)),) = drafts.items()
    assert adopted == only["id"]
    with sessions() as s:
        row = s.get(Draft, draft_id)
        assert row is not None
        assert row.gmail_thread_id == thread


def test_retried_approval_finds_the_reply_sent_in_another_thread(
    connected: Connected,
    sessions: sessionmaker[Session],
    inline: InlineThread,
    pipeline_runtime: Runtime,
) -> None:
    draft_id, _message_thread, gmail, api = _pending_outside_its_thread(
        connected, sessions, inline, pipeline_runtime
    )
    # Gmail sends, then the process dies before our commit: the transaction rolls back.
    with sessions() as s, s.begin():
        _approve(s, draft_id, gmail)
        s.rollback()
    with sessions.begin() as s:
        draft = _approve(s, draft_id, gmail)
        assert draft.status == DraftStatus.SENT
        sent_id = draft.gmail_message_id
    sent = api.users().messages().list(userId="me", q="in:sent").execute()["messages"]
    assert [m["id"] for m in sent] == [sent_id]
