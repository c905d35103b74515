"""Regenerate from the approval queue (issue 12): the local drafter follows the user's
instruction with templates and never returns the text it is replacing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from secretary.llm.local.drafter import draft_reply
from secretary.llm.local.extract import extract
from secretary.llm.schemas import Category, Classification, DraftRequest, DraftResult, EmailInput

ASK = "Hi Dana,\n\nCould you send me the latest budget spreadsheet by Friday?\n\nThanks,\nSam"


def _draft(instruction: str | None = None, previous: str | None = None) -> DraftResult:
    email = EmailInput(
        subject="Budget",
        from_name="Sam Carter",
        from_addr="sam@example.org",
        to=["dana@example.com"],
        user_email="dana@example.com",
        body_text=ASK,
        sent_at=datetime(2026, 11, 20, 9, 0, tzinfo=UTC),
    )
    request = DraftRequest(
        email=email, user_name="Dana Scully", instruction=instruction, previous_body=previous
    )
    classification = Classification(category=Category.NEEDS_REPLY, category_confidence=0.9)
    return draft_reply(request, extract(email), classification, model="local:test")


def test_regenerating_never_returns_the_same_text() -> None:
    first = _draft()
    assert first.should_draft
    again = _draft(previous=first.body)
    assert again.body != first.body
    assert again.body.startswith("Hi Sam,")  # same greeting and facts, other words
    # And a third time, against the second, still something new.
    assert _draft(previous=again.body).body != again.body


@pytest.mark.parametrize(
    ("instruction", "expected"),
    [
        ("decline politely", "won't be able to take this on"),
        ("please make it more formal", "Dear Sam,"),
        ("a bit longer", "anything else from me"),
    ],
)
def test_instructions_are_followed(instruction: str, expected: str) -> None:
    first = _draft()
    steered = _draft(instruction=instruction, previous=first.body)
    assert expected in steered.body
    assert steered.body != first.body


def test_shorter_is_shorter() -> None:
    first = _draft()
    shorter = _draft(instruction="shorter", previous=first.body)
    assert len(shorter.body) < len(first.body)
    assert shorter.body.startswith("Hi Sam,")
