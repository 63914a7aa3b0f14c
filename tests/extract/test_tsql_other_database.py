"""A GRANT, DENY or REVOKE naming an object of another database (``[Other].[dbo].[T]``) is kept
as skipped and reported, never read as one on the current database's object of that name.

It used to drop the database part: run in [d], ``GRANT SELECT ON [Other].[dbo].[T] TO u``
granted SELECT on ``d``'s own ``dbo.T``, a table the statement never named.
"""

from __future__ import annotations

from mapper.planner import plan
from mapper.policy import Policy
from tests.extract.tsql_helpers import perms, snap

SCRIPT = """\
USE [d]
GO
CREATE TABLE dbo.T (a int)
GO
CREATE USER [u] WITHOUT LOGIN
GO
GRANT SELECT ON [Other].[dbo].[T] TO [u]
GO
DENY UPDATE ON OBJECT::other.dbo.T TO [u]
GO
GRANT INSERT ON [D].[dbo].[T] TO [u]
GO
"""


def test_only_the_current_database_three_part_name_is_read() -> None:
    snapshot = snap(SCRIPT)
    assert perms(snapshot) == {("OBJECT", "dbo", "T", None, "INSERT", "G", "u")}
    skipped = {(str(s.source_ref), s.text) for s in snapshot.skipped}
    assert skipped == {
        ("t.sql:7:1", "GRANT SELECT ON [Other].[dbo].[T] TO [u]"),
        ("t.sql:9:1", "DENY UPDATE ON OBJECT::other.dbo.T TO [u]"),
    }
    (reason,) = {s.reason for s in snapshot.skipped if str(s.source_ref) == "t.sql:7:1"}
    assert "an object of database [Other], while it runs in [d]" in reason
    assert "USE [Other]" in reason


def test_the_plan_reports_it_and_grants_nothing_on_the_local_table() -> None:
    migration = plan(snap(SCRIPT), Policy())
    reported = {f.source_ref for f in migration.findings if f.rule_id == "GB045"}
    assert {"t.sql:7:1", "t.sql:9:1"} <= reported
    on_t = {(g.privilege, g.grantee) for g in migration.grants if g.object_type == "TABLE"}
    assert on_t == {("INSERT", "u")}
