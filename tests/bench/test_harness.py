"""The harness: helpers, the naive renderer, and an end-to-end run on scale XS (no timings)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.count import count_sql_statements
from bench.measure import loglog_slope
from bench.naive import count_naive, render_naive
from bench.report import table
from mapper.plan import (
    MigrationPlan,
    PgDatabase,
    PgDefaultRevoke,
    PgGrant,
    PgMembership,
    PgObject,
    PgRole,
    PgSchema,
    RoleKind,
)
from tests.conftest import ROOT


def test_loglog_slope_recovers_the_exponent() -> None:
    assert loglog_slope([(10.0, 3.0), (100.0, 30.0), (1000.0, 300.0)]) == pytest.approx(1.0)
    assert loglog_slope([(10.0, 1.0), (100.0, 100.0)]) == pytest.approx(2.0)
    assert loglog_slope([(10.0, 1.0)]) is None


def test_statement_count_skips_psql_commands_and_keeps_do_blocks_whole() -> None:
    script = '\\set ON_ERROR_STOP on\n\\connect "db"\nBEGIN;\nDO $$ BEGIN PERFORM 1; END $$;\nGRANT a TO b;\nCOMMIT;\n'
    assert count_sql_statements(script) == 4


def test_statement_count_counts_each_statement_of_a_batch() -> None:
    script = "BEGIN;\nDO $$ BEGIN PERFORM 1; END $$ \\;\nGRANT a TO b \\;\nGRANT c TO d;\nCOMMIT;\n"
    assert count_sql_statements(script) == 5


def _plan() -> MigrationPlan:
    grants = tuple(
        PgGrant(
            database="sales",
            object_type="TABLE",
            schema_name="app",
            name=t,
            privilege="SELECT",
            grantee="reader",
        )
        for t in ("orders", "items")
    )
    column = PgGrant(
        database="sales",
        object_type="TABLE",
        schema_name="app",
        name="staff",
        columns=("name", "email"),
        privilege="SELECT",
        grantee="ann",
        grant_option=True,
    )
    return MigrationPlan(
        fingerprint="x",
        roles=(
            PgRole(name="reader", kind=RoleKind.GROUP),
            PgRole(name="rds_iam", kind=RoleKind.PREDEFINED),
            PgRole(name="ann", kind=RoleKind.LOGIN, login=True),
        ),
        memberships=(PgMembership(role="reader", member="ann"),),
        databases=(PgDatabase(name="sales", owner="reader"),),
        schemas=(PgSchema(database="sales", name="app", owner="reader"),),
        objects=tuple(
            PgObject(
                database="sales",
                schema_name="app",
                name=t,
                kind="table",
                columns=("name", "email"),
                owner="reader",
            )
            for t in ("orders", "items", "staff")
        ),
        grants=(*grants, column),
    )


def test_naive_rendering_is_one_statement_per_item() -> None:
    scripts = render_naive(_plan())
    assert scripts[""] == [
        'CREATE ROLE "ann" LOGIN;',
        "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'rds_iam') "
        'THEN CREATE ROLE "rds_iam" NOLOGIN; END IF; END $$;',
        'CREATE ROLE "reader" NOLOGIN;',
        'GRANT "reader" TO "ann";',
    ]
    assert scripts["sales"][:2] == [
        'ALTER DATABASE "sales" OWNER TO "reader";',
        'ALTER SCHEMA "app" OWNER TO "reader";',
    ]
    assert scripts["sales"][-3:] == [
        'GRANT SELECT ON TABLE "app"."items" TO "reader";',
        'GRANT SELECT ON TABLE "app"."orders" TO "reader";',
        'GRANT SELECT ("name", "email") ON TABLE "app"."staff" TO "ann" WITH GRANT OPTION;',
    ]
    assert count_naive(_plan()) == 12


def test_table_is_markdown() -> None:
    assert table([("a", "1")]) == "| measure | value |\n|---|---|\n| a | 1 |"


def test_harness_runs_end_to_end_on_xs(tmp_path: Path) -> None:
    report = tmp_path / "BENCHMARKS.md"
    env = {**os.environ, "GRANTBRIDGE_BENCH_OUT": str(tmp_path / "out")}
    command = [
        sys.executable,
        "-m",
        "bench",
        "--scale",
        "XS",
        "--runs",
        "1",
        "--report",
        str(report),
    ]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    text = report.read_text(encoding="utf-8")
    for heading in (
        "## Machine",
        "## Commands",
        "## Scale XS (median of 1 runs)",
        "## Scaling exponent",
    ):
        assert heading in text
    assert "| tokenize only (sqlglot T-SQL) | " in text
    assert "statements/s" in text
    parts = next(
        line
        for line in text.splitlines()
        if "plan() one database at a time, one process (sum" in line
    )
    assert parts.endswith(" s |"), parts  # XS has two databases: planned one at a time
    # every row has a figure or says why it has none; nothing crashed silently
    rows = [line for line in text.splitlines() if line.startswith("| ") and "measure" not in line]
    assert rows
    # a stage may fail on purpose (a GrantbridgeError): the harness reports it and goes on
    failures = [row for row in rows if "failed:" in row]
    assert all("grantbridge.errors." in row for row in failures), failures
    assert (tmp_path / "out" / "XS-seed0" / "tsql" / "00_server.sql").exists()


def test_unknown_group_is_refused() -> None:
    command = [sys.executable, "-m", "bench", "--only", "parse,bogus"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    assert done.returncode == 2
    assert "bogus" in done.stdout


@pytest.mark.postgres
@pytest.mark.parametrize("measurement", ["apply", "apply-naive", "emit"])
def test_apply_and_emit_children_run_on_a_small_plan(tmp_path: Path, measurement: str) -> None:
    """Both scripts apply on a fresh embedded server (no timing asserted, only that it ran)."""
    plan = tmp_path / "plan.json"
    plan.write_text(_plan().to_json(), encoding="utf-8")
    command = [sys.executable, "-m", "bench.child", measurement, str(plan), str(tmp_path)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert "unavailable" not in result
    assert result["seconds"] > 0
    if measurement == "emit":
        assert result["naive_statements"] == 12


def test_naive_rendering_has_the_default_revokes() -> None:
    """The naive script does the same work: 06's global default-privilege revokes too."""
    revoke = PgDefaultRevoke(database="sales", owner="reader")
    scripts = render_naive(_plan().model_copy(update={"default_revokes": (revoke,)}))
    assert scripts["sales"][-1] == (
        'ALTER DEFAULT PRIVILEGES FOR ROLE "reader" REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;'
    )


@pytest.mark.parametrize("stage", ["plan", "render"])
def test_profile_prints_the_stage_call_tree(
    stage: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from bench import profile
    from bench.estate import Estate
    from bench.scales import get_scale
    from tests.mapper.estate import snapshot

    (tmp_path / "snapshot.json").write_text(snapshot().to_json(), encoding="utf-8")
    estate = Estate(tmp_path, get_scale("XS"), 0, 0, 0, 0)
    monkeypatch.setattr(profile, "ensure_estate", lambda scale, seed: estate)
    assert profile.main(["--scale", "XS", "--stage", stage]) == 0
    tree = capsys.readouterr().out
    assert ("mapper/planner.py" if stage == "plan" else "pg_emit/render.py") in tree
