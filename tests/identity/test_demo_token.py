"""``secretary demo --json`` as a script uses it: one compact JSON line once ready, whose
``api_token`` works against ``api_url`` while the demo keeps serving."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest


@pytest.mark.slow
def test_demo_json_line_carries_a_working_api_token(tmp_path: Path) -> None:
    env = {**os.environ, "SECRETARY_HOME": str(tmp_path / "home"), "XDG_RUNTIME_DIR": "/tmp"}
    env.pop("DATABASE_URL", None)
    errors = (tmp_path / "stderr.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "secretary", "demo", "--json", "--port", "0"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=errors,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # blocks until the demo is ready
        assert line.startswith("{"), (tmp_path / "stderr.log").read_text()[-3000:]
        summary = json.loads(line)
        assert {"api_url", "api_token", "emulator_url"} <= summary.keys()
        assert line.strip() == json.dumps(summary, separators=(",", ":"))  # compact
        auth = {"Authorization": f"Bearer {summary['api_token']}"}
        me = httpx.get(f"{summary['api_url']}/api/v1/me", headers=auth, timeout=30)
        assert me.status_code == 200, me.text
        assert me.json()["email"] == summary["account_email"]
        drafts = httpx.get(f"{summary['api_url']}/api/v1/drafts", headers=auth, timeout=30)
        assert drafts.status_code == 200
        assert len(drafts.json()) >= 1
        assert httpx.get(f"{summary['api_url']}/api/v1/drafts", timeout=30).status_code == 401
        assert proc.poll() is None  # still serving
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            rest, _ = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            rest, _ = proc.communicate()
        errors.close()
        subprocess.run(
            [sys.executable, "-m", "secretary", "db", "stop"],
            env=env,
            capture_output=True,
            timeout=60,
            check=False,
        )
    assert rest.strip() == ""  # nothing but the one line on stdout
