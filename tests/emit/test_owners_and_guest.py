"""Owners and guest on real PostgreSQL: verify passes and PostgreSQL answers like SQL Server.

A small estate where a role owns a schema, a user without login owns a table in it, a member of
the owning role is denied something else (DENY restructuring moves it off the role), and guest
is enabled. Under the default policy (ownership downscoped) and with ``GB016 = "faithful"``,
every (principal, object, privilege) either agrees with :mod:`mapper.effective` or is explained
by a disposition (tests/emit/fidelity.py); faithful ownership leaves nothing to explain.
"""

from __future__ import annotations

import pytest

from mapper.plan import MigrationPlan
from mapper.planner import plan
from mapper.policy import Policy
from mssql_extract.snapshot import DbObject, ObjectKind, Schema, SecuritySnapshot
from pg_emit.render import render_sql
from pg_emit.verify import applied, ensure_databases, verify_plan
from tests.emit import contoso
from tests.emit.fidelity import Explainer, Outcome, checks, postgres_answers
from tests.mapper.estate import (
    FAITHFUL_OWNERS,
    REF,
    database,
    login,
    member,
    perm,
    role,
    snapshot,
    table,
    user,
)

pytestmark = pytest.mark.postgres


def _estate() -> SecuritySnapshot:
    leads = DbObject(schema_name="crm", name="Leads", kind=ObjectKind.TABLE,
                     columns=("id", "email"), owner="bot", source_ref=REF)  # fmt: skip
    db = database(
        "Owned", owner="gbo_dba", guest_enabled=True,
        schemas=(Schema(name="dbo", owner="dbo", source_ref=REF),
                 Schema(name="crm", owner="managers", source_ref=REF)),
        objects=(table("dbo", "Orders", "id", "total"), table("dbo", "Kpis", "name"), leads,
                 table("crm", "usp_Search", kind=ObjectKind.PROCEDURE)),
        roles=(role("managers"),),
        users=(user("app", "gbo_app"), user("bot")),
        memberships=(member("managers", "app"),),
        permissions=(perm("SELECT", "managers", schema_name="dbo", object_name="Orders"),
                     perm("SELECT", "app", state="D", schema_name="dbo", object_name="Orders"),
                     perm("CONNECT", "guest", "DATABASE"),
                     perm("SELECT", "guest", schema_name="dbo", object_name="Kpis")),
    )  # fmt: skip
    logins = (login("gbo_app"), login("gbo_visitor"), login("gbo_dba"))
    return snapshot(db, logins=logins)


def _outcomes(dsn: str, migration: MigrationPlan, snap: SecuritySnapshot) -> list[Outcome]:
    explainer, (db,) = Explainer(snap, migration), snap.databases
    items = checks(migration, db)
    assert {c.principal for c in items} >= {"app", "bot", "dbo", "guest", "public"}
    with applied(dsn, migration, render_sql(migration), migration.databases[0].name) as conn:
        answers = postgres_answers(conn, items)
        # guest's grants reach the login without a user, not the login with one
        visitor, app = (
            conn.execute("SELECT has_table_privilege(%s, 'dbo.kpis', 'SELECT')", [r]).fetchone()
            for r in ("gbo_visitor", "gbo_app")
        )  # fmt: skip
        assert visitor == (True,)
        assert app == (False,)
    found = (explainer.explain(c, a) for c, a in zip(items, answers, strict=True))
    return [o for o in found if o is not None]


@pytest.mark.parametrize("faithful", [False, True], ids=["downscope", "faithful"])
def test_owners_and_guest_agree_with_sql_server(pg_dsn: str, target: str, faithful: bool) -> None:
    snap = _estate()
    base = plan(snap, FAITHFUL_OWNERS if faithful else Policy())
    migration = contoso.rename_databases(base, {"owned": target})
    ensure_databases(pg_dsn, migration, create=True)
    assert verify_plan(migration, pg_dsn, embedded=False) == []
    outcomes = _outcomes(pg_dsn, migration, snap)
    assert [o.check.label() for o in outcomes if not o.explained_by] == []
    ownership = {"Owned/schema:crm", "Owned/object:crm.leads"}
    by_ownership = [o for o in outcomes if {f for _, f in o.explained_by} & ownership]
    if faithful:
        assert by_ownership == []  # members of their owner roles: everything agrees
    else:  # REFERENCES and ALTER (TRUNCATE, TRIGGER) are what a downscoped owner loses (no DDL)
        assert by_ownership
        assert {o.check.permission for o in by_ownership} == {"REFERENCES", "ALTER"}
        assert {o.explained_by[0][0] for o in by_ownership} == {"downscoped"}
