"""Replay order rules: later statements change what earlier ones recorded."""

from __future__ import annotations

import pytest

from tests.extract.tsql_helpers import db, perms, snap

U = "USE d\nGO\n"
G = ("OBJECT", "dbo", "t", None, "SELECT", "G", "r")
D = ("OBJECT", "dbo", "t", None, "SELECT", "D", "r")


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("GRANT SELECT ON t TO r\nREVOKE SELECT ON t FROM r", set()),
        ("DENY SELECT ON t TO r\nREVOKE SELECT ON t FROM r", set()),
        ("GRANT SELECT ON t TO r\nDENY SELECT ON t TO r", {D}),
        ("DENY SELECT ON t TO r\nGRANT SELECT ON t TO r", {G}),
        ("GRANT SELECT ON t TO r\nGRANT SELECT ON t TO s\nREVOKE SELECT ON t FROM r",
         {("OBJECT", "dbo", "t", None, "SELECT", "G", "s")}),
        # a table-level DENY removes an earlier column GRANT of the same permission …
        ("GRANT SELECT ON t (a) TO r\nDENY SELECT ON t TO r", {D}),
        # … but a column GRANT after the table DENY survives (and wins, DESIGN §3.2)
        ("DENY SELECT ON t TO r\nGRANT SELECT ON t (a) TO r",
         {D, ("OBJECT", "dbo", "t", "a", "SELECT", "G", "r")}),
        # another permission's column grant is untouched
        ("GRANT UPDATE ON t (a) TO r\nDENY SELECT ON t TO r",
         {D, ("OBJECT", "dbo", "t", "a", "UPDATE", "G", "r")}),
        ("GRANT SELECT ON t (a) TO r\nREVOKE SELECT ON t FROM r", set()),
        ("GRANT SELECT ON t TO r WITH GRANT OPTION\n"
         "REVOKE GRANT OPTION FOR SELECT ON t FROM r CASCADE", {G}),
        # without the GRANT option "the permission itself will be revoked" (REVOKE docs); a DENY
        # is not a grant and stays
        ("GRANT SELECT ON t TO r\nREVOKE GRANT OPTION FOR SELECT ON t FROM r", set()),
        ("DENY SELECT ON t TO r\nREVOKE GRANT OPTION FOR SELECT ON t FROM r", {D}),
        # CASCADE also removes what the grantee granted on to others
        ("GRANT SELECT ON t TO r WITH GRANT OPTION\nGRANT SELECT ON t TO s AS r\n"
         "REVOKE SELECT ON t FROM r CASCADE", set()),
    ],
)  # fmt: skip
def test_permission_order(sql: str, expected: set[tuple[object, ...]]) -> None:
    assert perms(snap(U + sql)) == expected


def test_drop_user_removes_its_memberships_and_permissions() -> None:
    s = snap(U + "CREATE ROLE r\nCREATE USER u WITHOUT LOGIN\nALTER ROLE r ADD MEMBER u\n"
             "GRANT SELECT ON t TO u\nGRANT SELECT ON t TO r\nDROP USER u")  # fmt: skip
    assert db(s).memberships == ()
    assert {p.grantee for p in db(s).permissions} == {"r"}


def test_drop_table_removes_its_permissions() -> None:
    s = snap(U + "CREATE TABLE t (a int)\nGO\nGRANT SELECT ON t TO r\nDROP TABLE t")
    assert db(s).objects == ()
    assert db(s).permissions == ()


def test_drop_login_removes_server_facts() -> None:
    s = snap("CREATE LOGIN x WITH PASSWORD = 'p'\nALTER SERVER ROLE sysadmin ADD MEMBER x\n"
             "GRANT VIEW SERVER STATE TO x\nDROP LOGIN x")  # fmt: skip
    assert (s.logins, s.server_memberships, s.server_permissions) == ((), (), ())


def test_guest_disabled_again_by_revoke() -> None:
    assert not db(snap(U + "GRANT CONNECT TO guest\nREVOKE CONNECT FROM guest")).guest_enabled


def test_later_script_sees_earlier_login(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from mssql_extract.tsql import extract_scripts

    (tmp_path / "a.sql").write_text("CREATE LOGIN l WITH PASSWORD = 'p'\n")
    (tmp_path / "b.sql").write_text("USE d\nGO\nCREATE USER u FOR LOGIN l\n")
    user = extract_scripts([tmp_path]).databases[0].users[0]
    assert (user.login, user.orphaned) == ("l", False)


def test_each_script_starts_in_master(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from mssql_extract.tsql import extract_scripts

    (tmp_path / "a.sql").write_text("USE d\nGO\nCREATE ROLE r\n")
    (tmp_path / "b.sql").write_text("GRANT VIEW SERVER STATE TO x\n")
    s = extract_scripts([tmp_path])
    assert len(s.server_permissions) == 1
    assert db(s).permissions == ()


#: CREATE LOGIN grants CONNECT SQL; a REVOKE of it leaves a login that cannot log in. This is how
#: sp_help_revlogin (KB 918992) writes a login with hasaccess = 0 (audit repros
#: revlogin/sp_help_revlogin_classic.sql and handwritten/deny_connect.sql); a DENY stays a row.
LOGIN = (
    "CREATE LOGIN [noaccess] WITH PASSWORD = 0x0200ABCD HASHED, "
    "SID = 0x11111111111111111111111111111111, DEFAULT_DATABASE = [master], "
    "CHECK_POLICY = OFF, CHECK_EXPIRATION = OFF; "
)


@pytest.mark.parametrize(
    ("sql", "revoked", "rows"),
    [
        ("REVOKE CONNECT SQL TO [noaccess]", True, set()),
        ("REVOKE CONNECT SQL FROM [noaccess]\nGRANT CONNECT SQL TO [noaccess]", False,
         {("CONNECT SQL", "G")}),
        ("DENY CONNECT SQL TO [noaccess]", False, {("CONNECT SQL", "D")}),
        ("DENY CONNECT SQL TO [noaccess]\nREVOKE CONNECT SQL FROM [noaccess]", True, set()),
        ("GRANT CONNECT SQL TO [noaccess]\nREVOKE CONNECT SQL FROM [noaccess]", True, set()),
        # the grant has no GRANT option: "the permission itself will be revoked" (REVOKE docs)
        ("REVOKE GRANT OPTION FOR CONNECT SQL FROM [noaccess]", True, set()),
        ("REVOKE CONNECT SQL TO [noaccess]\nDROP LOGIN [noaccess]\n"
         "CREATE LOGIN [noaccess] WITH PASSWORD = 'p'", False, set()),
    ],
)  # fmt: skip
def test_revoke_connect_sql_takes_back_the_login_grant(
    sql: str, revoked: bool, rows: set[tuple[str, str]]
) -> None:
    s = snap(LOGIN + sql)
    assert s.logins[0].connect_revoked is revoked
    assert {(p.permission, p.state.value) for p in s.server_permissions} == rows


#: CREATE USER grants CONNECT on the database; SSDT publish scripts write "REVOKE CONNECT TO
#: [u]" for a user without access (audit repro ssdt/SalesDb_Create.publish.sql).
@pytest.mark.parametrize(
    ("sql", "revoked"),
    [
        ("REVOKE CONNECT TO [app]", True),
        ("REVOKE CONNECT FROM [app]", True),
        ("GRANT CONNECT TO [app]\nREVOKE CONNECT TO [app]", True),
        ("REVOKE CONNECT TO [app]\nGRANT CONNECT TO [app]", False),
        ("REVOKE CONNECT ON DATABASE::d FROM [app]", True),
        ("DENY CONNECT TO [app]", False),
    ],
)
def test_revoke_connect_takes_back_the_user_grant(sql: str, revoked: bool) -> None:
    s = snap(U + "CREATE USER [app] WITHOUT LOGIN\n" + sql)
    assert db(s).users[0].connect_revoked is revoked
    assert "connect_revoked" not in snap(U + "CREATE USER [app] WITHOUT LOGIN").to_json()


def test_scripts_start_in_the_database_given(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    from grantbridge.cli import main
    from mssql_extract.tsql import extract_scripts

    # an SSDT project folder: one object per file, none names its database (audit repro
    # ssdt/SalesDb/Security/*.sql)
    security = tmp_path / "SalesDb" / "Security"
    security.mkdir(parents=True)
    (security / "AppLogin.sql").write_text("CREATE LOGIN [AppLogin]\n    WITH PASSWORD = N'x';\n")
    (security / "AppUser.sql").write_text(
        "CREATE USER [AppUser] FOR LOGIN [AppLogin];\nGO\n\tGRANT CONNECT TO [AppUser]\nGO\n"
    )
    (security / "Readers.sql").write_text(
        "\nCREATE ROLE [Readers] AUTHORIZATION [dbo]\nGO\n"
        "GRANT VIEW SERVER STATE TO [AppLogin]\nGO\nUSE [other]\nGO\nCREATE ROLE [elsewhere]\n"
    )
    s = extract_scripts([tmp_path / "SalesDb"], database="SalesDb")
    assert [d.name for d in s.databases] == ["other", "SalesDb"]
    assert [u.name for u in db(s, "SalesDb").users] == ["AppUser"]
    assert [r.name for r in db(s, "SalesDb").roles] == ["Readers"]
    assert [r.name for r in db(s, "other").roles] == ["elsewhere"]
    assert [p.permission for p in s.server_permissions] == ["VIEW SERVER STATE"]

    out = tmp_path / "s.json"
    argv = ["extract", "--script", str(tmp_path / "SalesDb"), "-d", "SalesDb", "-o", str(out)]
    assert main(argv) == 0
    assert '"name": "SalesDb"' in out.read_text()
    assert main([*argv, "-d", "Other"]) == 2
    assert "--database names one database" in capsys.readouterr().err


def test_rename_keeps_permissions_memberships_and_ownership() -> None:
    # SQL Server keys them by principal_id (audit repro handwritten/rename.sql)
    s = snap(
        U + "CREATE USER [old_name] WITHOUT LOGIN\nGRANT SELECT ON SCHEMA::[dbo] TO [old_name]\n"
        "ALTER ROLE [db_datawriter] ADD MEMBER [old_name]\n"
        "ALTER USER [old_name] WITH NAME = [new_name]\n"
        "CREATE ROLE [rpt]\nGRANT EXECUTE ON SCHEMA::[dbo] TO [rpt]\n"
        "GRANT CONTROL ON ROLE::[rpt] TO [new_name]\nCREATE SCHEMA [reports] AUTHORIZATION [rpt]\n"
        "ALTER ROLE [rpt] WITH NAME = [reporting]\nALTER ROLE [reporting] ADD MEMBER [new_name]\n"
    )
    assert [u.name for u in db(s).users] == ["new_name"]
    assert {(m.role, m.member) for m in db(s).memberships} == {
        ("db_datawriter", "new_name"),
        ("reporting", "new_name"),
    }
    assert perms(s) == {
        ("SCHEMA", None, "dbo", None, "SELECT", "G", "new_name"),
        ("SCHEMA", None, "dbo", None, "EXECUTE", "G", "reporting"),
        ("ROLE", None, "reporting", None, "CONTROL", "G", "new_name"),
    }
    assert [(x.name, x.owner) for x in db(s).schemas] == [("reports", "reporting")]


def test_login_and_server_role_rename() -> None:
    s = snap(
        "CREATE LOGIN [old] WITH PASSWORD = 'p'\nCREATE SERVER ROLE [ops]\n"
        "ALTER SERVER ROLE [ops] ADD MEMBER [old]\nGRANT VIEW SERVER STATE TO [ops]\n"
        "ALTER AUTHORIZATION ON DATABASE::d2 TO [old]\n"
        "ALTER LOGIN [old] WITH NAME = [new]\nALTER SERVER ROLE [ops] WITH NAME = [operators]\n"
        "GO\nUSE d\nGO\nCREATE USER [u] FOR LOGIN [new]"
    )
    assert [x.name for x in s.logins] == ["new"]
    assert [(m.role, m.member) for m in s.server_memberships] == [("operators", "new")]
    assert [p.grantee for p in s.server_permissions] == ["operators"]
    assert (db(s).users[0].login, db(s).users[0].orphaned) == ("new", False)
    assert db(s, "d2").owner == "new"  # the owner renamed too (it could not be d's: u is there)


def test_schema_transfer_moves_the_object_and_drops_its_permissions() -> None:
    # ALTER SCHEMA (Transact-SQL): "all permissions associated with the securable will be
    # dropped when the securable is moved" (audit repro handwritten/schema_transfer.sql)
    s = snap(
        U + "CREATE SCHEMA [archive] AUTHORIZATION [dbo]\nGO\n"
        "CREATE TABLE [dbo].[OldOrders] ([Id] int, [Amount] money)\nGO\n"
        "CREATE ROLE [analysts]\nGRANT SELECT, DELETE ON [dbo].[OldOrders] TO [analysts]\n"
        "GRANT SELECT ON [dbo].[OldOrders] ([Id]) TO [analysts]\nGO\n"
        "ALTER SCHEMA [archive] TRANSFER [dbo].[OldOrders]\n"
        "ALTER SCHEMA [archive] TRANSFER OBJECT::dbo.Unknown\n"
        "GRANT INSERT ON [archive].[OldOrders] TO [analysts]\n"
    )
    assert [(o.schema_name, o.name) for o in db(s).objects] == [("archive", "OldOrders")]
    assert perms(s) == {("OBJECT", "archive", "OldOrders", None, "INSERT", "G", "analysts")}
    [dropped] = s.skipped  # the permissions dropped are listed (mssql_extract/tsql/dropped.py)
    assert (dropped.source_ref.line, dropped.text) == (
        11,
        "GRANT DELETE, SELECT ON OBJECT::[dbo].[OldOrders] TO [analysts] (line 8); "
        "GRANT SELECT ON OBJECT::[dbo].[OldOrders] ([Id]) TO [analysts] (line 9)",
    )


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        # a new owner: every permission on the object goes ("ALTER AUTHORIZATION", Remarks:
        # "If the target entity is not a database and the entity is being transferred to a new
        # owner, all permissions on the target will be dropped")
        (
            "CREATE TABLE t (a int)\nGRANT SELECT ON t TO r\nDENY UPDATE ON t TO r\n"
            "GRANT INSERT ON t (a) TO r\nALTER AUTHORIZATION ON OBJECT::t TO u",
            set(),
        ),
        # the same owner again (SSMS writes TO SCHEMA OWNER after CREATE): no transfer
        (
            "CREATE TABLE t (a int)\nGRANT SELECT ON t TO r\n"
            "ALTER AUTHORIZATION ON OBJECT::t TO SCHEMA OWNER",
            {G},
        ),
        # granted after the transfer: kept
        (
            "CREATE TABLE t (a int)\nALTER AUTHORIZATION ON OBJECT::t TO u\nGRANT SELECT ON t TO r",
            {G},
        ),
        # a schema changing owner loses the permissions on it, not those on another schema's
        # objects (on its own: see the next test)
        (
            "CREATE SCHEMA s\nGO\nCREATE TABLE t (a int)\nGRANT SELECT ON SCHEMA::s TO r\n"
            "GRANT SELECT ON t TO r\nALTER AUTHORIZATION ON SCHEMA::s TO u",
            {G},
        ),
    ],
    ids=["new-owner", "same-owner", "granted-after", "schema"],
)
def test_an_ownership_transfer_drops_the_permissions_on_the_securable(
    sql: str, expected: set[tuple[str | None, ...]]
) -> None:
    assert perms(snap(U + "CREATE USER u WITHOUT LOGIN\nCREATE ROLE r\n" + sql)) == expected


#: A schema ``s2`` whose objects, type and XML schema collection are granted to bob; ``b`` has an
#: owner of its own (audit repro c16).
SCHEMA_S2 = (
    U + "CREATE USER bob WITHOUT LOGIN\nCREATE USER dave WITHOUT LOGIN\nCREATE ROLE r\nGO\n"
    "CREATE SCHEMA s2\nGO\nCREATE TABLE s2.a (id int)\nCREATE TABLE s2.b (id int)\n"
    "CREATE TABLE s2.c (id int)\nCREATE TYPE s2.ty FROM int\nCREATE TABLE dbo.t (a int)\nGO\n"
    "ALTER AUTHORIZATION ON OBJECT::s2.b TO dave\n"
    "ALTER AUTHORIZATION ON OBJECT::s2.c TO dave\nALTER AUTHORIZATION ON OBJECT::s2.c TO SCHEMA OWNER\n"
    "GRANT SELECT ON SCHEMA::s2 TO bob\nGRANT SELECT ON OBJECT::s2.a TO bob\n"
    "GRANT UPDATE ON OBJECT::s2.a (id) TO bob\nDENY DELETE ON OBJECT::s2.a TO bob\n"
    "GRANT SELECT ON OBJECT::s2.b TO bob\nGRANT SELECT ON OBJECT::s2.c TO bob\n"
    "GRANT REFERENCES ON TYPE::s2.ty TO bob\n"
    "GRANT REFERENCES ON XML SCHEMA COLLECTION::s2.x TO bob\n"
    "GRANT SELECT ON OBJECT::s2.unknown TO bob\nGRANT SELECT ON dbo.t TO bob\n"
)
BOB_B = ("OBJECT", "s2", "b", None, "SELECT", "G", "bob")
BOB_T = ("OBJECT", "dbo", "t", None, "SELECT", "G", "bob")


def test_a_schema_transfer_drops_the_permissions_on_its_objects_without_an_owner() -> None:
    # ALTER AUTHORIZATION, Remarks, SCHEMA: "When ownership is transferred, permissions on
    # schema-contained objects that do not have explicit owners will be dropped"; objects,
    # types and XML schema collections are schema-contained. b keeps its own owner, dave, and
    # its grant; c's owner went back TO SCHEMA OWNER, so it has none; dbo.t is elsewhere.
    s = snap(SCHEMA_S2 + "ALTER AUTHORIZATION ON SCHEMA::s2 TO r\n")
    assert perms(s) == {BOB_B, BOB_T}
    [dropped] = s.skipped  # the permissions dropped are listed (mssql_extract/tsql/dropped.py)
    assert dropped.source_ref.line == 28
    assert [entry.rsplit(" (", 1)[0] for entry in dropped.text.split("; ")] == [
        "GRANT SELECT ON SCHEMA::[s2] TO [bob]",
        "GRANT SELECT ON OBJECT::[s2].[a] TO [bob]",
        "GRANT UPDATE ON OBJECT::[s2].[a] ([id]) TO [bob]",
        "DENY DELETE ON OBJECT::[s2].[a] TO [bob]",
        "GRANT SELECT ON OBJECT::[s2].[c] TO [bob]",
        "GRANT REFERENCES ON TYPE::[s2].[ty] TO [bob]",
        "GRANT REFERENCES ON XML SCHEMA COLLECTION::[s2].[x] TO [bob]",
        "GRANT SELECT ON OBJECT::[s2].[unknown] TO [bob]",
    ]


def test_a_schema_transfer_keeps_what_is_granted_after_it_or_given_to_the_same_owner() -> None:
    s = snap(
        SCHEMA_S2 + "ALTER AUTHORIZATION ON SCHEMA::s2 TO r\nGRANT SELECT ON OBJECT::s2.a TO bob\n"
        "ALTER AUTHORIZATION ON SCHEMA::[S2] TO [R]\n"  # the same owner: no transfer
    )
    assert perms(s) == {BOB_B, BOB_T, ("OBJECT", "s2", "a", None, "SELECT", "G", "bob")}


def test_the_plan_does_not_grant_what_a_schema_transfer_dropped() -> None:
    from mapper.planner import plan
    from mapper.policy import Policy
    from pg_emit.render import render_sql

    planned = plan(snap(SCHEMA_S2 + "ALTER AUTHORIZATION ON SCHEMA::s2 TO r\n"), Policy())
    privileges = render_sql(planned)["sql/04_privileges.sql"]
    grants = [line for line in privileges.splitlines() if line.startswith("GRANT")]
    assert "GRANT SELECT ON TABLE dbo.t, s2.b TO bob;" in grants
    assert [line for line in grants if "bob" in line and ("s2.a" in line or "s2.c" in line)] == []


@pytest.mark.parametrize("order", ["table-first", "type-first"])
def test_a_type_named_like_a_table_keeps_the_table_and_skips_the_type(order: str) -> None:
    """SQL Server keeps types apart from objects; PostgreSQL does not (a table's row type has
    its name). Regression: the later CREATE TYPE replaced the table in silence, and the
    table's grants went with it."""
    table, type_ = "CREATE TABLE t (a int)\nGO\n", "CREATE TYPE t AS TABLE (a int)\nGO\n"
    body = table + type_ if order == "table-first" else type_ + table
    s = snap(U + "CREATE ROLE r\nGO\n" + body + "GRANT SELECT ON t TO r\n")
    assert [(o.name, o.kind.value) for o in db(s).objects] == [("t", "TABLE")]
    [skipped] = s.skipped
    assert (skipped.text, "(TABLE)" in skipped.reason) == ("TYPE [dbo].[t]", True)
    assert perms(s) == {G}
