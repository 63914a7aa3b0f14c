"""``uv run python -m bench [--scale S|M|L] [--runs N] [--only parse,plan,…]``.

Also ``--parse-100k`` (issue 2: a 100,000-statement script) and ``--plan-scaling`` (issue 4:
plan time and peak memory at 10k and 100k permission rows). Prints a table per section and
rewrites ``BENCHMARKS.md`` from every section measured so far on this machine.

A scale runs stage by stage: generation (skipped when the estate is cached) and each group run
in child processes within ``--timeout`` and ``--max-rss-mb``; a stage that exceeds them, or
crashes, is recorded as ``failed: <reason>`` and the run goes on. The results are saved after
every group, and figures of groups not re-run are kept, so sections from several invocations
(``--only``, one scale at a time) merge into one report.
"""

from __future__ import annotations

import argparse
import functools
import subprocess
import sys
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench import measure as measuring
from bench import report, report_rows
from bench.estate import OUT, Estate, cached_estate, ensure_estate, ensure_statement_script
from bench.measure import Figure, Limits, load_results, measure, save_results
from bench.scales import SCALES, Scale, get_scale, rows_scale

GROUPS = ("parse", "plan", "parts", "per-database", "emit", "apply", "verify")
Figures = dict[str, Figure]


def _parse(estate: Estate, runs: int) -> Figures:
    paths = [str(p) for p in estate.scripts]
    return {"tokenize": measure("tokenize", paths, runs), "parse": measure("parse", paths, runs)}


#: The last plan figure per estate: emit, apply and verify need its plan.json.
_PLAN_FIGURES: dict[Path, Figure] = {}


def _plan(estate: Estate, runs: int) -> Figures:
    snapshot = str(estate.snapshot_path)
    (estate.root / "plan.json").unlink(missing_ok=True)  # never emit from a stale plan
    figures = {
        "json": measure("json", [snapshot], runs),
        "load": measure("load", [snapshot], runs),
        "load-paused": measure("load-paused", [snapshot], runs),
        "effective": measure("effective", [snapshot], runs),
        "plan": measure("plan", [snapshot, str(estate.root / "plan.json")], runs),
    }
    _PLAN_FIGURES[estate.root] = figures["plan"]
    return figures


def _needs_plan(measurement: str) -> Callable[[Estate, int], Figures]:
    def run(estate: Estate, runs: int) -> Figures:
        plan = estate.root / "plan.json"
        if not plan.exists():
            planned = _PLAN_FIGURES.get(estate.root) or _plan(estate, 1)["plan"]
            if not plan.exists():  # the planner is missing or failed: say which
                error = f"no plan: {planned.error}" if planned.error else None
                return {
                    measurement: Figure(measurement, unavailable=planned.unavailable, error=error)
                }
        return {measurement: measure(measurement, [str(plan), str(estate.root)], runs)}

    return run


def _apply(estate: Estate, runs: int) -> Figures:
    return _needs_plan("apply")(estate, runs) | _needs_plan("apply-naive")(estate, runs)


#: Worker processes of the ``plan --per-database`` figure: the two cores issue 7's L target
#: names (and this machine's).
PER_DATABASE_JOBS = 2

#: Group name → what it measures. Registry: one entry per group.
GROUP_RUNNERS: dict[str, Callable[[Estate, int], Figures]] = {
    "parse": _parse,
    "plan": _plan,
    "parts": lambda estate, runs: {
        "plan-parts": measure("plan-parts", [str(estate.snapshot_path)], runs)
    },
    "per-database": lambda estate, runs: {
        "plan-per-database": measure(
            "plan-per-database", [str(estate.snapshot_path), str(PER_DATABASE_JOBS)], runs
        )
    },
    "emit": _needs_plan("emit"),
    "apply": _apply,
    "verify": _needs_plan("verify"),
}


@functools.cache
def code_version() -> str:
    """The commit measured, ``+dirty`` when the work tree differs from it (others' edits too),
    the benchmark's own outputs aside: BENCHMARKS.md and bench/results, which an earlier
    invocation of a series (``--only``) rewrote, are not code.

    Read once per invocation, when it starts, so a commit landing mid-run does not count.
    """

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", *args], cwd=report.ROOT, capture_output=True, text=True, check=False
        )
        return done.stdout.strip() if done.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = git(
        "status", "--porcelain", "--untracked-files=no", "--", ".",
        ":(exclude)BENCHMARKS.md", ":(exclude)bench/results",
    )  # fmt: skip
    return commit + ("+dirty" if dirty else "")


def _estate_counts(estate: Estate) -> dict[str, Any]:
    return {
        "databases": estate.scale.databases,
        "principals": estate.principals,
        "permission_rows": estate.permission_rows,
    }


def _section(estate: Estate, figures: Figures, runs: int) -> dict[str, Any]:
    return {
        "scale": asdict(estate.scale),
        "estate": _estate_counts(estate),
        "statements": estate.statements,
        "runs": runs,
        "figures": {name: figure.to_dict() for name, figure in sorted(figures.items())},
    }


def _not_generated(scale: Scale, generate: Figure, runs: int) -> dict[str, Any]:
    """The section of a scale whose estate could not be generated: nominal counts, the failure."""
    return {
        "scale": asdict(scale),
        "estate": {
            "databases": scale.databases,
            "principals": scale.principals,
            "permission_rows": scale.permission_rows,
        },
        "statements": 0,
        "runs": runs,
        "figures": {"generate": generate.to_dict()},
    }


def _generated(scale: Scale, seed: int) -> tuple[Estate | None, Figure | None]:
    """The cached estate, else one generated in a child process (timed, within the limits)."""
    estate = cached_estate(scale, seed)
    if estate is not None:
        return estate, None
    figure = measure("generate", [scale.name, str(seed), str(OUT)], 1)
    return cached_estate(scale, seed), figure


def run_scale(
    name: str,
    runs: int,
    only: list[str],
    seed: int,
    save: Callable[[dict[str, Any]], None] = lambda section: None,
) -> dict[str, Any]:
    """Generate (or reuse) the estate of scale ``name`` and measure the selected groups.

    ``save`` receives the section after generation and after every group, so a run stopped
    half way keeps what it measured.
    """
    scale = get_scale(name)
    estate, generate = _generated(scale, seed)
    figures: Figures = {} if generate is None else {"generate": generate}
    if estate is None:
        assert generate is not None
        section = _not_generated(scale, generate, runs)
        save(section)
        return section
    if figures:
        save(_section(estate, figures, runs))
    for group in only:
        figures |= GROUP_RUNNERS[group](estate, runs)
        save(_section(estate, figures, runs))
    return _section(estate, figures, runs)


def run_parse_100k(runs: int, seed: int) -> dict[str, Any]:
    """Issue 2: grantbridge vs tokenizer-only on one 100,000-statement script."""
    path, statements = ensure_statement_script(100_000, seed)
    figures = {
        "tokenize": measure("tokenize", [str(path)], runs),
        "parse": measure("parse", [str(path)], runs),
    }
    return {
        "statements": statements,
        "runs": runs,
        "figures": {k: v.to_dict() for k, v in figures.items()},
    }


def run_plan_scaling(runs: int, seed: int) -> dict[str, Any]:
    """Issue 4: plan time and peak RSS at 10k and 100k permission rows."""
    points = []
    for rows in (10_000, 100_000):
        estate = ensure_estate(rows_scale(rows), seed)
        figures = _plan(estate, runs)
        points.append(
            {
                "rows": estate.permission_rows,
                "figures": {k: v.to_dict() for k, v in figures.items()},
            }
        )
    return {"runs": runs, "points": points}


def _merged(name: str, section: dict[str, Any]) -> dict[str, Any]:
    """Keep figures of groups not re-run (``--only``) from the last run on the same estate.

    ``code`` lists every commit whose figures the merged section holds.
    """
    section = section | {"code": [code_version()]}
    previous = load_results().get(name)
    if previous is None or previous.get("estate") != section["estate"]:
        return section
    codes = sorted(set(previous.get("code", [])) | set(section["code"]))
    return section | {"figures": previous["figures"] | section["figures"], "code": codes}


def _print(title: str, rows: list[report_rows.Row]) -> None:
    width = max(len(name) for name, _ in rows)
    print(f"\n{title}")
    for name, value in rows:
        print(f"  {name:<{width}}  {value}")


def _scale_name(text: str) -> str:
    try:
        get_scale(text)
    except KeyError:
        raise argparse.ArgumentTypeError(f"unknown scale {text!r}") from None
    return text


def _arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--scale",
        type=_scale_name,
        help=f"estate size: {', '.join(SCALES)} (XS is for tests) or rows<N> (one database)",
    )
    parser.add_argument("--runs", type=int, default=5, help="runs per figure (median)")
    parser.add_argument("--only", default=",".join(GROUPS), help=f"subset of {','.join(GROUPS)}")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--parse-100k", action="store_true", help="issue 2's parse figure")
    parser.add_argument("--plan-scaling", action="store_true", help="issue 4's 10k/100k figures")
    parser.add_argument("--report", type=Path, default=report.BENCHMARKS, help="Markdown to write")
    parser.add_argument(
        "--timeout",
        type=float,
        default=Limits.seconds,
        help="seconds one measurement run may take before it is stopped and reported failed",
    )
    parser.add_argument(
        "--max-rss-mb",
        type=float,
        default=Limits.rss_mb,
        help="resident MB one measurement process may reach before it is stopped",
    )
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    """Run the selected sections, print their tables, rewrite the report."""
    args = _arguments(argv)
    only = [g.strip() for g in args.only.split(",") if g.strip()]
    unknown = sorted(set(only) - set(GROUPS))
    if unknown:
        print(f"unknown --only group(s): {', '.join(unknown)} (choose from {', '.join(GROUPS)})")
        return 2
    if args.scale is None and not args.parse_100k and not args.plan_scaling:
        args.scale = "S"
    code_version()  # the code as it is when the run starts
    measuring.LIMITS = Limits(seconds=args.timeout, rss_mb=args.max_rss_mb)
    if args.scale:
        scale = args.scale

        def save(section: dict[str, Any]) -> None:
            save_results(scale, _merged(scale, section))
            report.write_benchmarks(load_results(), args.report)

        save(run_scale(scale, args.runs, only, args.seed, save))
        _print(f"Scale {args.scale}", report_rows.scale_rows(load_results()[args.scale]))
    if args.parse_100k:
        save_results("parse100k", run_parse_100k(args.runs, args.seed))
        _print("Parse, 100,000 statements", report_rows.parse_rows(load_results()["parse100k"]))
    if args.plan_scaling:
        save_results("planscaling", run_plan_scaling(args.runs, args.seed))
        _print("Plan scaling", report_rows.plan_scaling_rows(load_results()["planscaling"]))
    results = load_results()
    _print("Scaling exponent", report_rows.scaling_rows(results))
    report.write_benchmarks(results, args.report)
    print(f"\nwrote {args.report}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
