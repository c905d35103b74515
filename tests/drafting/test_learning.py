"""Edits teach style (issue 13): the difference becomes preferences, applied next time."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from secretary.config import Settings
from secretary.db.models import GoogleAccount, Message, User
from secretary.drafting.learning import (
    Learned,
    apply_preferences,
    enforce,
    preferences_for,
    preferences_from_edit,
    record_edit,
)
from secretary.drafting.service import generate_draft
from secretary.kit.clock import utcnow
from secretary.llm.local.tier import LocalTier
from secretary.llm.schemas import StyleProfile

SUGGESTED = """Hi Priya,

Thanks for your message. I'll look into this and follow up. The report is attached.

Best,
Dana
"""
APPROVED = """Hello Priya,

The report is attached.

Kind regards,
Dana Reyes
"""


def test_an_edit_names_what_changed() -> None:
    learned = preferences_from_edit(SUGGESTED, APPROVED)
    assert Learned("greeting", "Hello {first_name},") in learned
    assert Learned("closing", "Kind regards,") in learned
    assert Learned("signature", "Dana Reyes") in learned
    assert (
        Learned("avoid:i'll look into this and follow up", "I'll look into this and follow up.")
        in learned
    )
    assert any(item.key == "max_words" for item in learned)
    assert preferences_from_edit(SUGGESTED, SUGGESTED) == []


def test_enforce_drops_avoided_sentences_and_keeps_length() -> None:
    style = StyleProfile(avoid_phrases=["i'll look into this"], max_words=8)
    out = enforce(SUGGESTED, style)
    assert "look into this" not in out
    assert out.startswith("Hi Priya,")
    assert out.rstrip().endswith("Best,\nDana")


def test_the_next_draft_to_that_sender_follows_the_edit(session: Session) -> None:
    tag = uuid.uuid4().hex[:8]
    user = User(email=f"dana-{tag}@example.test", display_name="Dana Reyes")
    session.add(user)
    session.flush()
    account = GoogleAccount(user_id=user.id, google_sub=f"s-{tag}", email=user.email, scopes=[])
    session.add(account)
    session.flush()
    record_edit(session, user.id, "priya@example.org", SUGGESTED, APPROVED)
    assert {p.scope for p in preferences_for(session, user.id, "priya@example.org")} == {
        "all", "to:priya@example.org"
    }  # fmt: skip
    incoming = Message(
        user_id=user.id, account_id=account.id, gmail_id=f"g-{tag}", gmail_thread_id=f"t-{tag}",
        internal_date=utcnow() - timedelta(hours=1), label_ids=["INBOX"], subject="Numbers",
        from_name="Priya Shah", from_addr="priya@example.org", to_addrs=[user.email],
        body_text="Hi Dana, could you send me the Q3 numbers by Friday? Thanks, Priya",
        body_fetched_at=utcnow(),
    )  # fmt: skip
    session.add(incoming)
    session.flush()
    draft = generate_draft(session, incoming.id, tier=LocalTier())
    assert draft is not None
    assert draft.body.startswith("Hello Priya,")
    assert "Kind regards,\nDana Reyes" in draft.body
    assert "look into this" not in draft.body.lower()


def test_recipient_preferences_win_over_everyone() -> None:
    from secretary.db.models import StylePreference

    prefs = [
        StylePreference(scope="to:sam@example.org", key="closing", value="Cheers,"),
        StylePreference(scope="all", key="closing", value="Kind regards,"),
    ]
    assert apply_preferences(StyleProfile(), prefs).closing == "Cheers,"


def test_one_shortening_edit_shortens_that_recipient_only_until_it_is_a_habit() -> None:
    from secretary.db.models import StylePreference

    def learned(scope: str, evidence: int) -> StylePreference:
        return StylePreference(
            scope=scope, key="max_words", value="12", evidence=evidence, source="edit"
        )

    assert apply_preferences(StyleProfile(), [learned("to:sam@example.org", 1)]).max_words == 12
    assert apply_preferences(StyleProfile(), [learned("all", 1)]).max_words is None
    assert apply_preferences(StyleProfile(), [learned("all", 3)]).max_words == 12
    typed = StylePreference(scope="all", key="max_words", value="80", evidence=1, source="user")
    assert apply_preferences(StyleProfile(), [typed]).max_words == 80


def test_style_preferences_api(
    settings: Settings, engine: Engine, sessions: sessionmaker[Session]
) -> None:
    from fastapi.testclient import TestClient

    from secretary.bootstrap import compose
    from secretary.web.app import create_app
    from secretary.web.deps import AppState
    from tests.auth import authenticate, create_user

    state = AppState(root=compose(settings, engine=engine, sessions=sessions))
    with TestClient(create_app(settings, state=state)) as client:
        mine, theirs = create_user(sessions), create_user(sessions)
        authenticate(client, sessions, mine)
        made = client.post(
            "/api/v1/preferences/style",
            json={"scope": "to:Sam@Example.org", "key": "closing", "value": "Cheers,"},
        )
        assert made.status_code == 201, made.text
        assert made.json()["scope"] == "to:sam@example.org"
        assert (
            client.post(
                "/api/v1/preferences/style", json={"key": "favourite colour", "value": "red"}
            ).status_code
            == 422
        )
        listed = client.get("/api/v1/preferences/style").json()["preferences"]
        assert [(p["key"], p["value"], p["source"]) for p in listed] == [
            ("closing", "Cheers,", "user")
        ]
        authenticate(client, sessions, theirs)
        assert client.get("/api/v1/preferences/style").json()["preferences"] == []
        assert client.delete(f"/api/v1/preferences/style/{made.json()['id']}").status_code == 404
        authenticate(client, sessions, mine)
        assert client.delete(f"/api/v1/preferences/style/{made.json()['id']}").status_code == 204
