"""Run a measurement several times, each in its own child process, and keep the median."""

from __future__ import annotations

import json
import math
import statistics
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.estate import OUT


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
    """A measurement process exited with an error (a bug in a stage, not missing code)."""


def run_child(measurement: str, args: Sequence[str]) -> dict[str, Any]:
    """Run ``python -m bench.child measurement args…`` and return its JSON result."""
    command = [sys.executable, "-m", "bench.child", measurement, *args]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-15:])
        raise ChildFailed(f"{measurement} failed (exit {done.returncode}):\n{tail}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
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


RESULTS = OUT / "results"


def save_results(name: str, data: dict[str, Any]) -> None:
    """Keep one benchmark section's results (the report combines every saved section)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def load_results() -> dict[str, dict[str, Any]]:
    """Every saved section, by name."""
    if not RESULTS.exists():
        return {}
    return {p.stem: json.loads(p.read_text()) for p in sorted(RESULTS.glob("*.json"))}
