"""Only one Gmail sync per account at a time, across threads and processes."""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session, sessionmaker

from secretary.sync import repository as repo
from secretary.sync.errors import SyncAlreadyRunning

_local_locks: dict[int, threading.Lock] = defaultdict(threading.Lock)


@contextmanager
def account_lock(sessions: sessionmaker[Session], account_id: int) -> Iterator[None]:
    """Only one sync per account at a time: an in-process lock plus a PostgreSQL advisory
    lock (other processes: the CLI next to the server). Raises ``SyncAlreadyRunning``."""
    local = _local_locks[account_id]
    if not local.acquire(blocking=False):
        raise SyncAlreadyRunning(f"a sync of account {account_id} is already running")
    try:
        # One connection held for the whole sync: an advisory lock belongs to the connection
        # that took it, and a session may hand back a different pooled connection after a
        # commit (then the unlock would miss and the account would stay "running").
        engine = sessions.kw["bind"]
        with engine.connect() as conn:
            if not repo.try_lock_account(conn, account_id):
                conn.rollback()
                raise SyncAlreadyRunning(f"a sync of account {account_id} is already running")
            # Session-level lock: it outlives the transaction and is released explicitly,
            # or by PostgreSQL when this connection dies with the process.
            conn.commit()
            try:
                yield
            finally:
                repo.unlock_account(conn, account_id)
                conn.commit()
    finally:
        local.release()


def is_running(account_id: int) -> bool:
    return _local_locks[account_id].locked()
