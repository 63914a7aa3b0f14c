"""Routines named without their arguments, against a target whose routines have arguments.

The planner cannot know the argument types a conversion gave a routine, so it leaves the
signature out and the scripts name the routine alone; ``verify`` and ``drift`` bind it to the
live signature (``mapper.target``). The target here is built the way a conversion leaves it:
``sales.add_order(integer, text)`` and ``sales.total_of(integer)``. The checks read
``has_function_privilege`` and ``pg_proc`` directly, not through the code under test.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mapper.plan import MigrationPlan, PgObject
from mapper.target import ROUTINE_KINDS, ROUTINE_TYPES, bind_signatures, live_signatures
from pg_emit.apply import apply_plan_dir, run_scripts
from pg_emit.drift import drift
from pg_emit.render import render_sql
from pg_emit.server import connect
from pg_emit.verify import check_state, verify_plan
from tests.emit.conftest import Scratch, write_plan_dir

ROUTINES = ("sales.add_order(integer, text)", "sales.total_of(integer)")


def unbound(plan: MigrationPlan) -> MigrationPlan:
    """``plan`` with every routine named alone, as the planner leaves it."""

    def strip(item: Any, routine: bool) -> Any:
        return item.model_copy(update={"signature": None}) if routine else item

    return plan.model_copy(update={
        "objects": tuple(strip(o, o.kind in ROUTINE_KINDS) for o in plan.objects),
        "grants": tuple(strip(g, g.object_type in ROUTINE_TYPES) for g in plan.grants),
        "revokes": tuple(strip(r, r.object_type in ROUTINE_TYPES) for r in plan.revokes),
        "routine_security": tuple(strip(r, True) for r in plan.routine_security),
    })  # fmt: skip


def _executes(scratch: Scratch, role: str, routine: str) -> bool:
    with connect(scratch.dsn, scratch.database) as conn:
        sql = "SELECT has_function_privilege(%s, %s, 'EXECUTE')"
        return bool(conn.execute(sql, [role, routine]).fetchone()[0])  # type: ignore[index]


def _definer(scratch: Scratch, routine: str) -> bool:
    with connect(scratch.dsn, scratch.database) as conn:
        sql = "SELECT prosecdef FROM pg_proc WHERE oid = %s::regprocedure"
        return bool(conn.execute(sql, [routine]).fetchone()[0])  # type: ignore[index]


@pytest.mark.postgres
def test_scripts_reach_routines_whose_arguments_the_plan_does_not_know(
    scratch: Scratch, tmp_path: Path
) -> None:
    plan = unbound(scratch.plan)
    scripts = render_sql(plan)
    assert "ON ROUTINE sales.add_order TO" in scripts["sql/04_privileges.sql"]
    assert "add_order()" not in "".join(scripts.values())
    p = scratch.prefix
    apply_plan_dir(write_plan_dir(tmp_path, plan), scratch.dsn)
    assert _executes(scratch, f"{p}_sales_writer", ROUTINES[0])
    assert _executes(scratch, f"{p}_sales_reader", ROUTINES[1])
    assert not _executes(scratch, "public", ROUTINES[0])  # 06 revoked PUBLIC's default
    assert _definer(scratch, ROUTINES[0])  # 07 reached it too
    with connect(scratch.dsn, scratch.database) as conn:
        assert check_state(conn, plan, scratch.database) == []
    assert verify_plan(plan, scratch.dsn, embedded=False) == []
    assert drift(plan, scratch.dsn)[0] == []
    rollback = (tmp_path / "sql" / "rollback.sql").read_text(encoding="utf-8")
    run_scripts(scratch.dsn, [("rollback.sql", rollback)])
    assert not _definer(scratch, ROUTINES[0])  # rollback found it by its name alone


@pytest.mark.postgres
def test_a_revoked_routine_grant_is_still_reported(scratch: Scratch, tmp_path: Path) -> None:
    plan = unbound(scratch.plan)
    apply_plan_dir(write_plan_dir(tmp_path, plan), scratch.dsn)
    writer = f"{scratch.prefix}_sales_writer"
    with connect(scratch.dsn, scratch.database) as conn:
        conn.execute(f'REVOKE EXECUTE ON PROCEDURE {ROUTINES[0]} FROM "{writer}"'.encode())
        found = check_state(conn, plan, scratch.database)
    assert any(m.kind == "acl" and "add_order(integer, text)" in m.subject for m in found), found


def _routine(name: str, signature: str | None, kind: str = "function") -> PgObject:
    return PgObject(database="d", schema_name="s", name=name, kind=kind, signature=signature,
                    owner="o")  # fmt: skip


def test_only_a_unique_live_routine_binds() -> None:
    live = [_routine("f", "(integer)"), _routine("g", "(integer)"), _routine("g", "(text)")]
    assert live_signatures(live) == {("d", "s", "f"): ("function", "(integer)")}
    plan = MigrationPlan(fingerprint="x", target="postgresql",
                         objects=(_routine("f", None), _routine("g", None)))  # fmt: skip
    bound = bind_signatures(plan, live)
    assert {o.name: o.signature for o in bound.objects} == {"f": "(integer)", "g": None}


def test_a_procedure_binds_to_the_function_it_became_but_not_the_reverse() -> None:
    live = [_routine("p", "(integer)"), _routine("f", "(text)", kind="procedure")]
    plan = MigrationPlan(fingerprint="x", target="postgresql", objects=(
        _routine("p", None, kind="procedure"), _routine("f", None)))  # fmt: skip
    bound = {o.name: (o.kind, o.signature) for o in bind_signatures(plan, live).objects}
    assert bound == {"p": ("function", "(integer)"), "f": ("function", None)}


@pytest.mark.postgres
def test_a_procedure_the_conversion_made_a_function(scratch: Scratch, tmp_path: Path) -> None:
    """``ON ROUTINE`` / ``ALTER ROUTINE`` reach it; verify binds the plan to the function."""
    with connect(scratch.dsn, scratch.database) as conn:
        conn.execute(f"DROP PROCEDURE {ROUTINES[0]}".encode())
        conn.execute(f"CREATE FUNCTION {ROUTINES[0]} RETURNS void LANGUAGE sql AS ''".encode())
    plan = unbound(scratch.plan)
    scripts = render_sql(plan)
    assert "ON ROUTINE sales.add_order TO" in scripts["sql/04_privileges.sql"]
    apply_plan_dir(write_plan_dir(tmp_path, plan), scratch.dsn)
    assert _executes(scratch, f"{scratch.prefix}_sales_writer", ROUTINES[0])
    assert _definer(scratch, ROUTINES[0])
    assert verify_plan(plan, scratch.dsn, embedded=False) == []
    assert drift(plan, scratch.dsn)[0] == []
    rollback = (tmp_path / "sql" / "rollback.sql").read_text(encoding="utf-8")
    run_scripts(scratch.dsn, [("rollback.sql", rollback)])
    assert not _definer(scratch, ROUTINES[0])
