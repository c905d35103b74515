"""The ask question set: every file is loaded, every question is well formed."""

from __future__ import annotations

from collections import Counter

from secretary.eval.ask import SPLITS, load_questions

TYPES = {
    "lookup",
    "time_range",
    "cross_service",
    "aggregation",
    "latest",
    "follow_up",
    "unanswerable",
    "action",
}


def test_every_question_file_is_loaded_with_known_splits_and_unique_ids() -> None:
    questions = load_questions()
    splits = Counter(q.split for q in questions)
    assert set(splits) <= set(SPLITS), splits
    assert splits["holdout2"] >= 40  # the blind set in its own file is picked up
    assert splits["dev"] >= 60
    ids = Counter(q.id for q in questions)
    assert [i for i, n in ids.items() if n > 1] == []


def test_answerable_questions_name_facts_or_citations() -> None:
    for q in load_questions():
        assert q.type in TYPES, (q.id, q.type)
        if q.type not in ("unanswerable", "action"):
            assert q.facts or q.cite, q.id
        if q.type == "unanswerable":
            assert not q.cite, q.id
