"""Does Secretary learn the user's voice from their edits? Prints one JSON object.

    .venv/bin/python bench/learning.py --rounds 60

A simulated user with a fixed, written-down style answers real mail (the demo workspace's
public corpora) one message at a time. Each round: the local tier drafts a reply, the
user's editor rewrites it into their style, and the edit is recorded exactly as an edit in
the approval queue is (``drafting.learning.record_edit``). Reported: the normalised
character edit distance between suggestion and approved text, averaged over the first ten
and the last ten rounds (goal: the last ten need at most half the edits of the first ten).

The user's style: opens "Hello {first name}," (or "Hello," without a name), closes
"Kind regards," signed "Dana Reyes", never writes "Thanks for your message", "I'll look into
this" or "follow up", and keeps the body under 30 words.
"""

from __future__ import annotations

import argparse
import json
import mailbox
import os
import re
import sys
from datetime import UTC, datetime, timedelta
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _fresh_db import fresh_database

AVOID = ("thanks for your message", "i'll look into this", "follow up")
MAX_WORDS = 30


def edit_into_style(suggestion: str, first_name: str | None) -> str:
    """The simulated user's editor: their greeting, closing and signature, no stock
    phrases, and a body cut to their length."""
    lines = [ln.strip() for ln in suggestion.strip().splitlines() if ln.strip()]
    if lines and re.match(r"^(?:hi|hello|hey|dear)\b", lines[0], re.I):
        lines = lines[1:]
    closing = re.compile(r"^(?:best|thanks|cheers|regards|kind regards|sincerely)\b", re.I)
    for i in range(len(lines) - 1, max(0, len(lines) - 4) - 1, -1):
        if closing.match(lines[i]):
            lines = lines[:i]
            break
    sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+", " ".join(lines)) if s.strip()]
    kept = [s for s in sentences if not any(p in s.lower() for p in AVOID)]
    body: list[str] = []
    for sentence in kept:
        if body and sum(len(s.split()) for s in body) + len(sentence.split()) > MAX_WORDS:
            break
        body.append(sentence)
    text = " ".join(body) or "Noted."
    greeting = f"Hello {first_name}," if first_name else "Hello,"
    return f"{greeting}\n\n{text}\n\nKind regards,\nDana Reyes\n"


def distance(a: str, b: str) -> float:
    """Normalised character edit distance (0 = identical, 1 = nothing in common)."""
    return round(1.0 - SequenceMatcher(None, a, b, autojunk=False).ratio(), 4)


def _threads(limit: int) -> list[bytes]:
    from workspace_emulator.demo import DEMO_WORKSPACE

    out: list[bytes] = []
    for path in sorted(DEMO_WORKSPACE.glob("mail/INBOX/*.mbox")):
        out.extend(message.as_bytes() for message in mailbox.mbox(str(path)))
    return out[: limit * 6]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=60)
    args = parser.parse_args()
    os.environ.setdefault("SECRETARY_LOG_LEVEL", "WARNING")

    from secretary.config import get_settings
    from secretary.kit.logging import configure_logging

    settings = get_settings()
    configure_logging("WARNING", json=True)
    with fresh_database(settings, "secretary_bench_learning") as engine:
        print(json.dumps(run(engine, args.rounds)))


def run(engine: Any, rounds: int) -> dict[str, Any]:
    from secretary.db.models import GoogleAccount, Message, User
    from secretary.db.session import make_sessionmaker
    from secretary.drafting.learning import record_edit
    from secretary.drafting.service import generate_draft
    from secretary.llm.local.drafter import _first_name
    from secretary.llm.local.tier import LocalTier
    from secretary.sync.records import record_from_resource

    sessions = make_sessionmaker(engine)
    tier = LocalTier()
    with sessions.begin() as session:
        user = User(email="dana@example.test", display_name="Dana Reyes")
        session.add(user)
        session.flush()
        account = GoogleAccount(user_id=user.id, google_sub="bench", email=user.email, scopes=[])
        session.add(account)
        session.flush()
        user_id, account_id = user.id, account.id

    distances: list[float] = []
    skipped = 0
    now = datetime(2026, 11, 17, 14, 30, tzinfo=UTC)
    for n, raw in enumerate(_threads(rounds)):
        if len(distances) >= rounds:
            break
        row = record_from_resource({"id": f"b{n}"}, raw=raw, fetched_at=now).row
        row.update(
            user_id=user_id,
            account_id=account_id,
            label_ids=["INBOX"],
            internal_date=now - timedelta(minutes=n),
            parse_defects=None,
            to_addrs=[*row.get("to_addrs", []), "dana@example.test"],
        )
        with sessions.begin() as session:
            message = Message(**row)
            session.add(message)
            session.flush()
            draft = generate_draft(session, message.id, tier=tier)
            if draft is None:
                skipped += 1  # newsletters, spam: the tier drafts nothing, nothing to edit
                continue
            suggestion = draft.body
            first = _first_name(message.from_name, message.from_addr)
            approved = edit_into_style(suggestion, first)
            distances.append(distance(suggestion, approved))
            recipient = draft.to_addrs[0] if draft.to_addrs else None
            record_edit(session, user_id, recipient, suggestion, approved)
    first10 = sum(distances[:10]) / max(1, len(distances[:10]))
    last10 = sum(distances[-10:]) / max(1, len(distances[-10:]))
    return {
        "rounds": len(distances),
        "skipped_no_draft": skipped,
        "edit_distance_first_10": round(first10, 4),
        "edit_distance_last_10": round(last10, 4),
        "last_over_first": round(last10 / first10, 3) if first10 else None,
        "goal_met": bool(first10) and last10 <= first10 / 2,
        "loadavg": os.getloadavg()[0],
    }


if __name__ == "__main__":
    main()
