"""Style learning and the LLM-free drafter across the common reply cases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from secretary.llm.local.drafter import draft_reply
from secretary.llm.local.extract import extract
from secretary.llm.local.style import learn_style
from secretary.llm.schemas import (
    Category,
    Classification,
    DraftRequest,
    EmailInput,
    StyleProfile,
    TimeSlot,
)

SENT = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
STYLE = StyleProfile(
    greeting="Hey {first_name},", closing="Cheers,", signature="Dana", typical_words=25
)


def _request(
    body: str, subject: str = "Hello", slots: list[TimeSlot] | None = None
) -> DraftRequest:
    email = EmailInput(
        subject=subject,
        from_name="Sam Carter",
        from_addr="sam@example.org",
        to=["dana@example.com"],
        user_email="dana@example.com",
        body_text=body,
        sent_at=SENT,
    )
    return DraftRequest(
        email=email,
        style=STYLE,
        user_name="Dana Scully",
        user_timezone="Europe/Paris",
        available_slots=slots,
    )


def _draft(request: DraftRequest, category: Category = Category.NEEDS_REPLY, meeting: bool = False):  # type: ignore[no-untyped-def]
    classification = Classification(
        category=category, category_confidence=0.9, meeting_request=meeting
    )
    return draft_reply(request, extract(request.email), classification, model="local:test")


def test_learn_style_from_sent_mail() -> None:
    sent = [
        "Hi Tom,\n\nSounds good, see you then.\n\nBest,\nDana",
        "Hi Alex,\n\nI reviewed the draft and left two comments in the doc.\n\nBest,\nDana",
        "Hello team,\n\nShipping today.\n\nThanks,\nDana",
        "Hi Priya,\n\nYes, Thursday works.\n\nBest,\nDana",
    ]
    style = learn_style(sent)
    assert style.greeting == "Hi {first_name},"
    assert style.closing == "Best,"
    assert style.signature == "Dana"
    assert style.uses_first_names
    assert 2 <= style.typical_words <= 12
    assert style.samples
    assert learn_style([]).greeting is None


def test_scheduling_proposes_only_given_slots_in_user_timezone() -> None:
    slots = [
        TimeSlot(
            start=datetime(2026, 11, 24, 9, 0, tzinfo=UTC),
            end=datetime(2026, 11, 24, 9, 30, tzinfo=UTC),
        ),
        TimeSlot(
            start=datetime(2026, 11, 24, 13, 0, tzinfo=UTC),
            end=datetime(2026, 11, 24, 13, 30, tzinfo=UTC),
        ),
        TimeSlot(
            start=datetime(2026, 11, 25, 15, 0, tzinfo=UTC),
            end=datetime(2026, 11, 25, 15, 30, tzinfo=UTC),
        ),
        TimeSlot(
            start=datetime(2026, 11, 26, 8, 0, tzinfo=UTC),
            end=datetime(2026, 11, 26, 8, 30, tzinfo=UTC),
        ),
    ]
    result = _draft(
        _request("Could we set up a call next week to discuss the budget?", "Budget call", slots)
    )
    assert result.should_draft
    assert result.intent == "propose_times"
    body = result.body
    assert body.startswith("Hey Sam,")
    assert body.rstrip().endswith("Cheers,\nDana")
    # Paris is UTC+1 in November: the slots are shown in the user's zone, three distinct days.
    assert "Tuesday 24 November, 10:00–10:30" in body
    assert "Wednesday 25 November, 16:00–16:30" in body
    assert "Thursday 26 November, 09:00–09:30" in body
    assert "14:00" not in body  # the second same-day slot is not offered
    assert body.count("\n- ") == 3


def test_scheduling_confirms_a_proposed_time_that_is_free() -> None:
    free = [
        TimeSlot(
            start=datetime(2026, 11, 24, 13, 0, tzinfo=UTC),
            end=datetime(2026, 11, 24, 16, 0, tzinfo=UTC),
        )
    ]
    result = _draft(_request("Can we meet on Tuesday at 2pm UTC for 30 minutes?", "Meeting", free))
    assert result.intent == "confirm"
    assert "Tuesday 24 November, 15:00–15:30 (Europe/Paris) works for me." in result.body


def test_scheduling_without_calendar_asks_for_times_and_invents_none() -> None:
    result = _draft(_request("Would you be available for a quick call sometime soon?", "Call?"))
    assert result.intent == "ask_detail"
    assert "What days and times work best for you?" in result.body
    assert not any(ch.isdigit() for ch in result.body)


def test_scheduling_with_full_calendar_declines() -> None:
    result = _draft(_request("Can we meet on Tuesday at 2pm?", "Meeting", []))
    assert result.intent == "decline"


def test_document_request_is_acknowledged_without_promising_a_date() -> None:
    result = _draft(_request("Could you send me the signed contract when you get a chance?"))
    assert result.intent == "acknowledge"
    assert "signed contract" in result.body
    assert not any(ch.isdigit() for ch in result.body)


def test_thanks_and_introduction() -> None:
    thanks = _draft(
        _request("Thanks so much for your help with the launch yesterday!"), Category.FYI
    )
    assert thanks.should_draft
    assert thanks.intent == "acknowledge"
    assert "You're welcome" in thanks.body
    intro = _draft(
        _request(
            "I'd like to introduce you to Maria Lopez, who runs research at our lab.",
            "Intro: Dana <> Maria",
        )
    )
    assert intro.intent == "acknowledge_intro"
    assert "Maria, nice to meet you." in intro.body
    assert "moving you to Bcc" in intro.body


@pytest.mark.parametrize("category", [Category.NEWSLETTER, Category.SPAM, Category.NOTIFICATION])
def test_no_draft_for_bulk_and_automated_mail(category: Category) -> None:
    result = _draft(_request("Could you confirm your subscription? Click here."), category)
    assert not result.should_draft
    assert result.body == ""


def test_no_draft_when_nothing_is_asked() -> None:
    result = _draft(_request("FYI, the server migration finished overnight."), Category.FYI)
    assert not result.should_draft


def test_slots_are_never_invented() -> None:
    base = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)
    slots = [
        TimeSlot(start=base + timedelta(days=i), end=base + timedelta(days=i, minutes=45))
        for i in range(2)
    ]
    result = _draft(_request("Let's schedule a meeting to review the plan.", "Review", slots))
    offered = [line for line in result.body.splitlines() if line.startswith("- ")]
    assert offered == ["- Tuesday 1 December, 15:00–15:45", "- Wednesday 2 December, 15:00–15:45"]
