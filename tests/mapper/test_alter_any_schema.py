"""ALTER ANY SCHEMA and ALTER on the database let the grantee create schemas: CREATE on the
database in PostgreSQL.

sys.fn_builtin_permissions (reference/mssql/builtin_permissions_sql2022.csv): DATABASE CREATE
SCHEMA is covered by ALTER ANY SCHEMA, which ALTER on the database covers; "Permissions
(Database Engine)": "ALTER ANY SCHEMA confers the ability to create, alter, or drop any schema
in the database". PostgreSQL's CREATE SCHEMA needs CREATE on the database (what GRANT CREATE
SCHEMA maps to). Regression: both rows gave TRUNCATE and TRIGGER on the schemas' tables but no
CREATE on the database, so the grantee could not create a schema. A DENY CREATE SCHEMA still
takes it away (the engine's hierarchy, DENY restructuring).
"""

from __future__ import annotations

import pytest

from mapper.plan import Disposition, MigrationPlan
from mapper.planner import plan
from mapper.policy import Policy
from mssql_extract.snapshot import SecuritySnapshot
from pg_emit.render import render_sql
from pg_emit.verify import applied, ensure_databases, verify_plan
from tests.emit import contoso
from tests.mapper.estate import database, login, member, perm, reach, role, snapshot, user


def _snap(*permissions: object, logins: tuple[str, str] = ("L", "W")) -> SecuritySnapshot:
    db = database(
        users=(user("u", logins[0]), user("w", logins[1])), roles=(role("r"),),
        memberships=(member("r", "u"), member("r", "w")), permissions=permissions,
    )  # fmt: skip
    return snapshot(db, logins=tuple(login(name) for name in logins))


def _creates_schemas(p: MigrationPlan, role_name: str) -> bool:
    roles = reach(p, role_name)
    return any(g.object_type == "DATABASE" and g.privilege == "CREATE" and g.grantee in roles
               for g in p.grants)  # fmt: skip


@pytest.mark.parametrize("permission", ["ALTER ANY SCHEMA", "ALTER"])
def test_it_grants_create_on_the_database(permission: str) -> None:
    p = plan(_snap(perm(permission, "u", "DATABASE")), Policy())
    assert _creates_schemas(p, "l")
    assert not _creates_schemas(p, "w")
    [fact] = [d for d in p.dispositions if d.fact == f"Sales/perm:DATABASE:{permission}:grant:u"]
    assert fact.disposition == Disposition.APPROXIMATED
    assert fact.reason.startswith("CREATE on the database: ALTER ANY SCHEMA")


def test_deny_create_schema_takes_it_from_the_grantee() -> None:
    p = plan(_snap(perm("ALTER ANY SCHEMA", "u", "DATABASE"),
                   perm("CREATE SCHEMA", "u", "DATABASE", state="D")), Policy())  # fmt: skip
    assert not _creates_schemas(p, "l")
    truncate = {(g.name, g.privilege) for g in p.grants if g.grantee == "l"}
    assert ("orders", "TRUNCATE") in truncate  # the rest of ALTER ANY SCHEMA stays


def test_deny_create_schema_takes_it_from_a_roles_member_only() -> None:
    p = plan(_snap(perm("ALTER ANY SCHEMA", "r", "DATABASE"),
                   perm("CREATE SCHEMA", "u", "DATABASE", state="D")), Policy())  # fmt: skip
    assert _creates_schemas(p, "w")
    assert not _creates_schemas(p, "l")


@pytest.mark.postgres
def test_on_postgresql_the_grantee_may_create_a_schema(pg_dsn: str, target: str) -> None:
    holder, denied = "gbh4_schemas", "gbh4_noschemas"
    snap = _snap(perm("CONNECT", "u", "DATABASE"), perm("CONNECT", "w", "DATABASE"),
                 perm("ALTER ANY SCHEMA", "r", "DATABASE"),
                 perm("CREATE SCHEMA", "w", "DATABASE", state="D"),
                 logins=(holder, denied))  # fmt: skip
    migration = contoso.rename_databases(plan(snap, Policy()), {"sales": target})
    ensure_databases(pg_dsn, migration, create=True)
    assert verify_plan(migration, pg_dsn, embedded=False) == []
    with applied(pg_dsn, migration, render_sql(migration), target) as conn:
        answers = {
            who: conn.execute(
                "SELECT has_database_privilege(%s, current_database(), 'CREATE')", [who]
            ).fetchone()
            for who in (holder, denied)
        }
        conn.execute(f"SET ROLE {holder}".encode())
        conn.execute(b"CREATE SCHEMA gbh4_made")
        conn.execute(b"RESET ROLE")
    assert answers == {holder: (True,), denied: (False,)}
