"""A login has one user in a database at most, and none where it owns the database (it is dbo
there): SQL Server refuses a second user for it (Msg 15063) and an owner that has a user (Msg
15110), sqlcmd goes on, and the replay keeps what was there, reporting the refused statement
(mssql_extract/tsql/login_users.py). Before, the replay took both: a login entered a database as
two users, or as dbo and a user, which SQL Server never holds."""

from __future__ import annotations

import pytest

from mapper.translate.skipped import harmless
from mssql_extract.snapshot import SecuritySnapshot, Skipped
from tests.extract.tsql_helpers import db, perms, snap

L = "CREATE LOGIN [l] WITH PASSWORD = 'Pw-1'\nGO\nUSE d\nGO\n"


def _refused(s: SecuritySnapshot, line: int, message: int) -> Skipped:
    """The one skipped item: the statement at ``line`` of t.sql, refused with ``message``."""
    [item] = s.skipped
    assert (item.kind, item.source_ref.line) == ("statement", line)
    assert f"SQL Server refuses it (Msg {message}), and what was there stands" in item.reason
    assert not harmless(item), item.reason
    return item


def test_a_second_user_for_a_login_is_refused_and_the_first_keeps_its_grants() -> None:
    s = snap(
        L + "CREATE USER [u1] FOR LOGIN [l]\nGRANT SELECT ON t TO [u1]\n"
        "CREATE USER [u2] FOR LOGIN [L] WITH DEFAULT_SCHEMA = [s]\n"
    )
    assert [(u.name, u.login) for u in db(s).users] == [("u1", "l")]
    assert perms(s) == {("OBJECT", "dbo", "t", None, "SELECT", "G", "u1")}
    item = _refused(s, 7, 15063)
    assert "the login [L] has a user in this database already, user 'u1' (t.sql:5:1)" in item.reason
    assert item.text == "CREATE USER [u2] FOR LOGIN [L] WITH DEFAULT_SCHEMA = [s]"


@pytest.mark.parametrize(
    "create",
    [
        "CREATE USER [l]",  # no clause: the login of the same name
        "CREATE USER [svc] FROM LOGIN [l]",
        "EXEC sp_grantdbaccess 'l', 'svc'",
        "EXEC sp_adduser 'l', 'svc'",
        # the check generated scripts write names the user, which does not exist: it runs
        "IF NOT EXISTS (SELECT * FROM sys.database_principals WHERE name = N'l')\n"
        "  CREATE USER [l] FOR LOGIN [l]",
    ],
)
def test_no_user_for_the_login_that_owns_the_database(create: str) -> None:
    s = snap(L + f"ALTER AUTHORIZATION ON DATABASE::d TO [l]\nGO\n{create}\n")
    assert (db(s).owner, db(s).users) == ("l", ())
    item = _refused(s, 7 + create.count("\n"), 15063)
    assert "has a user in this database already, dbo: it owns database [d] (t.sql:5:1)" in (
        item.reason
    )


@pytest.mark.parametrize(
    "owner",
    ["ALTER AUTHORIZATION ON DATABASE::[D] TO [L]", "EXEC sp_changedbowner @loginame = N'l'"],
)
def test_a_login_with_a_user_cannot_become_the_owner(owner: str) -> None:
    s = snap(
        L + "ALTER AUTHORIZATION ON DATABASE::d TO [sa]\nCREATE USER [u] FOR LOGIN [l]\n"
        f"GO\n{owner}\n"
    )
    assert db(s).owner == "sa"
    assert [u.name for u in db(s).users] == ["u"]
    item = _refused(s, 8, 15110)
    assert "has a user in database [d], 'u' (t.sql:6:1)" in item.reason


@pytest.mark.parametrize(
    ("sql", "users"),
    [
        # other logins, no login, a dropped user: nothing holds the login
        ("CREATE USER [u1] FOR LOGIN [l]\nCREATE USER [u2] FOR LOGIN [m]\n", ["u1", "u2"]),
        ("CREATE USER [u1] WITHOUT LOGIN\nCREATE USER [u2] FOR LOGIN [l]\n", ["u1", "u2"]),
        (
            "CREATE USER [u1] FOR LOGIN [l]\nDROP USER [u1]\nCREATE USER [u2] FOR LOGIN [l]\n",
            ["u2"],
        ),
        # a user only an ALTER USER names: its login is not known
        (
            "ALTER USER [u1] WITH DEFAULT_SCHEMA = [s]\nCREATE USER [u2] FOR LOGIN [u1]\n",
            ["u1", "u2"],
        ),
        # another database's user, and another database's owner
        ("CREATE USER [u1] FOR LOGIN [l]\nGO\nUSE e\nGO\nCREATE USER [u2] FOR LOGIN [l]\n", ["u1"]),
        ("ALTER AUTHORIZATION ON DATABASE::e TO [l]\nCREATE USER [u1] FOR LOGIN [l]\n", ["u1"]),
    ],
)
def test_what_is_not_refused(sql: str, users: list[str]) -> None:
    s = snap(L + sql)
    assert s.skipped == ()
    assert [u.name for u in db(s).users] == users
