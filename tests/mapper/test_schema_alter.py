"""ALTER on a schema becomes CREATE on it only with a database CREATE permission (DESIGN §3.3).

"CREATE TABLE (Transact-SQL)", Permissions: creating a table needs CREATE TABLE in the database
*and* ALTER on the schema (likewise views, procedures, functions and types). ALTER on a schema
alone lets its holder alter and drop the schema's objects and create nothing, so CREATE on the
PostgreSQL schema would be a widening.
"""

from __future__ import annotations

from mapper.plan import Disposition, MigrationPlan
from mapper.planner import plan
from mapper.policy import Policy
from tests.mapper.estate import database, login, member, perm, role, snapshot, user

ALTER = perm("ALTER", "dev", "SCHEMA", object_name="dbo")


def _plan(*permissions: object, **fields: object) -> MigrationPlan:
    db = database(users=(user("dev", "dev"),), permissions=permissions, **fields)
    return plan(snapshot(db, logins=(login("dev"),)), Policy())


def _schema_creates(p: MigrationPlan) -> set[str]:
    return {g.grantee for g in p.grants if g.object_type == "SCHEMA" and g.privilege == "CREATE"}


def _alter(p: MigrationPlan) -> str:
    [fact] = [d for d in p.dispositions if d.fact.startswith("Sales/perm:") and ":ALTER:" in d.fact]
    return fact.reason


def test_alter_on_a_schema_alone_grants_no_create() -> None:
    p = _plan(ALTER)
    assert _schema_creates(p) == set()
    assert "creates nothing in SQL Server" in _alter(p)
    assert any(f.rule_id == "GB040" and f.principal == "dev" for f in p.findings)


def test_alter_with_create_table_grants_create_on_the_schema() -> None:
    p = _plan(ALTER, perm("CREATE TABLE", "dev", "DATABASE"))
    assert _schema_creates(p) == {"dev"}
    [disposition] = [d for d in p.dispositions if ":ALTER:" in d.fact]
    assert disposition.disposition == Disposition.APPROXIMATED


def test_create_procedure_through_a_role_counts() -> None:
    """The CREATE permission may come through a role the grantee is a member of."""
    p = _plan(
        ALTER, perm("CREATE PROCEDURE", "builders", "DATABASE"),
        roles=(role("builders"),), memberships=(member("builders", "dev"),),
    )  # fmt: skip
    assert _schema_creates(p) == {"dev"}
