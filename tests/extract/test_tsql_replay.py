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
        ("GRANT SELECT ON t TO r WITH GRANT OPTION\nREVOKE GRANT OPTION FOR SELECT ON t FROM r",
         {G}),
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
