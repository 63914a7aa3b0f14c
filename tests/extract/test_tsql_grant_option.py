"""A DENY, REVOKE or REVOKE GRANT OPTION FOR without CASCADE of a permission the grantee holds
WITH GRANT OPTION: SQL Server refuses it (Msg 4611, "To revoke or deny grantable privileges,
specify the CASCADE option."; DENY and REVOKE (Transact-SQL), Remarks), so the grantee keeps
the permission. The
replay keeps it too, and the refused statement is reported (GB045) at its line (audit repros
c33, c34)."""

from __future__ import annotations

import pytest

from mapper.planner import plan
from mapper.policy import Policy
from mapper.translate.skipped import REFUSED_WITHOUT_CASCADE, harmless
from mssql_extract.snapshot import SecuritySnapshot, Skipped
from pg_emit.render import render_sql
from tests.extract.tsql_helpers import db, perms, snap

U = "USE d\nGO\nCREATE TABLE t (a int)\nGO\n"  # the statements below start at line 5
W = "GRANT SELECT ON t TO alice WITH GRANT OPTION\n"
ALICE_W = ("OBJECT", "dbo", "t", None, "SELECT", "W", "alice")
BOB_G = ("OBJECT", "dbo", "t", None, "SELECT", "G", "bob")


def _refused(s: SecuritySnapshot, line: int, verb: str) -> Skipped:
    """The one skipped item: the refused statement at ``line`` of t.sql, reported by the plan."""
    [item] = s.skipped
    assert (item.kind, item.source_ref.line) == ("statement", line)
    assert f"SQL Server refuses the {verb} without CASCADE (Msg 4611)" in item.reason
    assert item.reason.endswith(REFUSED_WITHOUT_CASCADE)
    assert not harmless(item), item.reason
    return item


def test_a_deny_without_cascade_of_a_grantable_permission_changes_nothing() -> None:
    # c33: alice granted SELECT on to bob; the DENY fails, so both keep it
    s = snap(U + W + "GRANT SELECT ON t TO bob AS alice\nDENY SELECT ON t TO alice\n")
    assert perms(s) == {ALICE_W, BOB_G}
    item = _refused(s, 7, "DENY")
    assert item.reason.startswith("'alice' holds SELECT on OBJECT::dbo.t WITH GRANT OPTION")
    assert item.text == "DENY SELECT ON t TO alice"


def test_a_revoke_without_cascade_of_a_grantable_permission_changes_nothing() -> None:
    # c34: no one was granted it by alice; SQL Server refuses the REVOKE all the same
    s = snap(U + W + "REVOKE SELECT ON t FROM alice\n")
    assert perms(s) == {ALICE_W}
    _refused(s, 6, "REVOKE")


@pytest.mark.parametrize(
    ("sql", "verb", "expected"),
    [
        # one grantee holding the grant option fails the statement for every grantee …
        ("GRANT SELECT ON t TO bob\nDENY SELECT ON t TO bob, alice\n", "DENY", {ALICE_W, BOB_G}),
        # … and for every permission it names
        ("GRANT INSERT ON t TO alice\nREVOKE INSERT, SELECT ON t FROM alice\n", "REVOKE",
         {ALICE_W, ("OBJECT", "dbo", "t", None, "INSERT", "G", "alice")}),
        # a column permission names the table's: a column GRANT is untouched too
        ("GRANT SELECT ON t (a) TO alice\nDENY SELECT ON t TO alice\n", "DENY",
         {ALICE_W, ("OBJECT", "dbo", "t", "a", "SELECT", "G", "alice")}),
    ],
    ids=["grantees", "permissions", "columns"],
)  # fmt: skip
def test_the_whole_statement_is_refused(sql: str, verb: str, expected: set[object]) -> None:
    s = snap(U + W + sql)
    assert perms(s) == expected
    _refused(s, 7, verb)


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("GRANT VIEW SERVER STATE TO l WITH GRANT OPTION\nDENY VIEW SERVER STATE TO l\n",
         {("SERVER", None, None, None, "VIEW SERVER STATE", "W", "l")}),
        ("USE d\nGO\nGRANT CREATE TABLE TO alice WITH GRANT OPTION\n"
         "REVOKE CREATE TABLE FROM alice\n",
         {("DATABASE", None, None, None, "CREATE TABLE", "W", "alice")}),
        ("USE d\nGO\nGRANT CONTROL ON SCHEMA::s TO alice WITH GRANT OPTION\n"
         "DENY CONTROL ON SCHEMA::s TO alice\n",
         {("SCHEMA", None, "s", None, "CONTROL", "W", "alice")}),
    ],
    ids=["server", "database", "schema"],
)  # fmt: skip
def test_every_class_of_securable_is_refused_alike(sql: str, expected: set[object]) -> None:
    s = snap(sql)
    name = None if sql.startswith("GRANT VIEW SERVER") else "d"
    assert perms(s, name) == expected
    [item] = s.skipped
    assert "(Msg 4611)" in item.reason
    assert not harmless(item)


def test_cascade_is_replayed_as_before() -> None:
    # the refused DENY leaves W; REVOKE GRANT OPTION FOR … CASCADE makes it G (and takes bob's
    # grant from alice with it), and DENY … CASCADE replaces the rest
    s = snap(
        U + W + "GRANT SELECT ON t TO bob AS alice\nDENY SELECT ON t TO alice\n"
        "REVOKE GRANT OPTION FOR SELECT ON t FROM alice CASCADE\n"
    )
    assert perms(s) == {("OBJECT", "dbo", "t", None, "SELECT", "G", "alice")}
    s = snap(U + W + "GRANT SELECT ON t TO bob AS alice\nREVOKE SELECT ON t FROM alice\n"
             "DENY SELECT ON t TO alice CASCADE\n")  # fmt: skip
    assert perms(s) == {("OBJECT", "dbo", "t", None, "SELECT", "D", "alice")}
    _refused(s, 7, "REVOKE")


@pytest.mark.parametrize(
    "tail",
    # whether or not alice passed the permission on: the rule is the option held, not its use
    ["", "GRANT SELECT ON t TO bob AS alice\n"],
    ids=["not-passed-on", "passed-on"],
)
def test_revoke_grant_option_for_without_cascade_is_refused(tail: str) -> None:
    # the old replay took the option away (W → G): SQL Server refuses it (Msg 4611)
    s = snap(U + W + tail + "REVOKE GRANT OPTION FOR SELECT ON t FROM alice\n")
    line = 6 + tail.count("\n")
    assert perms(s) == {ALICE_W} | ({BOB_G} if tail else set())
    item = _refused(s, line, "REVOKE GRANT OPTION FOR")
    assert item.reason.startswith("'alice' holds SELECT on OBJECT::dbo.t WITH GRANT OPTION")
    assert item.text == "REVOKE GRANT OPTION FOR SELECT ON t FROM alice"


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        # without the option "the permission itself will be revoked" (REVOKE (Transact-SQL))
        ("GRANT SELECT ON t TO alice\n", set()),
        ("DENY SELECT ON t TO alice\n", {("OBJECT", "dbo", "t", None, "SELECT", "D", "alice")}),
    ],
    ids=["granted", "denied"],
)
def test_revoke_grant_option_for_of_no_option_is_replayed(sql: str, expected: set[object]) -> None:
    revoke = "REVOKE GRANT OPTION FOR SELECT ON t FROM alice\n"
    s = snap(U + sql + revoke)
    assert perms(s) == expected
    assert not s.skipped
    # the same statement is refused where alice holds the option, whatever came before
    s = snap(U + sql + W + revoke)
    assert perms(s) == {ALICE_W}
    _refused(s, 7, "REVOKE GRANT OPTION FOR")


def test_the_plan_keeps_the_option_a_refused_revoke_grant_option_for_leaves() -> None:
    users = "CREATE USER alice WITHOUT LOGIN\n"
    s = snap(U + users + W + "REVOKE GRANT OPTION FOR SELECT ON t FROM alice\n")
    planned = plan(s, Policy())
    found = {f.rule_id: f for f in planned.findings}
    assert found["GB045"].source_ref == "t.sql:7:1"
    assert "SQL Server refuses the statement" in found["GB045"].action
    # the option stands, and the plan reports it (with it taken away, it reported nothing)
    assert (found["GB007"].principal, found["GB007"].source_ref) == ("alice", "t.sql:6:1")


@pytest.mark.parametrize(
    "condition",
    [
        # an existence check finds the permission: the branch runs, and the statement fails
        "IF EXISTS (SELECT 1 FROM sys.database_permissions WHERE state = 'W')",
        # a condition grantbridge cannot evaluate: reported once, as refused
        "IF @@SERVERNAME = N'prod'",
    ],
    ids=["existence-check", "uncertain"],
)
def test_a_refused_statement_in_a_branch_is_reported(condition: str) -> None:
    s = snap(U + W + condition + "\n    REVOKE SELECT ON t FROM alice\n")
    assert perms(s) == {ALICE_W}
    [item] = s.skipped
    assert (item.source_ref.line, "(Msg 4611)" in item.reason) == (7, True)


def test_the_plan_grants_what_the_refused_deny_leaves_and_reports_it() -> None:
    users = "CREATE USER alice WITHOUT LOGIN\nCREATE USER bob WITHOUT LOGIN\n"
    s = snap(U + users + W + "GRANT SELECT ON t TO bob AS alice\nDENY SELECT ON t TO alice\n")
    planned = plan(s, Policy())
    [found] = [f for f in planned.findings if f.rule_id == "GB045"]
    assert found.source_ref == "t.sql:9:1"
    assert "SQL Server refuses the statement, so the grantee keeps the permission" in found.action
    privileges = render_sql(planned)["sql/04_privileges.sql"]
    assert "GRANT SELECT ON TABLE dbo.t TO alice, bob" in privileges


@pytest.mark.parametrize(
    "again",
    ["GRANT SELECT ON t TO alice", "GRANT SELECT ON dbo.t TO alice AS dbo",
     "GRANT SELECT ON OBJECT::dbo.t TO alice, bob"],
    ids=["plain", "as-dbo", "two-grantees"],
)  # fmt: skip
def test_a_grant_again_without_the_option_keeps_it(again: str) -> None:
    # the row stays W, from the statement that gave the option: only REVOKE GRANT OPTION FOR
    # takes it away (perm_store's docstring)
    s = snap(U + W + again + "\n")
    assert perms(s) - {BOB_G} == {ALICE_W}
    [row] = [p for p in db(s).permissions if p.grantee == "alice"]
    assert row.source_ref.line == 5
    assert not s.skipped


def test_after_a_grant_again_only_revoke_grant_option_for_takes_the_option() -> None:
    again = U + W + "GRANT SELECT ON t TO alice\n"
    s = snap(again + "REVOKE GRANT OPTION FOR SELECT ON t FROM alice CASCADE\n")
    assert perms(s) == {("OBJECT", "dbo", "t", None, "SELECT", "G", "alice")}
    # the option kept, a DENY without CASCADE is refused (Msg 4611); with it, it replaces
    s = snap(again + "DENY SELECT ON t TO alice\n")
    assert perms(s) == {ALICE_W}
    _refused(s, 7, "DENY")
    s = snap(again + "DENY SELECT ON t TO alice CASCADE\n")
    assert perms(s) == {("OBJECT", "dbo", "t", None, "SELECT", "D", "alice")}
    assert not s.skipped
