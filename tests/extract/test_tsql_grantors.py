"""Each grantor of a permission is kept: a DROP of any of them is refused, REVOKE … AS takes back
its own.

SQL Server keeps a permission row per grantor (``grantor_principal_id``), and refuses to drop a
login or server role that granted a server permission (Msg 15173) or a database principal that
granted or denied one in its database (Msg 15284). The replay kept one grantor per permission:
a later GRANT of it by another grantor replaced the first, whose DROP then went through, and a
``REVOKE … AS p`` took back every grantor's permission. The snapshot still has one row per
permission and grantee, as the catalog readers make one of SQL Server's rows per grantor
(``one_per_grantor_merged``): the latest grantor's, WITH GRANT OPTION when any grantor's has it.
"""

from __future__ import annotations

import pytest

from mapper.planner import plan
from mapper.policy import Policy
from mapper.translate.skipped import REFUSED_DROP
from mssql_extract.snapshot import Permission, SecuritySnapshot, Skipped
from tests.extract.tsql_helpers import db, perms, snap

#: Users alice, carol (each holding SELECT on dbo.t WITH GRANT OPTION) and bob; the statements
#: below start at line 7.
USERS = (
    "USE d\nGO\nCREATE USER alice WITHOUT LOGIN\nCREATE USER carol WITHOUT LOGIN\n"
    "CREATE USER bob WITHOUT LOGIN\nGRANT SELECT ON dbo.t TO alice, carol WITH GRANT OPTION\n"
)
BOB_SELECT = ("OBJECT", "dbo", "t", None, "SELECT", "G", "bob")


def _bob(s: SecuritySnapshot) -> list[Permission]:
    return [p for p in db(s).permissions if p.grantee == "bob"]


def _refused(s: SecuritySnapshot, line: int) -> Skipped:
    [item] = s.skipped
    assert (item.kind, item.source_ref.line) == ("statement", line)
    assert item.reason.endswith(REFUSED_DROP), item.reason
    return item


@pytest.mark.parametrize("verb", ["GRANT", "DENY"])
def test_the_first_grantor_of_a_permission_granted_twice_is_not_dropped(verb: str) -> None:
    s = snap(USERS + f"{verb} SELECT ON dbo.t TO bob AS alice\n"
             f"{verb} SELECT ON dbo.t TO bob AS carol\nDROP USER alice\n")  # fmt: skip
    assert _refused(s, 9).reason.startswith(
        "user 'alice' has granted or denied SELECT ON OBJECT::[dbo].[t] TO [bob] (Msg 15284)"
    )
    assert {u.name for u in db(s).users} == {"alice", "bob", "carol"}
    [row] = _bob(s)  # one row, as SQL Server's two are one fact in a snapshot
    assert (row.state.value, row.grantor, row.source_ref.line) == (verb[0], "carol", 8)
    [found] = [f for f in plan(s, Policy()).findings if f.rule_id == "GB045"]
    assert found.source_ref == "t.sql:9:1"


def test_the_first_grantor_of_a_server_permission_granted_twice_is_not_dropped() -> None:
    s = snap("CREATE LOGIN l WITH PASSWORD = 'x'\nCREATE LOGIN m WITH PASSWORD = 'x'\n"
             "CREATE LOGIN b WITH PASSWORD = 'x'\n"
             "GRANT VIEW SERVER STATE TO l, m WITH GRANT OPTION\n"
             "GRANT VIEW SERVER STATE TO b AS l\nGRANT VIEW SERVER STATE TO b AS m\n"
             "DROP LOGIN l\nDROP LOGIN m\n")  # fmt: skip
    first, second = sorted(s.skipped, key=lambda x: x.source_ref.line or 0)
    assert (first.source_ref.line, second.source_ref.line) == (7, 8)
    assert first.reason.startswith("login 'l' has granted VIEW SERVER STATE TO [b] (Msg 15173)")
    assert second.reason.startswith("login 'm' has granted VIEW SERVER STATE TO [b] (Msg 15173)")
    assert {login.name for login in s.logins} == {"b", "l", "m"}


def test_revoke_as_a_grantor_takes_back_its_own_permission_only() -> None:
    s = snap(USERS + "GRANT SELECT ON dbo.t TO bob AS alice\nGRANT SELECT ON dbo.t TO bob AS carol\n"
             "REVOKE SELECT ON dbo.t FROM bob AS carol\nDROP USER carol\nDROP USER alice\n")  # fmt: skip
    assert {u.name for u in db(s).users} == {"alice", "bob"}  # carol's grant went with its REVOKE
    [row] = _bob(s)  # alice's grant stands
    assert (row.state.value, row.grantor, row.source_ref.line) == ("G", "alice", 7)
    assert _refused(s, 11).reason.startswith("user 'alice' has granted or denied SELECT")


#: (the grant, the REVOKE after it, whether bob's permission stands)
REVOKES = [
    ("GRANT SELECT ON dbo.t TO bob AS carol", "REVOKE SELECT ON dbo.t FROM bob AS alice", True),
    ("GRANT SELECT ON dbo.t TO bob", "REVOKE SELECT ON dbo.t FROM bob AS alice", True),
    # without AS the script's runner grants: a sysadmin, who is dbo in the database
    ("GRANT SELECT ON dbo.t TO bob", "REVOKE SELECT ON dbo.t FROM bob AS dbo", False),
    ("GRANT SELECT ON dbo.t TO bob AS carol", "REVOKE SELECT ON dbo.t FROM bob", False),
    # one grantor granting twice is one row, which its REVOKE takes back
    ("GRANT SELECT ON dbo.t TO bob AS alice\nGRANT SELECT ON dbo.t TO bob AS alice",
     "REVOKE SELECT ON dbo.t FROM bob AS alice", False),
]  # fmt: skip


def test_revoke_as_a_grantor_leaves_other_grantors_permission() -> None:
    for grant, revoke, stands in REVOKES:
        s = snap(USERS + f"{grant}\n{revoke}\n")
        assert (BOB_SELECT in perms(s)) == stands, (grant, revoke)
        assert s.skipped == ()


def test_grant_option_of_any_grantor_is_kept_and_revoked_by_grantor() -> None:
    s = snap(USERS + "GRANT SELECT ON dbo.t TO bob WITH GRANT OPTION AS alice\n"
             "GRANT SELECT ON dbo.t TO bob AS carol\n")  # fmt: skip
    [row] = _bob(s)  # alice's row has the GRANT OPTION (one_per_grantor_merged: any grantor's)
    assert (row.state.value, row.grantor) == ("W", "carol")
    s = snap(USERS + "GRANT SELECT ON dbo.t TO bob WITH GRANT OPTION AS alice\n"
             "GRANT SELECT ON dbo.t TO bob AS carol\n"
             "REVOKE GRANT OPTION FOR SELECT ON dbo.t FROM bob CASCADE AS alice\n")  # fmt: skip
    [row] = _bob(s)
    assert (row.state.value, row.grantor) == ("G", "carol")


def test_cascade_takes_back_what_the_grantee_granted_only() -> None:
    s = snap(USERS + "GRANT SELECT ON dbo.t TO bob AS carol\nGRANT SELECT ON dbo.t TO bob AS alice\n"
             "REVOKE SELECT ON dbo.t FROM alice CASCADE\nDROP USER alice\n")  # fmt: skip
    assert {u.name for u in db(s).users} == {"bob", "carol"}
    [row] = _bob(s)  # carol's grant stands: the replay used to keep alice's only, and drop it
    assert (row.grantor, row.source_ref.line) == ("carol", 7)


def test_a_renamed_first_grantor_is_not_dropped() -> None:
    s = snap(USERS + "GRANT SELECT ON dbo.t TO bob AS alice\nGRANT SELECT ON dbo.t TO bob AS carol\n"
             "ALTER USER alice WITH NAME = alicia\nDROP USER alicia\n")  # fmt: skip
    assert _refused(s, 10).reason.startswith("user 'alicia' has granted or denied SELECT")
    assert {u.name for u in db(s).users} == {"alicia", "bob", "carol"}


def test_a_renamed_table_keeps_each_grantor() -> None:
    s = snap(USERS + "CREATE TABLE dbo.t (a int)\nGRANT SELECT ON dbo.t TO bob AS alice\n"
             "GRANT SELECT ON dbo.t TO bob AS carol\nEXEC sp_rename 'dbo.t', 'u'\n"
             "DROP USER alice\n")  # fmt: skip
    assert _refused(s, 11).reason.startswith(
        "user 'alice' has granted or denied SELECT ON OBJECT::[dbo].[u] TO [bob] (Msg 15284)"
    )


def test_revoke_as_a_grantor_on_a_table_leaves_other_grantors_column_rows() -> None:
    s = snap(USERS + "GRANT SELECT ON dbo.t (a) TO bob AS carol\n"
             "GRANT SELECT ON dbo.t TO bob AS alice\nREVOKE SELECT ON dbo.t FROM bob AS alice\n")  # fmt: skip
    # alice's table row goes with its REVOKE; carol's column row stays (it used to go too)
    assert {p for p in perms(s) if p[-1] == "bob"} == {
        ("OBJECT", "dbo", "t", "a", "SELECT", "G", "bob")
    }
    s = snap(USERS + "GRANT SELECT ON dbo.t (a) TO bob AS carol\n"
             "GRANT SELECT ON dbo.t TO bob AS alice\nREVOKE SELECT ON dbo.t FROM bob\n")  # fmt: skip
    assert {p for p in perms(s) if p[-1] == "bob"} == set()  # without AS: every grantor's


def test_a_grant_again_without_the_option_keeps_that_grantors_option() -> None:
    # alice's row stays W (a GRANT without the option changes nothing of it), carol's is G: the
    # snapshot's one row has the option, until alice revokes it
    again = (
        USERS + "GRANT SELECT ON dbo.t TO bob WITH GRANT OPTION AS alice\n"
        "GRANT SELECT ON dbo.t TO bob AS alice\nGRANT SELECT ON dbo.t TO bob AS carol\n"
    )
    [row] = _bob(snap(again))
    assert (row.state.value, row.grantor) == ("W", "carol")
    s = snap(again + "REVOKE GRANT OPTION FOR SELECT ON dbo.t FROM bob CASCADE AS alice\n")
    [row] = _bob(s)
    assert (row.state.value, row.grantor) == ("G", "carol")
