"""Train the shipped classifier and evaluate tiers on the labelled sets.

``train_classifier`` reads only license-clean data (see ``datasets.LICENSES``); the dev splits
pick the regularisation and the calibration temperature; the test splits are only measured.
``evaluate`` prints what the acceptance table asks for, with a TF-IDF + logistic-regression
baseline beside each number (baselines are fitted at evaluation time and never shipped; the
Berkeley baseline is fitted on Berkeley dev labels, which is allowed for evaluation only).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from secretary.eval import datasets as ds
from secretary.eval.metrics import classification_report, expected_calibration_error, recall_at_fpr
from secretary.llm.local.classifier import (
    CLASSES,
    EMBED_SCALE,
    INTENT_CLASSES,
    VERSION,
    ClassifierModel,
    Matrix,
    sentence_set,
    train_head,
    training_set,
)
from secretary.llm.local.embeddings import ONNX_PATH, get_embedder
from secretary.llm.local.features import hash_text, mail_text
from secretary.llm.local.tier import LocalTier
from secretary.llm.schemas import Category, EmailInput

PHISHING_MAX_HAM_FPR = 0.005
_SA_MAP = {"spam": "spam", "newsletter": "newsletter", "ham": "list"}


def default_cache_dir() -> Path:
    return Path.home() / ".cache" / "secretary" / "embeddings"


def embed_cached(texts: Sequence[str], cache_dir: Path | None) -> Matrix:
    """Embed with the shipped model, caching the matrix on disk by content hash."""
    if cache_dir is None:
        return get_embedder().embed(list(texts))
    digest = hashlib.sha256(ONNX_PATH.name.encode() + str(get_embedder().max_tokens).encode())
    for text in texts:
        digest.update(text.encode("utf-8", "replace") + b"\0")
    path = cache_dir / f"{digest.hexdigest()[:32]}.npy"
    if path.exists():
        cached: Matrix = np.load(path, allow_pickle=False)
        return cached
    vectors = get_embedder().embed(list(texts))
    cache_dir.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    return vectors


@dataclass
class CorpusSplit:
    emails: list[EmailInput]
    labels: list[str]
    sentences: list[str]
    sentence_labels: list[str]


def training_corpus(root: Path, split: ds.Split) -> CorpusSplit:
    """License-clean mail for one split, labelled with the model's own classes."""
    emails: list[EmailInput] = []
    labels: list[str] = []
    for item in ds.load_spamassassin(root, split):
        emails.append(item.email)
        labels.append(_SA_MAP[item.label])
    for item in ds.load_berkeley(root, split, with_labels=False):  # public Enron text only
        emails.append(item.email)
        labels.append("personal")
    for item in ds.load_flanker_notifications(root):
        # Eleven fixtures: all train; dev has no notification class.
        if split == "train":
            emails.append(item.email)
            labels.append("notification")
    sentences = list(ds.load_parakweet(root, split))
    return CorpusSplit(
        emails=emails,
        labels=labels,
        sentences=[s.text for s in sentences],
        sentence_labels=[s.label for s in sentences],
    )


def fit_model(
    train: CorpusSplit,
    dev: CorpusSplit,
    *,
    embed: Callable[[list[str]], Matrix] | None,
    c_grid: Sequence[float] = (1.0, 4.0, 16.0),
) -> ClassifierModel:
    """Fit both heads; ``embed=None`` gives the TF-IDF-only variant."""
    category, cat_info = train_head(
        training_set(train.emails, train.labels, embed),
        training_set(dev.emails, dev.labels, embed),
        CLASSES,
        c_grid=c_grid,
        embed_scale=EMBED_SCALE["category"],
    )
    intent, intent_info = train_head(
        sentence_set(train.sentences, train.sentence_labels, embed),
        sentence_set(dev.sentences, dev.sentence_labels, embed),
        INTENT_CLASSES,
        c_grid=c_grid,
        balanced=False,
        embed_scale=EMBED_SCALE["intent"],
    )
    card = {
        "trained_on": {
            "category": _counts(train.labels),
            "intent": _counts(train.sentence_labels),
        },
        "dev_on": {"category": _counts(dev.labels), "intent": _counts(dev.sentence_labels)},
        "selection": {"category": cat_info, "intent": intent_info},
    }
    return ClassifierModel(
        version=VERSION,
        category=category,
        intent=intent,
        uses_embeddings=embed is not None,
        card=card,
    )


def _counts(labels: Sequence[str]) -> dict[str, int]:
    return {label: labels.count(label) for label in sorted(set(labels))}


def train_classifier(
    root: Path, out_dir: Path, *, cache_dir: Path | None = None, evaluate_test: bool = True
) -> dict[str, Any]:
    """Reproduce the shipped artifact from ``shared/data``; returns its model card."""
    started = time.perf_counter()
    train, dev = training_corpus(root, "train"), training_corpus(root, "dev")

    def embed(texts: list[str]) -> Matrix:
        return embed_cached(texts, cache_dir)

    model = fit_model(train, dev, embed=embed)
    model.card["data_sources"] = {
        name: {"license": license_, "used_for": "training" if trainable else "evaluation only"}
        for name, (license_, trainable) in ds.LICENSES.items()
    }
    model.card["embedding_model"] = {
        "name": "sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0), int8 ONNX",
        "file": ONNX_PATH.name,
        "sha256": hashlib.sha256(ONNX_PATH.read_bytes()).hexdigest(),
    }
    model.card["train_seconds"] = round(time.perf_counter() - started, 1)
    path = model.save(out_dir, f"clf-{VERSION}")
    if evaluate_test:
        return score_artifact(root, path, cache_dir=cache_dir)
    (out_dir / "MODEL_CARD.md").write_text(model_card_markdown(model.card, path))
    return model.card | {"path": str(path)}


def score_artifact(root: Path, path: Path, *, cache_dir: Path | None = None) -> dict[str, Any]:
    """Score an artifact on every dev and test split; rewrite its JSON card and MODEL_CARD.md."""
    card: dict[str, Any] = json.loads(path.with_suffix(".json").read_text())
    scores = {}
    for split in ("dev", "test"):
        for dataset in ds.DATASETS:
            report = evaluate(
                root, dataset, split, model_path=path, cache_dir=cache_dir, baseline=False
            )
            scores[f"{dataset}/{split}"] = headline(report)
    card["scores"] = scores
    path.with_suffix(".json").write_text(json.dumps(card, indent=2, sort_keys=True) + "\n")
    (path.parent / "MODEL_CARD.md").write_text(model_card_markdown(card, path))
    return card | {"path": str(path)}


def model_card_markdown(card: dict[str, Any], path: Path) -> str:
    """The human-readable card written beside the artifact (the JSON is the source)."""
    lines = [
        f"# Local classifier `{path.name}` (version {card['version']})",
        "",
        "Generated by `secretary train classifier`; do not edit by hand. Machine-readable twin: "
        f"`{path.with_suffix('.json').name}`.",
        "",
        "## What it is",
        "Two logistic-regression heads over [hashed word 1-2-gram TF-IDF (2^20 buckets, min df 2) | "
        "all-MiniLM-L6-v2 int8 embedding of subject + opening text | 17 header features]:",
        f"- category: {', '.join(card['classes'])} (temperature {card['category_temperature']:.2f}, "
        "fitted on dev);",
        f"- intent (request/proposal sentence): temperature {card['intent_temperature']:.2f}.",
        "The tier maps personal/list to needs_reply/fyi with the intent score and the user's "
        "addressing; flags and priority are rules (see `tier.py`).",
        "",
        "## Data and licences",
        "| source | licence | used for |",
        "|---|---|---|",
    ]
    for name, info in card.get("data_sources", {}).items():
        lines.append(f"| `{name}` | {info['license']} | {info['used_for']} |")
    emb = card.get("embedding_model", {})
    lines += [
        "",
        f"Embeddings: {emb.get('name', '')}, `{emb.get('file', '')}` sha256 `{emb.get('sha256', '')}`.",
        "",
        "Training examples: " + json.dumps(card.get("trained_on", {})),
        "",
        "Dev selection (C by dev macro-F1, then temperature): "
        + json.dumps(card.get("selection", {})),
        "",
        "## Scores (F1 per class; eval labels, see docs/evaluation.md)",
        "| dataset/split | n | accuracy | macro F1 | per-class F1 | phishing recall @ ham FPR<=0.5% |",
        "|---|---|---|---|---|---|",
    ]
    for key, score in card.get("scores", {}).items():
        recall = score.get("recall_at_ham_fpr", {}).get("recall", "")
        lines.append(
            f"| {key} | {score['n']} | {score['accuracy']} | {score['macro_f1']} | "
            f"{json.dumps(score['f1'])} | {recall} |"
        )
    lines += ["", f"Artifact sha256: `{card.get('sha256', '')}`", ""]
    return "\n".join(lines)


# --- evaluation --------------------------------------------------------------------------------


def headline(report: dict[str, Any]) -> dict[str, Any]:
    """The few numbers the acceptance table quotes."""
    keys = ("n", "accuracy", "macro_f1", "recall_at_ham_fpr", "extra")
    out = {k: report[k] for k in keys if k in report}
    out["f1"] = {k: v["f1"] for k, v in report["per_class"].items()}
    return out


def _tier(model_path: Path | None) -> LocalTier:
    return LocalTier(model_path)


def evaluate(
    root: Path,
    dataset: str,
    split: ds.Split = "test",
    *,
    model_path: Path | None = None,
    cache_dir: Path | None = None,
    baseline: bool = True,
    limit: int | None = None,
) -> dict[str, Any]:
    """One JSON-able report: ``dataset, split, n, per_class, accuracy, macro_f1, confusion``.

    ``limit`` keeps a deterministic slice (lowest path hashes first) for quick checks.
    """
    if dataset not in ds.DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; one of {', '.join(ds.DATASETS)}")
    tier = _tier(model_path)
    started = time.perf_counter()
    if dataset == ds.PARAKWEET:
        report = _eval_parakweet(root, split, tier, cache_dir, limit)
    else:
        items = _slice(ds.load(root, dataset, split), limit)
        emails = [i.email for i in items]
        vectors = embed_cached([mail_text(e) for e in emails], cache_dir)
        results = tier.classify_many(emails, vectors)
        if dataset == ds.SPAMASSASSIN:
            report = _eval_spamassassin(items, results)
        elif dataset == ds.PHISHING:
            report = _eval_phishing(root, split, items, results, tier, cache_dir, limit)
        else:
            report = _eval_berkeley(items, results)
    report = {"dataset": dataset, "split": split, **report}
    report["model"] = tier.model_name
    report["seconds"] = round(time.perf_counter() - started, 1)
    if baseline:
        report["baseline"] = _baseline(root, dataset, split)
    return report


def _slice(items: list[Any], limit: int | None) -> list[Any]:
    if limit is None:
        return items
    return sorted(items, key=lambda i: hashlib.sha256(i.key.encode()).digest())[:limit]


def _sa_label(category: Category) -> str:
    return {Category.SPAM: "spam", Category.NEWSLETTER: "newsletter"}.get(category, "ham")


def _eval_spamassassin(items: list[ds.LabeledMail], results: list[Any]) -> dict[str, Any]:
    truth = [i.label for i in items]
    predicted = [_sa_label(r.category) for r in results]
    report = classification_report(truth, predicted, ["spam", "newsletter", "ham"])
    # Newsletter/bulk vs personal: is it bulk at all (newsletter or list traffic)?
    report["extra"] = {
        "calibration_ece": expected_calibration_error(
            [r.category_confidence for r in results],
            [t == p for t, p in zip(truth, predicted, strict=True)],
        )
    }
    return report


def _ham_spam_scores(
    root: Path, split: ds.Split, tier: LocalTier, cache_dir: Path | None, limit: int | None
) -> list[float]:
    items = [i for i in ds.load_spamassassin(root, split) if i.label != "spam"]
    ham = [i.email for i in _slice(items, limit)]
    vectors = embed_cached([mail_text(e) for e in ham], cache_dir)
    return [r.scores["spam"] for r in tier.classify_many(ham, vectors)]


def _eval_phishing(
    root: Path,
    split: ds.Split,
    items: list[ds.LabeledMail],
    results: list[Any],
    tier: LocalTier,
    cache_dir: Path | None,
    limit: int | None,
) -> dict[str, Any]:
    truth = [i.label for i in items]
    predicted = ["spam" if r.category == Category.SPAM else "ham" for r in results]
    report = classification_report(truth, predicted, ["spam", "ham"])
    negatives = _ham_spam_scores(root, split, tier, cache_dir, limit)
    report["recall_at_ham_fpr"] = recall_at_fpr(
        [r.scores["spam"] for r in results], negatives, PHISHING_MAX_HAM_FPR
    )
    report["extra"] = {
        "predicted_categories": _counts([r.category.value for r in results]),
    }
    return report


def _eval_berkeley(items: list[ds.LabeledMail], results: list[Any]) -> dict[str, Any]:
    truth = ["meeting" if i.label == "meeting" else "other" for i in items]
    predicted = ["meeting" if r.meeting_request else "other" for r in results]
    report = classification_report(truth, predicted, ["meeting", "other"])
    news_truth = ["newsletter" if i.label == "newsletter" else "other" for i in items]
    news_pred = [
        "newsletter" if r.category in (Category.NEWSLETTER, Category.SPAM) else "other"
        for r in results
    ]
    news = classification_report(news_truth, news_pred, ["newsletter", "other"])
    report["extra"] = {
        "newsletter_vs_rest": news["per_class"]["newsletter"],
        "predicted_categories": _counts([r.category.value for r in results]),
    }
    return report


def _eval_parakweet(
    root: Path, split: ds.Split, tier: LocalTier, cache_dir: Path | None, limit: int | None
) -> dict[str, Any]:
    sentences = _slice(list(ds.load_parakweet(root, split)), limit)
    texts = [s.text for s in sentences]
    vectors = embed_cached(texts, cache_dir) if tier.model.uses_embeddings else None
    proba = tier.model.intent_proba(texts, vectors)
    predicted = ["yes" if p >= 0.5 else "no" for p in proba]
    truth = [s.label for s in sentences]
    report = classification_report(truth, predicted, ["yes", "no"])
    report["extra"] = {
        "calibration_ece": expected_calibration_error(
            [float(max(p, 1 - p)) for p in proba],
            [t == p for t, p in zip(truth, predicted, strict=True)],
        )
    }
    return report


# --- TF-IDF + LR baselines (evaluation only) ---------------------------------------------------


def _baseline(root: Path, dataset: str, split: ds.Split) -> dict[str, Any] | None:
    try:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
    except ImportError:  # the `train` extra is not installed
        return None

    def fit(texts: list[str], labels: list[str]) -> tuple[Callable[[list[str]], Any], Any]:
        vectorizer = TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2), min_df=2)
        model = LogisticRegression(C=10.0, max_iter=3000, class_weight="balanced")
        model.fit(vectorizer.fit_transform(texts), labels)
        return (lambda xs: model.predict_proba(vectorizer.transform(xs))), model.classes_

    if dataset == ds.PARAKWEET:
        train = list(ds.load_parakweet(root, "train"))
        test = list(ds.load_parakweet(root, split))
        predict, classes = fit([s.text for s in train], [s.label for s in train])
        labels = classes[predict([s.text for s in test]).argmax(axis=1)]
        return _brief(classification_report([s.label for s in test], list(labels), ["yes", "no"]))
    if dataset == ds.BERKELEY:
        # Fitted on the Berkeley dev labels: an in-domain supervised reference, never shipped.
        train_items = ds.load(root, ds.BERKELEY, "dev" if split == "test" else "train")
        test_items = ds.load(root, ds.BERKELEY, split)
        binary = [("meeting" if i.label == "meeting" else "other") for i in train_items]
        predict, classes = fit([hash_text(i.email) for i in train_items], binary)
        labels = classes[predict([hash_text(i.email) for i in test_items]).argmax(axis=1)]
        truth = ["meeting" if i.label == "meeting" else "other" for i in test_items]
        return _brief(classification_report(truth, list(labels), ["meeting", "other"]))
    train_items = ds.load(root, ds.SPAMASSASSIN, "train")
    predict, classes = fit(
        [hash_text(i.email) for i in train_items], [i.label for i in train_items]
    )
    spam_col = list(classes).index("spam")
    if dataset == ds.SPAMASSASSIN:
        test_items = ds.load(root, ds.SPAMASSASSIN, split)
        labels = classes[predict([hash_text(i.email) for i in test_items]).argmax(axis=1)]
        return _brief(
            classification_report(
                [i.label for i in test_items], list(labels), ["spam", "newsletter", "ham"]
            )
        )
    phish = ds.load(root, ds.PHISHING, split)
    ham = [i for i in ds.load(root, ds.SPAMASSASSIN, split) if i.label != "spam"]
    phish_p = predict([hash_text(i.email) for i in phish])
    ham_p = predict([hash_text(i.email) for i in ham])
    predicted = ["spam" if row.argmax() == spam_col else "ham" for row in phish_p]
    report = _brief(classification_report(["spam"] * len(phish), predicted, ["spam", "ham"]))
    report["recall_at_ham_fpr"] = recall_at_fpr(
        list(phish_p[:, spam_col]), list(ham_p[:, spam_col]), PHISHING_MAX_HAM_FPR
    )
    return report


def _brief(report: dict[str, Any]) -> dict[str, Any]:
    return {
        "model": "baseline:tfidf-lr",
        "per_class": report["per_class"],
        "accuracy": report["accuracy"],
        "macro_f1": report["macro_f1"],
    }
