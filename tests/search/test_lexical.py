"""The lexical side's query text: function words and adjacent-word pairs, on real tantivy."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from secretary.search.documents import SearchDocument
from secretary.search.lexical import LexicalIndex, scored_words
from secretary.search.query import parse_query

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def test_function_words_are_dropped_but_kept_in_pairs_and_when_alone() -> None:
    assert scored_words(["copy", "of", "the", "policy"]) == (
        'copy policy "copy of"~2 "of the"~2 "the policy"~2'
    )
    assert scored_words(["to", "be"]) == 'to be "to be"~2'
    assert scored_words(["budget"]) == "budget"


def test_words_close_together_outrank_the_same_words_far_apart(tmp_path: Path) -> None:
    index = LexicalIndex(tmp_path / "index")
    filler = " ".join(["meanwhile"] * 30)
    index.upsert(
        [
            SearchDocument("email", 1, "far", "", f"The title came today. {filler} Our policy."),
            SearchDocument("email", 2, "near", "", f"The title policy came today. {filler} Ok."),
        ]
    )
    hits = index.search(parse_query("need copy of title policy", now=NOW))
    assert [h.source_id for h in hits] == [2, 1]
