"""The local drafter on real-shaped scheduling mail."""

from __future__ import annotations


def test_meeting_reply_echoes_only_speakable_times_and_answers_a_second_ask() -> None:
    from datetime import UTC, datetime

    from secretary.llm.local import LocalTier
    from secretary.llm.schemas import DraftRequest, EmailInput

    email = EmailInput(
        subject="Can we meet next week about the Q3 plan?",
        from_name="Priya Shah",
        from_addr="priya.shah@partner.example",
        sent_at=datetime(2026, 11, 20, 9, 0, tzinfo=UTC),
        body_text=(
            "Hi Alex,\n\nCould we find 30 minutes next week to go through the Q3 plan? "
            "Tuesday or Wednesday afternoon would work well for me.\n\n"
            "Could you also send me the latest draft of the proposal before then?\n\n"
            "Thanks,\nPriya\n"
        ),
    )
    draft = LocalTier().draft_reply(DraftRequest(email=email, user_name="Alex Rivera"))
    assert draft.should_draft
    assert draft.body.startswith("Hi Priya,")
    assert "Tuesday" in draft.body
    assert "next week or" not in draft.body
    assert "proposal" in draft.body  # the second ask is acknowledged too
    assert "/" not in draft.body  # no raw numeric dates echoed back
