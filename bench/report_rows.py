"""Saved benchmark figures as rows of a two-column table (measure, value).

One function per table of ``BENCHMARKS.md``: a scale's figures (generation, parse, plan, emit,
apply, verify), the 100,000-statement parse, plan scaling at 10k and 100k rows, the scaling
exponent across scales, and issue 7's targets with their verdicts. A figure that is missing
says why (not measured, not available yet, failed). :mod:`bench.report` lays the tables out.
"""

from __future__ import annotations

from typing import Any

from bench.measure import loglog_slope

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
        # plan() alone on each part in one process (mssql_extract.snapshot_parts), then the
        # shipped command: cut out, planned by two workers and written, scripts and all
        ("plan() one database at a time, one process (sum of parts)", _time(section, "plan-parts")),
        ("plan() one database at a time: peak RSS", _rss(section, "plan-parts")),
        (f"plan --per-database, {_jobs(section)} (read, plan, write)", _time(section, PER_DB)),
        ("plan --per-database / json.loads time", _ratio(section, PER_DB, "json")),
        ("plan --per-database peak RSS, all processes (sampled)", _rss(section, PER_DB)),
    ]


#: The figure of ``grantbridge plan --per-database`` (bench.child ``plan-per-database``).
PER_DB = "plan-per-database"


def _jobs(section: dict[str, Any]) -> str:
    figure = _fig(section, PER_DB)
    jobs = None if figure is None else figure.get("counts", {}).get("jobs")
    return "workers" if jobs is None else f"{jobs} worker{'s' if jobs != 1 else ''}"


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


def _parts_at(results: dict[str, dict[str, Any]], scale: str, name: str = "plan-parts") -> str:
    """What planning ``scale`` one database at a time took, and its peak RSS."""
    section = results.get(scale)
    if section is None or _fig(section, name) is None:
        return "not measured"
    return f"{_time(section, name)}, peak RSS {_rss(section, name)}"


def _per_database_l(results: dict[str, dict[str, Any]]) -> tuple[float | None, float | None]:
    """``plan --per-database`` at L: seconds and peak RSS of all its processes (MB)."""
    figure = None if "L" not in results else _fig(results["L"], PER_DB)
    if figure is None or figure.get("seconds") is None:
        return None, None
    return figure["seconds"], figure.get("peak_rss_mb")


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
    parts = [
        (float(results[s]["estate"]["permission_rows"]), seconds)
        for s in measured
        if (seconds := _seconds(results[s], "plan-parts")) is not None
    ]
    if "L" in {s for s in measured if _seconds(results[s], "plan-parts") is not None}:
        exponent += f"; plan() one database at a time: {loglog_slope(parts) or 0:.2f}"
    shipped = [
        (float(results[s]["estate"]["permission_rows"]), seconds)
        for s in measured
        if (seconds := _seconds(results[s], PER_DB)) is not None
    ]
    if "L" in {s for s in measured if _seconds(results[s], PER_DB) is not None}:
        exponent += f"; plan --per-database: {loglog_slope(shipped) or 0:.2f}"
    per_m = _at(results, "M", PER_DB, "json")
    per_l, per_rss_l = _per_database_l(results)
    whole_l = f"; whole: {failed_l}" if failed_l else ""
    return [
        (
            "M: plan ≤ 5× json.loads",
            _verdict(plan_m, 5, f"{plan_m or 0:.2f}×")
            + ("" if per_m is None else f"; plan --per-database: {per_m:.2f}×"),
        ),
        ("M: parse ≤ 3× tokenizer", _verdict(parse_m, 3, f"{parse_m or 0:.2f}×")),
        (
            "L: plan < 120 s",
            _verdict(per_l, 120, f"{per_l or 0:.1f} s with plan --per-database") + whole_l
            if plan_l is None and per_l is not None
            else f"NOT met: {failed_l}"
            if failed_l
            else _verdict(plan_l, 120, f"{plan_l or 0:.1f} s"),
        ),
        (
            "L: plan peak RSS < 6 GB",
            _verdict(per_rss_l / 1024, 6, f"{per_rss_l / 1024:.2f} GB with plan --per-database")
            + whole_l
            if plan_l is None and per_rss_l is not None
            else f"NOT met: {failed_l}"
            if failed_l and "memory cap" in failed_l
            else _verdict(
                None if rss_l is None else rss_l / 1024, 6, f"{(rss_l or 0) / 1024:.2f} GB"
            ),
        ),
        ("L, plan() one database at a time, one process", _parts_at(results, "L")),
        ("apply ≤ 0.3× naive", _apply_verdict(results)),
        (
            "statements ≤ 0.2× naive",
            _verdict(emit_ratio, 0.2, f"{emit_ratio or 0:.3f}× at {emit[0] if emit else '-'}"),
        ),
        ("exponent ≤ 1.15 (S → L)", exponent),
    ]
