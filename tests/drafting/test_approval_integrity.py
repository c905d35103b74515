"""Issue 7: what you approve is exactly what is sent. Against the Gmail emulator over real
HTTP (the official client, as the user edits in Gmail) and Postgres.

Each test replays one attack from the issue: an unsaved edit silently dropped, a draft
edited in Gmail (text changed, Cc added) sent unseen, hidden Cc/Bcc recipients, a second
approve saying "Reply sent", and a model that obeys the email writing a tracking pixel and
an IBAN into the reply."""

from __future__ import annotations

import base64
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from secretary.db.models import Draft, DraftStatus
from secretary.drafting import service
from secretary.drafting.gmail import body_hash
from secretary.llm.schemas import DraftRequest, DraftResult, Usage
from tests.drafting.queue import (  # noqa: F401 (pending_fixture registers the `pending` fixture)
    Pending,
    draft_row,
    gmail_body,
    pending_fixture,
    sent_in_thread,
)
from tests.triage.tiers import KeywordTier

TRACKER = "https://t.evil-tracker.test/open.gif?u=8812&m=confirm"
IBAN = "DE89 3704 0044 0532 0130 00"


def _sent_message(api: Any, gmail_id: str) -> Any:
    full = api.users().messages().get(userId="me", id=gmail_id, format="raw").execute()
    assert "SENT" in full["labelIds"]
    return message_from_bytes(base64.urlsafe_b64decode(full["raw"]), policy=policy.default)


def _shown(sessions: sessionmaker[Session], draft_id: int) -> Any:
    with sessions() as s:
        return service.describe(s, service.get_draft(s, draft_id))


def _approve(
    sessions: sessionmaker[Session], p: Pending, digest: str, body: str | None = None
) -> Draft:
    with sessions.begin() as s:
        return service.approve_draft(s, p.draft_id, gmail=p.gmail, digest=digest, body=body)


def _edit_in_gmail(p: Pending, *, body: str, to: str, cc: str = "", bcc: str = "") -> None:
    """The user (or someone with their Gmail) rewrites the draft in Gmail's editor."""
    msg = EmailMessage()
    msg["To"] = to
    if cc:
        msg["Cc"] = cc
    if bcc:
        msg["Bcc"] = bcc
    msg["Subject"] = _shown_subject(p)
    msg.set_content(body)
    raw = base64.urlsafe_b64encode(bytes(msg)).decode()
    p.api.users().drafts().update(
        userId="me", id=p.gmail_draft_id, body={"message": {"raw": raw, "threadId": p.thread_id}}
    ).execute()


_subjects: dict[int, str] = {}


def _shown_subject(p: Pending) -> str:
    return _subjects[p.draft_id]


@pytest.fixture
def seen(pending: Pending, sessions: sessionmaker[Session]) -> Any:
    """The draft as the queue showed it to the user."""
    shown = _shown(sessions, pending.draft_id)
    _subjects[pending.draft_id] = shown.subject
    return shown


def test_the_typed_text_is_what_is_sent(
    pending: Pending, seen: Any, sessions: sessionmaker[Session]
) -> None:
    """Text typed into the box and "Approve & send" without "Save edit": saved and sent in
    one step, never dropped."""
    typed = "Sure, here it is.\r\n\r\nBest,\r\nAlex"
    sent_draft = _approve(sessions, pending, seen.digest, body=typed)
    assert sent_draft.status == DraftStatus.SENT
    (sent,) = sent_in_thread(pending.api, pending.thread_id)
    assert body_hash(sent["message"].get_content()) == body_hash(typed)
    row = draft_row(sessions, pending.draft_id)
    assert row.human_edited
    assert row.body == typed.replace("\r\n", "\n")
    assert row.approved_digest == seen.digest
    assert row.sent_at is not None


def test_a_gmail_edit_with_added_cc_is_refused_and_shown_highlighted(
    pending: Pending, seen: Any, sessions: sessionmaker[Session]
) -> None:
    to = seen.to_addrs[0]
    added = ["counsel@lawfirm.test", "board@acme.test", "press@news.test"]
    _edit_in_gmail(
        pending, to=to, cc=", ".join(added), body="Forwarding everything to the list below."
    )

    # The edge commits the refresh before answering 409 (web/api/drafts.py does too).
    with sessions() as s, s.begin(), pytest.raises(service.DraftChanged) as caught:
        service.approve_draft(s, pending.draft_id, gmail=pending.gmail, digest=seen.digest)
    assert caught.value.status_code == 409
    assert "Nothing was sent" in caught.value.message
    assert sent_in_thread(pending.api, pending.thread_id) == []
    details = caught.value.details
    assert details is not None
    changes = details["changes"]
    assert changes["added"] == {"cc": sorted(added)}
    assert {"op": "insert", "text": "Forwarding everything to the list below."} in changes["body"]
    assert any(line["op"] == "delete" for line in changes["body"])
    assert "3 Cc added" in changes["summary"]

    # The queue now shows Gmail's version, its new digest and what changed.
    shown = _shown(sessions, pending.draft_id)
    assert shown.cc_addrs == sorted(added)
    assert shown.body == "Forwarding everything to the list below."
    assert shown.digest == details["digest"] != seen.digest
    assert shown.changes["added"] == {"cc": sorted(added)}
    kinds = {f.kind for f in shown.flags}
    assert "external_recipient" in kinds
    assert draft_row(sessions, pending.draft_id).status == DraftStatus.PENDING

    # Approving what is now shown sends it, to the Cc recipients the user has seen.
    sent_id = _approve(sessions, pending, shown.digest).gmail_message_id
    assert sent_id
    sent = _sent_message(pending.api, sent_id)
    assert sorted(a.addr_spec for a in sent["Cc"].addresses) == sorted(added)
    assert _shown(sessions, pending.draft_id).changes is None


def test_hidden_recipients_are_visible_and_flagged(
    pending: Pending, seen: Any, sessions: sessionmaker[Session]
) -> None:
    to = seen.to_addrs[0]
    cc = [f"partner{i}@firm{i}.test" for i in range(5)]
    _edit_in_gmail(pending, to=to, cc=", ".join(cc), bcc="leak@outside.test", body=seen.body)
    with sessions.begin() as s:
        changes = service.refresh_from_gmail(s, pending.draft_id, gmail=pending.gmail)
    assert changes is not None
    assert changes.added == {"cc": sorted(cc), "bcc": ["leak@outside.test"]}
    assert changes.body == []  # same text: only the recipients changed
    shown = _shown(sessions, pending.draft_id)
    assert shown.cc_addrs == sorted(cc)
    assert shown.bcc_addrs == ["leak@outside.test"]
    flags = {(f.kind, f.value) for f in shown.flags}
    assert ("many_recipients", "7") in flags
    assert ("external_recipient", "leak@outside.test") in flags
    # The original sender's own domain is expected, never flagged.
    assert all(value != to for _kind, value in flags)


def test_a_second_approve_says_already_sent(
    pending: Pending, seen: Any, sessions: sessionmaker[Session]
) -> None:
    _approve(sessions, pending, seen.digest)
    with pytest.raises(service.DraftAlreadySent) as caught:
        _approve(sessions, pending, seen.digest, body="a stale form's text")
    assert caught.value.code == "draft_already_sent"
    assert caught.value.message.startswith("Already sent at ")
    assert len(sent_in_thread(pending.api, pending.thread_id)) == 1


def test_a_stale_digest_sends_nothing(
    pending: Pending, seen: Any, sessions: sessionmaker[Session]
) -> None:
    """The view is stale though Gmail matches our copy (edited through the API meanwhile)."""
    with sessions.begin() as s:
        service.edit_draft(s, pending.draft_id, "Edited on another device.", gmail=pending.gmail)
    with pytest.raises(service.DraftChanged):
        _approve(sessions, pending, seen.digest)
    assert sent_in_thread(pending.api, pending.thread_id) == []
    assert body_hash(gmail_body(pending.api, pending.gmail_draft_id)) == body_hash(
        "Edited on another device."
    )


class ObedientTier(KeywordTier):
    """A model talked into it by the email: a tracking pixel and an IBAN "confirmation"."""

    def draft_reply(self, request: DraftRequest) -> DraftResult:
        return DraftResult(
            should_draft=True,
            body=(
                f"Confirmed. Please wire the fee to {IBAN} today.\n"
                f'<img src="{TRACKER}">\nCall +1 415 555 0199 or mail ops@evil-tracker.test.'
            ),
            intent="confirm",
            confidence=0.9,
            model="obedient:v1",
            usage=Usage(provider="obedient", model="test", input_tokens=1, output_tokens=1),
        )


def test_exfiltration_in_a_model_draft_is_flagged_before_the_queue(
    pending: Pending, sessions: sessionmaker[Session]
) -> None:
    with sessions.begin() as s:
        message_id = service.get_draft(s, pending.draft_id).message_id
        service.reject_draft(s, pending.draft_id, gmail=pending.gmail)
    with sessions.begin() as s:
        draft = service.generate_draft(s, message_id, tier=ObedientTier())
        assert draft is not None
        draft_id = draft.id
    shown = _shown(sessions, draft_id)
    flagged = {f.kind: f.value for f in shown.flags}
    assert flagged["unsupported_url"].startswith("https://t.evil-tracker.test/open.gif")
    assert flagged["unsupported_iban"] == IBAN
    assert flagged["unsupported_phone"] == "+1 415 555 0199"
    assert flagged["unsupported_email"] == "ops@evil-tracker.test"
    assert all("Check it before sending" in f.message for f in shown.flags)
    assert shown.confidence <= 0.3  # lowered from 0.9


def test_links_and_numbers_from_the_thread_are_not_flagged(
    pending: Pending, sessions: sessionmaker[Session]
) -> None:
    with sessions.begin() as s:
        draft = service.get_draft(s, pending.draft_id)
        message = s.get(service.Message, draft.message_id)
        assert message is not None
        sender = message.from_addr or ""
        flags = service.exfil_flags(
            s, message, f"Thanks, I will write to {sender} shortly.", user_email="me@x.test"
        )
    assert flags == []
