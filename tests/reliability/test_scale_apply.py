"""Idempotence and atomicity on a generated estate (issue 8, item 5).

The estate comes from the benchmark generator (``bench.generate``): one database, 80
principals, 1,500 permission rows, roles nested five deep, DENYs and column grants. That is
smaller than the benchmark's M scale, so CI stays fast; the properties do not depend on size.
On it: applying the scripts twice leaves the catalogs identical, and a failure injected at a
seeded random statement leaves them exactly as before. (``rollback.sql`` is checked on the
hand-built plan in tests/emit; on generated estates it restores PostgreSQL's default PUBLIC
privileges as explicit ACL entries where the objects had none — same access, different
catalog text — which is a known limit, not checked here.)
"""

from __future__ import annotations

import random
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.generate import generate_snapshot
from bench.scales import Scale
from mapper.plan import MigrationPlan
from mapper.planner import plan
from mapper.policy import Policy
from pg_emit.apply import APPLY_ORDER, ApplyFailed, apply_plan_dir, run_scripts
from pg_emit.inspect import inspect_server
from pg_emit.render import render_sql
from pg_emit.server import connect
from pg_emit.stubs import create_stubs

pytestmark = pytest.mark.postgres

SCALE = Scale("reliability", databases=1, principals=80, permission_rows=1_500)
STATEMENT = re.compile(r"^(GRANT|REVOKE|ALTER) .*;$", re.MULTILINE)


@pytest.fixture(scope="module")
def estate_plan() -> MigrationPlan:
    snapshot = generate_snapshot(SCALE, seed=8)
    # a unique database name: other tests leave their own databases on the shared server
    unique = f"gbscale{uuid.uuid4().hex[:8]}"
    renamed = tuple(
        db.model_copy(update={"name": f"{unique}_{db.name}"}) for db in snapshot.databases
    )
    return plan(snapshot.model_copy(update={"databases": renamed}), Policy())


@pytest.fixture
def target(embedded_pg: str, estate_plan: MigrationPlan) -> Iterator[str]:
    """The embedded server with the plan's databases and stub objects, owned by the test user."""
    with connect(embedded_pg) as conn:
        user = str(conn.execute("SELECT current_user").fetchone()[0])  # type: ignore[index]
        for db in estate_plan.databases:
            conn.execute(f'CREATE DATABASE "{db.name}"'.encode())
    stub_plan = estate_plan.model_copy(update={
        "schemas": tuple(s.model_copy(update={"owner": user}) for s in estate_plan.schemas),
        "objects": tuple(o.model_copy(update={"owner": user}) for o in estate_plan.objects),
    })  # fmt: skip
    for db in estate_plan.databases:
        with connect(embedded_pg, db.name) as conn:
            create_stubs(conn, stub_plan, db.name)
    try:
        yield embedded_pg
    finally:
        rollback = render_sql(estate_plan)["sql/rollback.sql"]
        run_scripts(embedded_pg, [("rollback.sql", rollback)])
        with connect(embedded_pg) as conn:
            for db in estate_plan.databases:
                conn.execute(f'DROP DATABASE IF EXISTS "{db.name}" WITH (FORCE)'.encode())


def _state(dsn: str, plan_: MigrationPlan) -> str:
    return inspect_server(dsn, [db.name for db in plan_.databases]).to_json()


def _plan_dir(tmp_path: Path, plan_: MigrationPlan) -> Path:
    (tmp_path / "plan.json").write_text(plan_.to_json(), encoding="utf-8")
    for name, text in render_sql(plan_).items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


def test_the_generated_estate_is_substantial(estate_plan: MigrationPlan) -> None:
    assert len(estate_plan.databases) == 1
    assert len(estate_plan.grants) > 300
    assert any(r.kind == "derived" for r in estate_plan.roles)  # DENYs were restructured


def test_apply_twice_is_identical(target: str, estate_plan: MigrationPlan, tmp_path: Path) -> None:
    before = _state(target, estate_plan)
    plan_dir = _plan_dir(tmp_path, estate_plan)
    apply_plan_dir(plan_dir, target)
    once = _state(target, estate_plan)
    assert once != before
    apply_plan_dir(plan_dir, target)
    assert _state(target, estate_plan) == once


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_failure_at_a_random_statement_leaves_the_catalog_unchanged(
    target: str, estate_plan: MigrationPlan, seed: int
) -> None:
    before = _state(target, estate_plan)
    scripts = render_sql(estate_plan)
    candidates = [
        (name, match.start()) for name in APPLY_ORDER for match in STATEMENT.finditer(scripts[name])
    ]
    name, position = random.Random(seed).choice(candidates)
    failing = "GRANT SELECT ON TABLE grantbridge_no_such_table TO PUBLIC;\n"
    scripts[name] = scripts[name][:position] + failing + scripts[name][position:]
    with pytest.raises(ApplyFailed, match="grantbridge_no_such_table"):
        run_scripts(target, [(n, scripts[n]) for n in APPLY_ORDER])
    assert _state(target, estate_plan) == before, f"state changed after a failure in {name}"
