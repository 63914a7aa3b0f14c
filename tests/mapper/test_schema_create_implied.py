"""CREATE on a schema when ALTER on it is implied, not only granted on the schema itself.

"CREATE TABLE (Transact-SQL)", Permissions: CREATE TABLE in the database *and* ALTER on the
schema (likewise views, procedures, functions, types). ALTER ANY SCHEMA implies ALTER on every
schema, and ALTER on the database implies both ALTER ANY SCHEMA and CREATE TABLE
(mapper/data/builtin_permissions_sql2022.csv). The plan grants CREATE on each schema where the
engine allows both halves and both come from grants the plan carries — not from db_owner,
sysadmin, db_ddladmin (GB043), CONTROL or ownership (GB016), whose DDL their own rules decide.
"""

from __future__ import annotations

import pytest

from mapper.effective import EffectivePermissions, Securable
from mapper.plan import Disposition, MigrationPlan
from mapper.planner import plan
from mapper.policy import Policy, parse_policy
from mssql_extract.snapshot import Membership, Schema, SecuritySnapshot
from pg_emit.render import render_sql
from pg_emit.verify import applied, ensure_databases, verify_plan
from tests.emit import contoso
from tests.mapper.estate import REF, database, login, member, perm, role, snapshot, table, user

SCHEMAS = (
    Schema(name="dbo", owner="dbo", source_ref=REF),
    Schema(name="stage", owner="dbo", source_ref=REF),
)
CREATE_TABLE = perm("CREATE TABLE", "dev", "DATABASE")
ALTER_ANY = perm("ALTER ANY SCHEMA", "dev", "DATABASE")


def _snap(*permissions: object, sysadmin: bool = False, **fields: object) -> SecuritySnapshot:
    base: dict[str, object] = {
        "schemas": SCHEMAS,
        "objects": (table("dbo", "Orders", "id"), table("stage", "Raw", "id")),
        "users": (user("dev", "dev"),),
    }
    db = database(permissions=permissions, **(base | fields))
    admins = (Membership(role="sysadmin", member="dev", source_ref=REF),) if sysadmin else ()
    return snapshot(db, logins=(login("dev"),), server_memberships=admins)


def _plan(*permissions: object, **fields: object) -> MigrationPlan:
    return plan(_snap(*permissions, **fields), Policy())


def _creates(p: MigrationPlan) -> set[tuple[str, str]]:
    """(grantee, schema) of every CREATE on a schema."""
    return {
        (g.grantee, g.name)
        for g in p.grants
        if g.object_type == "SCHEMA" and g.privilege == "CREATE"
    }


def _truncates(p: MigrationPlan, grantee: str) -> set[str]:
    """The tables the grantee may truncate (ALTER on them in SQL Server)."""
    return {g.name for g in p.grants if g.grantee == grantee and g.privilege == "TRUNCATE"}


def _fact(p: MigrationPlan, permission: str, grantee: str = "dev") -> tuple[Disposition, str]:
    [found] = [d for d in p.dispositions if d.fact.endswith(f":{permission}:grant:{grantee}")]
    return found.disposition, found.reason


def _engine_creates(snap: SecuritySnapshot, who: str, schema: str) -> bool:
    engine = EffectivePermissions(snap)
    return engine.explain("Sales", who, Securable("SCHEMA", name=schema), "ALTER").allowed and any(
        engine.explain("Sales", who, Securable("DATABASE"), p).allowed
        for p in ("CREATE TABLE", "CREATE VIEW", "CREATE PROCEDURE")
    )


def test_create_table_with_alter_any_schema_creates_in_every_schema() -> None:
    snap = _snap(CREATE_TABLE, ALTER_ANY)
    assert _engine_creates(snap, "dev", "stage")
    p = plan(snap, Policy())
    assert _creates(p) == {("dev", "dbo"), ("dev", "stage")}
    for permission in ("CREATE TABLE", "ALTER ANY SCHEMA"):
        disposition, reason = _fact(p, permission)
        assert disposition == Disposition.APPROXIMATED
        assert "ALTER ANY SCHEMA" in reason
    [fact] = [d for d in p.dispositions if d.fact.endswith(":CREATE TABLE:grant:dev")]
    assert {f.rule_id for f in p.findings if f.key in fact.findings} == {"GB040"}


def test_alter_on_the_database_creates_in_every_schema() -> None:
    """ALTER on the database implies CREATE TABLE and ALTER ANY SCHEMA."""
    snap = _snap(perm("ALTER", "dev", "DATABASE"))
    assert _engine_creates(snap, "dev", "dbo")
    p = plan(snap, Policy())
    assert _creates(p) == {("dev", "dbo"), ("dev", "stage")}
    assert _fact(p, "ALTER")[0] == Disposition.APPROXIMATED


def test_halves_through_roles_go_to_the_principal_holding_both() -> None:
    """CREATE TABLE to dev, ALTER ANY SCHEMA to a role of dev: dev creates, the role does not."""
    snap = _snap(
        CREATE_TABLE, perm("ALTER ANY SCHEMA", "schemers", "DATABASE"),
        roles=(role("schemers"),), memberships=(member("schemers", "dev"),),
    )  # fmt: skip
    assert _engine_creates(snap, "dev", "dbo")
    assert not _engine_creates(snap, "schemers", "dbo")
    p = plan(snap, Policy())
    assert _creates(p) == {("dev", "dbo"), ("dev", "stage")}
    # schemers creates nothing; its ALTER on every table still allows TRUNCATE TABLE
    assert _fact(p, "ALTER ANY SCHEMA", "schemers")[0] == Disposition.APPROXIMATED
    assert _truncates(p, "schemers") == {"orders", "raw"}


def test_alter_any_schema_row_carries_a_create_held_through_a_role() -> None:
    p = _plan(
        ALTER_ANY, perm("CREATE PROCEDURE", "builders", "DATABASE"),
        roles=(role("builders"),), memberships=(member("builders", "dev"),),
    )  # fmt: skip
    assert _creates(p) == {("dev", "dbo"), ("dev", "stage")}
    assert _fact(p, "ALTER ANY SCHEMA")[0] == Disposition.APPROXIMATED
    assert _fact(p, "CREATE PROCEDURE", "builders")[0] == Disposition.NOT_APPLICABLE


def test_only_schemas_the_engine_allows() -> None:
    deny = perm("ALTER", "dev", "SCHEMA", state="D", object_name="stage")
    snap = _snap(CREATE_TABLE, ALTER_ANY, deny)
    assert not _engine_creates(snap, "dev", "stage")
    assert _creates(plan(snap, Policy())) == {("dev", "dbo")}


def test_either_half_alone_creates_nothing() -> None:
    """Neither half creates; ALTER ANY SCHEMA alone still implies ALTER on every table
    ("TRUNCATE TABLE (Transact-SQL)": ALTER on the table), so it gives TRUNCATE and TRIGGER."""
    p = _plan(CREATE_TABLE)
    assert _creates(p) == set()
    assert _fact(p, "CREATE TABLE")[0] == Disposition.NOT_APPLICABLE
    p = _plan(ALTER_ANY)
    assert _creates(p) == set()
    assert _fact(p, "ALTER ANY SCHEMA")[0] == Disposition.APPROXIMATED
    assert _truncates(p, "dev") == {"orders", "raw"}


def test_the_literal_alter_row_keeps_its_schema() -> None:
    """GRANT ALTER ON SCHEMA::dbo maps CREATE on dbo; the database rows add only the others, and
    with no other schema to add the CREATE row stays not_applicable, as before."""
    literal = perm("ALTER", "dev", "SCHEMA", object_name="dbo")
    p = _plan(CREATE_TABLE, literal)
    assert _creates(p) == {("dev", "dbo")}
    assert _fact(p, "CREATE TABLE")[0] == Disposition.NOT_APPLICABLE
    p = _plan(CREATE_TABLE, ALTER_ANY, literal)
    assert _creates(p) == {("dev", "dbo"), ("dev", "stage")}
    [dbo] = [g for g in p.grants if g.privilege == "CREATE" and g.name == "dbo"]
    assert dbo.facts == ("Sales/perm:SCHEMA:dbo:ALTER:grant:dev",)


def test_schema_mode_names_the_prefixed_schemas() -> None:
    snap = _snap(CREATE_TABLE, ALTER_ANY)
    p = plan(snap, parse_policy('database_mode = "schema"\n'))
    assert _creates(p) == {("dev", "sales_dbo"), ("dev", "sales_stage")}


# ------------------------------------------------------------------ over-grants keep their rules


def test_db_owner_member_with_create_table_gets_no_ddl() -> None:
    """db_owner's CONTROL implies ALTER on every schema; downscoped db_owner has no DDL."""
    members = (member("db_owner", "dev"),)
    roles = (role("db_owner", fixed=True),)
    without = _plan(memberships=members, roles=roles)
    p = _plan(CREATE_TABLE, memberships=members, roles=roles)
    assert _engine_creates(_snap(CREATE_TABLE, memberships=members, roles=roles), "dev", "dbo")
    assert _creates(p) == set()
    assert _fact(p, "CREATE TABLE")[0] == Disposition.NOT_APPLICABLE
    assert {m.key for m in p.memberships} == {m.key for m in without.memberships}


def test_sysadmin_with_create_table_gets_no_ddl() -> None:
    snap = _snap(CREATE_TABLE, sysadmin=True)
    assert _engine_creates(snap, "dev", "dbo")
    assert _creates(plan(snap, Policy())) == set()


def test_db_ddladmin_members_get_no_create() -> None:
    """db_ddladmin (ALTER ANY SCHEMA, CREATE TABLE …) stays GB043: its half never counts."""
    fixed = {"roles": (role("db_ddladmin", fixed=True),),
             "memberships": (member("db_ddladmin", "dev"),)}  # fmt: skip
    snap = _snap(**fixed)
    assert _engine_creates(snap, "dev", "dbo")
    p = plan(snap, Policy())
    assert _creates(p) == set()
    assert "GB043" in {f.rule_id for f in p.findings}
    assert _creates(_plan(CREATE_TABLE, **fixed)) == set()
    literal = perm("ALTER", "dev", "SCHEMA", object_name="dbo")
    p = _plan(literal, **fixed)
    assert _creates(p) == set()
    disposition, reason = _fact(p, "ALTER")
    assert disposition == Disposition.APPROXIMATED  # TRUNCATE and TRIGGER only (GB040)
    assert "only through db_owner, db_ddladmin" in reason
    assert _truncates(p, "dev") == {"orders"}


def test_schema_control_is_left_to_the_overgrant_rule() -> None:
    control = perm("CONTROL", "dev", "SCHEMA", object_name="stage")
    p = _plan(CREATE_TABLE, control)
    assert _creates(p) == set()  # GB003 downscopes CONTROL on a schema to DML and EXECUTE


def test_schema_owner_is_left_to_gb016() -> None:
    """An owner may alter its schema; what it keeps is the ownership rule's (downscoped)."""
    schemas = (*SCHEMAS, Schema(name="sandbox", owner="dev", source_ref=REF))
    snap = _snap(CREATE_TABLE, schemas=schemas)
    assert _engine_creates(snap, "dev", "sandbox")
    assert _creates(plan(snap, Policy())) == set()


# --------------------------------------------------------------------------- real PostgreSQL


@pytest.mark.postgres
def test_on_postgresql_dev_creates_in_the_schemas_it_may_alter(pg_dsn: str, target: str) -> None:
    deny = perm("ALTER", "dev", "SCHEMA", state="D", object_name="stage")
    snap = _snap(CREATE_TABLE, ALTER_ANY, deny, users=(user("dev", "gbc_dev"),))
    snap = snap.model_copy(update={"logins": (login("gbc_dev"),)})
    migration = contoso.rename_databases(plan(snap, Policy()), {"sales": target})
    ensure_databases(pg_dsn, migration, create=True)
    assert verify_plan(migration, pg_dsn, embedded=False) == []
    with applied(pg_dsn, migration, render_sql(migration), target) as conn:
        answers = {
            schema: conn.execute(
                "SELECT has_schema_privilege('gbc_dev', %s, 'CREATE')", [schema]
            ).fetchone()
            for schema in ("dbo", "stage")
        }
    assert answers == {"dbo": (True,), "stage": (False,)}
