"""``freeze_startup_heap``: what start-up built leaves the collector's full passes."""

from __future__ import annotations

import gc

from secretary.kit.heap import freeze_startup_heap


def test_startup_objects_are_frozen_and_new_ones_are_not() -> None:
    built_at_startup = [{"n": [i]} for i in range(1000)]
    try:
        frozen = freeze_startup_heap()
        assert frozen >= len(built_at_startup)
        # (not ==: a frozen object another thread drops leaves the permanent generation)
        assert gc.get_freeze_count() > 0
        assert not any(built_at_startup[0] is o for o in gc.get_objects())  # out of reach
        made_later: dict[str, list[int]] = {"after": []}  # holds a container: tracked
        assert any(made_later is o for o in gc.get_objects())
    finally:
        gc.unfreeze()  # the rest of the test session collects as usual
