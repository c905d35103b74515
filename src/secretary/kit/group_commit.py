"""Group commit: concurrent requests share one transaction, each answered after the commit.

An asyncio edge hands items to ``GroupCommit.submit`` and awaits the item's result. While
one batch is being written (a blocking function, in a worker thread), new arrivals wait
and go together in the next batch. Under light load a batch is one item, so nothing waits
for company; under heavy load batches grow with the arrival rate, and a transaction's
fixed costs (round trips, the commit's WAL flush, the thread hop) are shared by its items.
A failed batch is retried item by item, so one bad item cannot fail its neighbours, unless
``splits(exc)`` says the failure is not the items' (the database is down): then the whole
batch fails at once instead of in hundreds of serial attempts. At most ``max_pending``
items wait; beyond that ``submit`` refuses at once (``Overloaded``, 503), so a stalled
database cannot queue requests without bound.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

import anyio.to_thread

from secretary.errors import SecretaryError
from secretary.kit.logging import get_logger

log = get_logger(__name__)

T = TypeVar("T")
R = TypeVar("R")


class Overloaded(SecretaryError):
    status_code = 503
    code = "overloaded"


def _always(_exc: Exception) -> bool:
    return True


class GroupCommit(Generic[T, R]):
    """Batches ``submit``ted items for ``write``, which gets a list of items, commits them
    in one transaction and returns one result per item, in order.

    Bound to the event loop of its first ``submit``; one batch is written at a time.
    """

    def __init__(
        self,
        write: Callable[[list[T]], Sequence[R]],
        *,
        max_batch: int = 256,
        max_pending: int = 10_000,
        splits: Callable[[Exception], bool] = _always,
    ) -> None:
        self._write = write
        self._max_batch = max_batch
        self._max_pending = max_pending
        self._splits = splits
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.batches = 0  # written so far (tests and benchmarks read them)
        self.items = 0

    async def submit(self, item: T) -> R:
        """The result of ``item``, once the batch that holds it has committed."""
        loop = asyncio.get_running_loop()
        if self.loop is None:
            self.loop = loop
        elif loop is not self.loop:
            raise RuntimeError("a GroupCommit serves one event loop")
        if len(self._pending) >= self._max_pending:
            raise Overloaded("too many requests are waiting for the database; try again")
        future: asyncio.Future[R] = loop.create_future()
        self._pending.append((item, future))
        if self._flusher is None or self._flusher.done():
            # Started on the loop's next turn: every request that reaches this point in
            # the same turn joins the first batch. In a context of its own, so its logs do
            # not carry the correlation id of the request that happened to start it.
            self._flusher = loop.create_task(self._flush(), context=contextvars.Context())
        return await future

    async def _flush(self) -> None:
        try:
            while self._pending:
                batch = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]
                await self._commit(batch)
        finally:
            self._flusher = None

    async def _commit(self, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        try:
            results = await anyio.to_thread.run_sync(self._write, [item for item, _ in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"{len(results)} results for {len(batch)} items")
        except Exception as exc:
            if len(batch) > 1 and self._splits(exc):
                log.warning("group_commit_batch_failed", size=len(batch), error=type(exc).__name__)
                for one in batch:
                    await self._commit([one])
                return
            if len(batch) > 1:
                log.warning("group_commit_batch_failed", size=len(batch), error=type(exc).__name__)
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        except BaseException:  # cancelled with the loop: nobody is left to answer
            for _, future in batch:
                future.cancel()
            raise
        self.batches += 1
        self.items += len(batch)
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():  # its request may have been cancelled meanwhile
                future.set_result(result)
