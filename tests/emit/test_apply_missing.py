"""apply refuses, before anything runs, a plan whose databases or objects the target lacks.

The scripts create roles and schemas, never databases nor converted objects. A missing
database used to be "cannot connect" (exit 4) after 01 and 02 had run; a missing object
stopped 03 part-way (and a multi-database apply then left the earlier sections committed).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from grantbridge.cli import main
from pg_emit.server import connect
from tests.emit.builders import realistic_plan
from tests.emit.conftest import Scratch, write_plan_dir

pytestmark = pytest.mark.postgres


def _roles(dsn: str, prefix: str) -> list[str]:
    with connect(dsn) as conn:
        rows = conn.execute(
            "SELECT rolname FROM pg_roles WHERE rolname LIKE %s ORDER BY 1", [f"{prefix}%"]
        ).fetchall()
    return [name for (name,) in rows]


def _error(err: str) -> str:
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, err
    return lines[0]


def test_a_missing_database_is_bad_input_and_nothing_runs(
    scratch: Scratch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    absent = f"{scratch.prefix}_absent"
    plan_dir = write_plan_dir(tmp_path / "plan", realistic_plan(scratch.prefix, absent))
    code = main(["apply", str(plan_dir), "--dsn", scratch.dsn, "--yes"])
    line = _error(capsys.readouterr().err)
    assert code == 2
    assert f"the target has no database {absent} of the plan (1 of 1); nothing was applied" in line
    assert _roles(scratch.dsn, scratch.prefix) == []


def test_missing_objects_are_named_and_nothing_runs(
    scratch: Scratch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with connect(scratch.dsn, scratch.database) as conn:
        conn.execute("DROP VIEW sales.v_totals")
        conn.execute('DROP TABLE "Odd Schema"."select"')
        conn.execute("DROP FUNCTION sales.total_of")
    plan_dir = write_plan_dir(tmp_path / "plan", scratch.plan)
    code = main(["apply", str(plan_dir), "--dsn", scratch.dsn, "--yes"])
    line = _error(capsys.readouterr().err)
    assert code == 2
    db = scratch.database
    assert (
        f"the target lacks 3 objects of the plan: {db}: function sales.total_of, "
        f'{db}: table "Odd Schema"."select", {db}: view sales.v_totals; nothing was applied'
    ) in line
    assert "--target" in line
    assert _roles(scratch.dsn, scratch.prefix) == []
