"""Sentence embeddings (all-MiniLM-L6-v2, 384 dims) through onnxruntime with int8 weights.

Why not torch: a plain ``torch`` requirement pulls GBs of CUDA wheels; onnxruntime is ~60 MB,
runs the int8 per-channel model about twice as fast as torch fp32 on 2 cores, and keeps the
cosine against fp32 >= 0.97 (mean 0.99). See docs/decisions/0006-local-embeddings.md.
The model is loaded once per process (``get_embedder``); callers keep each message's vector.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
from tokenizers import Tokenizer

from secretary.kit.logging import get_logger

log = get_logger(__name__)

MODEL_DIR = Path(__file__).parent / "model"
ONNX_PATH = MODEL_DIR / "minilm-l6-v2-int8.onnx"
TOKENIZER_PATH = MODEL_DIR / "minilm-tokenizer.json"
DIM = 384
# 64 word pieces cover the subject and the opening lines, which carry most of a mail's category
# signal (the hashed TF-IDF reads the whole text); halving from 128 doubles throughput, which
# the >= 100 emails/s budget on 2 cores needs. Search may re-embed at 128 if it wants recall.
MAX_TOKENS = 64
BATCH_SIZE = 32

Vectors = npt.NDArray[np.float32]


class Embedder:
    """Tokenizer + ONNX session; thread-safe for ``embed`` (onnxruntime sessions are)."""

    def __init__(self, *, max_tokens: int = MAX_TOKENS, threads: int = 2) -> None:
        started = time.perf_counter()
        self.max_tokens = max_tokens
        self._tokenizer = Tokenizer.from_file(str(TOKENIZER_PATH))
        self._tokenizer.enable_truncation(max_length=max_tokens)
        self._tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # noqa: S106 - a token, not a secret
        options = ort.SessionOptions()
        # One thread per run: the pipeline embeds one mail at a time from several worker
        # threads, where intra-op threads only add hand-offs (~12% more CPU per mail); a
        # bulk job runs its batches side by side on ``threads`` threads instead.
        self.threads = max(1, threads)
        self._executor: ThreadPoolExecutor | None = None
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        # Idle pool threads spin by default after each run: ~10 ms of CPU per single-mail
        # call, more than the inference, stolen from the workers and Postgres (issue #14).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._session = ort.InferenceSession(
            str(ONNX_PATH), options, providers=["CPUExecutionProvider"]
        )
        self._lock = threading.Lock()  # the tokenizer's truncation/padding state is shared
        self.load_s = time.perf_counter() - started
        log.info("embedder.loaded", load_s=round(self.load_s, 3), max_tokens=max_tokens)

    def embed(self, texts: list[str]) -> Vectors:
        """L2-normalised mean-pooled embeddings, shape ``(len(texts), 384)``."""
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        cleaned = [t if t.strip() else "(empty)" for t in texts]
        with self._lock:
            encoded = self._tokenizer.encode_batch(cleaned)
        # Batch texts of similar length together: padding to the longest in a batch is wasted
        # attention work, and a mail's sentences vary from 3 to 64 word pieces.
        order = np.argsort([sum(e.attention_mask) for e in encoded], kind="stable")
        out = np.zeros((len(texts), DIM), dtype=np.float32)

        # Runs of at most BATCH_SIZE similar lengths; a bulk job gets at least one per thread.
        runs = max(-(-len(order) // BATCH_SIZE), min(self.threads, -(-len(order) // 8)))
        size = -(-len(order) // runs)

        def run(start: int) -> None:
            index = order[start : start + size]
            width = max(sum(encoded[j].attention_mask) for j in index)
            ids = np.array([encoded[j].ids[:width] for j in index], dtype=np.int64)
            mask = np.array([encoded[j].attention_mask[:width] for j in index], dtype=np.int64)
            hidden = self._session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
            weights = mask[..., None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
            norms = np.linalg.norm(pooled, axis=1, keepdims=True)
            out[index] = pooled / np.clip(norms, 1e-12, None)

        starts = range(0, len(order), size)
        if len(starts) == 1:
            run(0)
        else:  # a bulk job: batches side by side (a run releases the GIL)
            list(self._pool().map(run, starts))
        return out

    def _pool(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    max_workers=self.threads, thread_name_prefix="secretary-embed"
                )
            return self._executor


@lru_cache(maxsize=1)
def get_embedder() -> Embedder:
    """The process-wide embedder (loaded on first use, then kept)."""
    return Embedder()


def embed(texts: list[str]) -> Vectors:
    """Embed texts with the process-wide model: ``np.ndarray`` of shape ``(n, 384)``."""
    return get_embedder().embed(texts)
