"""Module analysis: references, EXECUTE AS, dynamic SQL, cross-database names, unparsed bodies."""

from __future__ import annotations

import pytest

from mapper.module_findings import module_findings
from mapper.module_reach import chain_finding, chain_groups, chain_reliance
from mapper.modules import analyze_definition
from mssql_extract.snapshot import (
    AuthenticationType,
    Database,
    DbObject,
    ObjectKind,
    Permission,
    PermissionState,
    Schema,
    SecuritySnapshot,
    Server,
    SourceRef,
    User,
    UserType,
)

REF = SourceRef(origin="test.sql", line=1)


def analyse(body: str, header: str = "CREATE PROCEDURE dbo.p @a int, @t sysname AS\n"):
    return analyze_definition("dbo", "p", header + body)


@pytest.mark.parametrize(
    ("body", "kind", "concatenated", "parameterised", "quotename_all"),
    [
        ("DECLARE @s nvarchar(max) = N'SELECT * FROM dbo.t WHERE a = ' + CAST(@a AS nvarchar)\nEXEC (@s)", "EXEC", True, False, False),
        ("EXECUTE('SELECT * FROM ' + @t)", "EXEC", True, False, False),
        ("EXEC (N'SELECT * FROM ' + QUOTENAME(@t))", "EXEC", True, False, True),
        ("DECLARE @s nvarchar(max) = N'SELECT 1'\nEXEC (@s)", "EXEC", False, False, False),
        ("EXEC sp_executesql N'SELECT * FROM dbo.t WHERE a = @a', N'@a int', @a = @a", "sp_executesql", False, True, False),
        ("EXEC sp_executesql @stmt = N'SELECT 1'", "sp_executesql", False, False, False),
        ("DECLARE @s nvarchar(max) = N'SELECT * FROM ' + QUOTENAME(@t) + N' WHERE a = @a'\nEXEC sp_executesql @s, N'@a int', @a", "sp_executesql", True, True, True),
        ("DECLARE @s nvarchar(max) = N'SELECT * FROM ' + @t\nEXEC sp_executesql @s", "sp_executesql", True, False, False),
        ("DECLARE @s nvarchar(max) = N'SELECT * FROM ' + QUOTENAME(@t)\nSET @s += N' WHERE b = ' + @t\nEXECUTE (@s)", "EXEC", True, False, False),
        ("DECLARE @s nvarchar(max) = N'SELECT * FROM x'\nSET @s = @s + N' WHERE c = ' + QUOTENAME(@t, '''')\nEXEC sp_executesql @s", "sp_executesql", True, False, True),
    ],
)  # fmt: skip
def test_dynamic_sql_patterns(body, kind, concatenated, parameterised, quotename_all) -> None:
    (dynamic,) = analyse(body).dynamic_sql
    assert (dynamic.kind, dynamic.concatenated, dynamic.parameterised, dynamic.quotename_all) == (
        kind, concatenated, parameterised, quotename_all,
    )  # fmt: skip
    assert bool(dynamic.unquoted_parts) == (concatenated and not quotename_all)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("CREATE PROCEDURE dbo.p WITH EXECUTE AS OWNER AS\n", "OWNER"),
        ("CREATE PROC dbo.p @a int WITH ENCRYPTION, EXECUTE AS 'app_reader' AS\n", "app_reader"),
        ("CREATE OR ALTER PROCEDURE dbo.p WITH EXEC AS SELF AS\n", "SELF"),
        ("CREATE FUNCTION dbo.f (@a int) RETURNS int WITH EXECUTE AS CALLER AS BEGIN\n", "CALLER"),
        ("CREATE PROCEDURE dbo.p @a AS int AS\n", None),
    ],
)
def test_execute_as_forms(header: str, expected: str | None) -> None:
    assert analyse("SELECT 1 FROM dbo.t", header).execute_as == expected


def test_references_with_access_kinds_and_cross_database() -> None:
    body = """BEGIN
    IF EXISTS (SELECT 1 FROM dbo.Flags) BEGIN
        INSERT INTO dbo.Audit (x) SELECT x FROM Archive.dbo.History
    END ELSE
        UPDATE o SET total = 0 FROM dbo.Orders o WHERE o.id = @a
    DELETE FROM Lines WHERE id = @a
    MERGE dbo.Target AS t USING dbo.Source AS s ON t.id = s.id
        WHEN MATCHED THEN UPDATE SET t.v = s.v WHEN NOT MATCHED THEN INSERT (id) VALUES (s.id);
    INSERT INTO dbo.Log EXEC dbo.Collect @a
    SELECT dbo.fmt(x) FROM #tmp
    EXEC dbo.Notify @a
    END"""
    found = {r.key for r in analyse(body).references}
    assert found == {
        "dbo.flags:SELECT", "archive.dbo.history:SELECT", "dbo.audit:INSERT",
        "dbo.orders:UPDATE", "dbo.orders:SELECT", "lines:DELETE", "dbo.target:INSERT",
        "dbo.target:UPDATE", "dbo.source:SELECT", "dbo.log:INSERT", "dbo.collect:EXECUTE",
        "dbo.fmt:EXECUTE", "dbo.notify:EXECUTE",
    }  # fmt: skip
    assert analyse(body).cross_database == ("Archive.dbo.History",)


def test_unparseable_statements_are_reported_not_dropped() -> None:
    analysis = analyse("SELECT a FROM dbo.t\nBULK INSERT dbo.t FROM 'x.csv'\nSELECT b FROM dbo.u")
    assert [r.key for r in analysis.references] == ["dbo.t:SELECT", "dbo.u:SELECT"]
    assert len(analysis.unparsed) == 1
    assert "line 3" in analysis.unparsed[0]
    assert "BULK INSERT" in analysis.unparsed[0]


def test_untokenizable_body_is_reported() -> None:
    analysis = analyze_definition("dbo", "p", "CREATE PROCEDURE dbo.p AS SELECT 'unterminated")
    assert analysis.unparsed
    assert not analysis.references


@pytest.mark.parametrize(
    ("header", "body", "rule"),
    [
        ("CREATE PROCEDURE dbo.p @t sysname WITH EXECUTE AS OWNER AS\n", "EXEC ('SELECT * FROM ' + @t)", "GB302"),
        ("CREATE PROCEDURE dbo.p @t sysname AS\n", "EXEC ('SELECT * FROM ' + @t)", "GB303"),
        ("CREATE PROCEDURE dbo.p @t sysname WITH EXECUTE AS OWNER AS\n", "EXEC ('SELECT * FROM ' + QUOTENAME(@t))", "GB304"),
        ("CREATE PROCEDURE dbo.p @a int AS\n", "EXEC sp_executesql N'SELECT @a', N'@a int', @a", "GB305"),
    ],
)  # fmt: skip
def test_dynamic_sql_findings(header: str, body: str, rule: str) -> None:
    rules = {f.rule_id for f in module_findings(analyze_definition("dbo", "p", header + body))}
    assert rule in rules
    assert ("GB300" in rules) == ("OWNER" in header)


def _database(objects: tuple[DbObject, ...], permissions: tuple[Permission, ...] = ()) -> Database:
    return Database(
        name="Sales",
        schemas=(Schema(name="dbo", owner="dbo", source_ref=REF), Schema(name="ext", owner="bob", source_ref=REF)),
        users=tuple(
            User(name=n, type=UserType.SQL, authentication_type=AuthenticationType.NONE, source_ref=REF)
            for n in ("bob", "clerk")
        ),
        objects=objects,
        permissions=permissions,
        source_ref=REF,
    )  # fmt: skip


def test_ownership_chain_reliance_with_real_engine() -> None:
    from mapper.effective import EffectivePermissions

    proc = DbObject(schema_name="dbo", name="GetOrders", kind=ObjectKind.PROCEDURE, source_ref=REF,
                    definition="CREATE PROCEDURE dbo.GetOrders AS SELECT * FROM dbo.Orders JOIN ext.Rates ON 1=1")  # fmt: skip
    objects = (
        proc,
        DbObject(schema_name="dbo", name="Orders", kind=ObjectKind.TABLE, source_ref=REF),
        DbObject(schema_name="ext", name="Rates", kind=ObjectKind.TABLE, source_ref=REF),
    )
    grant = Permission(securable_class="OBJECT", schema_name="dbo", object_name="GetOrders",
                       permission="EXECUTE", state=PermissionState.GRANT, grantee="clerk", source_ref=REF)  # fmt: skip
    database = _database(objects, (grant,))
    snapshot = SecuritySnapshot(server=Server(name="s"), databases=(database,))
    chains = chain_reliance(database, [analyze_definition("dbo", "GetOrders", proc.definition or "")],
                            EffectivePermissions(snapshot))  # fmt: skip
    # dbo.Orders: same owner (dbo) → relies on the chain; ext.Rates owned by bob: chain broken
    assert [(c.principal, c.target_name, c.access) for c in chains] == [
        ("clerk", "Orders", "SELECT")
    ]
    (group,) = chain_groups(chains).values()
    finding = chain_finding(group)
    assert finding.rule_id == "GB306"
    assert (finding.principal, finding.securable) == ("clerk", "dbo.GetOrders")
    assert finding.evidence.endswith(": SELECT on dbo.Orders")


def test_declare_without_value_then_set_concatenation() -> None:
    # sqlglot gives a DECLARE without "= value" the default False, not an expression
    body = "DECLARE @s nvarchar(max);\nSET @s = N'SELECT * FROM t WHERE n LIKE ''' + @t + N'''';\nEXEC (@s)"
    (dynamic,) = analyse(body).dynamic_sql
    assert dynamic.concatenated
    assert dynamic.unquoted_parts == ("@t",)
