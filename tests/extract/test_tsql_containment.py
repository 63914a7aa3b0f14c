"""CREATE | ALTER USER … WITH PASSWORD in a database the script shows is not contained is refused.

SQL Server refuses it with Msg 33233 "You can only create a user with a password in a contained
database."; the replay used to create the user. It is refused only when a CONTAINMENT = NONE is
read for the database: a database whose containment no script states may be contained, and the
user is created as before. ALTER USER … WITH PASSWORD there is refused too (PASSWORD "is
available only for contained users"); the replay used to turn the user into one with a password.
The password never reaches the snapshot, the plan or anything the CLI writes.
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
    "setup",
    [
        "",  # no CREATE DATABASE: its containment is unknown
        "CREATE DATABASE d\nGO\n",  # no CONTAINMENT clause: not stated (Azure SQL Database)
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


@pytest.mark.parametrize(
    "setup",
    [
        "USE d\nGO\nCREATE USER u FOR LOGIN l\nGO\n",  # containment unknown
        "CREATE DATABASE d CONTAINMENT = PARTIAL\nGO\nUSE d\nGO\nCREATE USER u FOR LOGIN l\n",
    ],
)
def test_a_password_given_by_alter_user_is_replayed_otherwise(setup: str) -> None:
    s = snap(setup + ALTER)
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
