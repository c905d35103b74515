"""The Quick start's first command: `secretary demo --once` end to end, as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.slow
def test_demo_runs_end_to_end(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "SECRETARY_HOME": str(tmp_path / "home"),
        "XDG_RUNTIME_DIR": "/tmp",
    }
    env.pop("DATABASE_URL", None)
    proc = subprocess.run(
        [sys.executable, "-m", "secretary", "demo", "--once", "--json", "--port", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    try:
        assert proc.returncode == 0, proc.stderr[-4000:]
        # --json: exactly one line of compact JSON on stdout (scripts rely on it).
        lines = proc.stdout.splitlines()
        assert len(lines) == 1, proc.stdout[:2000]
        summary = json.loads(lines[0])
        assert summary["api_token"].startswith("sec_")
        # The shipped workspace has 367 messages; the live one arrives during the demo, and
        # the reply drafts Secretary creates are Gmail messages too (label DRAFT).
        assert summary["account_email"] == "alex@demo.secretary.test"
        assert summary["messages"] >= 368
        assert summary["drafts"] >= 1
        assert summary["labels"] >= 10
        assert sum(summary["triaged"].values()) >= 10
        assert summary["tasks_dead"] == 0
        # The live message was announced by push, synced and triaged within the wait.
        assert summary["live_message_seconds"] is not None
        assert summary["live_message_drafted"] is True
        # Logs are JSON on stderr and never carry addresses or bodies.
        assert "alex@demo.secretary.test" not in proc.stderr
        assert "Q3 plan" not in proc.stderr
    finally:
        subprocess.run(
            [sys.executable, "-m", "secretary", "db", "stop"],
            env=env,
            capture_output=True,
            timeout=60,
            check=False,
        )
