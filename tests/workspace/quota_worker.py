"""A worker process for the shared-quota test: ``THREADS`` threads of one account's
Calendar client each make ``CALLS`` calls; prints the client's counters as JSON.

Run as ``python -m tests.workspace.quota_worker ACCOUNT_ID THREADS CALLS`` with the
``SECRETARY_*`` environment of the test (database, emulator, quota settings). It prints
``ready`` once its client is built and waits for a line on stdin before it starts.
"""

from __future__ import annotations

import json
import sys
import threading

from secretary.config import Settings
from secretary.db.engine import make_engine
from secretary.db.session import make_sessionmaker
from secretary.sync.calendar import open_calendar


def main() -> None:
    account_id, threads, calls = (int(a) for a in sys.argv[1:4])
    settings = Settings()
    sessions = make_sessionmaker(make_engine(settings))
    client = open_calendar(sessions, account_id, settings)

    def work() -> None:
        for _ in range(calls):
            client.list_calendars()

    client.list_calendars()  # connections and the quota function are warm now
    # Start together with the other worker: the test says "go" once both are ready.
    print("ready", flush=True)
    sys.stdin.readline()
    pool = [threading.Thread(target=work) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    print(
        json.dumps(
            {"requests": client.counters.http_requests, "http_429": client.counters.http_429}
        )
    )


if __name__ == "__main__":
    main()
