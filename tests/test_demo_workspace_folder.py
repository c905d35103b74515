"""`secretary demo --workspace DIR --json` on a folder in the documented format: one compact
JSON line once every service has synced, then it keeps serving until interrupted."""

from __future__ import annotations

import json
import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import httpx
import pytest


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")


def _workspace(root: Path) -> Path:
    _write(
        root / "workspace.toml",
        """
        [user]
        email = "kim@example.test"
        name = "Kim Lee"
        time_zone = "Europe/Berlin"

        [clock]
        now = "2026-03-10T09:00:00Z"
        """,
    )
    _write(
        root / "mail" / "INBOX" / "hello.eml",
        """
        From: Ola <ola@example.org>
        To: Kim Lee <kim@example.test>
        Subject: Could you send the plan?
        Date: Mon, 09 Mar 2026 16:00:00 +0100
        Message-ID: <hello@example.org>

        Hi Kim, could you send me the plan before Thursday? Ola
        """,
    )
    _write(
        root / "calendar" / "primary.ics",
        """
        BEGIN:VCALENDAR
        VERSION:2.0
        BEGIN:VEVENT
        UID:standup@example.test
        DTSTART;TZID=Europe/Berlin:20260302T093000
        DTEND;TZID=Europe/Berlin:20260302T094500
        RRULE:FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR;COUNT=20
        SUMMARY:Stand-up
        END:VEVENT
        END:VCALENDAR
        """,
    )
    _write(root / "drive" / "plan.md", "The plan: ship on Thursday.\n")
    _write(root / "drive" / "costs.csv", "item,eur\nhosting,120\n")
    return root


def _read_line(proc: subprocess.Popen[str], timeout: float) -> str:
    assert proc.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the demo exited early: {proc.returncode}")
        if selector.select(timeout=1.0):
            line = proc.stdout.readline()
            if not line:  # EOF: the demo ended; show why
                proc.wait(timeout=30)
                assert proc.stderr is not None
                raise AssertionError(proc.stderr.read()[-4000:])
            return line
    raise AssertionError("no JSON line within the timeout")


@pytest.mark.slow
def test_demo_json_line_for_a_workspace_folder(tmp_path: Path) -> None:
    folder = _workspace(tmp_path / "ws")
    # The embedded server may run as its own user: the home must be reachable by it, which
    # pytest's private tmp_path (0700) is not.
    home = Path(tempfile.mkdtemp(prefix="secretary-demo-home-"))
    home.chmod(0o755)
    env = {**os.environ, "SECRETARY_HOME": str(home), "XDG_RUNTIME_DIR": "/tmp"}
    env.pop("DATABASE_URL", None)
    env.pop("SECRETARY_NOW", None)  # the folder's [clock] now pins it
    cmd = [sys.executable, "-m", "secretary", "demo", "--workspace", str(folder), "--json"]
    cmd += ["--port", "0", "--quota", "off"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = _read_line(proc, timeout=600)
        assert line.endswith("\n")
        assert "\n" not in line[:-1]
        assert ": " not in line  # compact separators
        summary = json.loads(line)
        assert summary["account_email"] == "kim@example.test"
        assert summary["calendars"] == 1
        assert summary["events"] >= 1
        assert summary["files"] == 2
        assert summary["messages"] >= 1
        # Still serving: both tokens work against their servers.
        api = httpx.get(
            summary["api_url"] + "/api/v1/me",
            headers={"Authorization": f"Bearer {summary['api_token']}"},
            timeout=30,
        )
        assert api.status_code == 200
        cal = httpx.get(
            summary["emulator_url"] + "/calendar/v3/calendars/primary/events",
            params={"singleEvents": "true", "timeMin": "2026-03-10T00:00:00Z", "maxResults": 3},
            headers={"Authorization": f"Bearer {summary['emulator_token']}"},
            timeout=30,
        )
        assert cal.status_code == 200
        first = cal.json()["items"][0]
        assert first["summary"] == "Stand-up"
        assert first["start"]["dateTime"].startswith("2026-03-10T09:30:00")
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            out, err = proc.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
        subprocess.run(
            [sys.executable, "-m", "secretary", "db", "stop"],
            env=env,
            capture_output=True,
            timeout=60,
            check=False,
        )
    shutil.rmtree(home, ignore_errors=True)
    assert out == "", "stdout carries exactly the one JSON line"
    assert proc.returncode == 0, err[-4000:]
