"""``GET /api/v1/correspondents/{address}`` (issue 13): threads, response rate and time,
open items, over the real app, database and Gmail emulator."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from secretary.kit.clock import utcnow
from tests.auth import authenticate, create_user
from tests.drafting.test_followups import _raw
from tests.drafting.test_followups import client as client  # the fixture
from tests.sync.conftest import Connected
from tests.triage.conftest import InlineThread
from tests.triage.helpers import sync_now

PRIYA = "priya.shah@example.org"


def test_correspondent_view(
    client: TestClient,
    connected: Connected,
    sessions: sessionmaker[Session],
    inline: InlineThread,
) -> None:
    box = connected.emulator.state.users[connected.email].mailbox
    me = connected.email
    parent: str | None = None

    def add(sender: str, to: str, subject: str, body: str, days_ago: float, label: str) -> str:
        nonlocal parent
        raw = _raw(
            sender, to, subject, body, days_ago, **({"In_Reply_To": parent} if parent else {})
        )
        parent = next(ln for ln in raw.decode().splitlines() if ln.startswith("Message-ID:"))[12:]
        when = int((utcnow() - timedelta(days=days_ago)).timestamp() * 1000)
        return box.add_message(raw, label_ids={label}, internal_date=when).thread_id

    who = f"Priya Shah <{PRIYA}>"
    budget = add(who, me, "Budget", "Can you approve the budget?", 10, "INBOX")
    add(me, PRIYA, "Re: Budget", "Approved.", 8, "SENT")  # 48 h later
    add(who, me, "Re: Budget", "Could you also sign the form?", 6, "INBOX")
    add(me, PRIYA, "Re: Budget", "Signed.", 5.5, "SENT")  # 12 h later
    add(who, me, "Re: Budget", "Can you send the receipts too?", 4, "INBOX")  # unanswered
    parent = None
    fresh = add(who, me, "Report", "Could you send me the report, please?", 1 / 24, "INBOX")
    parent = None
    add("Other <other@example.org>", me, "Unrelated", "Can you call me?", 4, "INBOX")
    sync_now(sessions, connected.account_id, connected.settings)
    inline.wait_idle()

    r = client.get(f"/api/v1/correspondents/{PRIYA.upper()}")
    assert r.status_code == 200, r.text
    view = r.json()
    assert view["address"] == PRIYA
    assert view["name"] == "Priya Shah"
    assert view["messages_from_them"] == 4
    assert view["messages_to_them"] == 2
    assert view["response_rate"] == 0.5
    assert view["median_response_hours"] == 30.0  # median of 48 h and 12 h
    assert [t["thread_id"] for t in view["threads"]] == [fresh, budget]  # newest first
    assert view["threads"][1]["message_count"] == 5
    assert [d["thread_id"] for d in view["open_items"]["pending_drafts"]] == [fresh]
    assert [u["thread_id"] for u in view["open_items"]["unanswered"]] == [budget]

    assert client.get("/api/v1/correspondents/nobody@example.org").status_code == 404
    authenticate(client, sessions, create_user(sessions))  # another user: not theirs
    assert client.get(f"/api/v1/correspondents/{PRIYA}").status_code == 404
