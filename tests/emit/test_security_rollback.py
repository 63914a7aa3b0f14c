"""rollback.sql puts routines, views and tables back as 07 found them.

A conversion (AWS SCT among them) may already have made a routine SECURITY DEFINER with a
search_path and a comment of its own, a view may already have security_invoker, and a table may
already have row-level security; 07 records that state in the object's comment before it changes
anything, once, and the rollback restores it instead of assuming SECURITY INVOKER, no view
option and row-level security off.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mapper.quoting import quote_ident
from pg_emit.apply import apply_plan_dir, run_scripts
from pg_emit.render_security import REPLACED_POLICIES, ROUTINE_MARK, TABLE_MARK, VIEW_MARK
from pg_emit.server import connect
from tests.emit.conftest import Scratch, write_plan_dir

pytestmark = pytest.mark.postgres

ROUTINE = "sales.add_order(integer, text)"
STATE_SQL = (
    "SELECT prosecdef, proconfig, obj_description(oid, 'pg_proc') FROM pg_proc "
    f"WHERE oid = '{ROUTINE}'::regprocedure"
)


def _read(scratch: Scratch, sql: str) -> tuple[Any, ...]:
    with connect(scratch.dsn, scratch.database) as conn:
        found = conn.execute(sql).fetchone()
    assert found is not None
    return tuple(found)


def _round_trip(
    scratch: Scratch, tmp_path: Path, before: list[str], sql: str
) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """Run ``before``, apply twice, roll back twice; the state (``sql``) before and applied.

    Checks on the way: the second apply changes nothing (the first record is kept), and each
    rollback returns to the state before.
    """
    with connect(scratch.dsn, scratch.database) as conn:
        for statement in before:
            conn.execute(statement.encode())
    original = _read(scratch, sql)
    plan_dir = write_plan_dir(tmp_path, scratch.plan)
    apply_plan_dir(plan_dir, scratch.dsn)
    applied = _read(scratch, sql)
    apply_plan_dir(plan_dir, scratch.dsn)
    assert _read(scratch, sql) == applied
    rollback = (plan_dir / "sql" / "rollback.sql").read_text(encoding="utf-8")
    for _ in range(2):  # the second run finds nothing recorded any more
        run_scripts(scratch.dsn, [("rollback.sql", rollback)])
        assert _read(scratch, sql) == original
    return original, applied


@pytest.mark.parametrize(
    "before",
    [
        [],  # as a stub is made: SECURITY INVOKER, no search_path, no comment
        [f"ALTER ROUTINE {ROUTINE} SECURITY DEFINER SET search_path = public",
         f"COMMENT ON ROUTINE {ROUTINE} IS 'converted by SCT;\nline two'"],
        [f"ALTER ROUTINE {ROUTINE} SET search_path = \"$user\", public"],
    ],
    ids=["invoker", "sct-definer-with-comment", "invoker-with-search-path"],
)  # fmt: skip
def test_rollback_restores_the_routine_as_it_was(
    scratch: Scratch, tmp_path: Path, before: list[str]
) -> None:
    _, applied = _round_trip(scratch, tmp_path, before, STATE_SQL)
    assert applied[:2] == (True, ["search_path=pg_catalog, sales"])
    assert str(applied[2]).startswith(ROUTINE_MARK)


def test_rollback_leaves_a_routine_07_never_changed(scratch: Scratch, tmp_path: Path) -> None:
    """No record in the comment (07 never ran, or an older grantbridge ran it): untouched."""
    with connect(scratch.dsn, scratch.database) as conn:
        conn.execute(f"ALTER ROUTINE {ROUTINE} SECURITY DEFINER".encode())
    original = _read(scratch, STATE_SQL)
    plan_dir = write_plan_dir(tmp_path, scratch.plan)
    rollback = (plan_dir / "sql" / "rollback.sql").read_text(encoding="utf-8")
    run_scripts(scratch.dsn, [("rollback.sql", rollback)])
    assert _read(scratch, STATE_SQL) == original


VIEW_SQL = (
    "SELECT (SELECT array_agg(o ORDER BY o) FROM unnest(reloptions) o), "
    "obj_description(oid, 'pg_class') FROM pg_class "
    "WHERE oid = 'sales.v_totals'::regclass"
)


@pytest.mark.parametrize(
    "before",
    [
        [],  # as a stub is made: no option, no comment
        ["ALTER VIEW sales.v_totals SET (security_invoker = false, security_barrier = true)",
         "COMMENT ON VIEW sales.v_totals IS 'totals;\nline two'"],
        ["ALTER VIEW sales.v_totals SET (security_invoker = on)"],
    ],
    ids=["no-option", "invoker-false-with-comment", "invoker-on"],
)  # fmt: skip
def test_rollback_restores_the_view_as_it_was(
    scratch: Scratch, tmp_path: Path, before: list[str]
) -> None:
    _, applied = _round_trip(scratch, tmp_path, before, VIEW_SQL)
    assert "security_invoker=true" in applied[0]
    assert str(applied[1]).startswith(VIEW_MARK)


TABLE_SQL = (
    "SELECT relrowsecurity, relforcerowsecurity, obj_description(oid, 'pg_class') FROM pg_class "
    "WHERE oid = 'sales.orders'::regclass"
)


@pytest.mark.parametrize(
    "before",
    [
        [],  # no row-level security, no comment
        ["ALTER TABLE sales.orders ENABLE ROW LEVEL SECURITY",
         "COMMENT ON TABLE sales.orders IS 'orders (from MS_Description)'"],
    ],
    ids=["off", "enabled-with-comment"],
)  # fmt: skip
def test_rollback_restores_row_level_security_as_it_was(
    scratch: Scratch, tmp_path: Path, before: list[str]
) -> None:
    _, applied = _round_trip(scratch, tmp_path, before, TABLE_SQL)
    assert applied[:2] == (True, True)
    assert str(applied[2]).startswith(TABLE_MARK)
    with connect(scratch.dsn, scratch.database) as conn:
        policies = "SELECT count(*) FROM pg_policies WHERE tablename = 'orders'"
        assert conn.execute(policies).fetchone() == (0,)


#: The table's switches and comment, and every policy on it in full (sorted by name).
POLICIES_SQL = (
    "SELECT c.relrowsecurity, c.relforcerowsecurity, obj_description(c.oid, 'pg_class'), "
    "(SELECT json_agg(p ORDER BY p.policyname) FROM (SELECT policyname, permissive, roles, cmd, "
    "qual, with_check FROM pg_policies WHERE schemaname = 'sales' AND tablename = 'orders') p) "
    "FROM pg_class c WHERE c.oid = 'sales.orders'::regclass"
)
#: The plan's tenant_filter as 07 creates it (``amount >= 0``, checking ``true``).
PLAN_TENANT_FILTER = {
    "policyname": "tenant_filter", "permissive": "PERMISSIVE", "roles": ["public"], "cmd": "ALL",
    "qual": "(amount >= (0)::numeric)", "with_check": "true",
}  # fmt: skip


def _policies_before(role: str) -> dict[str, list[str]]:
    """Setups with policies on sales.orders before the apply, one per test case."""
    same_name = [
        f"CREATE ROLE {role}",
        f"CREATE POLICY tenant_filter ON sales.orders AS RESTRICTIVE FOR UPDATE TO {role} "
        "USING (amount > 10) WITH CHECK (note <> E'it''s\\nline two')",
    ]
    other_name = [
        f"CREATE ROLE {role}",
        f"CREATE POLICY legacy_read ON sales.orders FOR SELECT TO {role} USING (amount < 5)",
    ]
    return {
        "same-name": same_name,
        "other-name": other_name,
        "both-with-comment": [
            *same_name, *other_name[1:],
            "CREATE POLICY no_big ON sales.orders USING (true)",
            "ALTER TABLE sales.orders ENABLE ROW LEVEL SECURITY",
            "COMMENT ON TABLE sales.orders IS 'orders; replaced policies: [\"x\"]\nline two'",
        ],
    }  # fmt: skip


@pytest.mark.parametrize("case", ["same-name", "other-name", "both-with-comment"])
def test_rollback_restores_policies_as_they_were(
    scratch: Scratch, tmp_path: Path, case: str
) -> None:
    """A policy named like one of the plan's is replaced by 07 and comes back on rollback, as it
    was (RESTRICTIVE, its roles, command, USING and a WITH CHECK with a quote and a newline),
    and the second rollback, finding no record, leaves it; a policy of another name is never
    touched."""
    role = quote_ident(f'{scratch.prefix} legacy "x"')
    original, applied = _round_trip(scratch, tmp_path, _policies_before(role)[case], POLICIES_SQL)
    assert applied[:2] == (True, True)
    record = str(applied[2]).split("\n")[0]
    assert record.startswith(TABLE_MARK)
    assert (REPLACED_POLICIES in record) == (case != "other-name")  # only names in the plan
    plan_names = {"tenant_filter", "no_big"}
    kept = [p for p in original[3] if p["policyname"] not in plan_names]
    assert [p for p in applied[3] if p["policyname"] not in plan_names] == kept
    assert [p for p in applied[3] if p["policyname"] == "tenant_filter"] == [PLAN_TENANT_FILTER]
    if case != "other-name":
        assert PLAN_TENANT_FILTER not in original[3]  # the old definition differs
