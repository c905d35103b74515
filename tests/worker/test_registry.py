"""A fresh process that loads the task modules knows every task and periodic job.

``secretary serve`` only has what ``registry.load_all`` imports: a module that was loaded
by accident elsewhere (a test's import, the demo's) hid a server that never polled.
"""

from __future__ import annotations

import json
import subprocess
import sys

_CHILD = """
import json
from secretary.worker import registry
from secretary.worker.schedule import all_jobs
registry.load_all()
print(json.dumps({"tasks": sorted(registry.all_tasks()), "jobs": sorted(all_jobs())}))
"""


def test_load_all_registers_the_sync_task_and_its_poll_in_a_fresh_process() -> None:
    out = subprocess.run(
        [sys.executable, "-c", _CHILD], capture_output=True, text=True, check=True, timeout=120
    )
    loaded = json.loads(out.stdout.strip().splitlines()[-1])
    assert "sync.run" in loaded["tasks"]
    assert {"sync.poll", "worker.sweep", "search.index_all"} <= set(loaded["jobs"])
    assert {"triage.classify", "drafting.generate", "search.index"} <= set(loaded["tasks"])
