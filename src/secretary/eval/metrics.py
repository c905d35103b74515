"""Classification metrics as plain functions over label lists (no sklearn at run time)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def classification_report(
    truth: Sequence[str], predicted: Sequence[str], labels: Sequence[str] | None = None
) -> dict[str, Any]:
    """``per_class`` {precision, recall, f1, support}, ``accuracy``, ``macro_f1``, ``confusion``.

    ``confusion[true][predicted]`` counts; ``macro_f1`` averages over labels with support > 0.
    """
    if len(truth) != len(predicted):
        raise ValueError("truth and predicted differ in length")
    names = list(labels) if labels else sorted(set(truth) | set(predicted))
    confusion = {t: dict.fromkeys(names, 0) for t in names}
    for t, p in zip(truth, predicted, strict=True):
        confusion.setdefault(t, dict.fromkeys(names, 0))
        confusion[t][p] = confusion[t].get(p, 0) + 1
    per_class: dict[str, dict[str, float | int]] = {}
    for label in names:
        tp = confusion.get(label, {}).get(label, 0)
        fp = sum(row.get(label, 0) for t, row in confusion.items() if t != label)
        fn = sum(n for p, n in confusion.get(label, {}).items() if p != label)
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[label] = {
            "precision": round(precision, 4),
            "recall": round(recall, 4),
            "f1": round(f1, 4),
            "support": tp + fn,
        }
    supported = [v["f1"] for v in per_class.values() if v["support"]]
    correct = sum(t == p for t, p in zip(truth, predicted, strict=True))
    return {
        "n": len(truth),
        "per_class": per_class,
        "accuracy": round(correct / len(truth), 4) if truth else 0.0,
        "macro_f1": round(sum(supported) / len(supported), 4) if supported else 0.0,
        "confusion": confusion,
    }


def threshold_at_fpr(negative_scores: Sequence[float], max_fpr: float) -> float:
    """The lowest threshold whose false-positive rate on ``negative_scores`` is <= ``max_fpr``.

    A score counts as positive when it is strictly greater than the threshold.
    """
    ordered = sorted(negative_scores, reverse=True)
    allowed = int(max_fpr * len(ordered))  # how many negatives may score above
    if not ordered:
        return 0.5
    return ordered[allowed] if allowed < len(ordered) else ordered[-1]


def recall_at_fpr(
    positive_scores: Sequence[float], negative_scores: Sequence[float], max_fpr: float
) -> dict[str, float]:
    threshold = threshold_at_fpr(negative_scores, max_fpr)
    hits = sum(s > threshold for s in positive_scores)
    false_pos = sum(s > threshold for s in negative_scores)
    return {
        "recall": round(hits / len(positive_scores), 4) if positive_scores else 0.0,
        "threshold": round(float(threshold), 6),
        "ham_fpr": round(false_pos / len(negative_scores), 4) if negative_scores else 0.0,
        "max_fpr": max_fpr,
        "n_positive": len(positive_scores),
        "n_negative": len(negative_scores),
    }


def expected_calibration_error(
    confidences: Sequence[float], correct: Sequence[bool], bins: int = 10
) -> float:
    """ECE: the gap between confidence and accuracy, averaged over equal-width bins."""
    total = len(confidences)
    if not total:
        return 0.0
    error = 0.0
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        idx = [i for i, c in enumerate(confidences) if lo < c <= hi or (b == 0 and c == 0)]
        if idx:
            acc = sum(correct[i] for i in idx) / len(idx)
            conf = sum(confidences[i] for i in idx) / len(idx)
            error += len(idx) / total * abs(acc - conf)
    return round(error, 4)
