"""The draft-quality checks (issue 13) on the failures a user reported and on good drafts."""

from __future__ import annotations

from secretary.drafting.quality import generic_promise, local_part_greeting, unfilled_slot


def test_greeting_from_a_local_part() -> None:
    assert local_part_greeting("Hi Mlk,\n\nSure.", None, "mlk@example.org")
    assert local_part_greeting("Hi Jsmith,\n\nSure.", "Jane Smith", "jsmith@example.org")
    assert (
        local_part_greeting("Hi Smith,\n\nOk.", "Jane Smith-Jones", "jane.doe@example.org") is False
    )
    assert not local_part_greeting("Hi Jane,\n\nSure.", "Jane Smith", "jsmith@example.org")
    assert not local_part_greeting("Hi Priya,\n\nYes.", None, "priya.shah@example.org")
    assert not local_part_greeting("Hi,\n\nYes.", None, "mlk@example.org")


def test_unfilled_slot() -> None:
    assert unfilled_slot("Thanks for suggesting on Thursday.")
    assert unfilled_slot("Hi {first_name},")
    assert unfilled_slot("Let's meet on [date].")
    assert unfilled_slot("I can meet on.")
    assert not unfilled_slot("Thanks for suggesting a call on Thursday. 10:00 works for me.")
    assert not unfilled_slot("Hi Priya,\n\nThe report is attached.\n\nBest,\nDana")


def test_generic_promise() -> None:
    assert generic_promise("Thanks for your message. I'll look into this and follow up.")
    assert generic_promise("I will get back to you soon.")
    assert not generic_promise("The budget is $4,200; the receipts are in the shared folder.")
