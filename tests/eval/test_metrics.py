"""Metrics match hand-computed values; splits are deterministic and disjoint."""

from __future__ import annotations

import pytest

from secretary.eval.datasets import bucket_of, split_of
from secretary.eval.metrics import (
    classification_report,
    expected_calibration_error,
    recall_at_fpr,
    threshold_at_fpr,
)


def test_classification_report_by_hand() -> None:
    truth = ["spam", "spam", "spam", "ham", "ham", "newsletter"]
    predicted = ["spam", "spam", "ham", "ham", "spam", "newsletter"]
    report = classification_report(truth, predicted, ["spam", "ham", "newsletter"])
    spam = report["per_class"]["spam"]
    assert spam == {"precision": 0.6667, "recall": 0.6667, "f1": 0.6667, "support": 3}
    assert report["per_class"]["ham"] == {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2}
    assert report["accuracy"] == round(4 / 6, 4)
    assert report["macro_f1"] == round((2 / 3 + 0.5 + 1.0) / 3, 4)
    assert report["confusion"]["spam"] == {"spam": 2, "ham": 1, "newsletter": 0}
    assert report["n"] == 6
    with pytest.raises(ValueError):
        classification_report(["a"], [])


def test_recall_at_fpr_respects_the_budget() -> None:
    negatives = [i / 1000 for i in range(1000)]  # 0.000 .. 0.999
    threshold = threshold_at_fpr(negatives, 0.005)
    assert sum(s > threshold for s in negatives) <= 5
    result = recall_at_fpr([0.9999, 0.998, 0.5, 0.1], negatives, 0.005)
    assert result["ham_fpr"] <= 0.005
    assert result["recall"] == 0.5  # 0.9999 and 0.998 clear the 0.994 threshold


def test_ece() -> None:
    assert expected_calibration_error([1.0, 1.0], [True, True]) == 0.0
    assert expected_calibration_error([0.9] * 10, [True] * 5 + [False] * 5) == pytest.approx(0.4)


def test_splits_are_deterministic_and_cover_all_buckets() -> None:
    keys = [f"spamassassin_public_corpus/easy-ham-1/{i:05d}.txt" for i in range(2000)]
    splits = [split_of(k) for k in keys]
    assert splits == [split_of(k) for k in keys]
    share = {s: splits.count(s) / len(keys) for s in ("train", "dev", "test")}
    assert 0.55 < share["train"] < 0.65
    assert 0.15 < share["dev"] < 0.25
    assert 0.15 < share["test"] < 0.25
    assert all(split_of(k, trainable=False) != "train" for k in keys)
    assert all(0 <= bucket_of(k) < 100 for k in keys)
