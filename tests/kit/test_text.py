"""``split_sentences``: one splitter, with the callers' differences as arguments."""

from __future__ import annotations

import pytest

from secretary.kit.text import is_quoted_line, split_sentences

MAIL = (
    "Hi Ann,\n"
    "could you send the deck, e.g. the Q4 one, by 3 p.m. on Friday? It is\n"
    "for the board.\n"
    "\n"
    "Items:\n"
    "- budget\n"
    "- hiring\n"
    "> Earlier: we said Monday. Noted\n"
    "  > nested quote\n"
    "Thanks!"
)


def test_defaults_end_a_sentence_at_every_stop_and_line_break() -> None:
    assert split_sentences("Agenda:\nBudget review.  Then hiring!\n\n\nName, Role") == [
        "Agenda:",
        "Budget review.",
        "Then hiring!",
        "Name, Role",
    ]


def test_a_stop_before_lower_case_holds_when_a_capital_is_required() -> None:
    text = "Send it e.g. the deck by 3 p.m. on Friday. Thanks"
    assert split_sentences(text) == ["Send it e.g.", "the deck by 3 p.m.", "on Friday.", "Thanks"]
    assert split_sentences(text, capital_after_stop=True) == [
        "Send it e.g. the deck by 3 p.m. on Friday.",
        "Thanks",
    ]
    # A quote or a parenthesis opens a sentence as a capital does.
    assert split_sentences('Done. "Yes" she said. (Later.)', capital_after_stop=True) == [
        "Done.",
        '"Yes" she said.',
        "(Later.)",
    ]


def test_paragraph_line_breaks_join_wrapped_lines_but_not_list_items() -> None:
    text = "Please review\nthe draft.\n\nItems:\n- budget\n* hiring\n• travel\n-5 degrees"
    assert split_sentences(text, line_breaks="paragraph") == [
        "Please review the draft.",
        "Items:",
        "- budget",
        "* hiring",
        "• travel -5 degrees",
    ]


def test_no_line_breaks_only_stops_end_sentences() -> None:
    assert split_sentences("Line one\nline two. Next\n\nparagraph", line_breaks="none") == [
        "Line one line two.",
        "Next paragraph",
    ]


def test_mail_body_policy() -> None:
    assert split_sentences(
        MAIL,
        capital_after_stop=True,
        line_breaks="paragraph",
        drop_quoted=True,
        min_chars=3,
        max_chars=400,
    ) == [
        "Hi Ann, could you send the deck, e.g. the Q4 one, by 3 p.m. on Friday?",
        "It is for the board.",
        "Items:",
        "- budget",
        "- hiring Thanks!",
    ]


def test_quoted_lines_are_dropped_whole_before_splitting() -> None:
    kept = split_sentences(MAIL, drop_quoted=True)
    assert not any("Earlier" in s or "Noted" in s or "nested" in s for s in kept)
    # Without it a quoted line is text like any other.
    assert "Noted" in split_sentences(MAIL)


@pytest.mark.parametrize(
    ("line", "quoted"),
    [("> a", True), ("   >> b", True), (">", True), ("a > b", False), ("", False), ("\t", False)],
)
def test_is_quoted_line(line: str, quoted: bool) -> None:
    assert is_quoted_line(line) is quoted


def test_bounds_and_whitespace() -> None:
    text = "Ok. Yes.\n\n  Fine   then,\tsee\u00a0you. " + "x" * 401 + "."
    assert split_sentences(text) == ["Ok.", "Yes.", "Fine then, see you.", "x" * 401 + "."]
    assert split_sentences(text, min_chars=4, max_chars=400) == ["Yes.", "Fine then, see you."]
    assert split_sentences("") == []
    assert split_sentences(" \n\n \t") == []
