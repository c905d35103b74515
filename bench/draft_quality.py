"""Draft quality over every demo thread that needs a reply. Prints one JSON object.

    .venv/bin/python bench/draft_quality.py

Loads the demo workspace's mail (INBOX and SENT; threads by normalised subject) into a
fresh database as Alex Rivera's, triages every INBOX message with the local tier exactly as
the pipeline does (``triage.service.classify_message``, sender history included), and
drafts a reply for each that triage says needs one (``drafting.service.generate_draft``:
style from the SENT mail, learned preferences, meeting slots). Each draft is checked
(``drafting.quality``): a greeting from a mailbox local part, an unfilled template slot, a
generic promise, and a generic promise where a fact was available (a word of the question,
five letters or more, occurs in the user's other mail: the answer may be in the mailbox).
"""

from __future__ import annotations

import argparse
import json
import mailbox
import os
import re
import sys
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.utils import parsedate_to_datetime
from hashlib import sha1
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _fresh_db import fresh_database

USER = "alex@demo.secretary.test"
_WORD = re.compile(r"[a-z]{5,}")
_STOP = {
    "about", "could", "would", "there", "their", "which", "these", "those", "thanks",
    "hello", "please", "think", "where", "what's", "should", "other", "still", "after",
    "before", "today", "tomorrow", "monday", "tuesday", "wednesday", "thursday", "friday",
    "email", "message", "question", "regards", "again", "maybe", "right", "sorry",
}  # fmt: skip


def _demo_mail() -> list[tuple[bytes, str]]:
    from workspace_emulator.demo import DEMO_WORKSPACE

    out: list[tuple[bytes, str]] = []
    for folder in ("SENT", "INBOX"):
        for path in sorted((DEMO_WORKSPACE / "mail" / folder).iterdir()):
            if path.suffix == ".eml":
                out.append((path.read_bytes(), folder))
            elif path.suffix == ".mbox":
                out.extend((m.as_bytes(), folder) for m in mailbox.mbox(str(path)))
    return out


def _thread_key(raw: bytes) -> str:
    subject = str(message_from_bytes(raw).get("Subject", "") or "")
    norm = re.sub(r"^(?:\s*(?:re|fwd?|aw)\s*:\s*)+", "", subject, flags=re.I).strip().lower()
    return "t" + sha1(norm.encode(), usedforsecurity=False).hexdigest()[:15]


def _date(raw: bytes, fallback: datetime) -> datetime:
    try:
        value = parsedate_to_datetime(str(message_from_bytes(raw).get("Date", "")))
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    except (TypeError, ValueError):
        return fallback


def _questions(text: str) -> list[str]:
    from secretary.kit.text import split_sentences

    return [s for s in split_sentences(text) if s.endswith("?")]


def run(engine: Any, *, show: bool = False) -> dict[str, Any]:
    from secretary.config import get_settings
    from secretary.db.models import GoogleAccount, Message, User
    from secretary.db.session import make_sessionmaker
    from secretary.drafting import quality
    from secretary.drafting.service import generate_draft
    from secretary.llm.local.tier import LocalTier
    from secretary.sync.records import record_from_resource
    from secretary.triage.service import classify_message

    settings = get_settings()
    sessions = make_sessionmaker(engine)
    tier = LocalTier()
    with sessions.begin() as session:
        user = User(email=USER, display_name="Alex Rivera")
        session.add(user)
        session.flush()
        account = GoogleAccount(user_id=user.id, google_sub="bench-q", email=USER, scopes=[])
        session.add(account)
        session.flush()
        user_id, account_id = user.id, account.id

    now = datetime(2026, 11, 17, 14, 30, tzinfo=UTC)
    inbox: list[int] = []
    words_by_thread: dict[str, set[str]] = defaultdict(set)
    with sessions.begin() as session:
        for n, (raw, folder) in enumerate(_demo_mail()):
            row = record_from_resource({"id": f"q{n}"}, raw=raw, fetched_at=now).row
            thread = _thread_key(raw)
            row.update(
                user_id=user_id, account_id=account_id, gmail_thread_id=thread,
                label_ids=[folder], internal_date=_date(raw, now - timedelta(minutes=n)),
                parse_defects=None,
            )  # fmt: skip
            message = Message(**row)
            session.add(message)
            session.flush()
            words_by_thread[thread] |= set(_WORD.findall((message.body_text or "").lower()))
            if folder == "INBOX":
                inbox.append(message.id)
    counts = {
        "inbox_messages": len(inbox),
        "needs_reply": 0,
        "drafts": 0,
        "declined_by_tier": 0,
        "local_part_greeting": 0,
        "unfilled_slot": 0,
        "generic_promise": 0,
        "generic_promise_fact_available": 0,
        "cold_outreach_skipped": 0,
    }
    offenders: dict[str, list[int]] = defaultdict(list)
    for message_id in inbox:
        with sessions.begin() as session:
            decision = classify_message(session, message_id, tier=tier, settings=settings)
            if decision.cold_outreach and not decision.should_draft:
                counts["cold_outreach_skipped"] += 1
            if not decision.should_draft:
                continue
            counts["needs_reply"] += 1
            draft = generate_draft(session, message_id, tier=tier)
            if draft is None:
                counts["declined_by_tier"] += 1
                continue
            counts["drafts"] += 1
            message = session.get(Message, message_id)
            assert message is not None
            body = draft.body
            if show:
                print(f"--- {message_id}: {message.subject}\n{body}", file=sys.stderr)
            if quality.local_part_greeting(body, message.from_name, message.from_addr):
                counts["local_part_greeting"] += 1
                offenders["local_part_greeting"].append(message_id)
            if quality.unfilled_slot(body):
                counts["unfilled_slot"] += 1
                offenders["unfilled_slot"].append(message_id)
            if quality.generic_promise(body):
                counts["generic_promise"] += 1
                asked = {
                    w
                    for q in _questions(message.reply_text or message.body_text or "")
                    for w in _WORD.findall(q.lower())
                } - _STOP
                elsewhere = set().union(
                    *(ws for t, ws in words_by_thread.items() if t != message.gmail_thread_id)
                )
                if asked & elsewhere:
                    counts["generic_promise_fact_available"] += 1
                    offenders["generic_promise_fact_available"].append(message_id)
    return {**counts, "offender_message_ids": dict(offenders), "loadavg": os.getloadavg()[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--show", action="store_true", help="Print each draft to stderr.")
    args = parser.parse_args()
    os.environ.setdefault("SECRETARY_LOG_LEVEL", "WARNING")
    os.environ.setdefault("SECRETARY_NOW", "2026-11-17T14:30:00Z")
    from secretary.config import get_settings
    from secretary.kit.logging import configure_logging

    configure_logging("WARNING", json=True)
    with fresh_database(get_settings(), "secretary_bench_draft_quality") as engine:
        print(json.dumps(run(engine, show=args.show)))


if __name__ == "__main__":
    main()
