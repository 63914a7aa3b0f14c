"""PUBLIC hardening of routines created *after* the apply, on real PostgreSQL.

PostgreSQL gives PUBLIC EXECUTE on every new function and procedure unless a global
``ALTER DEFAULT PRIVILEGES FOR ROLE <creator> REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC`` says
otherwise; 06_hardening.sql says it for the plan's owner role. The checks read the catalogs and
``has_function_privilege`` directly, not through the code under test.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest

from pg_emit.apply import apply_plan_dir, run_scripts
from pg_emit.compare import Mismatch
from pg_emit.drift import drift
from pg_emit.server import connect
from pg_emit.verify import check_state, verify_plan
from tests.emit.conftest import Scratch, write_plan_dir

pytestmark = pytest.mark.postgres

#: The owner's global default ACL for functions (NULL: none, PostgreSQL's built-in default).
GLOBAL_FUNCTION_ACL = """
SELECT defaclacl::text FROM pg_catalog.pg_default_acl
WHERE defaclrole = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = %s)
  AND defaclnamespace = 0 AND defaclobjtype = 'f'
"""


def _roles(scratch: Scratch) -> tuple[str, str]:
    """The plan's owner role and a bystander, both made before the apply (so rollback keeps
    them: it only drops roles the scripts created)."""
    owner, bystander = f"{scratch.prefix}_sales_owner", f"{scratch.prefix}_bystander"
    with connect(scratch.dsn) as conn:
        for role in (owner, bystander):
            conn.execute(f'CREATE ROLE "{role}" NOLOGIN'.encode())
    return owner, bystander


def _create_routines(conn: psycopg.Connection[Any], owner: str, suffix: str) -> list[str]:
    """A function and a procedure created by ``owner`` in the migrated schema."""
    conn.execute(f'SET ROLE "{owner}"'.encode())
    conn.execute(
        f"CREATE FUNCTION sales.later_{suffix}() RETURNS int LANGUAGE sql AS 'SELECT 1'".encode()
    )
    conn.execute(f"CREATE PROCEDURE sales.later_p_{suffix}() LANGUAGE sql AS 'SELECT 1'".encode())
    conn.execute(b"RESET ROLE")
    return [f"sales.later_{suffix}()", f"sales.later_p_{suffix}()"]


def _executable(conn: psycopg.Connection[Any], role: str, routines: list[str]) -> list[bool]:
    sql = "SELECT has_function_privilege(%s, %s, 'EXECUTE')"
    return [bool(conn.execute(sql, [role, routine]).fetchone()[0]) for routine in routines]  # type: ignore[index]


def _global_acl(conn: psycopg.Connection[Any], owner: str) -> str | None:
    row = conn.execute(GLOBAL_FUNCTION_ACL, [owner]).fetchone()
    return None if row is None else str(row[0])


def test_routines_created_later_are_not_executable_by_public(
    scratch: Scratch, tmp_path: Path
) -> None:
    owner, bystander = _roles(scratch)
    plan_dir = write_plan_dir(tmp_path, scratch.plan)
    apply_plan_dir(plan_dir, scratch.dsn)
    with connect(scratch.dsn, scratch.database) as conn:
        # the owner keeps its own EXECUTE; PUBLIC's entry ("=X/owner") is gone
        assert _global_acl(conn, owner) == f"{{{owner}=X/{owner}}}"
        first = _create_routines(conn, owner, "a")
        assert _executable(conn, bystander, first) == [False, False]
        assert _executable(conn, "public", first) == [False, False]
        assert check_state(conn, scratch.plan, scratch.database) == []
    once = (scratch.state(), _acl_now(scratch, owner))
    apply_plan_dir(plan_dir, scratch.dsn)  # a second apply changes nothing
    assert (scratch.state(), _acl_now(scratch, owner)) == once
    assert verify_plan(scratch.plan, scratch.dsn, embedded=False) == []
    rollback = (plan_dir / "sql" / "rollback.sql").read_text(encoding="utf-8")
    run_scripts(scratch.dsn, [("rollback.sql", rollback)])
    run_scripts(scratch.dsn, [("rollback.sql", rollback)])  # a second run changes nothing
    with connect(scratch.dsn, scratch.database) as conn:
        assert _global_acl(conn, owner) is None  # PostgreSQL's built-in default again
        after = _create_routines(conn, owner, "b")
        assert _executable(conn, bystander, after) == [True, True]


def _acl_now(scratch: Scratch, owner: str) -> str | None:
    with connect(scratch.dsn, scratch.database) as conn:
        return _global_acl(conn, owner)


def test_verify_and_drift_notice_public_execute_given_back(
    scratch: Scratch, tmp_path: Path
) -> None:
    owner = f"{scratch.prefix}_sales_owner"
    apply_plan_dir(write_plan_dir(tmp_path, scratch.plan), scratch.dsn)
    with connect(scratch.dsn, scratch.database) as conn:
        conn.execute(
            f'ALTER DEFAULT PRIVILEGES FOR ROLE "{owner}" GRANT EXECUTE ON FUNCTIONS TO PUBLIC'.encode()
        )
        assert check_state(conn, scratch.plan, scratch.database) == [
            Mismatch("default_acl", scratch.database,
                     f"for {owner} in *: EXECUTE on FUNCTIONS revoked from PUBLIC", "missing"),
        ]  # fmt: skip
    mismatches, delta = drift(scratch.plan, scratch.dsn)
    assert [m.subject for m in mismatches] == [
        f"for {owner} in *: EXECUTE on FUNCTIONS revoked from PUBLIC"
    ]
    assert (
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC"
        in delta
    )
    run_scripts(scratch.dsn, [("drift.sql", delta)])
    assert drift(scratch.plan, scratch.dsn)[0] == []
