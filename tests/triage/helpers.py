"""Builders for pipeline tests: raw messages and a look into the emulator's Gmail."""

from __future__ import annotations

import base64
import itertools
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

from workspace_emulator.state import EmulatorState

from secretary.kit.clock import utcnow
from tests.emulator.conftest import gmail_client, mint_token

_n = itertools.count()


def raw_message(
    *,
    to: str,
    cc: str | None = None,
    sender: str | None = None,
    subject: str | None = None,
    body: str = "Could you send me the report, please?",
    headers: dict[str, str] | None = None,
) -> tuple[bytes, str]:
    n = next(_n)
    msg = EmailMessage()
    msg["From"] = sender or f"Pat Sender {n} <pat{n}@example.org>"
    msg["To"] = to
    if cc:
        msg["Cc"] = cc
    msg["Subject"] = subject or f"Quarterly report {n}"
    msg["Date"] = format_datetime(utcnow())
    mid = make_msgid(domain="example.org")
    msg["Message-ID"] = mid
    for k, v in (headers or {}).items():
        msg[k] = v
    msg.set_content(body)
    return bytes(msg), mid


def gmail_api(state: EmulatorState, base_url: str, email: str) -> Any:
    return gmail_client(base_url, mint_token(state, email))


def drafts_by_thread(api: Any) -> dict[str, list[dict[str, Any]]]:
    """thread id → drafts (each with parsed headers) as the Gmail API shows them."""
    out: dict[str, list[dict[str, Any]]] = {}
    listed = api.users().drafts().list(userId="me", maxResults=500).execute()
    for d in listed.get("drafts", []):
        full = api.users().drafts().get(userId="me", id=d["id"], format="raw").execute()
        raw = base64.urlsafe_b64decode(full["message"]["raw"])
        parsed = message_from_bytes(raw, policy=policy.default)
        out.setdefault(full["message"]["threadId"], []).append(
            {"id": d["id"], "headers": {k.lower(): str(v) for k, v in parsed.items()}}
        )
    return out


def label_names_of(api: Any, gmail_id: str) -> set[str]:
    labels = {
        lab["id"]: lab["name"]
        for lab in api.users().labels().list(userId="me").execute().get("labels", [])
    }
    msg = api.users().messages().get(userId="me", id=gmail_id, format="minimal").execute()
    return {labels.get(lid, lid) for lid in msg.get("labelIds", [])}


def sync_now(sessions: Any, account_id: int, settings: Any) -> None:
    """One sync pass, like a push would trigger.

    Calls ``GmailSync.run`` directly rather than ``run_sync``: ``sync.service.account_lock``
    can unlock its advisory lock on a different pooled connection than it locked on (after
    ``session.commit()`` the session may check out another connection), leaving the account
    locked for the rest of the run when a busy pool hands out another one. Reported to the
    sync owner; until fixed, tests that sync while workers hold connections bypass the lock.
    """
    from secretary import pipeline
    from secretary.sync.service import GmailSync

    GmailSync(sessions, account_id, settings, on_stored=pipeline.entry(settings)).run()
