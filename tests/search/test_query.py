"""Gmail operators and time phrases, parsed locally."""

from __future__ import annotations

from datetime import UTC, datetime

from secretary.search.query import parse_query

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)  # a Monday


def d(year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


def test_gmail_operators() -> None:
    q = parse_query(
        "from:ana@acme.test to:bo subject:(budget plan) label:Work has:attachment is:unread "
        'after:2026/01/05 before:2026-02-01 "exact words" -noise -from:noreply -label:old '
        "in:trash filename:report.pdf plain words",
        now=NOW,
    )
    assert q.from_ == ["ana@acme.test"]
    assert q.to == ["bo"]
    assert q.subject == ["budget plan"]
    assert q.labels == ["work"]
    assert q.excluded_labels == ["old"]
    assert q.excluded_from == ["noreply"]
    assert q.has_attachment is True
    assert q.is_unread is True
    assert (q.after, q.before) == (d(2026, 1, 5), d(2026, 2, 1))
    assert q.phrases == ["exact words"]
    assert q.excluded == ["noise"]
    assert q.in_ == "trash"
    assert q.filenames == ["report.pdf"]
    assert q.terms == ["plain", "words"]
    assert q.names_date


def test_relative_operators_and_negations() -> None:
    q = parse_query("newer_than:2d -has:attachment is:read older_than:1y", now=NOW)
    assert q.after == d(2026, 12, 5, 12)
    assert q.before == d(2025, 12, 7, 12)
    assert q.has_attachment is False
    assert q.is_unread is False
    assert q.terms == []


def test_unknown_operators_stay_words() -> None:
    q = parse_query("re: meeting at 10:30 https://x.test/a", now=NOW)
    assert q.terms == ["re:", "meeting", "at", "10:30", "https://x.test/a"]
    assert not q.has_filters


def test_natural_time_phrases_become_ranges() -> None:
    cases = {
        "invoice last week": (d(2026, 11, 30), d(2026, 12, 7)),
        "invoice this week": (d(2026, 12, 7), None),
        "invoice yesterday": (d(2026, 12, 6), d(2026, 12, 7)),
        "invoice last month": (d(2026, 11, 1), d(2026, 12, 1)),
        "invoice in March": (d(2026, 3, 1), d(2026, 4, 1)),
        "invoice in December": (d(2026, 12, 1), d(2027, 1, 1)),
        "invoice in March 2024": (d(2024, 3, 1), d(2024, 4, 1)),
        "invoice in 2025": (d(2025, 1, 1), d(2026, 1, 1)),
        "invoice past 3 days": (d(2026, 12, 4), None),
        "invoice since May 2": (d(2026, 5, 2), None),
        "invoice before 2026-06-01": (None, d(2026, 6, 1)),
    }
    for text, (after, before) in cases.items():
        q = parse_query(text, now=NOW)
        assert (q.after, q.before) == (after, before), text
        assert q.terms == ["invoice"], text
        assert q.names_date


def test_kind_and_text() -> None:
    q = parse_query('quarterly "board deck" subject:plan', now=NOW, kind="file")
    assert q.kind == "file"
    assert q.text == "quarterly board deck plan"
    assert q.needs_lexical_match
