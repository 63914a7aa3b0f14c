"""contoso's modules and security policy, migrated and run on real PostgreSQL.

The plan's own scripts are applied (roles, memberships, stubs, 03 … 07) in one transaction that
is rolled back, like ``verify``; the stub of ``sales.usp_PlaceOrder`` is given a body that writes
``sales.orders`` before 07 makes it SECURITY DEFINER. Then, as each mapped role:

* the RLS policy returns the rows the SQL Server predicate would
  (``@TenantId = SESSION_CONTEXT('TenantId') OR USER_NAME() = 'dbo'``), for two tenants;
* a mapped caller without any privilege on ``sales.orders`` can run the procedure, which
  inserts through the owner's privileges, while a role without EXECUTE cannot.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql

from mapper.plan import MigrationPlan
from mapper.planner import plan
from mapper.policy import Modules, Policy
from mssql_extract.tsql import extract_scripts
from pg_emit.apply import APPLY_ORDER
from pg_emit.psql import parse_script
from pg_emit.render import render_sql
from pg_emit.server import connect
from pg_emit.stubs import create_stubs
from pg_emit.verify import ensure_databases
from tests.conftest import CONTOSO, ROOT

#: (tenant, row count) put into sales.orders.
ROWS = {1: 3, 2: 2}
PROCEDURE_BODY = (
    "CREATE OR REPLACE PROCEDURE sales.usp_placeorder() LANGUAGE plpgsql AS "
    "$body$BEGIN INSERT INTO sales.orders (orderid, tenantid) VALUES ('new', 1); END$body$"
)


@pytest.fixture(scope="module")
def contoso_plans() -> dict[str, MigrationPlan]:
    with contextlib.chdir(ROOT):
        snapshot = extract_scripts([CONTOSO.relative_to(ROOT)], include_definitions=True)
    return {
        mode: plan(snapshot, Policy(modules=Modules(mode=mode)))
        for mode in ("security_definer", "grant_underlying")
    }


@contextlib.contextmanager
def applied_sales(dsn: str, migration: MigrationPlan) -> Iterator[psycopg.Connection[Any]]:
    """``sales`` with the plan applied (procedure body in place before 07), rolled back."""
    scripts = render_sql(migration)
    ensure_databases(dsn, migration, create=True)
    with connect(dsn, "sales", autocommit=False) as conn:
        try:
            _run(conn, scripts, cluster=True)
            create_stubs(conn, migration, "sales")
            conn.execute(PROCEDURE_BODY.encode())  # keeps the stub's owner and ACL
            _run(conn, scripts, cluster=False)
            for tenant, count in ROWS.items():
                conn.execute(
                    "INSERT INTO sales.orders (orderid, tenantid) "
                    "SELECT g::text, %s FROM generate_series(1, %s) AS g",
                    [tenant, count],
                )
            yield conn
        finally:
            conn.rollback()


def _run(conn: psycopg.Connection[Any], scripts: dict[str, str], *, cluster: bool) -> None:
    for name in APPLY_ORDER:
        for section in parse_script(scripts[name], name):
            if (section.database is None) == cluster and (cluster or section.database == "sales"):
                for statement in section.statements:
                    conn.execute(statement.encode())


def _as(conn: psycopg.Connection[Any], role: str, tenant: int | None) -> None:
    conn.execute("RESET ROLE")
    conn.execute(
        "SELECT set_config('app.tenantid', %s, true)", ["" if tenant is None else str(tenant)]
    )
    conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(role)))


def _count(conn: psycopg.Connection[Any], role: str, tenant: int | None) -> int:
    _as(conn, role, tenant)
    row = conn.execute("SELECT count(*) FROM sales.orders").fetchone()
    conn.execute("RESET ROLE")
    return int(row[0]) if row else -1


def _roles_with(conn: psycopg.Connection[Any], migration: MigrationPlan, check: str) -> list[str]:
    found = []
    for role in migration.roles:
        if role.kind.value in {"owner", "predefined"} or not role.name.startswith("sales_"):
            continue
        row = conn.execute(check, [role.name]).fetchone()
        if row and row[0]:
            found.append(role.name)
    return found


def sql_server_count(user_is_dbo: bool, tenant: int | None) -> int:
    """What the SQL Server predicate lets a user see (evaluated on the same rows)."""
    return sum(n for t, n in ROWS.items() if t == tenant or user_is_dbo)


def test_contoso_policy_is_planned(contoso_plans: dict[str, MigrationPlan]) -> None:
    (rls,) = contoso_plans["security_definer"].row_security
    assert (rls.schema_name, rls.table_name, rls.force) == ("sales", "orders", True)
    assert {p.name for p in rls.policies} == {
        "tenantisolation_filter",
        "tenantisolation_block_after_insert",
    }


def test_rls_filters_like_sql_server(
    embedded_pg: str, contoso_plans: dict[str, MigrationPlan]
) -> None:
    migration = contoso_plans["security_definer"]
    (rls,) = migration.row_security
    dbo_role = "sales_owner"  # USER_NAME() = N'dbo' → the role dbo became
    assert f"CURRENT_USER = '{dbo_role}'" in (rls.policies[0].using or rls.policies[1].using or "")
    with applied_sales(embedded_pg, migration) as conn:
        readers = _roles_with(
            conn, migration, "SELECT has_table_privilege(%s, 'sales.orders', 'SELECT')"
        )
        assert len(readers) >= 2, readers
        assert {"sales_sales_readers", "sales_sales_staff"} <= set(readers)
        for role in readers:  # every mapped reader, both tenants and no tenant set
            for tenant in (1, 2, None):
                assert _count(conn, role, tenant) == sql_server_count(False, tenant), (role, tenant)
        assert _count(conn, dbo_role, None) == sql_server_count(True, None)


def test_security_definer_callable_by_callers_only(
    embedded_pg: str, contoso_plans: dict[str, MigrationPlan]
) -> None:
    migration = contoso_plans["security_definer"]
    routine = next(r for r in migration.routine_security if r.name == "usp_placeorder")
    with applied_sales(embedded_pg, migration) as conn:
        no_table = set(
            _roles_with(
                conn,
                migration,
                "SELECT NOT has_table_privilege(%s, 'sales.orders', 'INSERT,SELECT')",
            )
        )
        callers = sorted(no_table & set(routine.callers))
        assert callers, (routine.callers, no_table)  # e.g. sales_sales_bot: EXECUTE, no table grant
        outsiders = _roles_with(
            conn,
            migration,
            "SELECT NOT has_function_privilege(%s, 'sales.usp_placeorder()', 'EXECUTE')",
        )
        assert outsiders
        _as(conn, callers[0], 1)
        conn.execute("CALL sales.usp_placeorder()")
        with pytest.raises(psycopg.errors.InsufficientPrivilege), conn.transaction():
            conn.execute("INSERT INTO sales.orders (orderid, tenantid) VALUES ('x', 1)")
        _as(conn, outsiders[0], 1)
        with pytest.raises(psycopg.errors.InsufficientPrivilege), conn.transaction():
            conn.execute("CALL sales.usp_placeorder()")
        conn.execute("RESET ROLE")
        row = conn.execute("SELECT count(*) FROM sales.orders WHERE orderid = 'new'").fetchone()
        assert row == (1,)


def test_grant_underlying_grants_the_tables_with_a_widening_finding(
    contoso_plans: dict[str, MigrationPlan],
) -> None:
    migration = contoso_plans["grant_underlying"]
    assert migration.routine_security == ()
    widening = [f for f in migration.findings if f.rule_id == "GB340"]
    assert any(f.securable == "sales.customercards:SELECT" for f in widening)
    granted = {(g.name, g.privilege, g.grantee) for g in migration.grants}
    assert ("customercards", "SELECT", "sales_sales_bot") in granted
    definer = contoso_plans["security_definer"]
    assert ("customercards", "SELECT", "sales_sales_bot") not in {
        (g.name, g.privilege, g.grantee) for g in definer.grants
    }
