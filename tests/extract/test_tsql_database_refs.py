"""Findings about a database's owner and TRUSTWORTHY point at the statement that set them.

GB012 ("TRUSTWORTHY database owned by a sysadmin") and the database's ownership finding used to
point at its CREATE DATABASE line, many lines away from the ALTER that a reviewer must question.
"""

from __future__ import annotations

from mapper.planner import plan
from mapper.policy import Policy
from tests.extract.tsql_helpers import db, snap

SCRIPT = """\
CREATE DATABASE [r]
GO
ALTER AUTHORIZATION ON DATABASE::[r] TO [sa]
GO
-- the quick fix for cross-database reads
ALTER DATABASE [r] SET TRUSTWORTHY ON
GO
"""


def test_the_snapshot_records_where_owner_and_trustworthy_were_set() -> None:
    found = db(snap(SCRIPT), "r")
    assert str(found.source_ref) == "t.sql:1:1"
    assert str(found.owner_ref) == "t.sql:3:1"
    assert str(found.trustworthy_ref) == "t.sql:6:1"


def test_trustworthy_off_again_forgets_where_it_was_on() -> None:
    found = db(snap(SCRIPT + "ALTER DATABASE [r] SET TRUSTWORTHY OFF\n"), "r")
    assert not found.trustworthy
    assert found.trustworthy_ref is None
    assert (
        '"trustworthy_ref"'
        not in snap(SCRIPT + "ALTER DATABASE [r] SET TRUSTWORTHY OFF\n").to_json()
    )


def test_sp_changedbowner_records_its_line() -> None:
    found = db(snap("CREATE DATABASE [r]\nGO\nUSE [r]\nGO\nEXEC sp_changedbowner 'sa'\n"), "r")
    assert str(found.owner_ref) == "t.sql:5:1"


def test_gb012_points_at_the_trustworthy_statement() -> None:
    migration = plan(snap(SCRIPT), Policy())
    (gb012,) = [f for f in migration.findings if f.rule_id == "GB012"]
    assert gb012.source_ref == "t.sql:6:1"


def test_the_owner_finding_points_at_alter_authorization() -> None:
    given = SCRIPT + "CREATE LOGIN [bob] WITH PASSWORD = N'x'\nGO\n"
    given += "ALTER AUTHORIZATION ON DATABASE::[r] TO [bob]\nGO\n"
    migration = plan(snap(given), Policy())
    owned = [(f.rule_id, f.principal, f.source_ref) for f in migration.findings
             if f.securable == "DATABASE [r]"]  # fmt: skip
    assert owned == [("GB016", "bob", "t.sql:10:1")]  # not CREATE DATABASE's line 1
