"""Pausing Python's cyclic garbage collector around bulk work (a leaf module every stage imports).

Extracting, planning and benchmarking allocate millions of small, long-lived, acyclic objects
(statement rows, keys, plan items). Each time allocations pass the collector's threshold, a
generation-2 pass walks all of them again: about 40 % of parse time at 150k rows, and planning
grew faster than the plan (rows2000: 7.4 s with the collector, 4.5 s without; ``bench``, issue 7).
Reference counting still frees everything; the collector resumes as it was afterwards and finds
any cycle then. Nothing observable changes but the time.

On resuming, what the block allocated is moved to the oldest generation (``gc.freeze`` then
``gc.unfreeze``): left in the youngest, all of it would be walked by the collector's very next
young pass, right after the block (about 1 s of CPU after planning rows100000, 6 s at bench M:
3-5 % of the plan). It is long-lived anyway; a cycle among it is still found by the next full
collection.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """Disable the cyclic collector (process-wide) for the block; restore its state after."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.freeze()  # every tracked object to the permanent generation …
            gc.unfreeze()  # … and back into the oldest one, skipping the young pass
            gc.enable()
