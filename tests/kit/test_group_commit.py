"""``GroupCommit``: concurrent submissions share batches, results go back to their callers
in order, and a failing batch is retried item by item."""

from __future__ import annotations

import asyncio
import threading

import pytest

from secretary.kit.group_commit import GroupCommit


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
