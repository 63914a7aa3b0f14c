"""Streamed generation (scale L in the memory of one database) and the harness's limits."""

from __future__ import annotations

import ast
import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench import measure
from bench.construct import construct
from bench.estate import cached_estate, ensure_estate
from bench.generate import generate_snapshot
from bench.measure import ChildFailed, Limits, run_child
from bench.scales import SCALES, rows_scale
from bench.tsql import render_scripts
from mssql_extract.snapshot import Login, LoginType, Permission, PermissionState, SourceRef
from tests.conftest import ROOT


@pytest.mark.parametrize(("name", "seed"), [("XS", 0), ("XS", 5), ("rows3000", 1)])
def test_streamed_estate_equals_the_snapshot_and_scripts_built_in_memory(
    tmp_path: Path, name: str, seed: int
) -> None:
    scale = rows_scale(3000) if name == "rows3000" else SCALES[name]
    estate = ensure_estate(scale, seed, tmp_path)
    snapshot = generate_snapshot(scale, seed)
    assert estate.snapshot_path.read_text(encoding="utf-8") == snapshot.to_json()
    scripts = render_scripts(snapshot)
    assert [p.name for p in estate.scripts] == sorted(scripts)
    for path in estate.scripts:
        assert path.read_text(encoding="utf-8") == scripts[path.name][0]
    assert estate.statements == sum(count for _, count in scripts.values())
    rows = len(snapshot.server_permissions) + sum(len(d.permissions) for d in snapshot.databases)
    assert estate.permission_rows == rows


def test_construct_equals_model_construct() -> None:
    ref = SourceRef(origin="x")
    fields = {
        "securable_class": "OBJECT",
        "schema_name": "s",
        "object_name": "o",
        "permission": "SELECT",
        "state": PermissionState.DENY,
        "grantee": "g",
        "source_ref": ref,
    }
    fast, slow = construct(Permission, **fields), Permission.model_construct(**fields)
    assert fast == slow
    assert fast.model_dump_json() == slow.model_dump_json()  # field order kept
    assert fast.model_fields_set == slow.model_fields_set
    login = construct(Login, name="a", type=LoginType.SQL, source_ref=ref)
    assert login.disabled is False
    assert login == Login(name="a", type=LoginType.SQL, source_ref=ref)


def test_an_unfinished_estate_is_not_reused(tmp_path: Path) -> None:
    estate = ensure_estate(SCALES["XS"], 0, tmp_path)
    assert cached_estate(SCALES["XS"], 0, tmp_path) == estate
    (estate.root / "manifest.json").unlink()  # as a generation killed half way leaves it
    assert cached_estate(SCALES["XS"], 0, tmp_path) is None


def _stopped(limits: Limits, monkeypatch: pytest.MonkeyPatch, code: str) -> str:
    """Run ``python -c code`` as a measurement child would run, within ``limits``."""
    real_popen = subprocess.Popen

    def popen(command: list[str], **kwargs: object) -> subprocess.Popen[bytes]:
        return real_popen([sys.executable, "-c", code], **kwargs)  # type: ignore[call-overload, no-any-return]

    monkeypatch.setattr(measure.subprocess, "Popen", popen)
    with pytest.raises(ChildFailed) as failure:
        run_child("tokenize", [], limits)
    return str(failure.value)


def _bench_imports(module: str) -> set[str]:
    """``module`` and the ``bench`` modules it imports, directly or not."""
    found, todo = set(), [module]
    while todo:
        name = todo.pop()
        if name in found:
            continue
        found.add(name)
        tree = ast.parse(Path(str(importlib.import_module(name).__file__)).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "bench":
                todo += [f"bench.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("bench."):
                todo.append(str(node.module))
    return found


def test_the_cache_fingerprint_covers_every_module_that_makes_an_estate() -> None:
    """A cached estate is reused while its generator fingerprint matches: a module of the
    generator or of the scripts left out of it would let an edit leave stale estates in use."""
    from bench.estate import GENERATOR_MODULES

    made_by = _bench_imports("bench.generate") | _bench_imports("bench.tsql")
    assert {"bench.database_builder", "bench.estate_shape", "bench.construct"} <= made_by
    assert made_by <= {module.__name__ for module in GENERATOR_MODULES}


def test_a_child_over_its_time_limit_is_stopped(monkeypatch: pytest.MonkeyPatch) -> None:
    message = _stopped(Limits(seconds=1, rss_mb=None), monkeypatch, "import time; time.sleep(60)")
    assert message == "tokenize stopped: timed out after 1 s"


def test_a_child_over_its_memory_cap_is_stopped(monkeypatch: pytest.MonkeyPatch) -> None:
    grow = "import time\nx = []\nwhile True:\n    x.append(bytearray(20 * 2**20)); time.sleep(0.01)"
    message = _stopped(Limits(seconds=60, rss_mb=200), monkeypatch, grow)
    assert message.startswith("tokenize stopped: over the memory cap of 200 MB (")


def test_sections_merge_across_invocations_and_a_stopped_stage_is_reported(
    tmp_path: Path,
) -> None:
    """``--only parse``, then ``--only plan`` with a limit no run meets: both in one report."""
    report = tmp_path / "BENCHMARKS.md"
    env = {**os.environ, "GRANTBRIDGE_BENCH_OUT": str(tmp_path / "out")}
    base = [sys.executable, "-m", "bench", "--scale", "XS", "--runs", "1", "--report", str(report)]
    for extra in (["--only", "parse"], ["--only", "plan", "--timeout", "0.01"]):
        done = subprocess.run(
            base + extra, cwd=ROOT, env=env, capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stderr
    text = report.read_text(encoding="utf-8")
    assert "| parse (grantbridge) | " in text
    assert "statements/s" in text
    assert "| generate snapshot + T-SQL | " in text
    assert "peak RSS" in text
    assert "| plan | failed: plan stopped: timed out after 0.01 s |" in text
    saved = json.loads((tmp_path / "out" / "results" / "XS.json").read_text(encoding="utf-8"))
    assert {"generate", "parse", "tokenize", "json", "plan"} <= set(saved["figures"])


def test_rows_estates_are_scales_too_and_report_after_the_named_ones() -> None:
    from bench.__main__ import _arguments
    from bench.report_rows import estate_sections

    assert _arguments(["--scale", "rows2000"]).scale == "rows2000"
    with pytest.raises(SystemExit):
        _arguments(["--scale", "XXL"])
    results = {name: {} for name in ("rows100000", "M", "rows2000", "S", "planscaling")}
    assert estate_sections(results) == ["S", "M", "rows2000", "rows100000"]


def test_the_naive_script_commits_in_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    """One transaction per database runs out of lock slots at 100k rows: batches of NAIVE_BATCH."""
    from bench import pgload
    from tests.bench.test_harness import _plan

    monkeypatch.setattr(pgload, "NAIVE_BATCH", 3)
    lines = pgload.naive_psql(_plan()).splitlines()
    batches, current = [], 0
    for line in lines:
        if line == "BEGIN;":
            current = 0
        elif line == "COMMIT;":
            batches.append(current)
        elif not line.startswith("\\"):
            current += 1
    assert batches == [3, 1, 3, 3, 2]  # 4 cluster statements, then 8 in the database


def test_a_psql_failure_is_reported_by_its_error_line() -> None:
    from bench.pgload import psql_error

    stderr = (
        "psql:/x/grantbridge.sql:120: ERROR:  out of shared memory\n"
        "HINT:  You might need to increase max_locks_per_transaction.\n"
        'CONTEXT:  SQL statement "CREATE ROLE r1 NOLOGIN"\n'
        "PL/pgSQL function inline_code_block line 5 at SQL statement\n"
    )
    assert psql_error(stderr) == (
        "ERROR:  out of shared memory HINT:  You might need to increase max_locks_per_transaction."
    )


def test_the_apply_target_reads_the_largest_estate_where_both_sides_applied() -> None:
    from bench.report_rows import target_rows

    def section(rows: int, apply: float | None, naive: float) -> dict[str, object]:
        figures = {"apply-naive": {"seconds": naive}, "apply": {"seconds": apply}}
        return {"estate": {"permission_rows": rows}, "figures": figures}

    results = {"S": section(10_000, 1.0, 4.0), "M": section(500_000, None, 100.0)}
    rows = dict(target_rows(results))  # type: ignore[arg-type]
    assert rows["apply ≤ 0.3× naive"] == "met: 0.25× at S"


def test_a_stopped_l_plan_is_a_missed_target_and_the_exponent_says_what_it_spans() -> None:
    from bench.report_rows import target_rows

    def section(rows: int, plan: float | None, error: str | None = None) -> dict[str, object]:
        figure = {"seconds": plan, "error": error, "peak_rss_mb": None}
        return {"estate": {"permission_rows": rows}, "figures": {"plan": figure}}

    stopped = "plan stopped: over the memory cap of 12,000 MB (12,014 MB after 115 s)"
    results = {
        "S": section(10_000, 1.0),
        "M": section(500_000, 50.0),
        "L": section(5_000_000, None, stopped),
    }
    rows = dict(target_rows(results))  # type: ignore[arg-type]
    assert rows["L: plan < 120 s"] == f"NOT met: {stopped}"
    assert rows["L: plan peak RSS < 6 GB"] == f"NOT met: {stopped}"
    assert rows["exponent ≤ 1.15 (S → L)"] == "not measured at L (S → M: 1.00)"


def test_l_planned_one_database_at_a_time_is_reported_beside_the_targets() -> None:
    from bench.report_rows import target_rows

    def section(
        rows: int, plan: float | None, parts: float, per: float | None
    ) -> dict[str, object]:
        figures = {"plan": {"seconds": plan, "error": None if plan else "stopped"},
                   "plan-parts": {"seconds": parts, "peak_rss_mb": 2048.0}}  # fmt: skip
        if per is not None:
            figures["plan-per-database"] = {"seconds": per, "peak_rss_mb": 4096.0}
        return {"estate": {"permission_rows": rows}, "figures": figures}

    results = {"S": section(10_000, 1.0, 1.0, None), "L": section(5_000_000, None, 500.0, None)}
    rows = dict(target_rows(results))  # type: ignore[arg-type]
    assert rows["L, plan() one database at a time, one process"] == "500.000 s, peak RSS 2,048 MB"
    assert rows["exponent ≤ 1.15 (S → L)"].endswith("; plan() one database at a time: 1.00")
    assert rows["L: plan < 120 s"] == "NOT met: stopped"
    # the shipped command's figure stands for L's targets when the whole plan has none
    results["L"] = section(5_000_000, None, 500.0, 300.0)
    rows = dict(target_rows(results))  # type: ignore[arg-type]
    assert rows["L: plan < 120 s"] == "NOT met: 300.0 s with plan --per-database; whole: stopped"
    assert rows["L: plan peak RSS < 6 GB"] == (
        "met: 4.00 GB with plan --per-database; whole: stopped"
    )
    results["S"] = section(10_000, 1.0, 1.0, 0.6)  # S → L: 500× the rows in 500× the time
    rows = dict(target_rows(results))  # type: ignore[arg-type]
    assert rows["exponent ≤ 1.15 (S → L)"].endswith("; plan --per-database: 1.00")
