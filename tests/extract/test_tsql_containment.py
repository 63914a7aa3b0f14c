"""CREATE | ALTER USER … WITH PASSWORD in a database the script shows is not contained is refused.

SQL Server refuses it with Msg 33233 "You can only create a user with a password in a contained
database."; the replay used to create the user. It is refused when a CONTAINMENT = NONE is read
for the database, or a CREATE DATABASE without CONTAINMENT (NONE is the default; the replay
used to take its containment as unknown): a database no script creates nor sets may be
contained, and the user is created as before. ALTER USER … WITH PASSWORD there is refused too
(PASSWORD "is available only for contained users"), and so it is, in a contained database, for
a user the script created for a login; the replay used to give the user the password. The
password never reaches the snapshot, the plan or anything the CLI writes.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from grantbridge.cli import main
from mapper.planner import plan
from mapper.policy import Policy
from mapper.translate.skipped import REFUSED_USER, REFUSED_USER_CHANGE, harmless
from mssql_extract.tsql.containment import NOT_CREATED, UNCHANGED
from tests.extract.tsql_helpers import db, snap

SECRET = "Pa55-not-in-any-output"
USER = f"USE d\nGO\nCREATE USER u WITH PASSWORD = N'{SECRET}', DEFAULT_SCHEMA = dbo\n"


@pytest.mark.parametrize(
    ("setup", "line"),
    [
        ("CREATE DATABASE d CONTAINMENT = NONE\nGO\n", 5),
        (
            "CREATE DATABASE d CONTAINMENT = PARTIAL\nGO\nALTER DATABASE d SET CONTAINMENT = NONE\nGO\n",
            7,
        ),
    ],
)
def test_a_user_with_a_password_is_refused_where_not_contained(setup: str, line: int) -> None:
    s = snap(setup + USER)
    assert [u.name for u in db(s).users] == []
    [item] = s.skipped
    assert (item.kind, item.source_ref.line) == ("statement", line)
    assert item.reason.startswith("database [d] is not contained (CONTAINMENT = NONE at t.sql:")
    assert "Msg 33233" in item.reason
    assert item.reason.endswith(NOT_CREATED)
    assert NOT_CREATED == REFUSED_USER
    assert not harmless(item)
    assert "'***'" in item.text
    migration = plan(s, Policy())
    [finding] = [f for f in migration.findings if f.rule_id == "GB045"]
    assert finding.source_ref == f"t.sql:{line}:1"
    assert "the user does not exist" in finding.action
    assert SECRET not in s.model_dump_json() + migration.model_dump_json()


@pytest.mark.parametrize(
    "create", ["CREATE DATABASE d", "CREATE DATABASE [d] COLLATE Latin1_General_CI_AS"]
)
def test_a_database_created_without_containment_is_not_contained(create: str) -> None:
    # "By default, all SQL Server 2012 and later databases have a containment set to NONE"
    # (Contained Databases); the replay used to treat the database's containment as unknown
    s = snap(f"{create}\nGO\n" + USER)
    assert db(s).users == ()
    assert db(s).containment == "NONE"
    [item] = s.skipped
    assert (item.kind, item.source_ref.line) == ("statement", 5)
    assert item.reason.startswith(
        "database [d] is not contained (created without CONTAINMENT at t.sql:1:1: NONE, the "
        "default), so SQL Server refuses the CREATE USER with a password (Msg 33233"
    )
    assert item.reason.endswith(NOT_CREATED)
    [finding] = [f for f in plan(s, Policy()).findings if f.rule_id == "GB045"]
    assert finding.source_ref == "t.sql:5:1"
    # Azure SQL Database's CREATE DATABASE has no CONTAINMENT: every user may have a password
    for azure in ("(EDITION = 'Standard', SERVICE_OBJECTIVE = 'S0')", "AS COPY OF srv.d0"):
        s = snap(f"CREATE DATABASE d {azure}\nGO\n" + USER)
        assert [(u.name, u.has_password) for u in db(s).users] == [("u", True)]
        assert s.skipped == ()


@pytest.mark.parametrize(
    "setup",
    [
        "",  # no CREATE DATABASE: its containment is unknown
        "CREATE DATABASE d CONTAINMENT = PARTIAL\nGO\n",
        "CREATE DATABASE d\nGO\nALTER DATABASE d SET CONTAINMENT = PARTIAL\nGO\n",
    ],
)
def test_a_user_with_a_password_is_created_otherwise(setup: str) -> None:
    s = snap(setup + USER)
    [user] = db(s).users
    assert (user.name, user.has_password) == ("u", True)
    assert s.skipped == ()


def test_a_user_for_a_login_is_created_where_not_contained() -> None:
    s = snap("CREATE DATABASE d CONTAINMENT = NONE\nGO\nUSE d\nGO\nCREATE USER u WITHOUT LOGIN\n")
    assert [u.name for u in db(s).users] == ["u"]
    assert s.skipped == ()


#: A user for a login in a database set CONTAINMENT = NONE; the ALTER USER is at line 7.
FOR_LOGIN = "CREATE DATABASE d CONTAINMENT = NONE\nGO\nUSE d\nGO\nCREATE USER u FOR LOGIN l\nGO\n"
ALTER = f"ALTER USER u WITH PASSWORD = N'{SECRET}', NAME = v, DEFAULT_SCHEMA = hr\n"


def test_a_password_given_by_alter_user_is_refused_where_not_contained() -> None:
    s = snap(FOR_LOGIN + ALTER)
    [user] = db(s).users  # nothing the statement sets is changed: not the name nor the schema
    assert (user.name, user.missing_login, user.has_password) == ("u", "l", False)
    assert user.authentication_type == "INSTANCE"
    assert user.default_schema != "hr"
    [item] = s.skipped
    assert (item.kind, item.source_ref.line) == ("statement", 7)
    assert item.reason.startswith("database [d] is not contained (CONTAINMENT = NONE at t.sql:1")
    assert "ALTER USER with a password (PASSWORD is available only for contained users)" in (
        item.reason
    )
    assert item.reason.endswith(UNCHANGED)
    assert UNCHANGED == REFUSED_USER_CHANGE
    assert not harmless(item)
    assert item.text.startswith("ALTER USER u WITH PASSWORD = '***', NAME = ")
    migration = plan(s, Policy())
    [finding] = [f for f in migration.findings if f.rule_id == "GB045"]
    assert finding.source_ref == "t.sql:7:1"
    assert "the user keeps how it authenticates" in finding.action
    assert SECRET not in s.model_dump_json() + migration.model_dump_json()


#: A contained database; the statements below start at line 5.
CONTAINED = "CREATE DATABASE d CONTAINMENT = PARTIAL\nGO\nUSE d\nGO\n"


@pytest.mark.parametrize("user", ["CREATE USER u FOR LOGIN l", "CREATE USER u"])
def test_a_password_for_a_user_for_a_login_is_refused_where_contained(user: str) -> None:
    # PASSWORD "is available only for contained users" (ALTER USER); a user for a login is not
    # one (Contained Databases, "Contained user"). The replay used to give it the password.
    s = snap(CONTAINED + user + "\nGO\n" + ALTER)
    [found] = db(s).users
    login = "l" if "LOGIN" in user else "u"
    assert (found.name, found.missing_login, found.has_password) == ("u", login, False)
    assert found.default_schema != "hr"
    [item] = s.skipped
    assert (item.kind, item.source_ref.line) == ("statement", 7)
    assert item.reason == (
        f"user [u] is a user for login [{login}] in contained database [d] (CONTAINMENT = "
        "PARTIAL at t.sql:1:1), which is not a contained user, so SQL Server refuses the ALTER "
        "USER with a password (PASSWORD is available only for contained users; unconfirmed: no "
        f"source at hand gives the message): nothing it sets is changed, and {UNCHANGED}"
    )
    migration = plan(s, Policy())
    [finding] = [f for f in migration.findings if f.rule_id == "GB045"]
    assert finding.source_ref == "t.sql:7:1"
    assert "it must be a contained user" in finding.action
    assert SECRET not in s.model_dump_json() + migration.model_dump_json()


def test_a_password_for_other_users_of_a_contained_database_is_given() -> None:
    assert snap(CONTAINED + "CREATE USER u FOR LOGIN l\nGO\n" + ALTER).skipped  # refused
    for setup in (
        CONTAINED + f"CREATE USER u WITH PASSWORD = N'{SECRET}'\nGO\n",  # a contained user
        CONTAINED,  # a user the script only alters: how it authenticates is unknown
        CONTAINED + "CREATE USER u WITHOUT LOGIN\nGO\n",  # not documented: left as before
    ):
        s = snap(setup + ALTER)
        [user] = db(s).users
        assert (user.name, user.has_password, user.default_schema) == ("v", True, "hr"), setup
        assert s.skipped == ()


def test_a_password_given_by_alter_user_is_replayed_where_containment_is_unknown() -> None:
    s = snap("USE d\nGO\nCREATE USER u FOR LOGIN l\nGO\n" + ALTER)
    [user] = db(s).users
    assert (user.name, user.has_password, user.default_schema) == ("v", True, "hr")
    assert s.skipped == ()


def test_alter_user_without_a_password_is_replayed_where_not_contained() -> None:
    s = snap(FOR_LOGIN + "ALTER USER u WITH DEFAULT_SCHEMA = hr\n")
    [user] = db(s).users
    assert (user.name, user.default_schema) == ("u", "hr")
    assert s.skipped == ()


def test_a_refused_password_reaches_no_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script, snapshot, out = tmp_path / "s.sql", tmp_path / "snapshot.json", tmp_path / "plan"
    script.write_text(FOR_LOGIN + ALTER + "GO\n" + USER, encoding="utf-8")
    assert main(["extract", "--script", str(script), "-o", str(snapshot)]) == 0
    assert main(["plan", str(snapshot), "-o", str(out)]) == 0, capsys.readouterr().err
    outputs = [snapshot, *(p for p in out.rglob("*") if p.is_file())]
    assert {p.name for p in outputs} >= {"snapshot.json", "report.md", "findings.sarif"}
    captured = capsys.readouterr()
    texts = {str(p): p.read_text(encoding="utf-8") for p in outputs}
    texts |= {"stdout": captured.out, "stderr": captured.err}
    for where, text in texts.items():
        assert SECRET not in text, where
    sarif = texts[str(out / "findings.sarif")]
    assert "ALTER USER u WITH PASSWORD = '***'" in sarif  # both refusals are reported
    assert "CREATE USER u WITH PASSWORD = '***'" in sarif
