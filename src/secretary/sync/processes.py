"""Parsing in a process beside the sync for big backfills.

Fetching, storing and parsing then use two cores instead of sharing one GIL (the
benchmark's 10k-message backfill is CPU-bound in MIME parsing). Small syncs parse in-thread:
starting a process costs more than it saves.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass

from secretary.kit.clock import utcnow
from secretary.sync.records import MessageRecord, records_from_resources

PARSE_PROCESS_MIN_MESSAGES = 2000


def exit_with_parent(parent_pid: int) -> None:
    """Parsing-process initializer: exit when the sync process dies (even by ``kill -9``,
    which runs no cleanup), instead of lingering as an orphan."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


@dataclass
class ParsePool:
    """One parsing process, and the warm-up that says it is ready."""

    pool: ProcessPoolExecutor
    ready: Future[list[MessageRecord]]


@contextmanager
def parsing_processes(pending: int) -> Iterator[ParsePool | None]:
    """A parsing process for ``pending`` messages, or None when in-thread is cheaper."""
    if pending < PARSE_PROCESS_MIN_MESSAGES or (os.cpu_count() or 1) < 2:
        yield None
        return
    pool = ProcessPoolExecutor(
        1,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=exit_with_parent,
        initargs=(os.getpid(),),
    )
    # Spawning and importing take a second or two; batches parse in-thread until the
    # process answers this warm-up, so the first bodies are not delayed by it.
    ready = pool.submit(records_from_resources, [], utcnow())
    try:
        yield ParsePool(pool, ready)
    finally:
        pool.shutdown(cancel_futures=True)
