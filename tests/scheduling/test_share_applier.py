"""A share proposed by ask or MCP reaches Drive only on approval, and only once
(``permissions.create`` through the official client, against the emulator)."""

from __future__ import annotations

from secretary.assistant import actions
from secretary.db import tenancy
from tests.scheduling.conftest import World


def _propose_share(world: World, file_id: str) -> dict[str, object]:
    with world.sessions.begin() as session:
        tenancy.act_as(session, world.owner.user_id)
        return actions.propose(
            session,
            world.owner.user_id,
            "share_file",
            "share file: Chicago trip itinerary",
            {"file_id": file_id, "emails": ["priya@acme.example"], "role": "reader"},
            account_id=world.owner.account_id,
        )


def test_without_drive_write_access_the_share_is_refused_plainly(world: World) -> None:
    """Secretary asks for read access to Drive only; sharing is refused with the fix."""
    drive = world.emulator.state.users[world.owner.email].drive
    made = drive.add_file("Chicago trip itinerary", "text/plain", content=b"07:05 LGA")
    file_id = str(made["id"] if isinstance(made, dict) else made.id)
    proposal = _propose_share(world, file_id)
    refused = world.api.post(f"/api/v1/approvals/{proposal['id']}/approve")
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "drive_write_not_granted"
    assert drive.permissions(file_id) == [] or all(
        p.get("emailAddress") != "priya@acme.example" for p in drive.permissions(file_id)
    )


def test_share_is_applied_once_after_approval(world: World) -> None:
    grant_drive_write(world)
    drive = world.emulator.state.users[world.owner.email].drive
    made = drive.add_file("Chicago trip itinerary", "text/plain", content=b"07:05 LGA")
    file_id = str(made["id"] if isinstance(made, dict) else made.id)

    proposal = _propose_share(world, file_id)

    def shared_with() -> list[str]:
        return [p.get("emailAddress", "") for p in drive.permissions(file_id)]

    assert "priya@acme.example" not in shared_with()  # nothing before approval
    first = world.api.post(f"/api/v1/approvals/{proposal['id']}/approve")
    assert first.status_code == 200, first.text
    again = world.api.post(f"/api/v1/approvals/{proposal['id']}/approve")
    assert again.status_code in (200, 409)
    assert shared_with().count("priya@acme.example") == 1


DRIVE = "https://www.googleapis.com/auth/drive"


def grant_drive_write(world: World) -> None:
    """The user reconnected and allowed Secretary to manage Drive files."""
    state = world.emulator.state
    with state.lock:
        for record in state.access_tokens.values():
            if record.email == world.owner.email and DRIVE not in record.scopes:
                record.scopes.append(DRIVE)
