"""grantbridge.collector: the collector is paused in the block, restored after, and what the block
allocated skips the young generation without escaping collection."""

from __future__ import annotations

import gc
import weakref

from grantbridge.collector import collector_paused


class _Node:
    def __init__(self) -> None:
        self.other: _Node | None = None


def test_the_block_leaves_the_young_generation_empty_and_restores_the_collector() -> None:
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
        kept = [[i] for i in range(50_000)]  # tracked containers, far past the threshold
    assert gc.isenabled()
    # left young, the next young pass would walk all 50,000 lists: they are in the oldest
    # generation already, which only a full collection walks
    oldest = {id(o) for o in gc.get_objects(generation=2)}
    assert id(kept[0]) in oldest
    assert id(kept[-1]) in oldest


def test_a_cycle_made_in_the_block_is_still_collected() -> None:
    with collector_paused():
        a, b = _Node(), _Node()
        a.other, b.other = b, a
        watch = weakref.ref(a)
        del a, b
    assert watch() is not None  # a cycle: reference counting alone cannot free it
    gc.collect()
    assert watch() is None


def test_a_nested_block_leaves_the_collector_paused() -> None:
    with collector_paused():
        with collector_paused():
            pass
        assert not gc.isenabled()
    assert gc.isenabled()
