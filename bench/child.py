"""One measurement in a fresh process: ``python -m bench.child <measurement> <args…>``.

Running each measurement in its own process keeps peak RSS honest (peaks do not accumulate
across measurements) and keeps warm caches of one stage out of the next. The child prints one
JSON object on its last line of standard output: ``seconds`` (the timed part only),
``peak_rss_mb`` (``getrusage`` of this process, setup included), and measurement-specific
counts; or ``unavailable`` with the reason when a pipeline stage does not exist yet.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.stages import Unavailable, module_attr, stage
from grantbridge.collector import collector_paused

Result = dict[str, Any]


def _timed(work: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    value = work()
    return time.perf_counter() - start, value


def measure_generate(args: list[str]) -> Result:
    """Generate the estate ``<scale> <seed> <out>``: snapshot.json and T-SQL, streamed to disk."""
    from bench.estate import write_estate
    from bench.scales import get_scale

    scale, seed, out = get_scale(args[0]), int(args[1]), Path(args[2])
    seconds, estate = _timed(lambda: write_estate(scale, seed, out / f"{scale.name}-seed{seed}"))
    snapshot_bytes = estate.snapshot_path.stat().st_size
    script_bytes = sum(p.stat().st_size for p in estate.scripts)
    return {
        "seconds": seconds,
        "permission_rows": estate.permission_rows,
        "statements": estate.statements,
        "snapshot_mb": round(snapshot_bytes / 2**20, 1),
        "tsql_mb": round(script_bytes / 2**20, 1),
    }


def measure_tokenize(args: list[str]) -> Result:
    """sqlglot's T-SQL tokenizer alone over the scripts (read before timing).

    Timed with the cyclic garbage collector paused, as the extractor runs (``extract_scripts``
    pauses it): with it running, the collector's walks over the hundreds of thousands of tokens
    of a file took half the tokenizer's time at scale M, a cost of the yardstick, not of
    tokenizing.
    """
    from sqlglot.dialects.tsql import TSQL

    dialect = TSQL()
    texts = [Path(p).read_text(encoding="utf-8") for p in args]
    with collector_paused():
        seconds, tokens = _timed(lambda: sum(len(dialect.tokenize(text)) for text in texts))
    return {"seconds": seconds, "tokens": tokens}


def measure_parse(args: list[str]) -> Result:
    """grantbridge's T-SQL extractor over the scripts, replay and snapshot included."""
    extract_scripts = stage("extract_scripts")
    paths = [Path(p) for p in args]
    seconds, snapshot = _timed(lambda: extract_scripts(paths))
    rows = len(snapshot.server_permissions) + sum(len(d.permissions) for d in snapshot.databases)
    return {"seconds": seconds, "permission_rows": rows}


def measure_json(args: list[str]) -> Result:
    """A plain ``json.loads`` of the snapshot file (the plan-time yardstick)."""
    text = Path(args[0]).read_text(encoding="utf-8")
    seconds, _ = _timed(lambda: json.loads(text))
    return {"seconds": seconds, "bytes": len(text.encode())}


def _load_snapshot(path: str) -> Any:
    from mssql_extract.snapshot import SecuritySnapshot

    return SecuritySnapshot.from_json(Path(path).read_text(encoding="utf-8"), origin=path)


def measure_load(args: list[str]) -> Result:
    """``SecuritySnapshot.from_json`` (validation included) of the snapshot file."""
    text = Path(args[0]).read_text(encoding="utf-8")
    from mssql_extract.snapshot import SecuritySnapshot

    seconds, _ = _timed(lambda: SecuritySnapshot.from_json(text))
    return {"seconds": seconds}


def measure_load_paused(args: list[str]) -> Result:
    """``SecuritySnapshot.from_json`` (validation included) with the cyclic GC paused.

    Not a grantbridge code path (yet): it shows what pausing the collector around the
    validated load would give, validation unchanged (issue 7, item 3).
    """
    text = Path(args[0]).read_text(encoding="utf-8")
    from mssql_extract.snapshot import SecuritySnapshot

    with collector_paused():
        seconds, _ = _timed(lambda: SecuritySnapshot.from_json(text))
    return {"seconds": seconds}


def measure_effective(args: list[str]) -> Result:
    """``EffectivePermissions(snapshot)``: the principal graph and indexes the planner builds on."""
    effective = stage("EffectivePermissions")
    snapshot = _load_snapshot(args[0])
    seconds, _ = _timed(lambda: effective(snapshot))
    return {"seconds": seconds}


def measure_plan(args: list[str]) -> Result:
    """``plan(snapshot, Policy())``; the snapshot is loaded before timing. Writes plan.json."""
    plan, policy = stage("plan"), stage("Policy")
    snapshot = _load_snapshot(args[0])
    seconds, result = _timed(lambda: plan(snapshot, policy()))
    if len(args) > 1:  # for emit, apply and verify, from the planner as it is now
        result.write_json(Path(args[1]))
    return {"seconds": seconds, "grants": len(result.grants), "roles": len(result.roles)}


def measure_plan_parts(args: list[str]) -> Result:
    """``plan()`` once per database (the server part with that database:
    :mod:`mssql_extract.snapshot_parts`), each part loaded before its timing and dropped after,
    in one process: the planner's own time and memory one database at a time, without writing
    the plans (``plan-per-database`` times the shipped command)."""
    from mssql_extract.snapshot_parts import database_count, parts

    plan, policy = stage("plan"), stage("Policy")
    path = Path(args[0])
    databases = database_count(path)
    seconds, grants = 0.0, 0
    for part in parts(path):
        took, result = _timed(lambda part=part: plan(part, policy(), part_of=databases))
        seconds, grants = seconds + took, grants + len(result.grants)
        del part, result  # one part in memory at a time
    return {"seconds": seconds, "databases": databases, "grants": grants}


def measure_plan_per_database(args: list[str]) -> Result:
    """``grantbridge plan SNAPSHOT -o DIR --per-database --jobs N`` as the command runs it
    (``args``: the snapshot, N): each database cut out of the file, planned by a worker
    process and written as a plan directory (scripts, report and all), into a directory
    removed afterwards. ``peak_rss_mb`` is this process's and its workers' memory summed
    (sampled: :mod:`bench.tree_rss`); ``largest_rss_mb`` the largest single process's."""
    import tempfile

    from bench.tree_rss import TreePeak

    try:
        from grantbridge.commands.plan import PLAN_LAYOUT
        from grantbridge.commands.plan_parts import parts_layout, plan_per_database
    except ImportError as exc:
        raise Unavailable(f"plan --per-database: {exc}") from None
    from mapper.policy import Policy
    from mssql_extract.snapshot import SecuritySnapshot

    path, jobs = Path(args[0]), int(args[1])

    def load() -> SecuritySnapshot:  # only for a snapshot not in the canonical layout
        return SecuritySnapshot.from_json(path.read_bytes(), origin=str(path))

    with tempfile.TemporaryDirectory(prefix="bench-parts-", dir=path.parent) as tmp:
        out = Path(tmp) / "plans"
        with TreePeak() as peak:
            seconds, parts = _timed(
                lambda: plan_per_database(
                    path,
                    out,
                    parts_layout(PLAN_LAYOUT),
                    Policy(),
                    None,
                    jobs,
                    load,
                    lambda _m: None,
                )
            )
        written = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    largest = max(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
    )
    return {
        "seconds": seconds, "databases": len(parts), "jobs": jobs,
        "grants": sum(p.grants for p in parts), "written_mb": round(written / 2**20, 1),
        "peak_rss_mb": max(peak.mb, largest / 1024), "largest_rss_mb": largest / 1024,
    }  # fmt: skip


def measure_emit(args: list[str]) -> Result:
    """``render_sql(plan)``; counts its statements and the naive rendering's."""
    from bench.count import count_sql_statements
    from bench.naive import count_naive
    from mapper.plan import MigrationPlan
    from pg_emit.report import render_report

    render_sql = stage("render_sql")
    plan = MigrationPlan.from_json(Path(args[0]).read_text(encoding="utf-8"))
    seconds, files = _timed(lambda: render_sql(plan))
    scripts = {n: t for n, t in files.items() if _applied(n)}
    statements = sum(count_sql_statements(text) for text in scripts.values())
    report = render_report(plan)  # untimed: its size is the figure (a reviewer opens it)
    return {"seconds": seconds, "statements": statements, "naive_statements": count_naive(plan),
            "report_bytes": len(report.encode("utf-8"))}  # fmt: skip


def _plan_from(path: str) -> Any:
    from mapper.plan import MigrationPlan

    return MigrationPlan.from_json(Path(path).read_text(encoding="utf-8"), origin=path)


def _apply_scripts(plan: Any, root: Path, naive: bool) -> list[Path]:
    """Write the scripts to apply under ``root`` (untimed): grantbridge's or the naive one."""
    from bench.pgload import naive_psql

    folder = root / ("apply-naive" if naive else "apply-grantbridge")
    folder.mkdir(parents=True, exist_ok=True)
    if naive:
        (folder / "naive.sql").write_text(naive_psql(plan), encoding="utf-8")
        return [folder / "naive.sql"]
    # one psql run for both sides: the scripts in name order, joined (each \connects itself)
    texts = [t for n, t in sorted(stage("render_sql")(plan).items()) if _applied(n)]
    (folder / "grantbridge.sql").write_text("\n".join(texts), encoding="utf-8")
    return [folder / "grantbridge.sql"]


def _applied(name: str) -> bool:
    """Scripts that ``grantbridge apply`` runs: every .sql file but the rollback."""
    return name.endswith(".sql") and "rollback" not in name


def _measure_apply(args: list[str], naive: bool) -> Result:
    from bench.pgload import build_stubs, run_psql

    embedded_server = stage("embedded_server")
    plan = _plan_from(args[0])
    scripts = _apply_scripts(plan, Path(args[1]), naive)
    with embedded_server() as dsn:
        build_stubs(dsn, plan)
        seconds = run_psql(dsn, scripts)
    return {"seconds": seconds, "scripts": len(scripts)}


def measure_apply(args: list[str]) -> Result:
    """grantbridge's psql scripts on a fresh embedded PostgreSQL (stub objects built first)."""
    return _measure_apply(args, naive=False)


def measure_apply_naive(args: list[str]) -> Result:
    """The naive one-statement-per-item script, applied the same way."""
    return _measure_apply(args, naive=True)


def measure_verify(args: list[str]) -> Result:
    """``pg_emit.verify.verify_plan`` on a fresh embedded server (it builds its own target)."""
    verify_plan = module_attr("pg_emit.verify", "verify_plan")
    embedded_server = stage("embedded_server")
    plan = _plan_from(args[0])
    with embedded_server() as dsn:
        seconds, mismatches = _timed(lambda: verify_plan(plan, dsn, embedded=True))
    return {"seconds": seconds, "mismatches": len(mismatches)}


#: Measurement name → function. Registry: one entry per name.
MEASUREMENTS: dict[str, Callable[[list[str]], Result]] = {
    "generate": measure_generate,
    "tokenize": measure_tokenize,
    "parse": measure_parse,
    "json": measure_json,
    "load": measure_load,
    "load-paused": measure_load_paused,
    "effective": measure_effective,
    "plan": measure_plan,
    "plan-parts": measure_plan_parts,
    "plan-per-database": measure_plan_per_database,
    "emit": measure_emit,
    "apply": measure_apply,
    "apply-naive": measure_apply_naive,
    "verify": measure_verify,
}


def run(name: str, args: list[str]) -> Result:
    """Run measurement ``name``; a missing stage becomes ``{"unavailable": reason}``."""
    try:
        result = MEASUREMENTS[name](args)
    except Unavailable as exc:
        result = {"unavailable": str(exc)}
    # a measurement of several processes gives its own (``plan-per-database``)
    result.setdefault("peak_rss_mb", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return result


def main(argv: list[str]) -> int:
    """Entry point: ``<measurement> <args…>``; prints the result as one JSON line."""
    if not argv or argv[0] not in MEASUREMENTS:
        print(f"usage: python -m bench.child {{{','.join(MEASUREMENTS)}}} ARGS…", file=sys.stderr)
        return 2
    print(json.dumps(run(argv[0], argv[1:]), sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
