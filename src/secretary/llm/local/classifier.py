"""The local mail classifier: linear heads over embeddings + hashed TF-IDF + header features.

Two learned heads, both multinomial/binary logistic regression with a temperature fitted on the
dev split (so the confidences are calibrated, not just ranked):
- ``category``: personal / list / newsletter / notification / spam, trained on license-clean
  real mail (SpamAssassin public corpus, public Enron text, flanker bounce fixtures);
- ``intent``: does a sentence carry a request or proposal (Parakweet, Apache-2.0).

Inference is numpy only (the artifact is an ``.npz`` of float16 weights + a JSON card): no
sklearn/scipy import, so the tier loads in well under 3 s. Training (``train``) needs the
``train`` extra (scikit-learn).
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from secretary.llm.local.features import (
    HASH_FEATURES,
    HEADER_FEATURES,
    TextHasher,
    hash_text,
    header_matrix,
    header_vector,
    mail_text,
)

MODEL_DIR = Path(__file__).parent / "model"
VERSION = "2026.11.1"
CLASSES = ("personal", "list", "newsletter", "notification", "spam")
INTENT_CLASSES = ("no", "yes")
# Embedding vectors have norm 1 over 384 dims while a TF-IDF row has norm 1 over thousands of
# sparse buckets; scaling the dense block lets one regularisation strength suit both.
# Tuned on dev: the mail head prefers the dense block louder (2.0), the sentence head less (1.0).
EMBED_SCALE = {"category": 2.0, "intent": 1.0}

Matrix = npt.NDArray[np.float32]
Embed = Callable[[list[str]], Matrix]


@dataclass
class LinearHead:
    """Softmax regression split into blocks: [tfidf | embedding | headers]."""

    classes: tuple[str, ...]
    tfidf_coef: Matrix  # (k, HASH_FEATURES)
    dense_coef: Matrix  # (k, n_dense)
    intercept: Matrix  # (k,)
    hasher: TextHasher
    temperature: float = 1.0

    def logits(self, texts: Sequence[str], dense: Matrix | None) -> Matrix:
        out = np.vstack([self.hasher.scores(t, self.tfidf_coef) for t in texts]).astype(np.float32)
        if dense is not None and self.dense_coef.shape[1]:
            out += dense @ self.dense_coef.T.astype(np.float32)
        out += self.intercept
        return out

    def proba(self, texts: Sequence[str], dense: Matrix | None) -> Matrix:
        scaled: Matrix = self.logits(texts, dense) / self.temperature
        return softmax(scaled)


def softmax(logits: Matrix) -> Matrix:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    out: Matrix = (e / e.sum(axis=1, keepdims=True)).astype(np.float32)
    return out


@dataclass
class ClassifierModel:
    """A loaded artifact. ``uses_embeddings=False`` is the TF-IDF + LR baseline."""

    version: str
    category: LinearHead
    intent: LinearHead
    uses_embeddings: bool
    card: dict[str, Any] = field(default_factory=dict)
    load_s: float = 0.0

    @property
    def name(self) -> str:
        return f"local:clf-{self.version}" + ("" if self.uses_embeddings else "-baseline")

    def dense(
        self, texts_vectors: Matrix | None, headers: Matrix | None, scale: float
    ) -> Matrix | None:
        blocks: list[Matrix] = []
        if self.uses_embeddings and texts_vectors is not None:
            blocks.append(texts_vectors * scale)
        if headers is not None:
            blocks.append(headers)
        return np.hstack(blocks).astype(np.float32) if blocks else None

    def category_proba(self, emails: Sequence[Any], vectors: Matrix | None) -> Matrix:
        texts = [hash_text(e) for e in emails]
        headers = header_matrix(emails) if self.uses_embeddings else None
        return self.category.proba(texts, self.dense(vectors, headers, EMBED_SCALE["category"]))

    def intent_proba(self, sentences: Sequence[str], vectors: Matrix | None) -> Matrix:
        """P(request/proposal) per sentence, shape (n,)."""
        if not sentences:
            return np.zeros(0, dtype=np.float32)
        return self.intent.proba(sentences, self.dense(vectors, None, EMBED_SCALE["intent"]))[:, 1]

    # --- persistence -------------------------------------------------------------------------

    def save(self, out_dir: Path, stem: str) -> Path:
        out_dir.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, npt.NDArray[Any]] = {}
        for prefix, head in (("category", self.category), ("intent", self.intent)):
            assert head.hasher.idf is not None
            # Only buckets seen in training carry weight: store them sparsely.
            used = np.flatnonzero(head.hasher.idf > 0).astype(np.int32)
            arrays[f"{prefix}_used"] = used
            arrays[f"{prefix}_tfidf"] = head.tfidf_coef[:, used].astype(np.float16)
            arrays[f"{prefix}_dense"] = head.dense_coef.astype(np.float32)
            arrays[f"{prefix}_intercept"] = head.intercept.astype(np.float32)
            arrays[f"{prefix}_idf"] = head.hasher.idf[used].astype(np.float16)
        path = out_dir / f"{stem}.npz"
        np.savez_compressed(path, allow_pickle=False, **arrays)
        card = {
            **self.card,
            "version": self.version,
            "uses_embeddings": self.uses_embeddings,
            "classes": list(self.category.classes),
            "intent_classes": list(self.intent.classes),
            "category_temperature": self.category.temperature,
            "intent_temperature": self.intent.temperature,
            "hash_features": HASH_FEATURES,
            "header_features": list(HEADER_FEATURES),
            "embed_scale": EMBED_SCALE,
            "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        }
        path.with_suffix(".json").write_text(json.dumps(card, indent=2, sort_keys=True) + "\n")
        return path

    @classmethod
    def load(cls, path: Path) -> ClassifierModel:
        started = time.perf_counter()
        card = json.loads(path.with_suffix(".json").read_text())
        if card.get("hash_features") != HASH_FEATURES:
            raise ValueError(f"{path.name}: built for another feature layout")
        with np.load(path, allow_pickle=False) as data:
            heads = {}
            for prefix, classes, temp in (
                ("category", card["classes"], card["category_temperature"]),
                ("intent", card["intent_classes"], card["intent_temperature"]),
            ):
                used = data[f"{prefix}_used"]
                # float32 at run time: float16 maths in numpy is emulated and slow.
                coef = np.zeros((len(classes), HASH_FEATURES), dtype=np.float32)
                coef[:, used] = data[f"{prefix}_tfidf"]
                idf = np.zeros(HASH_FEATURES, dtype=np.float32)
                idf[used] = data[f"{prefix}_idf"]
                heads[prefix] = LinearHead(
                    classes=tuple(classes),
                    tfidf_coef=coef,
                    dense_coef=data[f"{prefix}_dense"],
                    intercept=data[f"{prefix}_intercept"],
                    hasher=TextHasher(idf),
                    temperature=float(temp),
                )
        return cls(
            version=card["version"],
            category=heads["category"],
            intent=heads["intent"],
            uses_embeddings=bool(card["uses_embeddings"]),
            card=card,
            load_s=time.perf_counter() - started,
        )


def shipped_model_path(*, baseline: bool = False) -> Path:
    return MODEL_DIR / (f"clf-{VERSION}" + ("-baseline" if baseline else "") + ".npz")


# --- training ----------------------------------------------------------------------------------


@dataclass
class TrainingSet:
    texts: list[str]
    labels: list[str]
    vectors: Matrix | None  # embeddings of ``texts`` (None for the baseline)
    headers: Matrix | None  # header features (None for sentences)


def _design(hasher: TextHasher, data: TrainingSet, embed_scale: float) -> Any:
    from scipy import sparse

    rows: list[int] = []
    cols: list[npt.NDArray[np.int64]] = []
    vals: list[npt.NDArray[np.float32]] = []
    for i, text in enumerate(data.texts):
        index, values = hasher.weights(text)
        rows.extend([i] * len(index))
        cols.append(index)
        vals.append(values)
    tfidf = sparse.csr_matrix(
        (
            np.concatenate(vals) if vals else np.zeros(0, np.float32),
            (np.asarray(rows, dtype=np.int64), np.concatenate(cols) if cols else np.zeros(0)),
        ),
        shape=(len(data.texts), HASH_FEATURES),
        dtype=np.float32,
    )
    dense = [
        b
        for b in (
            data.vectors * embed_scale if data.vectors is not None else None,
            data.headers,
        )
        if b is not None
    ]
    if dense:
        return sparse.hstack([tfidf, sparse.csr_matrix(np.hstack(dense))]).tocsr()
    return tfidf


def fit_temperature(logits: Matrix, y: npt.NDArray[np.int64]) -> float:
    """The temperature minimising dev NLL (a 1-parameter calibration, Guo et al. 2017)."""
    best_t, best_nll = 1.0, math.inf
    for t in np.exp(np.linspace(math.log(0.25), math.log(8.0), 61)):
        p = softmax(logits / t)
        nll = float(-np.log(np.clip(p[np.arange(len(y)), y], 1e-12, None)).mean())
        if nll < best_nll:
            best_t, best_nll = float(t), nll
    return best_t


def _fit_lr(
    x_train: Any,
    y_train: npt.NDArray[np.int64],
    x_dev: Any,
    y_dev: npt.NDArray[np.int64],
    c_grid: Sequence[float],
    balanced: bool,
    n_classes: int,
) -> tuple[Matrix, Matrix, dict[str, Any]]:
    """LR for each C; keep the best dev macro-F1. Returns softmax-form (coef, intercept)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score

    best: tuple[float, float, Any] | None = None
    tried = {}
    for c in c_grid:
        model = LogisticRegression(
            C=c, max_iter=3000, class_weight="balanced" if balanced else None
        )
        model.fit(x_train, y_train)
        f1 = float(f1_score(y_dev, model.predict(x_dev), average="macro"))
        tried[str(c)] = round(f1, 4)
        if best is None or f1 > best[0]:
            best = (f1, c, model)
    assert best is not None
    _, c, model = best
    coef = np.asarray(model.coef_, dtype=np.float32)
    intercept = np.asarray(model.intercept_, dtype=np.float32)
    if n_classes == 2 and coef.shape[0] == 1:
        # sklearn's binary LR has one row; make it a 2-class softmax (logit/2 each side).
        coef = np.vstack([-coef / 2, coef / 2])
        intercept = np.array([-intercept[0] / 2, intercept[0] / 2], dtype=np.float32)
    return coef, intercept, {"C": c, "dev_macro_f1_by_C": tried}


def _dense_block(data: TrainingSet, embed_scale: float) -> Matrix | None:
    blocks = [
        b
        for b in (
            data.vectors * embed_scale if data.vectors is not None else None,
            data.headers,
        )
        if b is not None
    ]
    return np.hstack(blocks).astype(np.float32) if blocks else None


def train_head(
    train: TrainingSet,
    dev: TrainingSet,
    classes: tuple[str, ...],
    *,
    c_grid: Sequence[float] = (1.0, 4.0, 16.0),
    balanced: bool = True,
    embed_scale: float = 1.0,
) -> tuple[LinearHead, dict[str, Any]]:
    """Two experts, one linear head: a TF-IDF LR and a dense (embedding + header) LR.

    Fitted separately because one joint fit let the dense block crowd out the word features
    (SpamAssassin dev spam F1 dropped below a TF-IDF-only model). Summing their logits with a
    dev-chosen weight is again a linear model, so inference is unchanged; then the
    temperature is fitted on dev.
    """
    from sklearn.metrics import f1_score

    hasher = TextHasher().fit_idf(train.texts)
    y_train = np.array([classes.index(label) for label in train.labels])
    y_dev = np.array([classes.index(label) for label in dev.labels])
    text_only = TrainingSet(train.texts, train.labels, None, None)
    text_dev = TrainingSet(dev.texts, dev.labels, None, None)
    t_coef, t_intercept, t_info = _fit_lr(
        _design(hasher, text_only, embed_scale),
        y_train,
        _design(hasher, text_dev, embed_scale),
        y_dev,
        c_grid,
        balanced,
        len(classes),
    )
    head = LinearHead(
        classes=classes,
        tfidf_coef=t_coef,
        dense_coef=np.zeros((len(classes), 0), dtype=np.float32),
        intercept=t_intercept,
        hasher=hasher,
    )
    info: dict[str, Any] = {"tfidf": t_info}
    dense_train, dense_dev = _dense_block(train, embed_scale), _dense_block(dev, embed_scale)
    if dense_train is not None and dense_dev is not None:
        d_coef, d_intercept, d_info = _fit_lr(
            dense_train, y_train, dense_dev, y_dev, c_grid, balanced, len(classes)
        )
        text_logits = head.logits(dev.texts, None)
        dense_logits = dense_dev @ d_coef.T + d_intercept
        scores = {}
        for weight in (0.0, 0.25, 0.5, 1.0, 2.0):
            predicted = (text_logits + weight * dense_logits).argmax(axis=1)
            scores[weight] = float(f1_score(y_dev, predicted, average="macro"))
        weight = max(scores, key=lambda w: scores[w])
        head.dense_coef = (weight * d_coef).astype(np.float32)
        head.intercept = (t_intercept + weight * d_intercept).astype(np.float32)
        info |= {
            "dense": d_info,
            "dense_weight": weight,
            "dev_macro_f1_by_weight": {str(k): round(v, 4) for k, v in scores.items()},
        }
    head.temperature = fit_temperature(head.logits(dev.texts, dense_dev), y_dev)
    info["temperature"] = head.temperature
    return head, info


def training_set(emails: Sequence[Any], labels: list[str], embed: Embed | None) -> TrainingSet:
    return TrainingSet(
        texts=[hash_text(e) for e in emails],
        labels=labels,
        vectors=embed([mail_text(e) for e in emails]) if embed else None,
        headers=header_matrix(emails) if embed else None,
    )


def sentence_set(sentences: list[str], labels: list[str], embed: Embed | None) -> TrainingSet:
    return TrainingSet(
        texts=sentences, labels=labels, vectors=embed(sentences) if embed else None, headers=None
    )


__all__ = [
    "CLASSES",
    "VERSION",
    "ClassifierModel",
    "LinearHead",
    "header_vector",
    "sentence_set",
    "shipped_model_path",
    "train_head",
    "training_set",
]
