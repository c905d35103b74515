"""Two tenants with real rows and an app over the real database (sessions that commit, so
the app role's row-level security is exercised exactly as in production)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, delete
from sqlalchemy.orm import Session, sessionmaker

from secretary.bootstrap import compose
from secretary.config import Settings
from secretary.db.models import (
    Draft,
    GoogleAccount,
    Message,
    Rule,
    TaskRecord,
    TriageResult,
    User,
)
from secretary.db.session import make_sessionmaker
from secretary.kit.clock import utcnow
from secretary.web.app import create_app
from secretary.web.deps import AppState
from tests.auth import create_user, issue_token


@dataclass
class Tenant:
    user_id: int
    token: str
    account_id: int
    message_id: int
    draft_id: int
    rule_id: int
    task_id: int
    token_id: int
    marker: str  # a string only this tenant's rows contain


def _make_tenant(sessions: sessionmaker[Session], name: str) -> Tenant:
    marker = f"{name}-{uuid.uuid4().hex[:8]}"
    uid = create_user(sessions, email=f"{marker}@example.test")
    token = issue_token(sessions, uid)
    with sessions.begin() as s:
        account = GoogleAccount(
            user_id=uid, google_sub=f"g-{marker}", email=f"{marker}@example.test", scopes=[]
        )
        s.add(account)
        s.flush()
        message = Message(
            user_id=uid,
            account_id=account.id,
            gmail_id=f"m-{marker}",
            gmail_thread_id=f"t-{marker}",
            subject=f"Subject {marker}",
            from_addr=f"sender-{marker}@example.org",
            body_text=f"Your one-time code is 493817 ({marker})",
            internal_date=utcnow(),
        )
        s.add(message)
        s.flush()
        s.add(
            TriageResult(
                user_id=uid,
                account_id=account.id,
                message_id=message.id,
                category="needs_reply",
                priority="normal",
                confidence=0.9,
                draft_decision="draft",
                classified_at=utcnow(),
            )
        )
        draft = Draft(
            user_id=uid,
            account_id=account.id,
            message_id=message.id,
            draft_key=f"k-{marker}",
            gmail_thread_id=f"t-{marker}",
            subject=f"Re: Subject {marker}",
            to_addrs=[f"sender-{marker}@example.org"],
            body=f"Draft body {marker}",
        )
        rule = Rule(
            user_id=uid,
            name=f"Rule {marker}",
            conditions={"subject": "x"},
            actions={"category": "fyi"},
        )
        task = TaskRecord(
            user_id=uid,
            name="triage.classify",
            dedupe_key=f"d-{marker}",
            stage="classify",
            status="dead",
            correlation_id=uuid.uuid4().hex[:16],
            message_id=message.id,
        )
        s.add_all([draft, rule, task])
        s.flush()
        from sqlalchemy import select

        from secretary.db.models import ApiToken

        token_id = s.scalars(select(ApiToken.id).where(ApiToken.user_id == uid)).one()
        return Tenant(
            user_id=uid,
            token=token,
            account_id=account.id,
            message_id=message.id,
            draft_id=draft.id,
            rule_id=rule.id,
            task_id=task.id,
            token_id=token_id,
            marker=marker,
        )


@pytest.fixture
def tenants(sessions: sessionmaker[Session]) -> Iterator[tuple[Tenant, Tenant]]:
    """Alice and Bob, each with an account, a message, a triage verdict, a pending draft,
    a rule, a dead task and an API token (all committed; deleted afterwards)."""
    alice = _make_tenant(sessions, "alice")
    bob = _make_tenant(sessions, "bob")
    yield alice, bob
    with sessions.begin() as s:
        s.execute(delete(User).where(User.id.in_([alice.user_id, bob.user_id])))


@pytest.fixture
def app(settings: Settings, engine: Engine) -> FastAPI:
    state = AppState(root=compose(settings, engine=engine, sessions=make_sessionmaker(engine)))
    return create_app(settings, state=state)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c
