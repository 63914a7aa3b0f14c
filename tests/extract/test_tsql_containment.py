"""CREATE USER … WITH PASSWORD in a database the script shows is not contained is refused.

SQL Server refuses it with Msg 33233 "You can only create a user with a password in a contained
database."; the replay used to create the user. It is refused only when a CONTAINMENT = NONE is
read for the database: a database whose containment no script states may be contained, and the
user is created as before. The password never reaches the snapshot or the plan.
"""

from __future__ import annotations

import pytest

from mapper.planner import plan
from mapper.policy import Policy
from mapper.translate.skipped import REFUSED_USER, harmless
from mssql_extract.tsql.containment import NOT_CREATED
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
