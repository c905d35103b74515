"""``GET /api/v1/stats`` (issue 13): suggested, approved as is, edited, rejected, edit size
and time saved, over the real app, database and Gmail emulator."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from secretary.bootstrap import compose
from secretary.config import Settings
from secretary.db.session import make_sessionmaker
from secretary.drafting.stats import COMPOSE_WPM, edit_distance, minutes_saved
from secretary.web.app import create_app
from secretary.web.deps import AppState
from secretary.worker.runner import Runtime
from tests.auth import authenticate, authenticate_account_owner, create_user
from tests.drafting.queue import (  # noqa: F401 (pending_fixture registers the `pending` fixture)
    Pending,
    RephrasingTier,
    draft_row,
    pending_fixture,
)
from tests.sync.conftest import Connected


@pytest.fixture
def client(
    pipeline_settings: Settings,
    engine: Engine,
    pipeline_runtime: Runtime,
    connected: Connected,
    sessions: sessionmaker[Session],
) -> Iterator[TestClient]:
    root = compose(
        pipeline_settings,
        engine=engine,
        sessions=make_sessionmaker(engine),
        gmail=pipeline_runtime.deps.google.gmail,
        tier=RephrasingTier(),
    )
    with TestClient(create_app(pipeline_settings, state=AppState(root=root))) as c:
        authenticate_account_owner(c, sessions, connected.account_id)
        yield c


def test_edit_size_and_time_saved_formulas() -> None:
    assert edit_distance("same", "same") == 0.0
    assert edit_distance("abc", "xyz") == 1.0
    assert 0 < edit_distance("Hi Sam, yes.", "Hello Sam, yes.") < 0.5
    sixty_words = " ".join(["word"] * 60)
    # 60 words at COMPOSE_WPM, minus 10 s of review; an edit costs retyping time.
    assert minutes_saved(sixty_words, None) == pytest.approx(60 / COMPOSE_WPM - 10 / 60)
    assert minutes_saved(sixty_words, 0.5) < minutes_saved(sixty_words, None)
    assert minutes_saved("ok", 1.0) == 0.0  # never negative


def test_stats_count_what_happened_to_each_suggestion(
    client: TestClient, pending: Pending, sessions: sessionmaker[Session]
) -> None:
    empty = client.get("/api/v1/stats")
    assert empty.status_code == 200, empty.text
    assert empty.json()["drafts_suggested"] == 1
    assert empty.json()["pending"] == 1
    assert empty.json()["average_edit_size"] is None

    suggested = draft_row(sessions, pending.draft_id).body
    text = "Here is the report you asked for.\n\nAlex"
    assert (
        client.patch(f"/api/v1/drafts/{pending.draft_id}", json={"body": text}).status_code == 200
    )
    seen = client.get(f"/api/v1/drafts/{pending.draft_id}").json()
    sent = client.post(
        f"/api/v1/drafts/{pending.draft_id}/approve", json={"digest": seen["digest"]}
    )
    assert sent.status_code == 200, sent.text

    stats = client.get("/api/v1/stats").json()
    expected = edit_distance(suggested, text)
    assert draft_row(sessions, pending.draft_id).edit_distance == expected
    assert stats == {
        "drafts_suggested": 1,
        "approved_as_is": 0,
        "edited": 1,
        "rejected": 0,
        "pending": 0,
        "average_edit_size": expected,
        "time_saved_minutes": round(minutes_saved(text, expected), 1),
    }

    # Another user sees only their own (none).
    authenticate(client, sessions, create_user(sessions))
    other = client.get("/api/v1/stats").json()
    assert other["drafts_suggested"] == 0
    assert other["edited"] == 0


def test_every_outcome_is_counted_once(session: Session) -> None:
    import uuid

    from secretary.db.models import Draft, DraftStatus, GoogleAccount, Message, User
    from secretary.drafting.stats import REVIEW_SECONDS, draft_stats
    from secretary.kit.clock import utcnow

    tag = uuid.uuid4().hex[:8]
    user = User(email=f"s-{tag}@example.test")
    session.add(user)
    session.flush()
    account = GoogleAccount(user_id=user.id, google_sub=f"s-{tag}", email=user.email, scopes=[])
    session.add(account)
    session.flush()
    message = Message(
        user_id=user.id, account_id=account.id, gmail_id=f"g-{tag}", gmail_thread_id="t",
        internal_date=utcnow(), label_ids=["INBOX"],
    )  # fmt: skip
    session.add(message)
    session.flush()
    sixty = " ".join(["word"] * 60)
    outcomes = [
        (DraftStatus.SENT, False, 0.0, sixty),  # approved as is
        (DraftStatus.SENT, True, 0.2, sixty),  # edited
        (DraftStatus.SENT, True, 0.4, sixty),  # edited
        (DraftStatus.REJECTED, False, None, "no"),
        (DraftStatus.PENDING, False, None, "later"),
        (DraftStatus.SUPERSEDED, False, None, "replaced"),  # not a suggestion the user saw
    ]
    for status, edited, distance, body in outcomes:
        session.add(
            Draft(
                user_id=user.id, account_id=account.id, message_id=message.id,
                draft_key=uuid.uuid4().hex, status=status, gmail_thread_id="t", body=body,
                suggested_body=sixty, human_edited=edited, edit_distance=distance,
            )
        )  # fmt: skip
    session.flush()
    stats = draft_stats(session, user.id)
    assert (stats.drafts_suggested, stats.approved_as_is, stats.edited) == (5, 1, 2)
    assert (stats.rejected, stats.pending) == (1, 1)
    assert stats.average_edit_size == pytest.approx(0.3)
    expected = sum(minutes_saved(sixty, d) for d in (0.0, 0.2, 0.4)) - REVIEW_SECONDS / 60
    assert stats.time_saved_minutes == round(expected, 1)
