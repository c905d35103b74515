"""The shipped int8 MiniLM graph loads offline and gives sensible sentence vectors."""

from __future__ import annotations

import numpy as np

from secretary.llm.local.embeddings import DIM, embed, get_embedder


def test_embed_shape_norm_and_similarity() -> None:
    vectors = embed(
        [
            "Can we meet on Tuesday at 3pm to review the contract?",
            "Are you free Tuesday afternoon to go over the agreement?",
            "Cheap meds online, no prescription needed, click here!!!",
            "",
        ]
    )
    assert vectors.shape == (4, DIM)
    assert vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    paraphrase = float(vectors[0] @ vectors[1])
    unrelated = float(vectors[0] @ vectors[2])
    assert paraphrase > 0.5
    assert paraphrase > unrelated + 0.3


def test_embedder_is_loaded_once_and_fast() -> None:
    first = get_embedder()
    assert get_embedder() is first
    assert first.load_s < 3.0
    assert embed([]).shape == (0, DIM)


def test_long_text_is_truncated_not_rejected() -> None:
    vectors = embed(["word " * 5000])
    assert vectors.shape == (1, DIM)
    assert np.isfinite(vectors).all()


def test_a_bulk_job_split_across_threads_gives_each_text_its_own_vector() -> None:
    """Batches run side by side (issue #14): every row must still land on its own text."""
    texts = [f"note {i}: " + "budget review " * (i % 23) + f"item {i * 7}" for i in range(70)]
    together = embed(texts)
    one_by_one = np.vstack([embed([t]) for t in texts])
    # Dynamic int8 quantisation scales per run, so a text's vector moves a little with
    # its run-mates (as it always did in batches); it never moves to another row.
    assert (np.einsum("ij,ij->i", together, one_by_one) > 0.9).all()
    nearest = (together @ one_by_one.T).argmax(axis=1)
    assert (nearest == np.arange(len(texts))).all()
