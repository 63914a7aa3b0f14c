"""ALTER on a table allows TRUNCATE TABLE and CREATE TRIGGER in SQL Server; the plan carries both.

"TRUNCATE TABLE (Transact-SQL)", Permissions: "The minimum permission required is ALTER on
table_name"; "CREATE TRIGGER (Transact-SQL)", Permissions: a DML trigger "requires ALTER
permission on the table or view on which the trigger is being created". ALTER on a schema
implies ALTER on its objects, ALTER ANY SCHEMA and ALTER on the database ALTER on every schema
(sys.fn_builtin_permissions). PostgreSQL grants TRUNCATE and TRIGGER without ownership; the rest
of ALTER (ALTER TABLE, DROP TRIGGER) stays with the owner, so every such row is approximated. A
DENY of ALTER takes them away again, however they were granted (through a role, or CONTROL).
"""

from __future__ import annotations

import pytest

from mapper.effective import EffectivePermissions, Securable
from mapper.plan import Disposition, MigrationPlan
from mapper.planner import plan
from mapper.policy import Policy, parse_policy
from mssql_extract.snapshot import ObjectKind, SecuritySnapshot
from pg_emit.render import render_sql
from pg_emit.verify import applied, ensure_databases, verify_plan
from tests.emit import contoso
from tests.mapper.estate import database, login, member, perm, reach, role, snapshot, table, user

OBJECTS = (
    table("s", "t", "id"),
    table("s", "v", kind=ObjectKind.VIEW),
    table("s", "seq", kind=ObjectKind.SEQUENCE),
    table("s", "usp_run", kind=ObjectKind.PROCEDURE),
    table("dbo", "Orders", "id"),
)


def _snap(*permissions: object, logins: tuple[str, ...] = ("u", "w"), **fields: object) -> SecuritySnapshot:  # fmt: skip
    users = tuple(user(name, lg) for name, lg in zip(("u", "w"), logins, strict=True))
    db = database(objects=OBJECTS, users=users, permissions=permissions, **fields)
    return snapshot(db, logins=tuple(login(lg) for lg in logins))


def _held(p: MigrationPlan, grantee: str) -> set[tuple[str, str]]:
    """(object, privilege) of the grantee's object grants, through every role it inherits."""
    roles = reach(p, grantee)
    return {(g.name, g.privilege) for g in p.grants
            if g.grantee in roles and g.object_type not in ("DATABASE", "SCHEMA")}  # fmt: skip


def _defaults(p: MigrationPlan, grantee: str) -> set[tuple[str | None, str, str]]:
    return {(d.schema_name, d.object_type, d.privilege) for d in p.default_privileges
            if d.grantee == grantee}  # fmt: skip


def _fact(p: MigrationPlan, suffix: str) -> tuple[Disposition, str]:
    [found] = [d for d in p.dispositions if d.fact.endswith(suffix)]
    return found.disposition, found.reason


def test_alter_on_a_table_grants_truncate_and_trigger() -> None:
    p = plan(_snap(perm("ALTER", "u", schema_name="s", object_name="t"),
                   perm("ALTER", "u", schema_name="s", object_name="v"),
                   perm("ALTER", "u", schema_name="s", object_name="seq"),
                   perm("ALTER", "u", schema_name="s", object_name="usp_run")), Policy())  # fmt: skip
    assert _held(p, "u") == {("t", "TRUNCATE"), ("t", "TRIGGER"), ("v", "TRIGGER")}
    disposition, reason = _fact(p, ":s:t:ALTER:grant:u")
    assert disposition == Disposition.APPROXIMATED
    assert "TRUNCATE and TRIGGER on a table" in reason
    assert "Not carried: the rest of ALTER" in reason
    # ALTER on a sequence or a routine has nothing PostgreSQL grants without ownership
    assert _fact(p, ":s:seq:ALTER:grant:u")[0] == Disposition.NOT_APPLICABLE
    sql = render_sql(p)["sql/04_privileges.sql"]
    assert "GRANT TRUNCATE, TRIGGER ON TABLE s.t TO u" in sql
    assert "GRANT TRIGGER ON TABLE s.v TO u" in sql
    assert any(f.rule_id == "GB040" and "ALTER ON OBJECT s t" in f.evidence for f in p.findings)


def test_alter_on_a_schema_covers_its_tables_now_and_later() -> None:
    """Without CREATE TABLE the schema's ALTER creates nothing, but it still covers its tables."""
    p = plan(_snap(perm("ALTER", "u", "SCHEMA", object_name="s")), Policy())
    assert _held(p, "u") == {("t", "TRUNCATE"), ("t", "TRIGGER"), ("v", "TRIGGER")}
    assert _defaults(p, "u") == {("s", "TABLES", "TRUNCATE"), ("s", "TABLES", "TRIGGER")}
    assert not [g for g in p.grants if g.grantee == "u" and g.privilege == "CREATE"]
    disposition, reason = _fact(p, "SCHEMA:s:ALTER:grant:u")
    assert disposition == Disposition.APPROXIMATED
    assert "creates nothing in SQL Server" in reason
    assert "TRUNCATE" in reason


@pytest.mark.parametrize("permission", ["ALTER", "ALTER ANY SCHEMA"])
def test_alter_on_the_database_covers_every_schema(permission: str) -> None:
    p = plan(_snap(perm(permission, "u", "DATABASE")), Policy())
    assert _held(p, "u") == {("t", "TRUNCATE"), ("t", "TRIGGER"), ("v", "TRIGGER"),
                             ("orders", "TRUNCATE"), ("orders", "TRIGGER")}  # fmt: skip
    assert {(s, priv) for s, _, priv in _defaults(p, "u")} == {
        (s, priv) for s in ("dbo", "s") for priv in ("TRUNCATE", "TRIGGER")
    }
    disposition, reason = _fact(p, f"DATABASE:{permission}:grant:u")
    assert disposition == Disposition.APPROXIMATED
    assert "a schema created later is not covered" in reason


def test_alter_on_the_database_with_create_table_also_creates() -> None:
    p = plan(_snap(perm("ALTER", "u", "DATABASE"), perm("CREATE TABLE", "u", "DATABASE")),
             Policy())  # fmt: skip
    creates = {(g.object_type, g.name) for g in p.grants
               if g.grantee == "u" and g.privilege == "CREATE"}  # fmt: skip
    # CREATE on the database too: ALTER implies CREATE SCHEMA (tests/mapper/test_alter_any_schema.py)
    assert creates == {("SCHEMA", "dbo"), ("SCHEMA", "s"), ("DATABASE", "sales")}
    assert ("orders", "TRUNCATE") in _held(p, "u")


def test_deny_create_table_leaves_the_truncate_of_alter_on_the_schema() -> None:
    """DENY CREATE TABLE takes the schema's CREATE (half of creating), not ALTER on its tables."""
    p = plan(_snap(perm("ALTER", "u", "SCHEMA", object_name="s"),
                   perm("CREATE TABLE", "r", "DATABASE"),
                   perm("CREATE TABLE", "u", "DATABASE", state="D"),
                   roles=(role("r"),), memberships=(member("r", "u"),)), Policy())  # fmt: skip
    assert ("t", "TRUNCATE") in _held(p, "u")
    assert not [g for g in p.grants if g.grantee in reach(p, "u") and g.privilege == "CREATE"]


def test_faithful_control_on_a_schema_includes_what_its_alter_gives() -> None:
    """CONTROL on a schema implies ALTER on it (GB003): faithful mode now says and gives it."""
    control = perm("CONTROL", "u", "SCHEMA", object_name="s")
    faithful = plan(_snap(control), parse_policy('[overgrants]\nmodes = {GB003 = "faithful"}\n'))
    assert {("t", "TRUNCATE"), ("t", "TRIGGER"), ("v", "TRIGGER")} <= _held(faithful, "u")
    [finding] = [f for f in faithful.findings if f.rule_id == "GB003"]
    assert "TRUNCATE and TRIGGER on its tables" in finding.action
    downscoped = plan(_snap(control), Policy())
    assert not {p for _, p in _held(downscoped, "u")} & {"TRUNCATE", "TRIGGER"}


@pytest.mark.parametrize(
    "grant",
    [
        perm("ALTER", "r", schema_name="s", object_name="t"),
        perm("ALTER", "r", "SCHEMA", object_name="s"),
        perm("ALTER", "r", "DATABASE"),
        perm("CONTROL", "r", schema_name="s", object_name="t"),
    ],
    ids=["object", "schema", "database", "control"],
)
def test_deny_alter_on_a_table_takes_truncate_from_a_role_member(grant: object) -> None:
    """u and w inherit ALTER on s.t from r; u is denied ALTER on s.t: it may neither truncate
    s.t nor create triggers on it in SQL Server, and loses both in the plan; w keeps them."""
    snap = _snap(grant, perm("SELECT", "r", schema_name="s", object_name="v"),
                 perm("ALTER", "u", state="D", schema_name="s", object_name="t"),
                 roles=(role("r"),), memberships=(member("r", "u"), member("r", "w")))  # fmt: skip
    engine = EffectivePermissions(snap)
    table_t = Securable("OBJECT", "s", "t")
    assert not engine.explain("Sales", "u", table_t, "ALTER").allowed
    assert engine.explain("Sales", "w", table_t, "ALTER").allowed
    p = plan(snap, Policy())
    assert {("t", "TRUNCATE"), ("t", "TRIGGER")} & _held(p, "u") == set()
    assert {("t", "TRUNCATE"), ("t", "TRIGGER")} <= _held(p, "w")
    assert ("v", "SELECT") in _held(p, "u")  # the rest of r is kept
    [deny] = [d for d in p.dispositions if d.fact.endswith(":s:t:ALTER:deny:u")]
    assert deny.disposition == Disposition.MAPPED


@pytest.mark.postgres
def test_on_postgresql_alter_lets_the_grantee_truncate(pg_dsn: str, target: str) -> None:
    """Applied: the ALTER holder may truncate and create triggers; the member denied ALTER and
    a user without it may not."""
    snap = _snap(perm("ALTER", "r", "SCHEMA", object_name="s"),
                 perm("ALTER", "u", state="D", schema_name="s", object_name="t"),
                 logins=("gbtr_u", "gbtr_w"),
                 roles=(role("r"),), memberships=(member("r", "u"), member("r", "w")))  # fmt: skip
    migration = contoso.rename_databases(plan(snap, Policy()), {"sales": target})
    ensure_databases(pg_dsn, migration, create=True)
    assert verify_plan(migration, pg_dsn, embedded=False) == []
    with applied(pg_dsn, migration, render_sql(migration), target) as conn:
        answers = {
            (who, privilege): conn.execute(
                "SELECT has_table_privilege(%s, 's.t', %s)", [who, privilege]
            ).fetchone()
            for who in ("gbtr_u", "gbtr_w")
            for privilege in ("TRUNCATE", "TRIGGER", "SELECT")
        }
    assert answers == {
        ("gbtr_u", "TRUNCATE"): (False,), ("gbtr_u", "TRIGGER"): (False,),
        ("gbtr_u", "SELECT"): (False,),
        ("gbtr_w", "TRUNCATE"): (True,), ("gbtr_w", "TRIGGER"): (True,),
        ("gbtr_w", "SELECT"): (False,),
    }  # fmt: skip
