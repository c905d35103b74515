"""The scheduling API's shapes (issue 10 §2; other tools rely on them: keep them exact)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

MAX_WINDOW_DAYS = 62
MAX_SLOTS = 500
DEFAULT_MAX_SLOTS = 10

Interval = list[str]  # ["HH:MM", "HH:MM"]


class SchedulingPreferencesOut(BaseModel):
    """The effective preferences: what the user set, defaults for the rest."""

    time_zone: str
    working_hours: dict[str, list[Interval]]
    buffer_minutes: int
    minimum_notice_minutes: int
    no_meeting_days: list[str]
    date_overrides: dict[str, list[Interval]]
    max_meetings_per_day: int | None
    slot_step_minutes: int
    calendars: list[str]


class SchedulingPreferencesIn(BaseModel):
    """A full replacement; a key left out (or null) goes back to its default."""

    model_config = ConfigDict(extra="forbid")

    time_zone: str | None = None
    working_hours: dict[str, list[Interval]] | None = None
    buffer_minutes: int | None = Field(default=None, ge=0, le=240)
    minimum_notice_minutes: int | None = Field(default=None, ge=0, le=60 * 24 * 30)
    no_meeting_days: list[str] | None = None
    date_overrides: dict[str, list[Interval]] | None = None
    max_meetings_per_day: int | None = Field(default=None, ge=1, le=50)
    slot_step_minutes: int | None = Field(default=None, ge=5, le=240)
    calendars: list[str] | None = None


class AvailabilityIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    duration_minutes: int = Field(ge=5, le=24 * 60)
    start: str = Field(description="RFC 3339, or a date (from that local day's start)")
    end: str = Field(description="RFC 3339 (exclusive), or a date (through that local day)")
    time_zone: str | None = Field(
        default=None, description="The zone dates are read in and slots rendered in."
    )
    attendees: list[str] | None = None
    max_slots: int = Field(default=DEFAULT_MAX_SLOTS, ge=1, le=MAX_SLOTS)


class SlotOut(BaseModel):
    start: str
    end: str
    score: float


class AvailabilityOut(BaseModel):
    time_zone: str
    slots: list[SlotOut]
