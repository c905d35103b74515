"""``GET /api/v1/search`` over the real app: the contract's shape, and only one's own items."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from secretary.bootstrap import compose
from secretary.config import Settings
from secretary.db.session import make_sessionmaker
from secretary.search.indexer import Indexer
from secretary.web.app import create_app
from secretary.web.deps import AppState
from tests.auth import authenticate
from tests.search.conftest import Mailbox


def test_search_api_returns_the_contract_shape_for_the_signed_in_user_only(
    mailboxes: Callable[[], Mailbox],
    settings: Settings,
    engine: Engine,
    sessions: sessionmaker[Session],
) -> None:
    alice, bob = mailboxes(), mailboxes()
    wanted = alice.add("Kayak rental receipt", "Your kayak rental for Saturday is confirmed.")
    alice.add("Spam kayak offer", "Cheap kayaks!!!", labels=("SPAM",))
    bob.add("Bob's kayak plans", "Kayak trip with the family in June.")
    indexer = Indexer(engine, sessions, settings.home_path)
    indexer.run(alice.user_id)
    indexer.run(bob.user_id)

    app: FastAPI = create_app(
        settings,
        state=AppState(root=compose(settings, engine=engine, sessions=make_sessionmaker(engine))),
    )
    from fastapi.testclient import TestClient

    with TestClient(app) as client:
        assert client.get("/api/v1/search", params={"q": "kayak"}).status_code == 401
        authenticate(client, sessions, alice.user_id)
        r = client.get("/api/v1/search", params={"q": "kayak rental", "kind": "email"})
        assert r.status_code == 200, r.text
        results = r.json()["results"]
        assert set(r.json()) == {"results"}
        assert all(set(hit) == {"kind", "id", "title", "snippet", "score"} for hit in results)
        assert results[0] == {
            "kind": "email",
            "id": wanted.gmail_id,
            "title": "Kayak rental receipt",
            "snippet": "Your kayak rental for Saturday is confirmed.",
            "score": results[0]["score"],
        }
        scores = [hit["score"] for hit in results]
        assert scores == sorted(scores, reverse=True)
        titles = [hit["title"] for hit in results]
        assert "Bob's kayak plans" not in titles  # another user's item never appears
        assert "Spam kayak offer" not in titles  # spam only with in:spam
        spam = client.get("/api/v1/search", params={"q": "kayak in:spam"}).json()["results"]
        assert [hit["title"] for hit in spam] == ["Spam kayak offer"]
        assert client.get("/api/v1/search", params={"q": "kayak", "kind": "event"}).json() == {
            "results": []
        }
        assert client.get("/api/v1/search", params={"q": "x", "kind": "nope"}).status_code == 422

        authenticate(client, sessions, bob.user_id)
        mine = client.get("/api/v1/search", params={"q": "kayak rental receipt"}).json()
        assert [hit["title"] for hit in mine["results"]] == ["Bob's kayak plans"]
