"""Shared by the approval-queue tests: a pending draft made by the real pipeline, a tier
that words each draft differently, and looks into the emulator's Gmail as the user."""

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
from secretary.drafting.gmail import parse_raw
from secretary.llm.schemas import DraftRequest, DraftResult, Usage
from secretary.worker.runner import Runtime
from tests.sync.conftest import Connected
from tests.triage.conftest import InlineThread
from tests.triage.helpers import gmail_api, raw_message, sync_now
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


@pytest.fixture(name="pending")
def pending_fixture(
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
        gmail = pipeline_runtime.deps.gmail(s, connected.account_id)
        return Pending(
            draft.id,
            draft.gmail_draft_id,
            thread_id,
            gmail,
            gmail_api(connected.emulator.state, connected.emulator.base_url, connected.email),
        )


def draft_row(sessions: sessionmaker[Session], draft_id: int) -> Draft:
    with sessions() as s:
        draft = s.get(Draft, draft_id)
        assert draft is not None
        return draft


def gmail_body(api: Any, gmail_draft_id: str) -> str:
    full = api.users().drafts().get(userId="me", id=gmail_draft_id, format="raw").execute()
    return parse_raw(base64.urlsafe_b64decode(full["message"]["raw"]))[1]


def sent_in_thread(api: Any, thread_id: str) -> list[dict[str, Any]]:
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


def edit_in_gmail(api: Any, p: Pending, body: str) -> None:
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
