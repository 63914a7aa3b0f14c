"""Run a measurement several times, each in its own child process, and keep the median."""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.estate import OUT
from bench.tree_rss import tree_rss_mb


@dataclass(frozen=True)
class Figure:
    """The outcome of one measurement: median seconds over ``runs``, worst peak RSS, counts."""

    name: str
    seconds: float | None = None
    peak_rss_mb: float | None = None
    runs: int = 0
    counts: dict[str, Any] = field(default_factory=dict)
    unavailable: str | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "seconds": self.seconds,
            "peak_rss_mb": self.peak_rss_mb,
            "runs": self.runs,
            "counts": self.counts,
            "unavailable": self.unavailable,
            "error": self.error,
        }


class ChildFailed(RuntimeError):
    """A measurement process exited with an error, ran out of time or memory (not missing code)."""


@dataclass(frozen=True)
class Limits:
    """What one measurement process may use before it is stopped and reported as failed.

    ``seconds`` is wall time per run; ``rss_mb`` is the resident memory of the measurement
    process and its children together (``plan --per-database``'s workers), sampled every
    :data:`POLL` seconds. ``None`` means no limit.
    """

    seconds: float | None = 3600.0
    rss_mb: float | None = 12_000.0


#: The limits ``measure`` applies when none are given; ``python -m bench`` sets them.
LIMITS = Limits()
POLL = 0.2  # seconds between RSS samples
GRACE = 5.0  # seconds between SIGINT (finally blocks stop embedded servers) and SIGKILL


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Interrupt the measurement's process group, then kill whatever is left in it."""
    try:  # SIGINT first: the child's finally blocks stop an embedded server cleanly
        os.killpg(process.pid, signal.SIGINT)
        process.wait(timeout=GRACE)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        pass
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _watch(process: subprocess.Popen[bytes], limits: Limits) -> str | None:
    """Wait for ``process``; the reason it was stopped, or None when it ended by itself."""
    start = time.monotonic()
    while True:
        try:
            process.wait(timeout=POLL)
            return None
        except subprocess.TimeoutExpired:
            pass
        elapsed = time.monotonic() - start
        rss = tree_rss_mb(process.pid)
        if limits.rss_mb is not None and rss > limits.rss_mb:
            _stop(process)
            return f"over the memory cap of {limits.rss_mb:,.0f} MB ({rss:,.0f} MB after {elapsed:,.0f} s)"
        if limits.seconds is not None and elapsed > limits.seconds:
            _stop(process)
            return f"timed out after {limits.seconds:g} s"


def run_child(
    measurement: str, args: Sequence[str], limits: Limits | None = None
) -> dict[str, Any]:
    """Run ``python -m bench.child measurement args…`` within ``limits``; its JSON result.

    Raises:
        ChildFailed: the child exited non-zero (its last traceback line is the message) or was
            stopped for exceeding a limit (the message says which, on one line).
    """
    command = [sys.executable, "-m", "bench.child", measurement, *args]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        # its own process group: a stop reaches whatever it started (psql, an embedded server)
        process = subprocess.Popen(command, stdout=out, stderr=err, start_new_session=True)
        stopped = _watch(process, limits or LIMITS)
        if stopped is not None:
            raise ChildFailed(f"{measurement} stopped: {stopped}")
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", errors="replace")
        stderr = err.read().decode("utf-8", errors="replace")
    if process.returncode != 0:
        tail = "\n".join(stderr.strip().splitlines()[-15:])
        raise ChildFailed(f"{measurement} failed (exit {process.returncode}):\n{tail}")
    result: dict[str, Any] = json.loads(stdout.strip().splitlines()[-1])
    return result


def _shorten(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def measure(measurement: str, args: Sequence[str], runs: int) -> Figure:
    """Median of ``runs`` child runs; stops at the first run that reports a missing stage."""
    results = []
    for _ in range(runs):
        try:
            result = run_child(measurement, args)
        except ChildFailed as exc:  # a stage that exists but crashes: report, do not stop
            return Figure(measurement, error=_shorten(str(exc).splitlines()[-1]))
        if "unavailable" in result:
            return Figure(measurement, unavailable=str(result["unavailable"]))
        results.append(result)
    counts = {k: v for k, v in results[-1].items() if k not in ("seconds", "peak_rss_mb")}
    return Figure(
        measurement,
        seconds=statistics.median(r["seconds"] for r in results),
        peak_rss_mb=max(r["peak_rss_mb"] for r in results),
        runs=runs,
        counts=counts,
    )


def ratio(numerator: Figure, denominator: Figure) -> float | None:
    """``numerator / denominator`` seconds, or None when either is missing."""
    if numerator.seconds is None or denominator.seconds is None or denominator.seconds == 0:
        return None
    return numerator.seconds / denominator.seconds


def loglog_slope(points: Sequence[tuple[float, float]]) -> float | None:
    """Least-squares slope of log(y) against log(x): the scaling exponent (None below 2 points)."""
    usable = [(math.log(x), math.log(y)) for x, y in points if x > 0 and y > 0]
    if len({x for x, _ in usable}) < 2:
        return None
    mean_x = statistics.fmean(x for x, _ in usable)
    mean_y = statistics.fmean(y for _, y in usable)
    num = sum((x - mean_x) * (y - mean_y) for x, y in usable)
    den = sum((x - mean_x) ** 2 for x, _ in usable)
    return num / den


#: Each section's saved figures, from which BENCHMARKS.md is written. In the repository (not in
#: the gitignored cache ``bench/out``) so that a fresh checkout merges new sections with the
#: committed ones instead of dropping them; under ``GRANTBRIDGE_BENCH_OUT`` when that is set
#: (tests), so a test never touches the committed figures.
RESULTS = (
    OUT / "results"
    if os.environ.get("GRANTBRIDGE_BENCH_OUT")
    else Path(__file__).resolve().parent / "results"
)


def save_results(name: str, data: dict[str, Any]) -> None:
    """Keep one benchmark section's results (the report combines every saved section)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def load_results() -> dict[str, dict[str, Any]]:
    """Every saved section, by name."""
    if not RESULTS.exists():
        return {}
    return {p.stem: json.loads(p.read_text()) for p in sorted(RESULTS.glob("*.json"))}
