"""`secretary schedule slots|prefs`: free slots and scheduling preferences (issue 10)."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from secretary.cli.context import console, emit_json, get_ctx

app = typer.Typer(help="Availability and scheduling preferences.", no_args_is_help=True)
prefs_app = typer.Typer(
    help="Show or change the scheduling preferences (no subcommand: show).",
    invoke_without_command=True,
)
app.add_typer(prefs_app, name="prefs")

USER = typer.Option(None, "--user-id", help="Owner (optional on single-user installs).")
JSON = typer.Option(False, "--json", help="Print JSON.")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="schedule")


@app.command("slots")
def slots_command(
    duration: int = typer.Option(..., "--duration", help="Meeting length in minutes."),
    start: str = typer.Option(..., "--from", help="First day (YYYY-MM-DD) or an RFC 3339 time."),
    end: str = typer.Option(..., "--to", help="Last day (inclusive) or an RFC 3339 time."),
    tz: str | None = typer.Option(None, "--tz", help="Zone for dates and results."),
    attendee: list[str] = typer.Option([], "--attendee", help="Attendee address (repeatable)."),
    max_slots: int = typer.Option(10, "--max", help="At most this many slots (≤ 500)."),
    user_id: int | None = USER,
    json_out: bool = JSON,
) -> None:
    """Free slots, best first, as POST /api/v1/availability answers."""
    from secretary.db.session import unit_of_work
    from secretary.scheduling import service
    from secretary.scheduling.calendar_api import attendee_busy_source
    from secretary.scheduling.errors import InvalidSchedulingRequest
    from secretary.scheduling.schemas import AvailabilityIn
    from secretary.triage.service import resolve_user_id

    ctx = get_ctx()
    ctx.migrated_engine()
    try:
        body = AvailabilityIn(
            duration_minutes=duration,
            start=start,
            end=end,
            time_zone=tz,
            attendees=attendee or None,
            max_slots=max_slots,
        )
    except ValueError as exc:
        raise InvalidSchedulingRequest(str(exc)) from None
    with unit_of_work(ctx.sessions) as session:
        uid = resolve_user_id(session, user_id)
        answer = service.find_availability(
            session,
            uid,
            body,
            attendee_busy=attendee_busy_source(session, uid, ctx.settings, ctx.sessions),
        )
    if json_out:
        emit_json(answer.model_dump())
        return
    table = Table(title=f"Free {duration}-minute slots ({answer.time_zone})")
    for col in ("start", "end", "score"):
        table.add_column(col)
    for slot in answer.slots:
        table.add_row(slot.start, slot.end, f"{slot.score:.3f}")
    console.print(table)
    if not answer.slots:
        console.print("no free slot in that window")


def _show(data: dict[str, Any]) -> None:
    table = Table(title="Scheduling preferences", show_header=False)
    table.add_column("key")
    table.add_column("value", overflow="fold")
    for key, value in data.items():
        if key == "working_hours":
            value = "; ".join(
                f"{d} " + ", ".join(f"{a}-{b}" for a, b in spans) for d, spans in value.items()
            )
        elif key == "date_overrides":
            value = "; ".join(
                f"{d} " + (", ".join(f"{a}-{b}" for a, b in spans) or "off")
                for d, spans in value.items()
            )
        elif isinstance(value, list):
            value = ", ".join(map(str, value))
        table.add_row(key, "none" if value is None or value == "" else str(value))
    console.print(table)


def _spans(text: str) -> list[list[str]]:
    """ "09:00-12:00,13:00-17:00" → [["09:00","12:00"], ["13:00","17:00"]]; "" → []."""
    out = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        a, sep, b = part.partition("-")
        if not sep:
            raise typer.BadParameter(f"use HH:MM-HH:MM, got {part!r}")
        out.append([a.strip(), b.strip()])
    return out


def _pairs(items: list[str], what: str) -> dict[str, list[list[str]]]:
    out: dict[str, list[list[str]]] = {}
    for item in items:
        key, sep, spans = item.partition("=")
        if not sep:
            raise typer.BadParameter(f"{what}: use KEY=HH:MM-HH:MM[,HH:MM-HH:MM], got {item!r}")
        out[key.strip().lower()] = _spans(spans)
    return out


@prefs_app.callback()
def prefs_default(
    typer_ctx: typer.Context, user_id: int | None = USER, json_out: bool = JSON
) -> None:
    if typer_ctx.invoked_subcommand is None:
        prefs_show(user_id=user_id, json_out=json_out)


@prefs_app.command("show")
def prefs_show(user_id: int | None = USER, json_out: bool = JSON) -> None:
    """The effective preferences (defaults filled in)."""
    from secretary.db.session import unit_of_work
    from secretary.scheduling import service
    from secretary.triage.service import resolve_user_id

    ctx = get_ctx()
    ctx.migrated_engine()
    with unit_of_work(ctx.sessions) as session:
        data = service.get_preferences(session, resolve_user_id(session, user_id)).model_dump()
    if json_out:
        emit_json(data)
    else:
        _show(data)


@prefs_app.command("set")
def prefs_set(
    tz: str | None = typer.Option(None, "--tz", help="The owner's time zone (IANA name)."),
    hours: list[str] = typer.Option(
        [], "--hours", help="Weekday hours, e.g. mon=09:00-12:00,13:00-17:00 (mon= clears)."
    ),
    buffer: int | None = typer.Option(None, "--buffer", help="Minutes before and after."),
    notice: int | None = typer.Option(None, "--notice", help="Minimum notice in minutes."),
    no_meeting_day: list[str] = typer.Option(
        [], "--no-meeting-day", help="A weekday without meetings (repeatable; 'none' clears)."
    ),
    override: list[str] = typer.Option(
        [], "--override", help="Date hours, e.g. 2027-03-06=10:00-12:00 (2027-03-08= is a day off)."
    ),
    max_per_day: int | None = typer.Option(
        None, "--max-per-day", help="At most this many meetings a day (0 = no cap)."
    ),
    step: int | None = typer.Option(None, "--step", help="Slot step in minutes."),
    calendar: list[str] = typer.Option(
        [], "--calendar", help="A calendar id that counts (repeatable; replaces the list)."
    ),
    reset: bool = typer.Option(False, "--reset", help="Start from the defaults."),
    user_id: int | None = USER,
    json_out: bool = JSON,
) -> None:
    """Change some preferences; the others keep their current values."""
    from secretary.db.session import unit_of_work
    from secretary.scheduling import repository, service
    from secretary.scheduling.errors import InvalidSchedulingRequest
    from secretary.scheduling.schemas import SchedulingPreferencesIn
    from secretary.triage.service import resolve_user_id

    ctx = get_ctx()
    ctx.migrated_engine()
    with unit_of_work(ctx.sessions) as session:
        uid = resolve_user_id(session, user_id)
        row = None if reset else repository.get_preference_row(session, uid)
        current: dict[str, Any] = (
            {
                k: getattr(row, k)
                for k in SchedulingPreferencesIn.model_fields
                if getattr(row, k) is not None
            }
            if row is not None
            else {}
        )
        if tz is not None:
            current["time_zone"] = tz
        if hours:
            week = dict(current.get("working_hours") or service.DEFAULT_WORKING_HOURS)
            for day, spans in _pairs(hours, "--hours").items():
                if spans:
                    week[day] = spans
                else:
                    week.pop(day, None)
            current["working_hours"] = week
        if buffer is not None:
            current["buffer_minutes"] = buffer
        if notice is not None:
            current["minimum_notice_minutes"] = notice
        if no_meeting_day:
            current["no_meeting_days"] = [d.lower() for d in no_meeting_day if d != "none"]
        if override:
            dates = dict(current.get("date_overrides") or {})
            dates.update(_pairs(override, "--override"))
            current["date_overrides"] = dates
        if max_per_day is not None:
            current["max_meetings_per_day"] = max_per_day or None
        if step is not None:
            current["slot_step_minutes"] = step
        if calendar:
            current["calendars"] = calendar
        try:
            wanted = SchedulingPreferencesIn.model_validate(current)
        except ValueError as exc:
            raise InvalidSchedulingRequest(str(exc)) from None
        data = service.put_preferences(session, uid, wanted).model_dump()
    if json_out:
        emit_json(data)
    else:
        _show(data)
