"""inspect → plan --target → apply → verify, on a converted target built on a real PostgreSQL.

The example estate's objects are created the way a conversion leaves them: routines with
argument lists, one procedure turned into a function, one table never converted
(``tests/mapper/test_target.py`` names which). ``grantbridge inspect`` reads that database
back; the plan resolved against it applies without a failing statement and verifies against
the live server. A throwaway embedded server, so the estate's role names collide with nothing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from grantbridge.cli import main
from mapper.plan import MigrationPlan
from mapper.planner import plan
from mapper.policy import Policy
from mssql_extract.tsql import extract_scripts
from pg_emit.apply import apply_plan_dir
from pg_emit.server import connect, embedded_server
from pg_emit.stubs import create_stubs
from pg_emit.verify import ensure_databases, verify_plan
from tests.conftest import CONTOSO
from tests.emit.conftest import write_plan_dir
from tests.mapper.test_target import MISSING, _converted

pytestmark = pytest.mark.postgres


def _build_converted_target(dsn: str, planned: MigrationPlan) -> None:
    """The planned databases, schemas and objects, as a conversion left them, owned by us."""
    ensure_databases(dsn, planned, create=True)
    with connect(dsn) as conn:
        user = str(conn.execute("SELECT current_user").fetchone()[0])  # type: ignore[index]
    objects = [o for o in map(_converted, planned.objects) if o is not None]
    target = planned.model_copy(update={
        "schemas": tuple(s.model_copy(update={"owner": user}) for s in planned.schemas),
        "objects": tuple(o.model_copy(update={"owner": user}) for o in objects),
    })  # fmt: skip
    for database in sorted({d.name for d in planned.databases}):
        with connect(dsn, database) as conn:
            create_stubs(conn, target, database)


def test_a_plan_resolved_against_the_inspected_target_applies_and_verifies(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    snapshot = extract_scripts([CONTOSO])
    planned = plan(snapshot, Policy())
    with embedded_server() as dsn:
        _build_converted_target(dsn, planned)
        capsys.readouterr()
        assert main(["inspect", "--dsn", dsn]) == 0
        (tmp_path / "target.json").write_text(capsys.readouterr().out, encoding="utf-8")
        target = MigrationPlan.from_json((tmp_path / "target.json").read_text(encoding="utf-8"))
        resolved = plan(snapshot, Policy(), target)
        assert [f.securable for f in resolved.findings if f.rule_id == "GB042"] == [
            f"TABLE {MISSING[1]}.{MISSING[2]}"
        ]
        apply_plan_dir(write_plan_dir(tmp_path / "plan", resolved), dsn)
        assert verify_plan(resolved, dsn, embedded=False) == []
        with connect(dsn, "sales") as conn:
            sql = "SELECT has_function_privilege('sales_sales_bot', %s, 'EXECUTE')"
            routine = "sales.usp_placeorder(integer, integer, numeric, character)"
            assert conn.execute(sql, [routine]).fetchone() == (True,)
