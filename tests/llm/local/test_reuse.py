"""The local tier reuses work within one message: classification for the drafter, date spans."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest

from secretary.llm.local import LocalTier, embeddings
from secretary.llm.local.extract import find_times
from secretary.llm.schemas import DraftRequest, EmailInput, SenderStats


def _email(body: str) -> EmailInput:
    return EmailInput(
        subject="Budget",
        from_name="Sam Lee",
        from_addr="sam@example.org",
        to=["dana@example.com"],
        user_email="dana@example.com",
        sent_at=datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
        body_text=body,
    )


def test_repeat_classification_is_equal_and_callers_cannot_corrupt_it() -> None:
    tier = LocalTier()
    email = _email("Could you send me the updated budget before Friday?")
    first = tier.classify(email)
    first.reason = "changed by a caller"
    first.scores["spam"] = 42.0
    again = tier.classify(email)
    assert again.reason != "changed by a caller"
    assert again.scores == tier.classify_many([email])[0].scores
    # The drafter classifies the same input: same verdict, a draft for a question.
    draft = tier.draft_reply(DraftRequest(email=email, user_name="Dana"))
    assert draft.should_draft
    other = tier.classify(_email("Your monthly statement is ready."))
    assert other.scores != again.scores


def test_parsed_spans_follow_each_messages_own_clock() -> None:
    # Same instant, different offsets: "tomorrow" is a different day on each side of midnight.
    utc = datetime(2026, 3, 2, 23, 30, tzinfo=UTC)
    tokyo = utc.astimezone(timezone(timedelta(hours=9)))
    assert utc == tokyo
    at_utc = find_times("Let's meet tomorrow at 3pm", sent_at=utc)
    at_tokyo = find_times("Let's meet tomorrow at 3pm", sent_at=tokyo)
    assert at_utc[0].start is not None
    assert at_tokyo[0].start is not None
    assert at_utc[0].start.date() == date(2026, 3, 3)
    assert at_tokyo[0].start.date() == date(2026, 3, 4)
    assert find_times("Let's meet tomorrow at 3pm", sent_at=utc) == at_utc


def test_the_drafter_reclassifying_with_other_sender_facts_embeds_nothing_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The triage stage classifies with sender facts, the draft stage without: a different
    input, classified again, but the mail and its intent sentences are embedded once."""
    tier = LocalTier()
    embedded: list[str] = []
    real = embeddings.get_embedder().embed

    def counting(texts: list[str]) -> Any:
        embedded.extend(texts)
        return real(texts)

    monkeypatch.setattr(embeddings.get_embedder(), "embed", counting)
    body = "Could you review the lease draft? Also, can we meet on Thursday at 10?"
    triaged = _email(body).model_copy(
        update={"sender_stats": SenderStats(user_wrote_to_sender=True, messages_from_sender=4)}
    )
    first = tier.classify(triaged)
    assert embedded  # the mail and its sentences
    count = len(embedded)
    draft = tier.draft_reply(DraftRequest(email=_email(body), user_name="Dana"))
    assert len(embedded) == count
    assert draft.should_draft
    assert tier.classify(_email(body)).category == first.category
