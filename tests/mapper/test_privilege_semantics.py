"""Permissions whose PostgreSQL counterpart would grant more than SQL Server does.

"GRANT Object Permissions": a table-valued function has SELECT, not EXECUTE, and a scalar
function EXECUTE and REFERENCES as separate permissions; "NEXT VALUE FOR": taking a value needs
UPDATE on the sequence, restarting it ALTER. PostgreSQL: USAGE on a sequence allows nextval,
UPDATE also setval; EXECUTE on any function allows calling it.
"""

from __future__ import annotations

import pytest

from mapper.plan import Disposition, MigrationPlan
from mapper.planner import plan
from mapper.policy import Policy
from mssql_extract.snapshot import ObjectKind
from pg_emit.render import render_sql
from pg_emit.verify import applied, ensure_databases, verify_plan
from tests.emit import contoso
from tests.mapper.estate import database, login, member, perm, snapshot, table, user

OBJECTS = (
    table("s", "t", "id"),
    table("s", "fn_scalar", kind=ObjectKind.SCALAR_FUNCTION),
    table("s", "fn_tvf", kind=ObjectKind.TABLE_FUNCTION),
    table("s", "usp_run", kind=ObjectKind.PROCEDURE),
    table("s", "seq", kind=ObjectKind.SEQUENCE),
)


def _plan(*permissions: object, **fields: object) -> MigrationPlan:
    db = database(objects=OBJECTS, users=(user("u", "u"),), permissions=permissions, **fields)
    return plan(snapshot(db, logins=(login("u"),)), Policy())


def _held(p: MigrationPlan, grantee: str = "u") -> set[tuple[str, str]]:
    return {(g.name, g.privilege) for g in p.grants if g.grantee == grantee and g.schema_name}


def _disposition(p: MigrationPlan, permission: str) -> Disposition:
    [found] = [
        d
        for d in p.dispositions
        if d.fact.startswith("Sales/perm:") and f":{permission}:" in d.fact
    ]
    return found.disposition


def test_execute_on_a_schema_leaves_table_valued_functions_out() -> None:
    p = _plan(perm("EXECUTE", "u", "SCHEMA", object_name="s"))
    assert _held(p) == {("fn_scalar", "EXECUTE"), ("usp_run", "EXECUTE")}
    defaults = {(d.object_type, d.privilege) for d in p.default_privileges if d.grantee == "u"}
    assert defaults == {("FUNCTIONS", "EXECUTE")}
    # future table-valued functions are covered by that default: said, not hidden
    assert _disposition(p, "EXECUTE") == Disposition.APPROXIMATED
    assert any(f.rule_id == "GB040" and f.principal == "u" for f in p.findings)


def test_execute_on_the_database_leaves_table_valued_functions_out() -> None:
    p = _plan(perm("EXECUTE", "u", "DATABASE"))
    assert ("fn_tvf", "EXECUTE") not in _held(p)
    assert ("fn_scalar", "EXECUTE") in _held(p)


def test_select_on_a_schema_still_covers_table_valued_functions() -> None:
    p = _plan(perm("SELECT", "u", "SCHEMA", object_name="s"))
    assert ("fn_tvf", "EXECUTE") in _held(p)
    assert ("fn_scalar", "EXECUTE") not in _held(p)


def test_references_on_a_function_or_sequence_grants_no_call_and_no_value() -> None:
    p = _plan(
        perm("REFERENCES", "u", schema_name="s", object_name="fn_scalar"),
        perm("REFERENCES", "u", schema_name="s", object_name="seq"),
        perm("REFERENCES", "u", schema_name="s", object_name="t"),
    )  # fmt: skip
    assert _held(p) == {("t", "REFERENCES")}


def test_update_on_a_sequence_allows_nextval_not_setval() -> None:
    p = _plan(perm("UPDATE", "u", schema_name="s", object_name="seq"))
    assert _held(p) == {("seq", "USAGE")}


def test_db_datawriter_takes_sequence_values_but_cannot_reset_them() -> None:
    p = _plan(memberships=(member("db_datawriter", "u"),))
    role = (
        "sales_db_datawriter"
        if any(r.name == "sales_db_datawriter" for r in p.roles)
        else "db_datawriter"
    )
    assert {(g.name, g.privilege) for g in p.grants if g.grantee == role and g.name == "seq"} == {
        ("seq", "USAGE")
    }
    sequences = {
        d.privilege
        for d in p.default_privileges
        if d.grantee == role and d.object_type == "SEQUENCES"
    }
    assert sequences == {"USAGE"}


def test_view_database_state_is_cluster_wide_and_says_so() -> None:
    p = _plan(perm("VIEW DATABASE STATE", "u", "DATABASE"))
    assert ("pg_read_all_stats", "u") in {(m.role, m.member) for m in p.memberships}
    assert _disposition(p, "VIEW DATABASE STATE") == Disposition.APPROXIMATED
    [finding] = [f for f in p.findings if f.rule_id == "GB040"]
    assert "cluster-wide" in finding.action


def test_public_loses_usage_on_user_defined_types() -> None:
    """PostgreSQL gives PUBLIC USAGE on every type; SQL Server's public has no REFERENCES on
    a type made by CREATE TYPE, so a grant to one role would otherwise change nothing."""
    money = table("s", "money_t", kind=ObjectKind.TYPE)
    db = database(objects=(*OBJECTS, money), users=(user("u", "u"),),
                  permissions=(perm("REFERENCES", "u", "TYPE", schema_name="s", object_name="money_t"),))  # fmt: skip
    p = plan(snapshot(db, logins=(login("u"),)), Policy())
    assert ("money_t", "USAGE") in _held(p)
    revokes = {(r.object_type, r.name, r.privilege, r.grantee) for r in p.revokes}
    assert ("TYPE", "money_t", "USAGE", "PUBLIC") in revokes


@pytest.mark.postgres
def test_on_postgresql_only_the_grantee_may_use_the_type(pg_dsn: str, target: str) -> None:
    money = table("s", "money_t", kind=ObjectKind.TYPE)
    db = database(objects=(money,), users=(user("u", "gbty_u"), user("v", "gbty_v")),
                  permissions=(perm("REFERENCES", "u", "TYPE", schema_name="s", object_name="money_t"),))  # fmt: skip
    snap = snapshot(db, logins=(login("gbty_u"), login("gbty_v")))
    migration = contoso.rename_databases(plan(snap, Policy()), {"sales": target})
    ensure_databases(pg_dsn, migration, create=True)
    assert verify_plan(migration, pg_dsn, embedded=False) == []
    with applied(pg_dsn, migration, render_sql(migration), target) as conn:
        answers = {
            login_name: conn.execute(
                "SELECT has_type_privilege(%s, 's.money_t', 'USAGE')", [login_name]
            ).fetchone()
            for login_name in ("gbty_u", "gbty_v")
        }
    assert answers == {"gbty_u": (True,), "gbty_v": (False,)}


def test_control_on_a_table_grants_truncate_and_says_what_it_grants() -> None:
    """CONTROL implies ALTER ("GRANT Object Permissions"), and TRUNCATE TABLE needs ALTER
    ("TRUNCATE TABLE (Transact-SQL)", Permissions): the CONTROL holder may truncate. The GB040
    text names each privilege the plan grants, and says MAINTAIN (PostgreSQL 17) is not."""
    view = table("s", "v", kind=ObjectKind.VIEW)
    db = database(objects=(*OBJECTS, view), users=(user("u", "u"),),
                  permissions=(perm("CONTROL", "u", schema_name="s", object_name="t"),
                               perm("CONTROL", "u", schema_name="s", object_name="v")))  # fmt: skip
    p = plan(snapshot(db, logins=(login("u"),)), Policy())
    on_table = {privilege for name, privilege in _held(p) if name == "t"}
    on_view = {privilege for name, privilege in _held(p) if name == "v"}
    assert on_table == {"SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES",
                        "TRIGGER"}  # fmt: skip
    assert on_view == on_table - {"TRUNCATE"}
    actions = {f.action for f in p.findings if f.rule_id == "GB040" and f.principal == "u"}
    assert len(actions) == 1
    (action,) = actions
    assert all(privilege in action for privilege in on_table)
    assert "Every privilege" not in action
    assert "MAINTAIN (PostgreSQL 17) is not granted" in action
