"""``uv run python -m bench.profile [--scale S] [--stage plan|render]``: where the time goes.

Runs one stage on a generated estate (made and cached as ``python -m bench`` makes it) under
pyinstrument and prints the call tree, so the hot spots behind the figures in BENCHMARKS.md
can be found again. The stage's input is prepared first and is not profiled: the validated
snapshot for ``plan``, the plan for ``render``. Profiling slows the stage down about twofold;
the tree's proportions are what it is for, the benchmark gives the times.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from typing import Any

from pyinstrument import Profiler

from bench.estate import ensure_estate
from bench.scales import get_scale

#: A stage shorter than this runs again until it is reached, so the sampler (one sample a
#: millisecond) sees it at all: a tiny estate renders in well under a millisecond.
MIN_SECONDS = 0.2


def _stage(name: str, snapshot_path: str) -> Callable[[], Any]:
    from mapper.planner import plan
    from mapper.policy import Policy
    from mssql_extract.snapshot import SecuritySnapshot

    with open(snapshot_path, encoding="utf-8") as text:
        snapshot = SecuritySnapshot.from_json(text.read())
    if name == "plan":
        return lambda: plan(snapshot, Policy())
    from pg_emit.render import render_sql

    migration = plan(snapshot, Policy())
    return lambda: render_sql(migration)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("--scale", default="S", help="XS, S, M, L or rows<N> (default S)")
    parser.add_argument("--stage", choices=("plan", "render"), default="plan")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    estate = ensure_estate(get_scale(args.scale), args.seed)
    work = _stage(args.stage, str(estate.snapshot_path))
    profiler = Profiler(interval=0.001)
    profiler.start()
    started, runs = time.perf_counter(), 0
    while not runs or time.perf_counter() - started < MIN_SECONDS:
        work()
        runs += 1
    profiler.stop()
    if runs > 1:
        print(f"{runs} runs of the stage (each shorter than {MIN_SECONDS} s); the tree sums them")
    print(profiler.output_text(unicode=True, color=False))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
