"""One row per statement form of issue 2 (and odd syntax), each asserting the facts produced."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from mssql_extract.snapshot import AuthenticationType, LoginType, ObjectKind, SecuritySnapshot
from tests.extract.tsql_helpers import db, perms, snap

U = "USE d\nGO\n"
Check = Callable[[SecuritySnapshot], object]


def _login(s: SecuritySnapshot, name: str):  # type: ignore[no-untyped-def]
    return next(x for x in s.logins if x.name == name)


def _user(s: SecuritySnapshot, name: str):  # type: ignore[no-untyped-def]
    return next(x for x in db(s).users if x.name == name)


def _members(s: SecuritySnapshot, name: str | None = "d") -> set[tuple[str, str]]:
    items = s.server_memberships if name is None else db(s, name).memberships
    return {(m.role, m.member) for m in items}


CASES: list[tuple[str, str, Check]] = [
    # ---- GRANT / DENY / REVOKE
    (
        "grant object",
        U + "GRANT SELECT ON OBJECT::dbo.t TO r",
        lambda s: perms(s) == {("OBJECT", "dbo", "t", None, "SELECT", "G", "r")},
    ),
    (
        "grant no prefix one part",
        U + "GRANT INSERT ON t TO r",
        lambda s: perms(s) == {("OBJECT", "dbo", "t", None, "INSERT", "G", "r")},
    ),
    (
        "grant schema",
        U + "GRANT SELECT, EXECUTE ON SCHEMA::sales TO r",
        lambda s: (
            perms(s)
            == {("SCHEMA", None, "sales", None, p, "G", "r") for p in ("SELECT", "EXECUTE")}
        ),
    ),
    (
        "grant database class",
        U + "GRANT CONNECT ON DATABASE::d TO u",
        lambda s: perms(s) == {("DATABASE", None, None, None, "CONNECT", "G", "u")},
    ),
    (
        "grant database no ON",
        U + "GRANT CREATE TABLE, SHOWPLAN TO u",
        lambda s: (
            perms(s)
            == {("DATABASE", None, None, None, p, "G", "u") for p in ("CREATE TABLE", "SHOWPLAN")}
        ),
    ),
    (
        "grant server no ON",
        "GRANT VIEW SERVER STATE TO [mon]",
        lambda s: perms(s, None) == {("SERVER", None, None, None, "VIEW SERVER STATE", "G", "mon")},
    ),
    (
        "grant server from a user db",
        U + "GRANT CONTROL SERVER TO x",
        lambda s: perms(s, None) == {("SERVER", None, None, None, "CONTROL SERVER", "G", "x")},
    ),
    (
        "grant login",
        "GRANT IMPERSONATE ON LOGIN::[etl] TO [svc]",
        lambda s: perms(s, None) == {("LOGIN", None, "etl", None, "IMPERSONATE", "G", "svc")},
    ),
    (
        "grant user",
        U + "GRANT IMPERSONATE ON USER::bot TO etl",
        lambda s: perms(s) == {("USER", None, "bot", None, "IMPERSONATE", "G", "etl")},
    ),
    (
        "grant role",
        U + "GRANT ALTER ON ROLE::r TO u",
        lambda s: perms(s) == {("ROLE", None, "r", None, "ALTER", "G", "u")},
    ),
    (
        "grant application role",
        U + "GRANT ALTER ON APPLICATION ROLE::a TO u",
        lambda s: perms(s) == {("APPLICATION ROLE", None, "a", None, "ALTER", "G", "u")},
    ),
    (
        "grant server role",
        "GRANT CONTROL ON SERVER ROLE::ops TO x",
        lambda s: perms(s, None) == {("SERVER ROLE", None, "ops", None, "CONTROL", "G", "x")},
    ),
    (
        "grant type",
        U + "GRANT EXECUTE ON TYPE::dbo.money2 TO u",
        lambda s: perms(s) == {("TYPE", "dbo", "money2", None, "EXECUTE", "G", "u")},
    ),
    (
        "grant xml schema collection",
        U + "GRANT EXECUTE ON XML SCHEMA COLLECTION::s.x TO u",
        lambda s: perms(s) == {("XML SCHEMA COLLECTION", "s", "x", None, "EXECUTE", "G", "u")},
    ),
    (
        "grant assembly",
        U + "GRANT REFERENCES ON ASSEMBLY::a TO u",
        lambda s: perms(s) == {("ASSEMBLY", None, "a", None, "REFERENCES", "G", "u")},
    ),
    (
        "grant certificate",
        U + "GRANT CONTROL ON CERTIFICATE::c TO u",
        lambda s: perms(s) == {("CERTIFICATE", None, "c", None, "CONTROL", "G", "u")},
    ),
    (
        "grant asymmetric key",
        U + "GRANT CONTROL ON ASYMMETRIC KEY::k TO u",
        lambda s: perms(s) == {("ASYMMETRIC KEY", None, "k", None, "CONTROL", "G", "u")},
    ),
    (
        "grant symmetric key",
        U + "GRANT VIEW DEFINITION ON SYMMETRIC KEY::k TO u",
        lambda s: perms(s) == {("SYMMETRIC KEY", None, "k", None, "VIEW DEFINITION", "G", "u")},
    ),
    (
        "grant endpoint",
        "GRANT CONNECT ON ENDPOINT::hadr TO [x]",
        lambda s: perms(s, None) == {("ENDPOINT", None, "hadr", None, "CONNECT", "G", "x")},
    ),
    (
        "grant availability group",
        "GRANT VIEW DEFINITION ON AVAILABILITY GROUP::ag1 TO x",
        lambda s: (
            perms(s, None)
            == {("AVAILABILITY GROUP", None, "ag1", None, "VIEW DEFINITION", "G", "x")}
        ),
    ),
    (
        "grant all on table",
        U + "CREATE TABLE t (a int)\nGO\nGRANT ALL PRIVILEGES ON t TO r",
        lambda s: (
            {p[4] for p in perms(s)} == {"DELETE", "INSERT", "REFERENCES", "SELECT", "UPDATE"}
        ),
    ),
    (
        "grant all on procedure",
        U + "CREATE PROCEDURE p AS SELECT 1\nGO\nGRANT ALL ON p TO r",
        lambda s: {p[4] for p in perms(s)} == {"EXECUTE"},
    ),
    (
        "grant all on scalar function",
        U + "CREATE FUNCTION f() RETURNS int AS BEGIN RETURN 1 END\nGO\nGRANT ALL ON f TO r",
        lambda s: {p[4] for p in perms(s)} == {"EXECUTE", "REFERENCES"},
    ),
    (
        "grant all on database",
        U + "GRANT ALL TO r",
        lambda s: "BACKUP LOG" in {p[4] for p in perms(s)} and len(perms(s)) == 9,
    ),
    (
        "columns after permission",
        U + "GRANT SELECT (a, [b c]) ON s.t TO r",
        lambda s: perms(s) == {("OBJECT", "s", "t", c, "SELECT", "G", "r") for c in ("a", "b c")},
    ),
    (
        "columns after securable",
        U + "GRANT UPDATE ON s.t (a) TO r",
        lambda s: perms(s) == {("OBJECT", "s", "t", "a", "UPDATE", "G", "r")},
    ),
    (
        "several grantees",
        U + 'GRANT EXECUTE ON s.p TO a, [b], "c"',
        lambda s: {p[6] for p in perms(s)} == {"a", "b", "c"},
    ),
    (
        "with grant option",
        U + "GRANT SELECT ON t TO r WITH GRANT OPTION",
        lambda s: perms(s) == {("OBJECT", "dbo", "t", None, "SELECT", "W", "r")},
    ),
    (
        "as grantor",
        U + "GRANT SELECT ON t TO r AS [dbo]",
        lambda s: db(s).permissions[0].grantor == "dbo",
    ),
    (
        "deny cascade",
        U + "DENY SELECT ON t TO r CASCADE",
        lambda s: perms(s) == {("OBJECT", "dbo", "t", None, "SELECT", "D", "r")},
    ),
    (
        "revoke grant option for",
        U
        + "GRANT SELECT ON t TO r WITH GRANT OPTION\nREVOKE GRANT OPTION FOR SELECT ON t FROM r CASCADE",
        lambda s: perms(s) == {("OBJECT", "dbo", "t", None, "SELECT", "G", "r")},
    ),
    (
        "revoke to",
        U + "GRANT SELECT ON t TO r\nREVOKE SELECT ON t TO r",
        lambda s: perms(s) == set(),
    ),
    # ---- logins
    (
        "create login password",
        "CREATE LOGIN [a] WITH PASSWORD = N'x' MUST_CHANGE, CHECK_EXPIRATION = ON, CHECK_POLICY = ON",
        lambda s: (
            (_login(s, "a").has_password, _login(s, "a").must_change, _login(s, "a").check_policy)
            == (True, True, True)
        ),
    ),
    (
        "create login hashed",
        "CREATE LOGIN a WITH PASSWORD = 0x0200AB HASHED, SID = 0x01ff, CHECK_POLICY = OFF",
        lambda s: (_login(s, "a").sid, _login(s, "a").check_policy) == ("0x01FF", False),
    ),
    (
        "create login defaults credential",
        "CREATE LOGIN a WITH PASSWORD='x', DEFAULT_DATABASE=[Sales], DEFAULT_LANGUAGE=us_english, CREDENTIAL = c",
        lambda s: (
            (
                _login(s, "a").default_database,
                _login(s, "a").default_language,
                _login(s, "a").credential,
            )
            == ("Sales", "us_english", "c")
        ),
    ),
    (
        "login from windows",
        "CREATE LOGIN [C\\x] FROM WINDOWS WITH DEFAULT_DATABASE = [master]",
        lambda s: _login(s, "C\\x").type == LoginType.WINDOWS_USER,
    ),
    (
        "login from certificate",
        "CREATE LOGIN a FROM CERTIFICATE c",
        lambda s: _login(s, "a").type == LoginType.CERTIFICATE,
    ),
    (
        "login from asymmetric key",
        "CREATE LOGIN a FROM ASYMMETRIC KEY k",
        lambda s: _login(s, "a").type == LoginType.ASYMMETRIC_KEY,
    ),
    (
        "login from external provider",
        "CREATE LOGIN [a@x.com] FROM EXTERNAL PROVIDER",
        lambda s: _login(s, "a@x.com").type == LoginType.EXTERNAL_USER,
    ),
    ("alter login disable", "ALTER LOGIN [sa] DISABLE", lambda s: _login(s, "sa").disabled),
    (
        "alter login enable",
        "CREATE LOGIN a WITH PASSWORD='x'\nALTER LOGIN a DISABLE\nALTER LOGIN a ENABLE",
        lambda s: not _login(s, "a").disabled,
    ),
    (
        "alter login with",
        "CREATE LOGIN a WITH PASSWORD='x'\nALTER LOGIN a WITH NAME = b, CHECK_POLICY = OFF",
        lambda s: [x.name for x in s.logins] == ["b"] and s.logins[0].check_policy is False,
    ),
    (
        "sp_addlogin",
        "EXEC sp_addlogin 'a', 'pw', 'Sales'",
        lambda s: (_login(s, "a").has_password, _login(s, "a").default_database) == (True, "Sales"),
    ),
    ("drop login", "CREATE LOGIN a WITH PASSWORD='x'\nDROP LOGIN a", lambda s: s.logins == ()),
    # ---- users
    (
        "user for login",
        "CREATE LOGIN l WITH PASSWORD='x'\nGO\n"
        + U
        + "CREATE USER u FOR LOGIN l WITH DEFAULT_SCHEMA = s",
        lambda s: (
            (_user(s, "u").login, _user(s, "u").default_schema, _user(s, "u").orphaned)
            == ("l", "s", False)
        ),
    ),
    (
        "user from login",
        "CREATE LOGIN l WITH PASSWORD='x'\nGO\n" + U + "CREATE USER u FROM LOGIN l",
        lambda s: _user(s, "u").login == "l",
    ),
    (
        "user without login",
        U + "CREATE USER u WITHOUT LOGIN",
        lambda s: _user(s, "u").authentication_type == AuthenticationType.NONE,
    ),
    (
        "contained user",
        U + "CREATE USER u WITH PASSWORD = 'secret', DEFAULT_SCHEMA = dbo",
        lambda s: (
            (_user(s, "u").has_password, _user(s, "u").authentication_type)
            == (True, AuthenticationType.DATABASE)
        ),
    ),
    (
        "user external provider",
        U + "CREATE USER [a@x.com] FROM EXTERNAL PROVIDER",
        lambda s: _user(s, "a@x.com").authentication_type == AuthenticationType.EXTERNAL,
    ),
    (
        "user certificate",
        U + "CREATE USER u FOR CERTIFICATE c",
        lambda s: _user(s, "u").type.value == "CERTIFICATE_MAPPED_USER",
    ),
    (
        "user asymmetric key",
        U + "CREATE USER u FROM ASYMMETRIC KEY k",
        lambda s: _user(s, "u").type.value == "ASYMMETRIC_KEY_MAPPED_USER",
    ),
    (
        "alter user",
        "CREATE LOGIN l2 WITH PASSWORD='x'\nGO\n"
        + U
        + "CREATE USER u WITHOUT LOGIN\nALTER USER u WITH DEFAULT_SCHEMA = s2, LOGIN = l2, NAME = v",
        lambda s: (_user(s, "v").default_schema, _user(s, "v").login) == ("s2", "l2"),
    ),
    (
        "sp_grantdbaccess",
        "CREATE LOGIN l WITH PASSWORD='x'\nGO\n" + U + "EXEC sp_grantdbaccess N'l', N'u'",
        lambda s: _user(s, "u").login == "l",
    ),
    (
        "sp_adduser",
        "CREATE LOGIN l WITH PASSWORD='x'\nGO\n" + U + "EXEC sp_adduser 'l', 'u', 'r'",
        lambda s: _user(s, "u").login == "l" and _members(s) == {("r", "u")},
    ),
    (
        "sp_change_users_login",
        "CREATE LOGIN l WITH PASSWORD='x'\nGO\n"
        + U
        + "CREATE USER u FOR LOGIN gone\nEXEC sp_change_users_login @Action = 'Update_One', @UserNamePattern = 'u', @LoginName = 'l'",
        lambda s: (_user(s, "u").login, _user(s, "u").orphaned) == ("l", False),
    ),
    (
        "drop user",
        U + "CREATE USER u WITHOUT LOGIN\nGRANT SELECT ON t TO u\nDROP USER u",
        lambda s: db(s).users == () and db(s).permissions == (),
    ),
    # ---- roles
    (
        "create role authorization",
        U + "CREATE ROLE r AUTHORIZATION [dbo]",
        lambda s: [(r.name, r.owner) for r in db(s).roles] == [("r", "dbo")],
    ),
    (
        "create server role",
        "CREATE SERVER ROLE [ops] AUTHORIZATION [sa]",
        lambda s: [(r.name, r.owner) for r in s.server_roles] == [("ops", "sa")],
    ),
    (
        "create application role",
        U + "CREATE APPLICATION ROLE app WITH PASSWORD = 'pw', DEFAULT_SCHEMA = s",
        lambda s: [(a.name, a.default_schema) for a in db(s).application_roles] == [("app", "s")],
    ),
    (
        "alter role add member",
        U + "CREATE ROLE r\nCREATE USER u WITHOUT LOGIN\nALTER ROLE r ADD MEMBER u",
        lambda s: _members(s) == {("r", "u")},
    ),
    (
        "alter role drop member",
        U + "ALTER ROLE r ADD MEMBER u\nALTER ROLE r DROP MEMBER u",
        lambda s: _members(s) == set(),
    ),
    (
        "alter server role",
        "ALTER SERVER ROLE [sysadmin] ADD MEMBER [C\\DBAs]",
        lambda s: _members(s, None) == {("sysadmin", "C\\DBAs")} and s.server_roles[0].is_fixed,
    ),
    (
        "sp_addrolemember positional",
        U + "EXEC sp_addrolemember N'db_datareader', N'u'",
        lambda s: _members(s) == {("db_datareader", "u")},
    ),
    (
        "sp_addrolemember named",
        U + "EXEC dbo.sp_addrolemember @membername = 'u', @rolename = 'r'",
        lambda s: _members(s) == {("r", "u")},
    ),
    (
        "sp_droprolemember",
        U + "EXEC sp_addrolemember r, u\nEXEC sp_droprolemember 'r', 'u'",
        lambda s: _members(s) == set(),
    ),
    (
        "sp_addsrvrolemember",
        "EXEC master..sp_addsrvrolemember @loginame = N'x', @rolename = N'securityadmin'",
        lambda s: _members(s, None) == {("securityadmin", "x")},
    ),
    (
        "sp_dropsrvrolemember",
        "EXEC sp_addsrvrolemember 'x', 'sysadmin'\nEXEC sp_dropsrvrolemember 'x', 'sysadmin'",
        lambda s: _members(s, None) == set(),
    ),
    ("drop role", U + "CREATE ROLE r\nDROP ROLE r", lambda s: db(s).roles == ()),
    # ---- schemas, ownership, databases
    (
        "create schema authorization",
        U + "CREATE SCHEMA crm AUTHORIZATION mgrs",
        lambda s: [(x.name, x.owner) for x in db(s).schemas] == [("crm", "mgrs")],
    ),
    (
        "alter authorization object",
        U + "CREATE TABLE s.t (a int)\nGO\nALTER AUTHORIZATION ON OBJECT::s.t TO bot",
        lambda s: db(s).objects[0].owner == "bot",
    ),
    (
        "alter authorization schema",
        U + "CREATE SCHEMA x\nGO\nALTER AUTHORIZATION ON SCHEMA::x TO r",
        lambda s: db(s).schemas[0].owner == "r",
    ),
    (
        "alter authorization database",
        "ALTER AUTHORIZATION ON DATABASE::[d] TO [sa]",
        lambda s: db(s).owner == "sa",
    ),
    ("sp_changedbowner", U + "EXEC sp_changedbowner 'sa'", lambda s: db(s).owner == "sa"),
    ("trustworthy", "ALTER DATABASE [d] SET TRUSTWORTHY ON", lambda s: db(s).trustworthy),
    (
        "db chaining",
        "ALTER DATABASE d SET DB_CHAINING ON WITH NO_WAIT",
        lambda s: db(s).db_chaining,
    ),
    (
        "create database",
        "CREATE DATABASE [d] CONTAINMENT = PARTIAL",
        lambda s: db(s).containment == "PARTIAL",
    ),
    ("use", "USE [d]\nGO\nCREATE ROLE r", lambda s: [r.name for r in db(s).roles] == ["r"]),
    # ---- objects
    (
        "create table columns mask",
        U
        + "CREATE TABLE s.t ([a] int NOT NULL, e nvarchar(9) MASKED WITH (FUNCTION = 'email()') NULL, CONSTRAINT pk PRIMARY KEY (a)) ON [PRIMARY]",
        lambda s: (
            db(s).objects[0].columns == ("a", "e")
            and db(s).masked_columns[0].masking_function == "email()"
        ),
    ),
    (
        "alter table add masked",
        U
        + "CREATE TABLE t (c int)\nGO\nALTER TABLE t ALTER COLUMN c ADD MASKED WITH (FUNCTION = 'default()')",
        lambda s: db(s).masked_columns[0].column_name == "c",
    ),
    (
        "create view columns",
        U + "CREATE VIEW s.v AS SELECT o.[Id], o.x AS [Y] FROM t AS o",
        lambda s: (
            (db(s).objects[0].kind, db(s).objects[0].columns) == (ObjectKind.VIEW, ("Id", "Y"))
        ),
    ),
    (
        "procedure execute as",
        U
        + "CREATE PROCEDURE s.p @a AS int WITH EXECUTE AS OWNER AS BEGIN EXECUTE AS USER = 'x'; SELECT 1 END",
        lambda s: (db(s).objects[0].execute_as, db(s).objects[0].definition) == ("OWNER", None),
    ),
    (
        "procedure definition",
        U + "CREATE PROC p AS SELECT 1",
        lambda s: (
            snap(U + "CREATE PROC p AS SELECT 1", include_definitions=True)
            .databases[0]
            .objects[0]
            .definition
            == "CREATE PROC p AS SELECT 1"
        ),
    ),
    (
        "table function",
        U + "CREATE FUNCTION s.f(@x int) RETURNS TABLE AS RETURN SELECT 1 AS r",
        lambda s: db(s).objects[0].kind == ObjectKind.TABLE_FUNCTION,
    ),
    (
        "sequence type synonym",
        U
        + "CREATE SEQUENCE s.q AS bigint START WITH 1\nCREATE TYPE dbo.ty FROM int NOT NULL\nCREATE SYNONYM dbo.sy FOR s.t",
        lambda s: (
            {o.kind for o in db(s).objects}
            == {ObjectKind.SEQUENCE, ObjectKind.TYPE, ObjectKind.SYNONYM}
        ),
    ),
    (
        "security policy",
        U
        + "CREATE SECURITY POLICY s.p ADD FILTER PREDICATE s.f([T]) ON s.o, ADD BLOCK PREDICATE s.f(T) ON s.o AFTER INSERT WITH (STATE = ON)",
        lambda s: (
            [(x.predicate_type, x.operation) for x in db(s).security_policies[0].predicates]
            == [("BLOCK", "AFTER INSERT"), ("FILTER", None)]
        ),
    ),
    (
        "server audit spec",
        "CREATE SERVER AUDIT SPECIFICATION sa1 FOR SERVER AUDIT a ADD (FAILED_LOGIN_GROUP) WITH (STATE = ON)",
        lambda s: (
            s.audit_specifications[0].enabled
            and s.audit_specifications[0].actions[0].action == "FAILED_LOGIN_GROUP"
        ),
    ),
    (
        "database audit spec",
        U
        + "CREATE DATABASE AUDIT SPECIFICATION da FOR SERVER AUDIT a ADD (SELECT, INSERT ON OBJECT::s.t BY public)",
        lambda s: len(db(s).audit_specifications[0].actions) == 2,
    ),
    # ---- wrappers, noise and odd syntax
    (
        "if not exists begin end",
        U
        + "IF NOT EXISTS (SELECT * FROM sys.database_principals WHERE name = N'r')\nBEGIN\n  CREATE ROLE r\nEND",
        lambda s: [r.name for r in db(s).roles] == ["r"],
    ),
    (
        "noise",
        U + "SET NOCOUNT ON\nPRINT 'x'\nBEGIN TRAN\nCREATE ROLE r\nCOMMIT TRANSACTION",
        lambda s: [r.name for r in db(s).roles] == ["r"] and s.skipped == (),
    ),
    (
        "other statements skipped",
        U + "SELECT 1\nCREATE INDEX ix ON t (a)",
        lambda s: [x.text for x in s.skipped] == ["SELECT 1", "CREATE INDEX ix ON t (a)"],
    ),
    (
        "brackets spaces dots ]]",
        U + "GRANT SELECT ON [my schema].[a.b]]c] TO [x y]",
        lambda s: perms(s) == {("OBJECT", "my schema", "a.b]c", None, "SELECT", "G", "x y")},
    ),
    (
        "double quotes",
        U + 'GRANT SELECT ON "s"."t" TO "u"',
        lambda s: perms(s) == {("OBJECT", "s", "t", None, "SELECT", "G", "u")},
    ),
    (
        "mixed case",
        U + "gRaNt SeLeCt On ObJeCt::dbo.T tO R",
        lambda s: perms(s) == {("OBJECT", "dbo", "T", None, "SELECT", "G", "R")},
    ),
    (
        "comments inside",
        U + "GRANT /* why */ SELECT -- reason\n ON t /* x */ TO r",
        lambda s: len(perms(s)) == 1,
    ),
    (
        "go 5",
        U + "CREATE ROLE r\nGO 5\nALTER ROLE r ADD MEMBER u\nGO",
        lambda s: _members(s) == {("r", "u")},
    ),
    (
        "many lines",
        U + "GRANT\n  SELECT\n  ,\n  INSERT\nON\n  dbo.t\nTO\n  r\n;",
        lambda s: len(perms(s)) == 2,
    ),
    (
        "semicolons or none",
        U + "CREATE ROLE a; CREATE ROLE b CREATE ROLE c;",
        lambda s: [r.name for r in db(s).roles] == ["a", "b", "c"],
    ),
    ("setvar", ":setvar DB d\nUSE [$(DB)]\nGO\nCREATE ROLE r", lambda s: len(db(s).roles) == 1),
    (
        "case-insensitive spelling",
        U + "CREATE ROLE Readers\nGRANT SELECT ON t TO readers\nALTER ROLE READERS ADD MEMBER u",
        lambda s: (
            perms(s) == {("OBJECT", "dbo", "t", None, "SELECT", "G", "Readers")}
            and _members(s) == {("Readers", "u")}
        ),
    ),
    ("guest enabled", U + "GRANT CONNECT TO guest", lambda s: db(s).guest_enabled),
]


@pytest.mark.parametrize(("sql", "check"), [(sql, check) for _, sql, check in CASES],
                         ids=[case[0] for case in CASES])  # fmt: skip
def test_statement(sql: str, check: Check) -> None:
    assert check(snap(sql))


def test_sqlcmd_variable_from_caller() -> None:
    s = snap("USE [$(DB)]\nGO\nCREATE ROLE r", variables={"DB": "d"})
    assert len(db(s).roles) == 1


def test_orphaned_user_when_login_not_scripted() -> None:
    user = snap(U + "CREATE USER u FOR LOGIN nowhere").databases[0].users[0]
    assert (user.login, user.orphaned) == (None, True)


def test_source_ref_is_line_and_column() -> None:
    s = snap(U + "\n   GRANT SELECT ON t TO r")
    ref = db(s).permissions[0].source_ref
    assert (ref.origin, ref.line, ref.column) == ("t.sql", 4, 4)


def test_print_and_end_never_hide_the_statements_after_them() -> None:
    # SSDT post-deployment scripts print before statements written without semicolons, and close
    # "BEGIN …; END" blocks before more statements; sqlglot's tokenizer read the rest up to the
    # next ';' after PRINT or END as one string, losing what came there
    s = snap(
        U + "PRINT N'Granting…'\nGRANT SELECT ON t TO r\n"
        "IF NOT EXISTS (SELECT 1 FROM sys.database_principals WHERE name = N'a')\nBEGIN\n"
        "  CREATE ROLE a;\nEND\nCREATE ROLE b\nGRANT INSERT ON t TO b;\n"
    )
    assert [r.name for r in db(s).roles] == ["a", "b"]
    assert perms(s) == {
        ("OBJECT", "dbo", "t", None, "SELECT", "G", "r"),
        ("OBJECT", "dbo", "t", None, "INSERT", "G", "b"),
    }


def test_with_rollback_immediate_is_part_of_alter_database() -> None:
    # SSDT publish scripts (audit repro ssdt/SalesDb_Create.publish.sql, lines 46-48 and 68-71)
    s = snap(
        "ALTER DATABASE [d]\n    SET SINGLE_USER\n    WITH ROLLBACK IMMEDIATE;\n"
        "ALTER DATABASE [d]\n    SET TRUSTWORTHY ON,\n        DB_CHAINING OFF\n"
        "    WITH ROLLBACK IMMEDIATE;\n"
    )
    assert db(s).trustworthy
    assert [x.text for x in s.skipped] == [
        "ALTER DATABASE [d] SET SINGLE_USER WITH ROLLBACK IMMEDIATE"
    ]


def test_create_schema_elements_are_in_the_new_schema() -> None:
    # CREATE SCHEMA (Transact-SQL), example A (audit repro handwritten/create_schema_elements.sql)
    s = snap(
        U + "CREATE ROLE [hr_readers]\nGO\n"
        "CREATE SCHEMA Sprockets AUTHORIZATION [dbo]\n"
        "    CREATE TABLE NineProngs (source int, cost int, partnumber int)\n"
        "    GRANT SELECT ON NineProngs TO [hr_readers]\n"
        "    DENY SELECT ON NineProngs TO [public];\n"
        "GRANT INSERT ON Other TO [hr_readers]\n"
    )
    assert [(o.schema_name, o.name) for o in db(s).objects] == [("Sprockets", "NineProngs")]
    assert perms(s) == {
        ("OBJECT", "Sprockets", "NineProngs", None, "SELECT", "G", "hr_readers"),
        ("OBJECT", "Sprockets", "NineProngs", None, "SELECT", "D", "public"),
        ("OBJECT", "dbo", "Other", None, "INSERT", "G", "hr_readers"),  # after the ';'
    }
    grant = next(p for p in db(s).permissions if p.object_name == "NineProngs" and p.state == "G")
    assert (grant.source_ref.line, grant.source_ref.column) == (7, 5)
