"""A second CREATE of a name the scripts created already: SQL Server refuses it (Msg 15025,
15023, 2714, 219, 1801 …) and sqlcmd goes on, so the first definition and everything granted on
it stand. Plain, the refused statement is reported (GB045); under an existence check naming it,
SQL Server skips it and so does the replay, in silence. DROP then CREATE, CREATE OR ALTER and
ALTER replace, as in SQL Server."""

from __future__ import annotations

from pathlib import Path

import pytest

from mapper.planner import plan
from mapper.policy import Policy
from mapper.translate.skipped import harmless
from mssql_extract.snapshot import LoginType, SecuritySnapshot, Skipped
from mssql_extract.tsql import extract_scripts
from tests.extract.tsql_helpers import db, perms, snap

U = "USE d\nGO\n"
G = ("OBJECT", "dbo", "t", None, "SELECT", "G", "r")


def _refused(s: SecuritySnapshot, line: int, message: int) -> Skipped:
    """The one skipped item: the refused CREATE at ``line`` of t.sql, reported by the plan."""
    [item] = s.skipped
    assert (item.kind, item.source_ref.origin, item.source_ref.line) == ("statement", "t.sql", line)
    assert "already exists" in item.reason
    assert f"SQL Server refuses it (Msg {message})" in item.reason
    assert not harmless(item), item.reason
    return item


def test_a_second_create_role_keeps_the_first_owner_and_the_grants() -> None:
    s = snap(
        U
        + "CREATE ROLE r AUTHORIZATION a;\nGRANT SELECT ON t TO r;\nCREATE ROLE r AUTHORIZATION b;\n"
    )
    assert [(r.name, r.owner) for r in db(s).roles] == [("r", "a")]
    assert perms(s) == {G}
    item = _refused(s, 5, 15023)
    assert "role 'r' already exists (t.sql:3:1)" in item.reason
    assert item.text == "CREATE ROLE r AUTHORIZATION b"


@pytest.mark.parametrize(
    ("sql", "line", "message", "check"),
    [
        # names fold as SQL Server's default collation does
        ("CREATE ROLE r AUTHORIZATION a\nCREATE ROLE [R] AUTHORIZATION b\n", 4, 15023,
         lambda s: [(r.name, r.owner) for r in db(s).roles] == [("r", "a")]),
        # users, roles and application roles share one namespace (sys.database_principals)
        ("CREATE USER r WITHOUT LOGIN\nCREATE ROLE r AUTHORIZATION b\n", 4, 15023,
         lambda s: ([u.name for u in db(s).users], db(s).roles) == (["r"], ())),
        ("CREATE LOGIN l1 WITH PASSWORD = 'p'\nCREATE USER u FOR LOGIN l1 WITH DEFAULT_SCHEMA = s1\n"
         "CREATE USER u WITHOUT LOGIN WITH DEFAULT_SCHEMA = s2\n", 5, 15023,
         lambda s: [(u.login, u.default_schema) for u in db(s).users] == [("l1", "s1")]),
        ("CREATE APPLICATION ROLE a WITH PASSWORD = 'p', DEFAULT_SCHEMA = s1\n"
         "CREATE APPLICATION ROLE a WITH PASSWORD = 'q', DEFAULT_SCHEMA = s2\n", 4, 15023,
         lambda s: [a.default_schema for a in db(s).application_roles] == ["s1"]),
        ("EXEC sp_addrole 'r', 'a'\nEXEC sp_addrole 'r', 'b'\n", 4, 15023,
         lambda s: [r.owner for r in db(s).roles] == ["a"]),
        ("EXEC sp_addgroup 'r'\nCREATE ROLE r AUTHORIZATION b\n", 4, 15023,
         lambda s: [r.owner for r in db(s).roles] == [None]),
        # sp_adduser fails whole: no membership either
        ("CREATE USER u WITHOUT LOGIN\nCREATE ROLE g\nEXEC sp_adduser 'l', 'u', 'g'\n", 5, 15023,
         lambda s: (db(s).memberships, db(s).users[0].login) == ((), None)),
        ("CREATE SCHEMA s AUTHORIZATION a\nGO\nCREATE SCHEMA S AUTHORIZATION b\n", 5, 2714,
         lambda s: [(x.name, x.owner) for x in db(s).schemas] == [("s", "a")]),
        # the schema's elements belong to the refused statement: none of them is applied
        ("CREATE SCHEMA s AUTHORIZATION a\nGO\nCREATE SCHEMA s AUTHORIZATION b\n"
         "  CREATE TABLE x (a int) GRANT SELECT ON SCHEMA::s TO r\n", 5, 2714,
         lambda s: (db(s).objects, db(s).permissions) == ((), ())),
        ("CREATE TABLE t (a int)\nGO\nGRANT SELECT ON t (a) TO r\nGO\n"
         "CREATE TABLE t (b int MASKED WITH (FUNCTION = 'default()'))\n", 7, 2714,
         lambda s: ([o.columns for o in db(s).objects], db(s).masked_columns, len(perms(s)))
         == ([("a",)], (), 1)),
        # tables, views, procedures … share one namespace per schema (sys.objects)
        ("CREATE TABLE t (a int)\nGO\nCREATE VIEW dbo.T AS SELECT 1 AS b\n", 5, 2714,
         lambda s: [o.kind.value for o in db(s).objects] == ["TABLE"]),
        ("CREATE PROCEDURE p WITH EXECUTE AS OWNER AS SELECT 1\nGO\n"
         "CREATE PROCEDURE p AS SELECT 2\n", 5, 2714,
         lambda s: [o.execute_as for o in db(s).objects] == ["OWNER"]),
        ("CREATE TYPE ty FROM int\nGO\nCREATE TYPE ty FROM bigint\nGO\n", 5, 219,
         lambda s: [o.source_ref.line for o in db(s).objects] == [3]),
        ("CREATE SEQUENCE q\nGO\nCREATE SYNONYM q FOR dbo.x\n", 5, 2714,
         lambda s: [o.kind.value for o in db(s).objects] == ["SEQUENCE"]),
        ("CREATE SECURITY POLICY sp ADD FILTER PREDICATE dbo.f(a) ON dbo.t\nGO\n"
         "CREATE SECURITY POLICY sp ADD FILTER PREDICATE dbo.g(a) ON dbo.t WITH (STATE = OFF)\n",
         5, 2714, lambda s: [x.enabled for x in db(s).security_policies] == [True]),
    ],
    ids=["case", "user-then-role", "user", "application-role", "sp_addrole", "sp_addgroup",
         "sp_adduser", "schema", "schema-elements", "table", "view-on-table", "procedure",
         "type", "synonym-on-sequence", "security-policy"],
)  # fmt: skip
def test_a_second_create_in_a_database_is_refused(
    sql: str, line: int, message: int, check: object
) -> None:
    s = snap(U + sql)
    _refused(s, line, message)
    assert check(s), s  # type: ignore[operator]


@pytest.mark.parametrize(
    ("sql", "line", "check"),
    [
        ("CREATE LOGIN l WITH PASSWORD = 'p', DEFAULT_DATABASE = d1\n"
         "CREATE LOGIN [L] FROM WINDOWS WITH DEFAULT_DATABASE = d2\n", 2,
         lambda s: [(x.type, x.default_database) for x in s.logins] == [(LoginType.SQL, "d1")]),
        ("EXEC sp_addlogin 'l', 'p', 'd1'\nEXEC sp_addlogin 'l', 'q', 'd2'\n", 2,
         lambda s: [x.default_database for x in s.logins] == ["d1"]),
        # logins and server roles share one namespace (sys.server_principals)
        ("CREATE SERVER ROLE x AUTHORIZATION a\nCREATE LOGIN x WITH PASSWORD = 'p'\n", 2,
         lambda s: (s.logins, [r.owner for r in s.server_roles]) == ((), ["a"])),
        ("CREATE SERVER ROLE x AUTHORIZATION a\nGRANT VIEW SERVER STATE TO x\n"
         "CREATE SERVER ROLE x AUTHORIZATION b\n", 3,
         lambda s: ([r.owner for r in s.server_roles], len(s.server_permissions)) == (["a"], 1)),
    ],
    ids=["login", "sp_addlogin", "server-role-then-login", "server-role"],
)  # fmt: skip
def test_a_second_create_on_the_server_is_refused(sql: str, line: int, check: object) -> None:
    s = snap(sql)
    _refused(s, line, 15025)
    assert check(s), s  # type: ignore[operator]


def test_a_second_create_database_keeps_the_first() -> None:
    s = snap("CREATE DATABASE d CONTAINMENT = PARTIAL\nGO\nUSE d\nGO\nCREATE DATABASE [D]\n")
    assert db(s).containment == "PARTIAL"
    assert db(s).source_ref.line == 1
    _refused(s, 5, 1801)


def test_a_refused_create_login_shows_no_password() -> None:
    s = snap(
        "CREATE LOGIN l WITH PASSWORD = 'Secret1!'\nCREATE LOGIN l WITH PASSWORD = 'Hunter2!'\n"
    )
    _refused(s, 2, 15025)
    assert "Hunter2" not in s.model_dump_json()
    assert "Secret1" not in s.model_dump_json()


def test_a_create_in_a_later_script_names_the_first_file(tmp_path: Path) -> None:
    (tmp_path / "a.sql").write_text("USE d\nGO\nCREATE ROLE r AUTHORIZATION a\n")
    (tmp_path / "b.sql").write_text("USE d\nGO\n\nCREATE ROLE r AUTHORIZATION b\n")
    s = extract_scripts([tmp_path])
    [item] = s.skipped
    assert (Path(item.source_ref.origin).name, item.source_ref.line) == ("b.sql", 4)
    assert "a.sql:3:1" in item.reason
    assert [r.owner for r in db(s).roles] == ["a"]


def test_the_plan_reports_a_refused_create_as_gb045() -> None:
    planned = plan(snap(U + "CREATE ROLE r\nCREATE ROLE r\n"), Policy())
    [found] = [f for f in planned.findings if f.rule_id == "GB045"]
    assert "SQL Server refuses it" in found.evidence
    assert found.source_ref == "t.sql:4:1"
    assert found.action == (
        "Not in the plan: SQL Server refuses the statement; the first definition is planned."
    )


# ----------------------------------------------------------------------- existence checks


@pytest.mark.parametrize(
    "guarded",
    [
        # SSMS "check for object existence"
        "IF NOT EXISTS (SELECT * FROM sys.database_principals WHERE name = N'r')\n"
        "CREATE ROLE [r] AUTHORIZATION [b]",
        "IF DATABASE_PRINCIPAL_ID('R') IS NULL EXEC sys.sp_executesql N'CREATE ROLE [r] "
        "AUTHORIZATION [b]'",
        # the rest of a skipped branch does not run either
        "IF NOT EXISTS (SELECT 1 FROM sys.database_principals WHERE name = 'r') BEGIN\n"
        "  CREATE ROLE r AUTHORIZATION b;\n  ALTER ROLE r ADD MEMBER u;\n  REVOKE SELECT ON t FROM r;\nEND",
    ],
    ids=["ssms", "dynamic", "block"],
)  # fmt: skip
def test_a_guarded_create_of_an_existing_role_is_skipped_in_silence(guarded: str) -> None:
    s = snap(U + "CREATE ROLE r AUTHORIZATION a\nGRANT SELECT ON t TO r\nGO\n" + guarded + "\n")
    assert [(r.name, r.owner) for r in db(s).roles] == [("r", "a")]
    assert (perms(s), db(s).memberships, s.skipped) == ({G}, (), ())


@pytest.mark.parametrize(
    ("first", "guarded", "check"),
    [
        ("CREATE SCHEMA s AUTHORIZATION a",
         "IF SCHEMA_ID(N's') IS NULL EXEC('CREATE SCHEMA [s] AUTHORIZATION [b]')",
         lambda s: [x.owner for x in db(s).schemas] == ["a"]),
        ("CREATE TABLE t (a int)",
         "IF OBJECT_ID(N'[dbo].[t]', N'U') IS NULL\nCREATE TABLE [dbo].[t] ([b] int)",
         lambda s: [o.columns for o in db(s).objects] == [("a",)]),
        ("CREATE TYPE ty FROM int",
         "IF TYPE_ID(N'dbo.ty') IS NULL CREATE TYPE dbo.ty FROM bigint",
         lambda s: [o.source_ref.line for o in db(s).objects] == [3]),
        # dbatools Export-DbaLogin
        ("USE master\nGO\nCREATE LOGIN [l] WITH PASSWORD = 'p', DEFAULT_DATABASE = [d1]",
         "IF NOT EXISTS (SELECT loginname FROM master.dbo.syslogins WHERE name = 'l')\n"
         "CREATE LOGIN [l] WITH PASSWORD = 'q', DEFAULT_DATABASE = [d2]",
         lambda s: [x.default_database for x in s.logins] == ["d1"]),
    ],
    ids=["schema", "table", "type", "login"],
)  # fmt: skip
def test_a_guarded_create_of_an_existing_name_is_skipped_in_silence(
    first: str, guarded: str, check: object
) -> None:
    s = snap(U + first + "\nGO\n" + guarded + "\n")
    assert s.skipped == ()
    assert check(s), s  # type: ignore[operator]


def test_a_guard_about_another_name_does_not_hide_a_refused_create() -> None:
    s = snap(U + "CREATE ROLE r AUTHORIZATION a\n"
             "IF NOT EXISTS (SELECT * FROM sys.database_principals WHERE name = N'other')\n"
             "CREATE ROLE r AUTHORIZATION b\n")  # fmt: skip
    assert [r.owner for r in db(s).roles] == ["a"]
    _refused(s, 5, 15023)


def test_a_guarded_create_with_an_else_is_not_noted_as_replayed() -> None:
    s = snap(U + "CREATE ROLE r AUTHORIZATION a\n"
             "IF NOT EXISTS (SELECT * FROM sys.database_principals WHERE name = N'r')\n"
             "  CREATE ROLE r AUTHORIZATION b\nELSE\n  GRANT SELECT ON t TO r\n")  # fmt: skip
    assert [r.owner for r in db(s).roles] == ["a"]
    [noted] = s.skipped  # only the ELSE branch, whose condition cannot be evaluated
    assert (noted.source_ref.line, noted.reason.startswith("replayed, though")) == (7, True)


def test_a_guarded_create_of_a_new_name_is_replayed() -> None:
    s = snap(U + "IF NOT EXISTS (SELECT * FROM sys.database_principals WHERE name = N'r')\n"
             "BEGIN CREATE ROLE r AUTHORIZATION b; ALTER ROLE r ADD MEMBER u; END\n")  # fmt: skip
    assert ([r.owner for r in db(s).roles], len(db(s).memberships), s.skipped) == (["b"], 1, ())


def test_a_use_in_dynamic_sql_that_skips_its_branch_ends_with_it() -> None:
    """The USE in dynamic SQL lasts until its end, also when a CREATE in it ends the branch."""
    s = snap("USE d\nGO\nCREATE ROLE r\nGO\nUSE e\nGO\n"
             "IF DATABASE_PRINCIPAL_ID(N'r') IS NULL EXEC('USE d; CREATE ROLE r')\n"
             "CREATE ROLE q\n")  # fmt: skip
    assert ([r.name for r in db(s).roles], [r.name for r in db(s, "e").roles]) == (["r"], ["q"])
    assert s.skipped == ()


# ----------------------------------------------------------------------- what still replaces


@pytest.mark.parametrize(
    ("sql", "check"),
    [
        # SSMS "DROP and CREATE"
        ("CREATE ROLE r AUTHORIZATION a\nGRANT SELECT ON t TO r\nGO\n"
         "IF EXISTS (SELECT * FROM sys.database_principals WHERE name = N'r') DROP ROLE [r]\nGO\n"
         "CREATE ROLE [r] AUTHORIZATION [b]\n",
         lambda s: ([r.owner for r in db(s).roles], perms(s)) == (["b"], set())),
        ("CREATE LOGIN l WITH PASSWORD = 'p', DEFAULT_DATABASE = d1\nDROP LOGIN l\n"
         "CREATE LOGIN l WITH PASSWORD = 'p', DEFAULT_DATABASE = d2\n",
         lambda s: [x.default_database for x in s.logins] == ["d2"]),
        # a dropped schema takes the permissions on it along
        ("CREATE SCHEMA s AUTHORIZATION a\nGO\nGRANT SELECT ON SCHEMA::s TO r\n"
         "DROP SCHEMA IF EXISTS s\nGO\nCREATE SCHEMA s AUTHORIZATION b\n",
         lambda s: ([x.owner for x in db(s).schemas], perms(s)) == (["b"], set())),
        ("CREATE TABLE t (a int)\nGO\nDROP TABLE IF EXISTS t\nCREATE TABLE t (b int)\n",
         lambda s: [o.columns for o in db(s).objects] == [("b",)]),
        ("CREATE VIEW v AS SELECT 1 AS a\nGO\nCREATE OR ALTER VIEW v AS SELECT 1 AS b\n",
         lambda s: [o.columns for o in db(s).objects] == [("b",)]),
        ("CREATE PROCEDURE p AS SELECT 1\nGO\nALTER PROCEDURE p WITH EXECUTE AS OWNER AS SELECT 2\n",
         lambda s: [o.execute_as for o in db(s).objects] == ["OWNER"]),
        # an object named like a type: the existing rule (TYPE_NAMED_LIKE_AN_OBJECT) applies
        ("CREATE TYPE t FROM int\nGO\nCREATE TABLE t (a int)\n",
         lambda s: [o.kind.value for o in db(s).objects] == ["TABLE"]),
    ],
    ids=["drop-role", "drop-login", "drop-schema", "drop-table", "create-or-alter",
         "alter-procedure", "type-then-table"],
)  # fmt: skip
def test_what_sql_server_replaces_is_replaced(sql: str, check: object) -> None:
    s = snap(U + sql)
    assert check(s), s  # type: ignore[operator]
    assert not any("already exists" in x.reason for x in s.skipped), s.skipped
