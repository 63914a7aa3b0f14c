"""RLS translation: faithful and unfaithful predicates, and a real-PostgreSQL tenant check."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql

from mapper.rls import REPORT_NOTE, translate_policies
from mssql_extract.snapshot import (
    Database,
    DbObject,
    ObjectKind,
    SecurityPolicy,
    SecurityPredicate,
    SourceRef,
)
from tests.conftest import skip_unless_ci

REF = SourceRef(origin="test.sql", line=1)
DSN = os.environ.get("GRANTBRIDGE_TEST_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
CALL = "([Security].[fn_tenant]([TenantId]))"


def database(where: str, predicates: tuple[SecurityPredicate, ...] | None = None) -> Database:
    fn = DbObject(
        schema_name="Security", name="fn_tenant", kind=ObjectKind.TABLE_FUNCTION, source_ref=REF,
        definition="CREATE FUNCTION Security.fn_tenant(@TenantId int) RETURNS TABLE "
        f"WITH SCHEMABINDING AS RETURN SELECT 1 AS r WHERE {where}",
    )  # fmt: skip
    predicates = predicates or (
        SecurityPredicate(predicate_type="FILTER", target_schema="dbo", target_table="Orders",
                          predicate_definition=CALL),
        SecurityPredicate(predicate_type="BLOCK", operation="AFTER INSERT", target_schema="dbo",
                          target_table="Orders", predicate_definition=CALL),
    )  # fmt: skip
    policy = SecurityPolicy(
        schema_name="Security", name="TenantPolicy", predicates=predicates, source_ref=REF
    )
    return Database(name="Sales", objects=(fn,), security_policies=(policy,), source_ref=REF)


def test_session_context_filter_and_block() -> None:
    (rls,) = translate_policies(database("@TenantId = CAST(SESSION_CONTEXT(N'TenantId') AS int)"))
    assert rls.faithful
    assert rls.enable
    assert rls.force
    expected = "tenantid = CAST(NULLIF(CURRENT_SETTING('app.tenantid', TRUE), '') AS INT)"
    by_name = {p.name: p for p in rls.policies}
    assert by_name["tenantpolicy_filter"].model_dump() == {
        "name": "tenantpolicy_filter", "command": "ALL", "permissive": True,
        "using": expected, "with_check": "true",
    }  # fmt: skip
    block = by_name["tenantpolicy_block_after_insert"]
    assert (block.command, block.permissive, block.using, block.with_check) == (
        "INSERT",
        False,
        None,
        expected,
    )


def test_user_functions_and_membership_map_through_role_names() -> None:
    where = "USER_NAME() = 'Admin' OR IS_MEMBER('Auditors') = 1 OR SUSER_SNAME() = N'ops' OR IS_MEMBER('x') = 0"
    (rls,) = translate_policies(database(where), role_name=lambda n: f"sales_{n.lower()}")
    using = next(p.using for p in rls.policies if p.name.endswith("filter"))
    assert using == (
        "CURRENT_USER = 'sales_admin' OR PG_HAS_ROLE(CURRENT_USER, 'sales_auditors', 'MEMBER') "
        "OR CURRENT_USER = 'sales_ops' OR NOT PG_HAS_ROLE(CURRENT_USER, 'sales_x', 'MEMBER')"
    )


def test_uncast_session_context_uses_known_column_type() -> None:
    db = database("@TenantId = SESSION_CONTEXT(N'TenantId')")
    (unknown,) = translate_policies(db)
    assert not unknown.faithful
    assert "column type is unknown" in (unknown.finding or "")
    (known,) = translate_policies(db, column_types={"dbo.Orders.TenantId": "integer"})
    assert known.faithful
    cast = "CAST(NULLIF(CURRENT_SETTING('app.tenantid', TRUE), '') AS INT)"
    assert all(cast in (p.using or p.with_check or "") for p in known.policies)


@pytest.mark.parametrize(
    "where",
    [
        "@TenantId = dbo.lookup_tenant()",  # user function
        "@TenantId IN (SELECT TenantId FROM dbo.UserTenants)",  # reads another table
        "@TenantId = CAST(CONTEXT_INFO() AS int)",  # no equivalent
        "@TenantId = CAST(SESSION_CONTEXT(@key) AS int)",  # non-constant key
    ],
)
def test_unfaithful_predicates_emit_no_policy(where: str) -> None:
    (rls,) = translate_policies(database(where))
    assert not rls.faithful
    assert rls.policies == ()
    assert CALL in (rls.finding or "")
    assert rls.findings[0].rule_id == "GB320"


def test_block_without_operation_covers_all_four() -> None:
    predicates = (SecurityPredicate(predicate_type="BLOCK", target_schema="dbo", target_table="Orders",
                                    predicate_definition=CALL),)  # fmt: skip
    (rls,) = translate_policies(database("@TenantId = 1", predicates))
    shapes = {(p.name, p.command, p.permissive, p.using, p.with_check) for p in rls.policies}
    assert shapes == {
        ("tenantpolicy_permit", "ALL", True, "true", "true"),
        ("tenantpolicy_block_after_insert", "INSERT", False, None, "tenantid = 1"),
        ("tenantpolicy_block_after_update", "UPDATE", False, "true", "tenantid = 1"),
        ("tenantpolicy_block_before_update", "UPDATE", False, "tenantid = 1", None),
        ("tenantpolicy_block_before_delete", "DELETE", False, "tenantid = 1", None),
    }


def test_report_note_mentions_owner_bypass_and_read_all_data() -> None:
    assert "FORCE ROW LEVEL SECURITY" in REPORT_NOTE
    assert "pg_read_all_data" in REPORT_NOTE


# --------------------------------------------------------------------------- real PostgreSQL


@pytest.fixture
def scratch_dsn() -> Iterator[str]:
    """A throwaway database on the machine PostgreSQL; fails (never skips) under CI=true."""
    try:
        admin = psycopg.connect(DSN, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        skip_unless_ci(f"PostgreSQL unreachable: {exc}")
    name = f"gb_rls_{uuid.uuid4().hex[:12]}"
    with admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        try:
            yield psycopg.conninfo.make_conninfo(DSN, dbname=name)
        finally:
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def test_translated_policy_filters_rows_per_tenant(scratch_dsn: str) -> None:
    where = "@TenantId = CAST(SESSION_CONTEXT(N'TenantId') AS int) OR IS_MEMBER('Auditors') = 1"
    (rls,) = translate_policies(database(where), role_name=lambda n: f"gb_{n.lower()}")
    suffix = uuid.uuid4().hex[:8]
    roles = {
        "tenant_a": f"gb_a_{suffix}",
        "tenant_b": f"gb_b_{suffix}",
        "auditor": f"gb_au_{suffix}",
    }
    with psycopg.connect(scratch_dsn, autocommit=True) as conn:
        try:
            _setup(conn, rls, roles)
            assert _count(conn, roles["tenant_a"], 1) == 3
            assert _count(conn, roles["tenant_b"], 2) == 2
            assert _count(conn, roles["tenant_a"], None) == 0  # no session setting: no rows
            assert _count(conn, roles["auditor"], None) == 5  # IS_MEMBER('Auditors') = 1
            with pytest.raises(psycopg.errors.InsufficientPrivilege):  # BLOCK AFTER INSERT
                _insert(conn, roles["tenant_a"], 1, tenant=2)
            _insert(conn, roles["tenant_a"], 1, tenant=1)
        finally:
            conn.execute("RESET ROLE")
            conn.execute("DROP SCHEMA IF EXISTS dbo CASCADE")
            for role in (*roles.values(), "gb_auditors"):
                conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def _setup(conn: psycopg.Connection, rls, roles: dict[str, str]) -> None:
    conn.execute("CREATE SCHEMA dbo")
    conn.execute("CREATE TABLE dbo.orders (id serial, tenantid int)")
    conn.execute("INSERT INTO dbo.orders (tenantid) VALUES (1), (1), (1), (2), (2)")
    conn.execute("DROP ROLE IF EXISTS gb_auditors")
    conn.execute("CREATE ROLE gb_auditors NOLOGIN")
    for role in roles.values():
        conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(role)))
        conn.execute(sql.SQL("GRANT USAGE ON SCHEMA dbo TO {}").format(sql.Identifier(role)))
        conn.execute(
            sql.SQL("GRANT SELECT, INSERT ON dbo.orders TO {}").format(sql.Identifier(role))
        )
        conn.execute(
            sql.SQL("GRANT USAGE ON SEQUENCE dbo.orders_id_seq TO {}").format(sql.Identifier(role))
        )
    conn.execute(sql.SQL("GRANT gb_auditors TO {}").format(sql.Identifier(roles["auditor"])))
    conn.execute("ALTER TABLE dbo.orders ENABLE ROW LEVEL SECURITY")
    conn.execute("ALTER TABLE dbo.orders FORCE ROW LEVEL SECURITY")
    for policy in rls.policies:
        statement = f"CREATE POLICY {policy.name} ON dbo.orders AS {'PERMISSIVE' if policy.permissive else 'RESTRICTIVE'} FOR {policy.command}"
        statement += f" USING ({policy.using})" if policy.using else ""
        statement += f" WITH CHECK ({policy.with_check})" if policy.with_check else ""
        conn.execute(statement.encode())


def _as(conn: psycopg.Connection, role: str, tenant: int | None) -> None:
    conn.execute("RESET ROLE")
    conn.execute(
        "SELECT set_config('app.tenantid', %s, false)", ["" if tenant is None else str(tenant)]
    )
    if tenant is None:
        conn.execute("RESET app.tenantid")
    conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(role)))


def _count(conn: psycopg.Connection, role: str, tenant: int | None) -> int:
    _as(conn, role, tenant)
    row = conn.execute("SELECT count(*) FROM dbo.orders").fetchone()
    return int(row[0]) if row else -1


def _insert(conn: psycopg.Connection, role: str, session_tenant: int, tenant: int) -> None:
    _as(conn, role, session_tenant)
    conn.execute("INSERT INTO dbo.orders (tenantid) VALUES (%s)", [tenant])
