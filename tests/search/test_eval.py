"""``secretary eval search`` on a tiny labelled set whose figures are worked out by hand."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from secretary.cli.main import app
from secretary.eval.search import parse_aeslc, ranking_metrics

EMAILS = {
    "test/a": (
        "The pipeline maintenance is scheduled for Tuesday at the compressor station.",
        "pipeline maintenance tuesday",
    ),
    "test/b": (
        "Please review the attached gas trading contract before Friday.",
        "gas trading contract review",
    ),
    # No word of this query is in any email: BM25 cannot find it (rank None).
    "test/c": (
        "Happy birthday to Sarah, cake in the kitchen at 3pm.",
        "quarterly earnings forecast",
    ),
    "dev/d": ("Lunch menu for the team offsite next week.", "offsite lunch"),
}


def _write(root: Path) -> Path:
    folder = root / "aeslc_enron_subject_lines"
    for key, (body, query) in EMAILS.items():
        split, name = key.split("/")
        (folder / split).mkdir(parents=True, exist_ok=True)
        (folder / split / f"{name}.subject").write_text(
            f"{body}\n\n@subject\nOriginal subject {name}\n\n@ann0\n{query}\n"
        )
    return root


def test_ranking_metrics_by_hand() -> None:
    # Ranks 1, 3, missing, 11 (outside the top 10) and 2 over five queries:
    # hit@1 = 1/5, hit@10 = 3/5, MRR@10 = (1 + 1/3 + 1/2) / 5 = 0.36667.
    report = ranking_metrics([1, 3, None, 11, 2], [4.0, 1.0, 2.0, 3.0, 100.0])
    assert report == {
        "n": 5,
        "hit_at_1": 0.2,
        "hit_at_10": 0.6,
        "mrr_at_10": 0.3667,
        "p50_ms": 3.0,
        "p99_ms": 100.0,
    }


def test_parse_aeslc_keeps_the_body_and_the_annotations() -> None:
    body, subject, queries = parse_aeslc(
        "Hi all,\nbody line\n\n@subject\nRe: x\n\n@ann0\nq one\n\n@ann1\nq two\n"
    )
    assert (body, subject, queries) == ("Hi all,\nbody line", "Re: x", ["q one", "q two"])


def test_eval_search_command_on_a_tiny_labelled_set(tmp_path: Path) -> None:
    data = _write(tmp_path)
    result = CliRunner().invoke(
        app,
        [
            "eval",
            "search",
            "--dataset",
            "aeslc_enron_subject_lines",
            "--split",
            "test",
            "--data",
            str(data),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["indexed_emails"] == 4  # every split is indexed
    assert report["queries"] == 3  # only the test split's subject lines are asked
    # BM25: a and b at rank 1, c not found: 2/3 everywhere.
    assert report["bm25"]["n"] == 3
    assert report["bm25"]["hit_at_1"] == pytest.approx(0.6667)
    assert report["bm25"]["hit_at_10"] == pytest.approx(0.6667)
    assert report["bm25"]["mrr_at_10"] == pytest.approx(0.6667)
    # Vectors rank all four emails for every query, so each own email is in the top 10;
    # the hybrid keeps a vector-only find only above the similarity floor, and a birthday
    # note is nothing like "quarterly earnings forecast": 2/3 again.
    assert report["vector"]["hit_at_10"] == 1.0
    assert report["hybrid"]["hit_at_10"] == pytest.approx(0.6667)
    assert report["hybrid"]["hit_at_1"] >= report["bm25"]["hit_at_1"]
    for key in ("n", "hit_at_1", "hit_at_10", "mrr_at_10", "p50_ms", "p99_ms"):
        assert report[key] == report["hybrid"][key]
    notmuch = report["notmuch"]
    if "skipped" not in notmuch:  # same mail, same queries: Xapian finds a and b only
        assert notmuch["hit_at_10"] == pytest.approx(0.6667)
        assert notmuch["mrr_at_10"] == pytest.approx(0.6667)
    else:
        assert notmuch["skipped"]
