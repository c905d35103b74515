"""Parser throughput on a folder of raw messages (default: the SpamAssassin public corpus).

Usage: python bench/parse.py [PATH] [--repeat N]
Prints one JSON object: {messages, seconds, messages_per_s, errors, ...}. Files are read
into memory first, so the figure is parsing only (no disk I/O). On a shared machine the
wall-clock rate moves with the load, so the object also carries the CPU-time rate, the
load average and, as a yardstick from the same run, the bare stdlib compat32 parse rate.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from email.parser import BytesParser
from email.policy import compat32
from pathlib import Path

from secretary.mail import parse_message

DEFAULT_CORPUS = (
    Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "spamassassin_public_corpus"
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("path", nargs="?", default=str(DEFAULT_CORPUS))
    parser.add_argument("--repeat", type=int, default=1, help="passes over the corpus")
    args = parser.parse_args()
    root = Path(args.path)
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.name != "SOURCE.md")
    raws = [p.read_bytes() for p in files]
    if not raws:
        print(json.dumps({"error": f"no messages under {root}"}))
        return 1
    errors = 0
    with_defects = 0
    cpu_started = time.process_time()
    started = time.perf_counter()
    for _ in range(args.repeat):
        for raw in raws:
            try:
                parsed = parse_message(raw)
            except Exception:  # parse_message is total; count any breach of that contract
                errors += 1
                continue
            with_defects += bool(parsed.defects)
    seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu_started
    messages = len(raws) * args.repeat
    stdlib = BytesParser(policy=compat32)
    baseline_started = time.perf_counter()
    for raw in raws:
        stdlib.parsebytes(raw)
    baseline_per_s = len(raws) / (time.perf_counter() - baseline_started)
    print(
        json.dumps(
            {
                "messages": messages,
                "seconds": round(seconds, 3),
                "messages_per_s": round(messages / seconds, 1),
                "errors": errors,
                "cpu_seconds": round(cpu_seconds, 3),
                "messages_per_cpu_s": round(messages / cpu_seconds, 1),
                "stdlib_compat32_parse_only_per_s": round(baseline_per_s, 1),
                "load_avg_1m": round(os.getloadavg()[0], 2),
                "with_defects": with_defects,
                "megabytes": round(sum(map(len, raws)) * args.repeat / 1e6, 1),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
