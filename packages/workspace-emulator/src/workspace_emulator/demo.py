"""The shipped demo workspace: a believable week of mail, calendars and Drive for Alex Rivera.

``demo_workspace/`` is a workspace folder in the documented format (``workspace.py``), so the
demo loads exactly as anyone's own export would. It is written around a fixed instant,
``DEMO_NOW`` (Tuesday 17 November 2026, 09:30 in New York; ``[clock] now`` in its
``workspace.toml``): ``secretary demo`` pins ``SECRETARY_NOW`` to it, so "today", "this week"
and "Friday" mean the same in the product, the emulator and the tests.

- **Mail**: 360 real, license-clean messages (SpamAssassin public corpus and public Enron
  mail, re-dated into the 30 days before ``DEMO_NOW``, the original Date kept as
  ``X-Original-Date``) and 15 synthetic ones (a Chicago trip with a flight and a hotel
  booking under the ``Travel`` label, a partner on-site, a release sign-off, a renewal call,
  finance requests). Sources and licences: ``demo_workspace/ATTRIBUTION.md``.
- **Calendar**: the primary calendar and "Team": a working week of meetings around
  ``DEMO_NOW``, recurring 1:1s on both calendars (one moved, one cancelled instance), the
  trip's flights, hotel and on-site, all-day events, a declined and a cancelled event.
- **Drive**: the Northwind proposal, an agreement draft, a signed PDF, budget sheets, meeting
  notes, the trip itinerary, the onboarding guide, vendor contacts and the roadmap.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from workspace_emulator.state import EmulatorState, EmulatorUser
from workspace_emulator.workspace import WorkspaceCounts, load_workspace

DEMO_WORKSPACE = Path(__file__).resolve().parent / "demo_workspace"
DEMO_EMAIL = "alex@demo.secretary.test"
DEMO_NAME = "Alex Rivera"
DEMO_TIME_ZONE = "America/New_York"
DEMO_NOW = datetime(2026, 11, 17, 14, 30, tzinfo=UTC)


@dataclass(frozen=True)
class DemoCounts:
    messages: int
    calendars: int
    events: int
    drive_files: int


def seed_demo_workspace(state: EmulatorState) -> EmulatorUser:
    """Load the shipped demo workspace into ``state`` (idempotent per state)."""
    with state.lock:
        if state.extras.get("demo_seeded"):
            return state.users[DEMO_EMAIL]
        user, counts = load_workspace(state, DEMO_WORKSPACE)
        state.extras["demo_seeded"] = counts
        return user


def demo_counts(state: EmulatorState) -> DemoCounts:
    counts: WorkspaceCounts = state.extras["demo_seeded"]
    return DemoCounts(
        messages=counts.messages,
        calendars=counts.calendars,
        events=counts.events,
        drive_files=counts.files,
    )
