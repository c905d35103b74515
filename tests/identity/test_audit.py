"""The audit log: every state change leaves an entry in the same transaction, whichever
edge made it; entries carry ids and states, never content; a user sees only their own."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from secretary.db.models import AuditLog, Draft, Rule
from secretary.identity import audit
from tests.identity.conftest import Tenant


def _actions(session: Session, user_id: int) -> list[str]:
    return list(
        session.scalars(
            select(AuditLog.action).where(AuditLog.user_id == user_id).order_by(AuditLog.id)
        )
    )


def test_draft_and_rule_changes_are_audited_from_the_flush(
    tenants: tuple[Tenant, Tenant], sessions: sessionmaker[Session]
) -> None:
    audit.install()
    alice, _ = tenants
    with sessions.begin() as s:
        draft = s.get(Draft, alice.draft_id)
        assert draft is not None
        draft.body = "edited by hand"
        draft.human_edited = True
        s.flush()
        draft.status = "approved"
        s.flush()
        draft.status = "sent"
        rule = s.get(Rule, alice.rule_id)
        assert rule is not None
        rule.name = "renamed"
        s.flush()
        s.delete(rule)
    with sessions() as s:
        actions = _actions(s, alice.user_id)
        entry = s.scalars(
            select(AuditLog).where(
                AuditLog.user_id == alice.user_id, AuditLog.action == "draft.sent"
            )
        ).one()
    assert actions[-5:] == [
        "draft.edited",
        "draft.approved",
        "draft.sent",
        "rule.updated",
        "rule.deleted",
    ]
    assert entry.details == {"draft_id": alice.draft_id, "was": "approved"}
    assert entry.actor == "system"
    assert alice.marker not in str(entry.details)


def test_api_changes_are_audited_with_the_caller_and_listed_per_user(
    client: TestClient, tenants: tuple[Tenant, Tenant]
) -> None:
    alice, bob = tenants
    auth = {"Authorization": f"Bearer {alice.token}"}
    r = client.post(
        "/api/v1/rules",
        json={"name": "x", "conditions": {"subject": "y"}, "actions": {"category": "fyi"}},
        headers=auth,
    )
    assert r.status_code == 201
    assert client.delete(f"/api/v1/rules/{r.json()['id']}", headers=auth).status_code == 204
    assert client.post("/api/v1/sync", json={}, headers=auth).status_code == 202
    entries = client.get("/api/v1/audit", headers=auth).json()
    actions = [e["action"] for e in entries]
    assert actions[:3] == ["sync.create", "rule.deleted", "rule.created"]
    assert all(e["actor"] in ("token", "system", "user", "session") for e in entries)
    assert entries[1]["actor"] == "token"
    theirs = client.get("/api/v1/audit", headers={"Authorization": f"Bearer {bob.token}"})
    assert not {e["id"] for e in theirs.json()} & {e["id"] for e in entries}
