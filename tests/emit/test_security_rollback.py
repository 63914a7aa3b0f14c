"""rollback.sql puts routines and tables back as 07 found them.

A conversion (AWS SCT among them) may already have made a routine SECURITY DEFINER with a
search_path and a comment of its own, and a table may already have row-level security; 07
records that state in the object's comment before it changes anything, once, and the rollback
restores it instead of assuming SECURITY INVOKER and row-level security off.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pg_emit.apply import apply_plan_dir, run_scripts
from pg_emit.render_security import ROUTINE_MARK, TABLE_MARK
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
