"""``bench/availability.py`` runs and prints the one JSON object it documents."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "availability.py"


def test_bench_prints_one_json_object() -> None:
    out = subprocess.run(
        [sys.executable, str(BENCH), "--queries", "5"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    result = json.loads(out.stdout)
    assert result["calendars"] == 5
    assert result["recurring_series"] >= 5
    assert result["events"] > 4000
    assert {"p50_ms", "p99_ms", "loadavg", "cpu_ms_per_query"} <= set(result)
    assert result["slots_per_query"] > 0
