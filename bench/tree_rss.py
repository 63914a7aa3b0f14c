"""Peak resident memory of a process and its children together (Linux ``/proc``), sampled.

``getrusage`` gives a process's own peak, and for its children only the largest one's, so it
cannot say what ``plan --per-database --jobs 2`` holds at once: the parent and two workers.
:class:`TreePeak` samples the sum of ``VmRSS`` over this process and its descendants in a
thread; a peak shorter than the interval can be missed, so it is a lower bound, and the
benchmark reports it beside the largest single process's peak.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from types import TracebackType

#: Seconds between samples.
INTERVAL = 0.1


def _children() -> dict[int, list[int]]:
    found: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text(encoding="ascii", errors="replace")
        except OSError:  # gone meanwhile
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])  # the name may hold spaces
        found.setdefault(parent, []).append(int(entry))
    return found


def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_rss_mb(root: int | None = None) -> float:
    """The resident memory of ``root`` (default: this process) and its descendants, in MB."""
    children, todo, total = _children(), [root or os.getpid()], 0
    while todo:
        pid = todo.pop()
        total += _rss_kb(pid)
        todo += children.get(pid, [])
    return total / 1024


class TreePeak:
    """``with TreePeak() as peak: …``; then ``peak.mb`` is the largest sum sampled."""

    def __init__(self) -> None:
        self.mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while True:
            self.mb = max(self.mb, tree_rss_mb())
            if self._stop.wait(INTERVAL):
                return

    def __enter__(self) -> TreePeak:
        if Path("/proc/self/status").exists():
            self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
