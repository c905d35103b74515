"""The eval command prints the documented JSON; small slices clear measured floors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from secretary.cli.main import app
from secretary.eval import datasets as ds
from secretary.eval.service import evaluate
from tests.conftest import shared_data

ROOT = Path(__file__).resolve().parents[2]
KEYS = {"dataset", "split", "n", "per_class", "accuracy", "macro_f1", "confusion"}


def _root() -> Path:
    return shared_data("spamassassin_public_corpus").parent


def test_cli_prints_one_json_object() -> None:
    _root()
    result = CliRunner().invoke(
        app,
        [
            "eval",
            "classify",
            "--dataset",
            ds.PARAKWEET,
            "--split",
            "test",
            "--limit",
            "200",
            "--no-baseline",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout[result.stdout.index("{") :])
    assert set(report) >= KEYS
    assert report["dataset"] == ds.PARAKWEET
    assert report["split"] == "test"
    assert report["n"] == 200
    for row in report["per_class"].values():
        assert set(row) == {"precision", "recall", "f1", "support"}
    assert sum(sum(r.values()) for r in report["confusion"].values()) == 200
    # Measured 2026-11-21 on this slice: accuracy 0.83.
    assert report["accuracy"] >= 0.75


def test_cli_rejects_unknown_dataset() -> None:
    result = CliRunner().invoke(app, ["eval", "classify", "--dataset", "nope", "--json"])
    assert result.exit_code != 0


def test_spamassassin_slice_clears_floor() -> None:
    report = evaluate(_root(), ds.SPAMASSASSIN, "test", baseline=False, limit=120)
    assert report["n"] == 120
    # Measured 2026-11-21 on this slice: spam F1 0.97; whole test split in docs/evaluation.md.
    assert report["per_class"]["spam"]["f1"] >= 0.9
    assert report["per_class"]["ham"]["f1"] >= 0.9


def test_phishing_report_has_recall_at_ham_fpr() -> None:
    shared_data("phishing_pot_sample")
    report = evaluate(_root(), ds.PHISHING, "test", baseline=False, limit=60)
    recall = report["recall_at_ham_fpr"]
    assert set(recall) >= {"recall", "threshold", "ham_fpr", "max_fpr"}
    assert recall["max_fpr"] == 0.005
    assert recall["ham_fpr"] <= 0.05  # 60 ham: one false positive is already 1.7%
    assert report["per_class"]["spam"]["recall"] >= 0.7


def test_baseline_is_reported_beside_the_model() -> None:
    shared_data("parakweet_email_intent")
    report = evaluate(_root(), ds.PARAKWEET, "test", limit=100)
    baseline = report["baseline"]
    assert baseline["model"] == "baseline:tfidf-lr"
    assert 0.5 <= baseline["accuracy"] <= 1.0


@pytest.mark.slow
def test_bench_prints_json_keys() -> None:
    _root()
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "classify.py"), "--n", "64"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert {"emails_per_s", "load_s", "n"} <= set(result)
    assert result["n"] == 64
    assert result["emails_per_s"] > 0
