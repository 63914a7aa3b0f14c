"""Turn saved benchmark results into tables and ``BENCHMARKS.md``.

The document's structure is deterministic (sections and rows in a fixed order, no dates);
only the measured figures and the machine description vary between runs.
"""

from __future__ import annotations

import os
import platform
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.measure import loglog_slope

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ROOT / "BENCHMARKS.md"
NOT_YET = "not available yet"
SCALE_ORDER = ("XS", "S", "M", "L")


def estate_sections(results: dict[str, dict[str, Any]]) -> list[str]:
    """Named scales in size order, then one-database ``rows<N>`` estates by rows."""
    rows = sorted(
        (s for s in results if s.startswith("rows") and s[4:].isdigit()), key=lambda s: int(s[4:])
    )
    return [s for s in SCALE_ORDER if s in results] + rows


Row = tuple[str, str]


def _fig(section: dict[str, Any], name: str) -> dict[str, Any] | None:
    figure: dict[str, Any] | None = section.get("figures", {}).get(name)
    return figure


def _seconds(section: dict[str, Any], name: str) -> float | None:
    figure = _fig(section, name)
    return None if figure is None else figure.get("seconds")


def _missing(section: dict[str, Any], *names: str) -> str:
    """Why a row has no figure: the first unavailable stage, or "not measured"."""
    for name in names:
        figure = _fig(section, name)
        if figure is not None and figure.get("unavailable"):
            return f"{NOT_YET} ({figure['unavailable']})"
        if figure is not None and figure.get("error"):
            return f"failed: {figure['error']}"
    return "not measured"


def _time(section: dict[str, Any], name: str) -> str:
    seconds = _seconds(section, name)
    return _missing(section, name) if seconds is None else f"{seconds:.3f} s"


def _ratio(section: dict[str, Any], top: str, bottom: str) -> str:
    a, b = _seconds(section, top), _seconds(section, bottom)
    return _missing(section, top, bottom) if a is None or not b else f"{a / b:.2f}×"


def _rate(section: dict[str, Any], name: str, statements: int) -> str:
    seconds = _seconds(section, name)
    if seconds is None:
        return _missing(section, name)
    return f"{statements / seconds:,.0f} statements/s ({seconds:.3f} s)"


def _rss(section: dict[str, Any], name: str) -> str:
    figure = _fig(section, name)
    if figure is None or figure.get("peak_rss_mb") is None:
        return _missing(section, name)
    return f"{figure['peak_rss_mb']:,.0f} MB"


def _emitted(section: dict[str, Any]) -> list[Row]:
    figure = _fig(section, "emit")
    if figure is None or figure.get("seconds") is None:
        why = _missing(section, "emit")
        return [("statements emitted: grantbridge / naive", why)]
    counts = figure["counts"]
    ratio = counts["statements"] / max(1, counts["naive_statements"])
    text = f"{counts['statements']:,} / {counts['naive_statements']:,} = {ratio:.3f}×"
    size = counts.get("report_bytes")  # absent from figures measured before it was
    return [
        ("statements emitted: grantbridge / naive", text),
        ("render time", _time(section, "emit")),
        ("report.md size", "not measured" if size is None else f"{size / 1e6:,.2f} MB"),
    ]


def generate_rows(section: dict[str, Any]) -> list[Row]:
    """Generating the estate (snapshot and T-SQL, streamed): time, peak RSS, sizes on disk."""
    figure = _fig(section, "generate")
    if figure is None:
        return [("generate snapshot + T-SQL", "not measured (estate from the cache)")]
    if figure.get("seconds") is None:
        return [("generate snapshot + T-SQL", _missing(section, "generate"))]
    counts = figure["counts"]
    return [
        (
            "generate snapshot + T-SQL",
            f"{figure['seconds']:.1f} s, peak RSS {figure['peak_rss_mb']:,.0f} MB "
            f"(snapshot.json {counts['snapshot_mb']:,} MB, T-SQL {counts['tsql_mb']:,} MB)",
        )
    ]


def _count(section: dict[str, Any], name: str, key: str) -> str:
    figure = section["figures"].get(name)
    if not figure or figure.get("error") or key not in figure.get("counts", {}):
        return _missing(section, name)
    return f"{figure['counts'][key]:,}"


def parse_rows(section: dict[str, Any]) -> list[Row]:
    """Parse throughput of grantbridge vs sqlglot's tokenizer alone on the same text."""
    statements = int(section["statements"])
    return [
        ("T-SQL statements", f"{statements:,}"),
        ("parse (grantbridge)", _rate(section, "parse", statements)),
        ("tokenize only (sqlglot T-SQL)", _rate(section, "tokenize", statements)),
        ("parse / tokenize time", _ratio(section, "parse", "tokenize")),
        ("parse peak RSS", _rss(section, "parse")),
    ]


def plan_rows(section: dict[str, Any]) -> list[Row]:
    """Plan time vs ``json.loads`` of the same snapshot, and the planner's peak RSS."""
    return [
        ("json.loads of snapshot", _time(section, "json")),
        ("snapshot load (validated)", _time(section, "load")),
        ("snapshot load (validated), cyclic GC paused", _time(section, "load-paused")),
        ("validated load / json.loads time", _ratio(section, "load", "json")),
        ("effective-permissions build (mapper.effective)", _time(section, "effective")),
        ("effective build peak RSS (load + build)", _rss(section, "effective")),
        ("plan", _time(section, "plan")),
        ("plan / json.loads time", _ratio(section, "plan", "json")),
        ("plan peak RSS (load + plan)", _rss(section, "plan")),
    ]


def scale_rows(section: dict[str, Any]) -> list[Row]:
    """Every figure of one scale, in a fixed order."""
    estate = section["estate"]
    head = [
        (
            "databases / principals / permission rows",
            f"{estate['databases']} / {estate['principals']:,} / {estate['permission_rows']:,}",
        ),
        ("code measured (git)", ", ".join(section.get("code", [])) or "unknown"),
    ]
    apply_rows = [
        ("apply grantbridge scripts", _time(section, "apply")),
        ("apply naive script", _time(section, "apply-naive")),
        ("apply grantbridge / naive time", _ratio(section, "apply", "apply-naive")),
        ("verify", _time(section, "verify")),
        ("verify: mismatches found", _count(section, "verify", "mismatches")),
    ]
    return (
        head
        + generate_rows(section)
        + parse_rows(section)
        + plan_rows(section)
        + _emitted(section)
        + apply_rows
    )


def scaling_rows(results: dict[str, dict[str, Any]]) -> list[Row]:
    """Plan time per scale and the log-log slope against permission rows."""
    points = []
    rows: list[Row] = []
    for name in SCALE_ORDER:
        section = results.get(name)
        seconds = None if section is None else _seconds(section, "plan")
        if section is not None and seconds is not None:
            points.append((float(section["estate"]["permission_rows"]), seconds))
            rows.append((f"plan time at {name}", f"{seconds:.3f} s"))
    slope = loglog_slope(points)
    rows.append(
        (
            "exponent (log-log slope, plan time vs rows)",
            "needs two measured scales" if slope is None else f"{slope:.2f}",
        )
    )
    return rows


def _exponent(entries: list[dict[str, Any]], name: str) -> str:
    points = [(float(e["rows"]), _seconds(e, name)) for e in entries]
    slope = loglog_slope([(x, y) for x, y in points if y is not None])
    return "needs both points" if slope is None else f"{slope:.2f}"


def plan_scaling_rows(section: dict[str, Any]) -> list[Row]:
    """Issue 4: plan time and peak RSS on 10k and 100k permission rows."""
    rows: list[Row] = []
    for entry in section["points"]:
        label = f"{entry['rows']:,} rows"
        rows += [
            (f"{label}: plan", _time(entry, "plan")),
            (f"{label}: plan peak RSS", _rss(entry, "plan")),
            (f"{label}: plan / json.loads", _ratio(entry, "plan", "json")),
            (f"{label}: effective-permissions build", _time(entry, "effective")),
            (f"{label}: effective build peak RSS", _rss(entry, "effective")),
        ]
    rows.append(("plan exponent 10k → 100k", _exponent(section["points"], "plan")))
    rows.append(("effective-build exponent 10k → 100k", _exponent(section["points"], "effective")))
    return rows


def _verdict(value: float | None, limit: float, text: str) -> str:
    if value is None:
        return "not measured yet"
    return f"{'met' if value <= limit else 'NOT met'}: {text}"


def _largest(results: dict[str, dict[str, Any]], *names: str) -> tuple[str, dict[str, Any]] | None:
    """The largest measured scale that has a figure for each of ``names``."""
    measured = [
        s
        for s in sorted(
            estate_sections(results), key=lambda s: results[s]["estate"]["permission_rows"]
        )
        if all(_seconds(results[s], name) is not None for name in names)
    ]
    return (measured[-1], results[measured[-1]]) if measured else None


def _at(results: dict[str, dict[str, Any]], scale: str, top: str, bottom: str) -> float | None:
    section = results.get(scale)
    if section is None:
        return None
    a, b = _seconds(section, top), _seconds(section, bottom)
    return None if a is None or not b else a / b


def _emit_ratio(section: dict[str, Any]) -> float | None:
    figure = _fig(section, "emit")
    if figure is None or figure.get("seconds") is None:
        return None
    counts = figure["counts"]
    return float(counts["statements"]) / max(1, int(counts["naive_statements"]))


def _apply_verdict(results: dict[str, dict[str, Any]]) -> str:
    """Met only where every estate with both apply figures is at or under 0.3× naive."""
    ratios = [
        (name, ratio)
        for name in estate_sections(results)
        if (ratio := _at(results, name, "apply", "apply-naive")) is not None
    ]
    if not ratios:
        return "not measured yet"
    met = all(ratio <= 0.3 for _, ratio in ratios)
    text = ", ".join(f"{ratio:.2f}× at {name}" for name, ratio in ratios)
    return f"{'met' if met else 'NOT met'}: {text}"


def target_rows(results: dict[str, dict[str, Any]]) -> list[Row]:
    """Issue 7's targets, each met, not met, or not measured yet, with its figure."""
    plan_m, parse_m = _at(results, "M", "plan", "json"), _at(results, "M", "parse", "tokenize")
    section_l = results.get("L")
    plan_l = None if section_l is None else _seconds(section_l, "plan")
    rss_l = None if section_l is None else (_fig(section_l, "plan") or {}).get("peak_rss_mb")
    emit = _largest(results, "emit")
    emit_ratio = None if emit is None else _emit_ratio(emit[1])
    measured = [s for s in SCALE_ORDER if s in results and s != "XS"]
    points = [
        (float(results[s]["estate"]["permission_rows"]), seconds)
        for s in measured
        if (seconds := _seconds(results[s], "plan")) is not None
    ]
    slope = loglog_slope(points)
    failed_l = None if section_l is None else (_fig(section_l, "plan") or {}).get("error")
    if plan_l is not None or slope is None:
        exponent = _verdict(slope if plan_l is not None else None, 1.15, f"{slope or 0:.2f}")
    else:
        exponent = f"not measured at L (S → M: {slope:.2f})"
    return [
        ("M: plan ≤ 5× json.loads", _verdict(plan_m, 5, f"{plan_m or 0:.2f}×")),
        ("M: parse ≤ 3× tokenizer", _verdict(parse_m, 3, f"{parse_m or 0:.2f}×")),
        (
            "L: plan < 120 s",
            f"NOT met: {failed_l}" if failed_l else _verdict(plan_l, 120, f"{plan_l or 0:.1f} s"),
        ),
        (
            "L: plan peak RSS < 6 GB",
            f"NOT met: {failed_l}"
            if failed_l and "memory cap" in failed_l
            else _verdict(
                None if rss_l is None else rss_l / 1024, 6, f"{(rss_l or 0) / 1024:.2f} GB"
            ),
        ),
        ("apply ≤ 0.3× naive", _apply_verdict(results)),
        (
            "statements ≤ 0.2× naive",
            _verdict(emit_ratio, 0.2, f"{emit_ratio or 0:.3f}× at {emit[0] if emit else '-'}"),
        ),
        ("exponent ≤ 1.15 (S → L)", exponent),
    ]


def _command(args: list[str]) -> str:
    try:
        done = subprocess.run(args, capture_output=True, text=True, check=False, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return (
        done.stdout.strip().splitlines()[0]
        if done.returncode == 0 and done.stdout.strip()
        else "unknown"
    )


def machine_rows() -> list[Row]:
    """nproc, memory, Python, PostgreSQL (server found on PATH or through pg_config)."""
    pages, page_size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    return [
        ("CPUs (nproc)", str(os.cpu_count())),
        ("memory", f"{pages * page_size / 2**30:.1f} GiB"),
        ("Python", f"{platform.python_implementation()} {platform.python_version()}"),
        ("platform", platform.platform(terse=True)),
        ("PostgreSQL (embedded server)", _postgres_version()),
    ]


def _postgres_version() -> str:
    try:
        import pgserver  # the embedded server of pg_emit.server, when installed

        postgres = Path(pgserver.__file__).parent / "pginstall" / "bin" / "postgres"
        if postgres.exists():
            return _command([str(postgres), "--version"])
    except ImportError:
        pass
    return _command(["postgres", "--version"])


def table(rows: list[Row]) -> str:
    """A two-column Markdown table."""
    lines = ["| measure | value |", "|---|---|"]
    lines += [f"| {name} | {value} |" for name, value in rows]
    return "\n".join(lines)


SECTIONS: tuple[tuple[str, str, Callable[[dict[str, Any]], list[Row]]], ...] = (
    ("parse100k", "Parse: 100,000-statement script (issue 2)", parse_rows),
    ("planscaling", "Plan scaling: 10k and 100k permission rows (issue 4)", plan_scaling_rows),
)

#: Before/after figures of the fixes found by profiling (pyinstrument, cProfile), measured once
#: on this machine when each fix landed; the tables above are re-measured on every run.
FIXES: tuple[tuple[str, str, str], ...] = (
    (
        "generate M: stream one database at a time, leaner model construction (91bed7f)",
        "21.3 s, 1,142 MB peak RSS",
        "20.0 s, 226 MB (files byte-identical)",
    ),
    (
        "parse M: cyclic GC paused while replaying, key built once per row, interned names "
        "and keys, slotted rows, cheaper keyword checks (4acb292)",
        "104.2 s (5,001 statements/s), 1,377 MB",
        "40.6 s (12,849 statements/s), 1,125 MB",
    ),
    (
        "parse / tokenize time at M (tokenizer timed with the GC paused: 27.8 s)",
        "3.75×",
        "1.46×",
    ),
    (
        "parse memory, 4 M databases (150k rows): source references share their fields-set "
        "(bf579f3)",
        "383 MB",
        "349 MB",
    ),
    (
        "validated snapshot load at M: GC paused inside SecuritySnapshot.from_json, each key "
        "computed once when sorting (4dc9792)",
        "13.2–16.5 s (5.6–6.4× json.loads)",
        "4.4–8.1 s (the table above: the load as grantbridge does it)",
    ),
    (
        "plan, 2 databases of M (208k grants), CPU seconds of plan() on a loaded machine: schema "
        "contents looked up once per schema, DENY precedence decided without building "
        "explanations, grant signatures cached in DENY restructuring (61951cf)",
        "56.3–56.8 s CPU, 1,130 MB",
        "35.2–40.7 s CPU, 1,106 MB (plans byte-identical)",
    ),
    (
        "validated snapshot load at M, idle machine: parsed and validated in one pass by "
        "pydantic-core (`model_validate_json`), no tree of Python dicts in between (70444cd)",
        "8.4 s, 1,535 MB peak RSS",
        "4.3 s, 1,538 MB",
    ),
    (
        "verify on the embedded server, 24k roles in 2 databases (synthetic plan): roles and "
        "memberships committed once instead of once per database (4e40064)",
        "20–25 s, 01 + 02: 9.1 s (the per-database path, which live targets keep)",
        "16–18 s, 01 + 02: 4.2 s",
    ),
    (
        "apply S: statements sent 50 at a time (psql \\; inside a batch; pipeline mode in "
        "apply and verify), one wait per batch (36a45b3); median of 3, one process",
        "0.825 s (0.36× the naive script's 2.294 s)",
        "0.661 s (0.29×) in batches of 20, 0.625 s (0.27×) of 100; the S section has 50",
    ),
    (
        "plan M: plan.json written and the snapshot hashed in pieces, not as one text "
        "(e3e2d6a); rows100000: writing plan.json 4.0 s, +810 MB → 2.6 s, +6 MB",
        "8,587 MB peak RSS (load + plan + write)",
        "5,045 MB",
    ),
    (
        "render S: 04's grant grouping worked out once, rollback.sql revokes the same clauses "
        "(e5969dd); median of 5 in one process",
        "0.510 s",
        "0.320 s (scripts byte-identical)",
    ),
    (
        "render M: the cyclic collector paused while rendering, each database's grants sorted "
        "out in one pass (they were filtered from all 1.04M grants once per database, twice), "
        "the databases listed once (9efc951); CPU seconds of render_sql on a plan loaded from "
        "plan.json, one process",
        "22.3 s",
        "11.0 s (scripts byte-identical); S: 0.253 → 0.149 s",
    ),
    (
        "load plan.json (render, apply, verify, diff, report): parsed and validated in one pass "
        "by pydantic-core with the collector paused, as snapshots are (d64788c); S, one process",
        "0.46–0.71 s",
        "0.14–0.18 s (the same plan)",
    ),
    (
        "report.md at M: the first 50 findings of a rule, derived roles counted past 100, a "
        "most-granted-roles table where Mermaid cannot draw (7f3edaa); the emit section's "
        "report.md size",
        "73.0 MB (role hierarchy 56.8 MB, findings 8.8 MB, principal mapping 6.1 MB)",
        "0.54 MB",
    ),
    (
        "diff.md at M for a ~10-row source change (an audit's mutation of one database): a "
        "60,000-character budget, derived-role churn counted per base role (daf2187)",
        "941 KB, 7,992 lines (GitHub refuses a comment over 65,536 characters)",
        "39.9 KB; `diff` itself 55 s, 7.4 GB (two plans loaded)",
    ),
    (
        "drift against an empty target, 10 databases and 100k rows (208k grants, 124k "
        "memberships): mismatches sorted by a key, roles and memberships compared once, "
        "fewer grant copies (927ae4a, d164590); the mismatch table capped at 50 rows",
        "28.2 s; the full table ~170 s more (354k rows)",
        "8.4 s (same mismatches, same script); the report 0.13 s",
    ),
    (
        "scripts at M: rollback.sql revokes memberships 1,000 per statement, long arrays 10 "
        "elements to a line (0d6dc3c); a GRANT's grantees, objects or roles past 8 one to a "
        "line; longest line of rollback.sql / 04 / 02",
        "51.2 MB (every membership in one unnest) / 11,744 / 8,233 characters",
        "719 / 593 / 1,952 characters (a comment's or a role name's length); small plans' "
        "scripts unchanged",
    ),
    (
        "report.md at M once views check their caller's privileges across broken ownership "
        "chains (6,282 security_invoker views, none with a body in the snapshot): the "
        "routines, views and row-level security tables show 100 rows and count the rest "
        "(4c2a223)",
        "1.79 MB (the views table 1.0 MB)",
        "0.79 MB",
    ),
)

COMMANDS = (
    "uv run python -m bench --scale S --runs 3",
    "uv run python -m bench --plan-scaling --runs 3",
    "uv run python -m bench --scale rows100000 --runs 3 --only parse,plan,emit,apply",
    "uv run python -m bench --scale M --runs 1 --only parse",
    "uv run python -m bench --scale M --runs 1 --only plan,verify --timeout 3600 --max-rss-mb 14000",
    "uv run python -m bench --scale M --runs 1 --only emit,apply --timeout 2400 --max-rss-mb 14000",
    "uv run python -m bench --scale L --runs 1 --only parse --max-rss-mb 12000 --timeout 2400",
    "uv run python -m bench --scale L --runs 1 --only plan --max-rss-mb 12000 --timeout 600",
)


def render_markdown(results: dict[str, dict[str, Any]]) -> str:
    """``BENCHMARKS.md``: machine, commands, one table per measured section, scaling."""
    parts = [
        "# Benchmarks",
        "",
        "Generated by `bench/` (issue 7). Synthetic estates come from a seeded generator "
        "(`bench/generate.py`); every figure is the median of several runs, each run in its own "
        "child process (peak RSS from `getrusage` of that process, setup included). A figure "
        "marked *not available yet* names the pipeline stage that did not exist when it was "
        "measured; *not measured* means the section was not run; *failed: … stopped* means a "
        "run exceeded the harness's per-run time or memory limit (`--timeout`, `--max-rss-mb`) "
        "and was stopped. Scales run stage by stage and sections merge across invocations "
        "(`--only`); *code measured* lists the commits whose figures a section holds.",
        "",
        "## Machine",
        "",
        table(machine_rows()),
        "",
        "## Commands",
        "",
        "```",
        *COMMANDS,
        "```",
    ]
    for name in estate_sections(results):
        if name in results:
            runs = results[name].get("runs", "?")
            title = f"Scale {name}" if name in SCALE_ORDER else f"Estate {name} (one database)"
            parts += [
                "",
                f"## {title} (median of {runs} runs)",
                "",
                table(scale_rows(results[name])),
            ]
    parts += ["", "## Scaling exponent S → M → L", "", table(scaling_rows(results))]
    parts += ["", "## Targets (issue 7)", "", table(target_rows(results))]
    parts += ["", "## Profiling fixes: before / after (issue 7)", ""]
    parts += ["| fix | before | after |", "|---|---|---|"]
    parts += [f"| {fix} | {before} | {after} |" for fix, before, after in FIXES]
    for key, title, rows in SECTIONS:
        if key in results:
            runs = results[key].get("runs", "?")
            parts += ["", f"## {title} (median of {runs} runs)", "", table(rows(results[key]))]
    return "\n".join(parts) + "\n"


def write_benchmarks(results: dict[str, dict[str, Any]], path: Path = BENCHMARKS) -> None:
    """Write ``BENCHMARKS.md`` from every saved result section."""
    path.write_text(render_markdown(results), encoding="utf-8")
