"""SQL Server gives, denies and takes no permission from sa, dbo, the entity owner,
information_schema, sys or the grantor itself: the statement fails whole (Msg 4624) and sqlcmd
goes on, so the replay applies none of it and reports it (GB045). Before, the replay recorded
such rows, which no SQL Server holds (mssql_extract/tsql/special_grantees.py)."""

from __future__ import annotations

import pytest

from mapper.translate.skipped import harmless
from tests.extract.tsql_helpers import db, perms, snap

U = (
    "USE d\nGO\nCREATE ROLE [owners]\nCREATE USER [u] WITHOUT LOGIN\n"
    "CREATE SCHEMA [s] AUTHORIZATION [owners]\nGO\nCREATE TABLE [s].[t] (a int)\n"
    "CREATE TABLE [s].[mine] (a int)\nALTER AUTHORIZATION ON OBJECT::[s].[mine] TO [u]\n"
    "CREATE ROLE [r] AUTHORIZATION [u]\nGO\n"
)
#: the line of the statement each case appends
LINE = U.count("\n") + 1


@pytest.mark.parametrize(
    ("statement", "who"),
    [
        ("GRANT SELECT ON s.t TO [DBO]", "a principal no permission is given to"),
        ("DENY VIEW DEFINITION TO [dbo]", "a principal no permission is given to"),
        ("GRANT SELECT ON s.t TO [u], [sys]", "a principal no permission is given to"),
        ("REVOKE SELECT ON s.t FROM [INFORMATION_SCHEMA]", "a principal no permission is given to"),
        ("GRANT SELECT ON s.t TO [u] AS [u]", "the grantor itself (AS)"),
        ("GRANT SELECT ON SCHEMA::s TO [owners]", "the owner of SCHEMA [s]"),
        ("DENY DELETE ON s.t TO [owners]", "the owner of OBJECT [t]"),  # its schema's owner
        ("DENY SELECT ON s.mine TO [u]", "the owner of OBJECT [mine]"),  # its own owner
        ("GRANT ALTER ON ROLE::r TO [u]", "the owner of ROLE [r]"),
    ],
)
def test_a_permission_sql_server_refuses_is_not_replayed(statement: str, who: str) -> None:
    s = snap(U + statement + "\n")
    assert perms(s) == set()  # none of the statement, not even for u in a list with sys
    [item] = s.skipped
    assert (item.source_ref.line, item.text) == (LINE, statement)
    assert who in item.reason
    assert "SQL Server refuses it (Msg 4624" in item.reason
    assert not harmless(item)


def test_sa_is_refused_on_the_server_only() -> None:
    s = snap("GRANT VIEW SERVER STATE TO [sa]\nGO\n")
    assert s.server_permissions == ()
    assert "refuses it (Msg 4624" in s.skipped[0].reason


@pytest.mark.parametrize(
    "statement",
    [
        "GRANT SELECT ON s.t TO [u]",  # not the owner of t (owners is)
        "GRANT SELECT ON s.mine TO [owners]",  # mine has an owner of its own: u
        "GRANT SELECT ON s.t TO [u] AS [owners]",
        "GRANT ALTER ON ROLE::r TO [owners]",
    ],
)
def test_other_grantees_are_replayed(statement: str) -> None:
    s = snap(U + statement + "\n")
    assert s.skipped == ()
    assert len(perms(s)) == 1
    assert [x.name for x in db(s).schemas] == ["s"]
