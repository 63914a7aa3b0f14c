"""What ``apply`` logs per section is true of what ran, on the real PostgreSQL.

``01_roles.sql`` is a few DO blocks, each creating up to 50 roles: the log used to say
"01_roles.sql: 1 statement", which read as if one thing had been done. It now says how many DO
blocks ran and how many roles they create where absent.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mapper.plan import AuthMethod, PgRole, RoleKind
from mapper.platforms import on_rds
from pg_emit import intent
from pg_emit.apply import apply_plan_dir, run_scripts
from pg_emit.render import render_sql
from pg_emit.server import connect
from tests.emit.conftest import Scratch, write_plan_dir

pytestmark = pytest.mark.postgres


def _roles_created(scratch: Scratch) -> int:
    """The scripts' roles (and the RDS stand-ins of an RDS-shaped plan) CREATE ROLE names."""
    return len(intent.created_roles(scratch.plan)) + (
        len(intent.RDS_ROLES) if on_rds(scratch.plan.target) else 0
    )


def test_the_roles_script_is_logged_as_its_do_block_and_roles(
    scratch: Scratch, tmp_path: Path
) -> None:
    lines: list[str] = []
    apply_plan_dir(write_plan_dir(tmp_path, scratch.plan), scratch.dsn, log=lines.append)
    blocks = 1 + on_rds(scratch.plan.target)  # the roles (under 50), and the stand-ins
    roles = _roles_created(scratch)
    assert lines[0] == (
        f"sql/01_roles.sql: {blocks} DO blocks creating up to {roles} roles (each only where "
        f"absent) in {scratch.database}"
    )
    with connect(scratch.dsn) as conn:
        made = conn.execute(
            "SELECT count(*) FROM pg_roles WHERE starts_with(rolname, %s)", [scratch.prefix]
        ).fetchone()
    assert made == (len(intent.created_roles(scratch.plan)),)  # every role of the plan
    # a section of plain statements still counts them; 04's are GRANTs, one per line
    privileges = [line for line in lines if line.startswith("sql/04_privileges.sql: ")]
    assert privileges
    assert all(line.endswith(f" in {scratch.database}") for line in privileges)
    grants = render_sql(scratch.plan)["sql/04_privileges.sql"].count("\nGRANT ")
    assert privileges[0].startswith(f"sql/04_privileges.sql: {grants} statements")


def test_a_role_name_that_spells_create_role_is_one_role(scratch: Scratch) -> None:
    """The count reads the block as PostgreSQL does: a quoted name spanning lines is one role,
    even when its second line reads like a command."""
    odd = f"{scratch.prefix}_x\nCREATE ROLE y"
    role = PgRole(name=odd, kind=RoleKind.USER, auth=AuthMethod.NONE, login=False,
                  source="test", facts=("test",))  # fmt: skip
    plan = scratch.plan.model_copy(update={"roles": (*scratch.plan.roles, role)})
    lines: list[str] = []
    run_scripts(scratch.dsn, [("01_roles.sql", render_sql(plan)["sql/01_roles.sql"])],
                log=lines.append)  # fmt: skip
    roles = _roles_created(scratch) + 1
    assert f" creating up to {roles} roles (each only where absent)" in lines[0]
    with connect(scratch.dsn) as conn:
        made = conn.execute("SELECT count(*) FROM pg_roles WHERE rolname = %s", [odd]).fetchone()
    assert made == (1,)
