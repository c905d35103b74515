"""An event proposed by ask or MCP (not a meeting booking) is created only on approval,
exactly once, through the Calendar API of the emulator."""

from __future__ import annotations

from secretary.assistant import actions
from secretary.db import tenancy
from secretary.scheduling.proposed_events import event_id_for
from tests.scheduling.conftest import World


def test_proposed_event_is_created_once_after_approval(world: World) -> None:
    with world.sessions.begin() as session:
        tenancy.act_as(session, world.owner.user_id)
        proposal = actions.propose(
            session,
            world.owner.user_id,
            "create_event",
            "Event: Budget walkthrough",
            {
                "summary": "Budget walkthrough",
                "start": "2027-03-09T15:00:00-05:00",
                "end": "2027-03-09T15:45:00-05:00",
                "attendees": ["jordan@northwind.example"],
            },
            account_id=world.owner.account_id,
        )
    assert proposal["status"] == "pending_approval"
    event_id = event_id_for(int(proposal["id"]))
    assert world.events_with_id(event_id) == []  # nothing in Google before approval

    first = world.api.post(f"/api/v1/approvals/{proposal['id']}/approve")
    assert first.status_code == 200, first.text
    again = world.api.post(f"/api/v1/approvals/{proposal['id']}/approve")
    assert again.status_code in (200, 409)

    made = world.events_with_id(event_id)
    assert len(made) == 1
    assert made[0]["summary"] == "Budget walkthrough"
    assert [a["email"] for a in made[0]["attendees"]] == ["jordan@northwind.example"]
