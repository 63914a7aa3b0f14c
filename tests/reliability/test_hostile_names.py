"""Issue 8, item 2: hostile names go through extract → plan → scripts → apply → verify.

Each estate (see ``hostile.estate_script``) grants a role SELECT on a table and a login's user
UPDATE on one column. After the scripts run on a real PostgreSQL (in a transaction rolled back),
the table's and columns' ACLs must hold exactly those privileges — nothing else — and
``verify``'s two-way comparison must find no difference. Colliding or reserved names are
MappingErrors before anything is written.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grantbridge.cli import main
from grantbridge.errors import MappingError
from mapper.naming import object_name, truncate
from mapper.plan import MigrationPlan, RoleKind
from mapper.planner import plan as make_plan
from mapper.policy import Naming, Policy
from mssql_extract.tsql import parse_text
from pg_emit.render import render_sql
from pg_emit.server import connect
from pg_emit.verify import applied, check_state, ensure_databases
from tests.reliability.hostile import HOSTILE, Names, bracket, estate_script

pytestmark = pytest.mark.postgres

ACL_SQL = """
SELECT coalesce(r.rolname, 'PUBLIC'), a.privilege_type, %s::text
FROM aclexplode(%s::aclitem[]) a LEFT JOIN pg_roles r ON r.oid = a.grantee
WHERE a.grantee <> %s
"""


def _table_oid(conn: psycopg.Connection[Any], schema: str, table: str) -> int:
    row = conn.execute(
        "SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relname = %s",
        [schema, table],
    ).fetchone()
    assert row is not None, (schema, table)
    return int(row[0])


def _acl(conn: psycopg.Connection[Any], oid: int) -> set[tuple[str, str, str]]:
    """Every (grantee, privilege, column or "") on the table, its owner's own rights left out."""
    owner, acl = conn.execute("SELECT relowner, relacl FROM pg_class WHERE oid = %s", [oid]).fetchone()  # type: ignore[misc]  # fmt: skip
    found = set(conn.execute(ACL_SQL, ["", acl, owner]).fetchall()) if acl else set()
    columns = conn.execute(
        "SELECT attname, attacl FROM pg_attribute WHERE attrelid = %s AND attacl IS NOT NULL",
        [oid],
    ).fetchall()
    for column, attacl in columns:
        found |= set(conn.execute(ACL_SQL, [column, attacl, owner]).fetchall())
    return found


def _role(plan: MigrationPlan, kind: RoleKind) -> str:
    (name,) = [r.name for r in plan.roles if r.kind == kind]
    return name


def round_trip(dsn: str, names: Names) -> int:
    """Run one estate end to end; returns how many hostile names it carried."""
    database = f"gbhostile_{uuid.uuid4().hex[:10]}"
    snapshot = parse_text(estate_script(names, database), "hostile.sql")
    plan = make_plan(snapshot, Policy())
    naming = Naming()
    schema, table = object_name(names.schema, naming), object_name(names.table, naming)
    login, group = _role(plan, RoleKind.LOGIN), _role(plan, RoleKind.GROUP)
    assert (login, group) == (truncate(names.login.lower()), truncate(names.role.lower()))
    ensure_databases(dsn, plan, create=True)
    try:
        with applied(dsn, plan, render_sql(plan), database) as conn:
            assert check_state(conn, plan, database) == []
            oid = _table_oid(conn, schema, table)
            assert _acl(conn, oid) == {
                (group, "SELECT", ""),
                (login, "UPDATE", object_name(names.other_column, naming)),
            }
            reads = conn.execute(
                "SELECT has_table_privilege(%s, %s::oid, 'SELECT'), "
                "has_column_privilege(%s, %s::oid, %s, 'UPDATE')",
                [login, oid, login, oid, object_name(names.column, naming)],
            ).fetchone()
            assert reads == (True, False)  # SELECT through the role; UPDATE on one column only
    finally:
        with connect(dsn) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'.encode())
    return 7


def _names(seven: list[str]) -> Names:
    return Names(*seven)


ROTATIONS = [
    [HOSTILE[(start + k) % len(HOSTILE)] for k in range(7)] for start in range(len(HOSTILE))
]


@pytest.mark.parametrize("offset", range(len(ROTATIONS)))
def test_every_hostile_name_in_every_position(offset: int, embedded_pg: str) -> None:
    assert round_trip(embedded_pg, _names(ROTATIONS[offset])) == 7


# --------------------------------------------------------------------------- generated names

_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), min_size=1, max_size=128
)


def _key(name: str) -> bytes:
    # unique after folding and PostgreSQL's 63-byte cut (a few bytes of margin)
    return name.lower().encode("utf-8")[:60]


def _usable(name: str) -> bool:
    """SQL Server compares names without trailing spaces; PostgreSQL reserves pg_, public, none."""
    folded = name.lower()
    return (
        name.strip() == name
        and bool(name.strip())
        and not folded.startswith("pg_")
        and folded not in ("public", "none", "dbo", "guest", "sys")
    )


@settings(
    max_examples=5,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    names=st.lists(
        st.one_of(st.sampled_from(HOSTILE), _TEXT).filter(_usable),
        min_size=7,
        max_size=7,
        unique_by=_key,
    )
)
def test_generated_names_round_trip(names: list[str], embedded_pg: str) -> None:
    assert round_trip(embedded_pg, _names(names)) == 7


# --------------------------------------------------------------------------- collisions


def _two_databases(first: tuple[str, str], second: tuple[str, str]) -> str:
    script = []
    for database, role in (first, second):
        script += [f"CREATE DATABASE {bracket(database)}", "GO", f"USE {bracket(database)}", "GO",
                   f"CREATE ROLE {bracket(role)}", "GO"]  # fmt: skip
    return "\n".join(script) + "\n"


COLLISIONS = {
    "case-fold": estate_script(Names("Ab", "u", "aB", "s", "t", "c", "d"), "db1"),
    "63-byte-cut": estate_script(Names("l" * 70, "u", "l" * 63 + "x", "s", "t", "c", "d"), "db1"),
    "63-byte-cut-multibyte": estate_script(
        Names("\u00e9" * 31 + "ab", "u", "\u00e9" * 31 + "ac", "s", "t", "c", "d"), "db1"
    ),
    "template": _two_databases(("a", "b_r"), ("a_b", "r")),
    "reserved-prefix": estate_script(Names("login", "u", "pg_signal_everything", "s", "t", "c", "d"), "db1"),
    "reserved-word": estate_script(Names("none", "u", "r", "s", "t", "c", "d"), "db1"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(COLLISIONS))
def test_colliding_names_are_errors_before_anything_is_written(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(MappingError):
        make_plan(parse_text(COLLISIONS[case], "c.sql"), Policy())
    script = tmp_path / "c.sql"
    script.write_text(COLLISIONS[case], encoding="utf-8")
    snapshot = tmp_path / "s.json"
    assert main(["extract", "-s", str(script), "-o", str(snapshot)]) == 0
    assert main(["plan", str(snapshot), "-o", str(tmp_path / "out")]) == 2
    assert "Traceback" not in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.sql", "s.json"]
