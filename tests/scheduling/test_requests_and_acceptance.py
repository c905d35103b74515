"""Recognising what a meeting request asks for and which offered slot a reply accepts."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from secretary.llm.local.extract import extract
from secretary.llm.schemas import EmailInput
from secretary.scheduling import calendar_api, slots
from secretary.scheduling.acceptance import match_acceptance
from secretary.scheduling.requests import describe_slot, parse_meeting_request

NY = ZoneInfo("America/New_York")
PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2027, 3, 1, 14, tzinfo=UTC)  # Monday


def _request(body: str, **kwargs: object) -> tuple[EmailInput, object]:
    email = EmailInput(
        subject=str(kwargs.get("subject", "Catch up")),
        from_name="Jamie Doe",
        from_addr="jamie@partner.example",
        to=["alex@acme.example"],
        cc=list(kwargs.get("cc", [])),  # type: ignore[call-overload]
        sent_at=NOW,
        body_text=body,
        user_email="alex@acme.example",
    )
    return email, parse_meeting_request(
        email, extract(email), owner_zone=NY, owner_email="alex@acme.example", now=NOW
    )


def test_duration_window_zone_attendees_and_video() -> None:
    _, req = _request(
        "Could we do a 45-minute Zoom call next week, ideally after 3pm CET? "
        "Please include sam@partner.example.",
        cc=["robin@partner.example", "alex@acme.example"],
    )
    assert req.duration_minutes == 45  # type: ignore[attr-defined]
    assert req.requester_time_zone == "Europe/Paris"  # type: ignore[attr-defined]
    window = req.window  # type: ignore[attr-defined]
    assert window.start == datetime(2027, 3, 8, tzinfo=PARIS)
    assert window.end == datetime(2027, 3, 15, tzinfo=PARIS)
    assert req.attendees == (  # type: ignore[attr-defined]
        "jamie@partner.example",
        "robin@partner.example",
        "sam@partner.example",
    )
    assert req.video is True  # type: ignore[attr-defined]


def test_defaults_and_a_place() -> None:
    _, req = _request("Can we meet at the Blue Bottle cafe to talk it over?")
    assert req.duration_minutes == 30  # type: ignore[attr-defined]
    assert req.requester_time_zone is None  # type: ignore[attr-defined]
    assert req.window.start == NOW  # type: ignore[attr-defined]
    assert req.window.end - NOW > timedelta(days=13)  # type: ignore[attr-defined]
    assert req.location == "the Blue Bottle cafe to talk it over"  # type: ignore[attr-defined]
    assert req.video is False  # type: ignore[attr-defined]


def test_an_hour_long_meeting_on_named_days() -> None:
    _, req = _request("Are you free for an hour on Wednesday or Thursday to review the plan?")
    assert req.duration_minutes == 60  # type: ignore[attr-defined]
    window = req.window  # type: ignore[attr-defined]
    assert window.start.astimezone(NY).date() == date(2027, 3, 3)
    assert window.end.astimezone(NY).date() == date(2027, 3, 5)


OFFERED = [
    (datetime(2027, 3, 8, 15, tzinfo=UTC), datetime(2027, 3, 8, 15, 30, tzinfo=UTC)),
    (datetime(2027, 3, 9, 15, tzinfo=UTC), datetime(2027, 3, 9, 15, 30, tzinfo=UTC)),
    (datetime(2027, 3, 11, 19, 30, tzinfo=UTC), datetime(2027, 3, 11, 20, tzinfo=UTC)),
]
ZONES = [PARIS, NY]  # the draft showed Paris first, New York beside it


@pytest.mark.parametrize(
    ("reply", "index"),
    [
        ("Tuesday at 10 works", 1),  # 10:00 New York
        ("Tuesday at 4pm works for me", 1),  # 16:00 Paris
        ("tuesday at 16:00 is great", 1),
        ("The first one, please.", 0),
        ("Let's go with the second option", 1),
        ("the last one works best", 2),
        ("March 11 works", 2),
        ("How about the 8th? That works.", 0),
        ("2027-03-09 is perfect", 1),
        ("Thursday works for me.\n\nOn Mon, 1 Mar 2027 Alex wrote:\n> Tuesday at 10", 2),
        ("Option 3", 2),
    ],
)
def test_replies_that_accept_a_slot(reply: str, index: int) -> None:
    assert match_acceptance(reply, OFFERED, ZONES) == index


@pytest.mark.parametrize(
    "reply",
    [
        "None of these work for me, sorry.",
        "Tuesday doesn't work, can we do Friday?",
        "Friday at 10 works",  # not offered
        "Thanks, I'll get back to you.",
        "at 10 works",  # Monday and Tuesday both have 10:00 New York: ambiguous
        "",
    ],
)
def test_replies_that_accept_nothing(reply: str) -> None:
    assert match_acceptance(reply, OFFERED, ZONES) is None


def test_event_ids_are_deterministic_and_in_googles_alphabet() -> None:
    first = calendar_api.event_id_for(7, "thread-abc")
    assert first == calendar_api.event_id_for(7, "thread-abc")
    assert first != calendar_api.event_id_for(7, "thread-abd")
    assert first != calendar_api.event_id_for(8, "thread-abc")
    assert 5 <= len(first) <= 1024
    assert set(first) <= set("0123456789abcdefghijklmnopqrstuv")


def test_freebusy_is_split_into_windows_google_allows() -> None:
    people = [f"p{i}@acme.example" for i in range(120)]
    window = slots.Interval(NOW, NOW + timedelta(days=62))
    parts = calendar_api.freebusy_windows(people, window)
    assert {len(batch) for batch, _ in parts} == {50, 20}
    assert all(span.end - span.start <= calendar_api.FREEBUSY_MAX_RANGE for _, span in parts)
    assert len(parts) == 3 * 2
    # Together the ranges cover the window exactly, without gaps or overlaps.
    ranges = sorted({(s.start, s.end) for _, s in parts})
    assert ranges[0][0] == window.start
    assert ranges[-1][1] == window.end
    assert all(a[1] == b[0] for a, b in itertools.pairwise(ranges))


def test_describe_slot_in_two_zones() -> None:
    start, end = OFFERED[2]
    assert describe_slot(start, end, [PARIS, NY]) == (
        "Thursday 11 March, 20:30–21:00 Europe/Paris (14:30–15:00 America/New_York)"
    )


@pytest.mark.parametrize(
    ("reply", "index"),
    [
        ("Great, see you then!", 0),
        ("Perfect, thanks.", 0),
        ("Monday at 10 works", 0),
        ("Friday would work better", None),  # names another day
        ("Sorry, that no longer works for me.", None),
    ],
)
def test_a_single_confirmed_slot_is_accepted_by_a_plain_yes(reply: str, index: int | None) -> None:
    assert match_acceptance(reply, OFFERED[:1], ZONES) == index


def test_named_days_inside_next_week_narrow_the_window() -> None:
    _, req = _request("Can we meet next week, Tuesday 9 March or Wednesday 10 March?")
    window = req.window  # type: ignore[attr-defined]
    assert window.start.astimezone(NY).date() == date(2027, 3, 9)
    assert window.end.astimezone(NY).date() == date(2027, 3, 11)


def test_dates_far_off_or_past_do_not_become_the_window() -> None:
    _, req = _request("Are you free to meet about the 4/13/99 filing?")
    window = req.window  # type: ignore[attr-defined]
    assert window.start == NOW
    assert window.end - NOW < timedelta(days=16)


def test_the_draft_offers_slots_on_named_days_without_saying_they_do_not_work() -> None:
    from secretary.llm.local import drafter
    from secretary.llm.schemas import Category, Classification, DraftRequest, TimeSlot

    email, _ = _request("Can we meet next week about the Q3 plan? Tuesday or Wednesday?")
    offered = [TimeSlot(start=s, end=e) for s, e in OFFERED]
    result = drafter.draft_reply(
        DraftRequest(email=email, available_slots=offered, user_timezone="America/New_York"),
        extract(email),
        Classification(category=Category.NEEDS_REPLY, category_confidence=0.9),
        model="local:test",
    )
    assert result.intent == "propose_times"
    assert "Happy to meet. Would one of these times work for you" in result.body
    assert "don't work" not in result.body
    assert "check my calendar" not in result.body.lower()


def test_weekdays_named_with_next_week_are_next_weeks() -> None:
    # Sent on a Monday: a bare "Tuesday" would be tomorrow; with "next week" it is not.
    _, req = _request("Can we meet next week about the Q3 plan? Tuesday or Wednesday?")
    window = req.window  # type: ignore[attr-defined]
    assert window.start.astimezone(NY).date() == date(2027, 3, 9)
    assert window.end.astimezone(NY).date() == date(2027, 3, 11)
