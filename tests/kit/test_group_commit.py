"""``GroupCommit``: concurrent submissions share batches, results go back to their callers
in order, and a failing batch is retried item by item."""

from __future__ import annotations

import asyncio
import contextvars
import threading
from typing import Any

import pytest

from secretary.kit.group_commit import GroupCommit, Overloaded


def test_items_submitted_together_share_a_batch_and_get_their_own_results() -> None:
    batches: list[list[int]] = []
    entered, release = threading.Event(), threading.Event()

    def write(items: list[int]) -> list[int]:
        if not batches:
            entered.set()
            release.wait(10)  # hold the first batch so the rest pile up behind it
        batches.append(items)
        return [i * 10 for i in items]

    async def main() -> list[int]:
        committer: GroupCommit[int, int] = GroupCommit(write)
        first = asyncio.ensure_future(committer.submit(0))
        assert await asyncio.to_thread(entered.wait, 10)  # [0] is being written
        rest = [asyncio.ensure_future(committer.submit(i)) for i in range(1, 6)]
        await asyncio.sleep(0)  # each has queued its item
        release.set()
        return await asyncio.gather(first, *rest)

    results = asyncio.run(main())
    assert results == [0, 10, 20, 30, 40, 50]
    assert batches == [[0], [1, 2, 3, 4, 5]]


def test_a_failing_item_fails_alone() -> None:
    def write(items: list[int]) -> list[int]:
        if 3 in items:
            raise ValueError("bad item")
        return items

    async def main() -> list[int | BaseException]:
        committer: GroupCommit[int, int] = GroupCommit(write)
        return await asyncio.gather(
            *(committer.submit(i) for i in range(6)), return_exceptions=True
        )

    results = asyncio.run(main())
    assert results[:3] == [0, 1, 2]
    assert isinstance(results[3], ValueError)
    assert results[4:] == [4, 5]


def test_a_committer_serves_one_loop() -> None:
    committer: GroupCommit[int, int] = GroupCommit(lambda items: items)
    assert asyncio.run(committer.submit(1)) == 1
    with pytest.raises(RuntimeError, match="one event loop"):
        asyncio.run(committer.submit(2))


def test_a_batch_failing_for_a_reason_not_its_items_fails_at_once() -> None:
    """The database is down: every item fails in one attempt, not one attempt each."""
    attempts: list[int] = []

    def write(items: list[int]) -> list[int]:
        attempts.append(len(items))
        raise ConnectionError("database unreachable")

    async def main() -> list[int | BaseException]:
        committer: GroupCommit[int, int] = GroupCommit(
            write, splits=lambda exc: not isinstance(exc, ConnectionError)
        )
        return await asyncio.gather(
            *(committer.submit(i) for i in range(6)), return_exceptions=True
        )

    results = asyncio.run(main())
    assert all(isinstance(r, ConnectionError) for r in results)
    assert attempts == [6]


def test_too_many_waiting_items_are_refused_at_once() -> None:
    entered, release = threading.Event(), threading.Event()

    def write(items: list[int]) -> list[int]:
        entered.set()
        release.wait(10)
        return items

    async def main() -> tuple[list[int | BaseException], BaseException | None]:
        committer: GroupCommit[int, int] = GroupCommit(write, max_pending=3)
        first = asyncio.ensure_future(committer.submit(0))
        assert await asyncio.to_thread(entered.wait, 10)  # [0] is being written
        waiting = [asyncio.ensure_future(committer.submit(i)) for i in range(1, 4)]
        await asyncio.sleep(0)
        refused: BaseException | None = None
        try:
            await committer.submit(99)
        except Overloaded as exc:
            refused = exc
        release.set()
        return await asyncio.gather(first, *waiting, return_exceptions=True), refused

    results, refused = asyncio.run(main())
    assert results == [0, 1, 2, 3]  # the waiting ones still commit
    assert isinstance(refused, Overloaded)
    assert refused.status_code == 503


def test_the_flusher_does_not_carry_the_first_callers_context() -> None:
    seen: list[str | None] = []
    marker: contextvars.ContextVar[str | None] = contextvars.ContextVar("marker", default=None)

    async def main() -> None:
        committer: GroupCommit[int, int] = GroupCommit(lambda items: items)
        original = committer._commit

        async def spy(batch: Any) -> None:
            seen.append(marker.get())
            await original(batch)

        committer._commit = spy  # type: ignore[method-assign]
        marker.set("request-1")
        assert await committer.submit(1) == 1

    asyncio.run(main())
    assert seen == [None]
