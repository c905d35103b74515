"""Local-tier classification throughput on real mail, embedding included.

Usage: python bench/classify.py [--n 512] [--batch 32] [--data ../shared/data]
Prints one JSON object: {emails_per_s, load_s, n, batch, ...}. Messages (SpamAssassin test
split, all labels) are parsed into ``EmailInput`` first: parsing is the sync stage's cost, not
the classifier's. ``load_s`` is a cold ``LocalTier()`` (classifier + ONNX embedder) measured in
a fresh process, as a worker would pay it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path


def _cold_load_s() -> float:
    code = (
        "import time; t = time.perf_counter(); from secretary.llm.local import LocalTier; "
        "LocalTier(); print(time.perf_counter() - t)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=os.environ
    )
    return float(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=512, help="messages to classify")
    parser.add_argument("--batch", type=int, default=32, help="messages per classify_many call")
    parser.add_argument("--data", type=Path, default=None)
    args = parser.parse_args()

    from secretary.eval.datasets import default_data_root, load_spamassassin
    from secretary.llm.local import LocalTier

    root = args.data or default_data_root()
    emails = [item.email for item in load_spamassassin(root, "test")][: args.n]
    if not emails:
        sys.stderr.write(f"no SpamAssassin mail under {root}\n")
        return 1
    load_s = _cold_load_s()
    tier = LocalTier()
    tier.classify_many(emails[: args.batch])  # warm-up: first ONNX run allocates arenas

    started = time.perf_counter()
    for i in range(0, len(emails), args.batch):
        tier.classify_many(emails[i : i + args.batch])
    seconds = time.perf_counter() - started

    # The embedder alone, on the texts the classifier embeds (not ``tier.embed_emails``,
    # which now answers from the per-message vector cache that classification filled).
    from secretary.llm.local.embeddings import get_embedder
    from secretary.llm.local.features import mail_text

    texts = [mail_text(e) for e in emails]
    embedder = get_embedder()
    embed_started = time.perf_counter()
    for i in range(0, len(texts), args.batch):
        embedder.embed(texts[i : i + args.batch])
    embed_seconds = time.perf_counter() - embed_started

    single = emails[: min(64, len(emails))]
    single_started = time.perf_counter()
    for email in single:
        tier.classify(email)
    single_ms = (time.perf_counter() - single_started) / len(single) * 1000

    result = {
        "emails_per_s": round(len(emails) / seconds, 1),
        "load_s": round(load_s, 3),
        "n": len(emails),
        "batch": args.batch,
        "seconds": round(seconds, 2),
        "embed_only_per_s": round(len(emails) / embed_seconds, 1),
        "single_email_ms": round(single_ms, 1),
        "model": tier.model_name,
        "cpu_count": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
