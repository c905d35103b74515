"""The local intent parser reads operation, services, entities and time ranges."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from secretary.assistant.intent import parse_intent, parse_time_range
from secretary.assistant.schemas import Operation, Service

NOW = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)  # a Monday


def test_cross_service_question_with_same_day() -> None:
    intent = parse_intent(
        "When is my Turkish Airlines flight and is anything on my calendar that day?", now=NOW
    )
    assert intent.operation is Operation.FIND
    assert intent.services == [Service.MAIL, Service.CALENDAR]
    assert intent.same_day
    assert intent.entities.organizations == ["Turkish Airlines"]
    assert "flight" in intent.keywords


@pytest.mark.parametrize(
    ("question", "operation"),
    [
        ("Draft a reply to Priya accepting Thursday", Operation.DRAFT),
        ("How many emails did I get from Marco last week?", Operation.COUNT),
        ("Summarize the contract draft", Operation.SUMMARIZE),
        ("Find a time to meet Priya next week", Operation.SCHEDULE),
        ("Move my 1:1 with Marco to Friday", Operation.UPDATE),
        ("Compare the two budget versions", Operation.COMPARE),
        ("What is the latest budget total?", Operation.FIND),
    ],
)
def test_operation_words(question: str, operation: Operation) -> None:
    assert parse_intent(question, now=NOW).operation is operation


def test_entities_people_addresses_amounts_locators() -> None:
    intent = parse_intent(
        "Did Priya Shah or dana@example.com confirm the $1,200 refund for booking K7QX2M?",
        now=NOW,
    )
    assert intent.entities.people == ["Priya Shah"]
    assert intent.entities.emails == ["dana@example.com"]
    assert intent.entities.amounts == ["$1,200"]
    assert intent.entities.locators == ["K7QX2M"]


def test_time_ranges_are_whole_local_days_in_utc() -> None:
    last_week = parse_time_range("from Marco last week", now=NOW, time_zone="UTC")
    assert last_week is not None
    assert (last_week.start, last_week.end) == (
        datetime(2026, 11, 30, tzinfo=UTC),
        datetime(2026, 12, 7, tzinfo=UTC),
    )
    tomorrow = parse_time_range("tomorrow", now=NOW, time_zone="America/New_York")
    assert tomorrow is not None
    assert tomorrow.start == datetime(2026, 12, 8, 5, 0, tzinfo=UTC)  # local midnight, EST
    march = parse_time_range("what happened in March", now=NOW, time_zone="UTC")
    assert march is not None
    assert (march.start, march.end) == (
        datetime(2026, 3, 1, tzinfo=UTC),
        datetime(2026, 4, 1, tzinfo=UTC),
    )
    iso = parse_time_range("on 2026-12-24", now=NOW)
    assert iso is not None
    assert iso.start == datetime(2026, 12, 24, tzinfo=UTC)
    assert parse_time_range("the budget", now=NOW) is None


def test_follow_up_keeps_the_previous_subject() -> None:
    first = parse_intent("When is my Turkish Airlines flight?", now=NOW)
    follow = parse_intent("and the one before that?", now=NOW, previous=first)
    assert follow.follow_up
    assert follow.services == first.services
    assert follow.keywords == first.keywords  # nothing new was asked
    assert follow.entities.organizations == ["Turkish Airlines"]
    assert not parse_intent("and the one before that?", now=NOW).follow_up
