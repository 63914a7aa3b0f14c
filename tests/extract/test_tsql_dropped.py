"""Permissions an ownership change or a schema transfer drops are listed, never dropped in silence.

ALTER AUTHORIZATION to a new owner drops the permissions on the securable (and, on a schema,
those on what it holds without an owner of its own); ALTER SCHEMA … TRANSFER and
sp_changeobjectowner drop those on the object they move. The replay drops them as SQL Server
does, and keeps the statement as a skipped entry listing the GRANT and DENY statements it
dropped, each with its line: the plan reports it (GB045).
"""

from __future__ import annotations

import pytest

from mapper.planner import plan
from mapper.policy import Policy
from mapper.translate.skipped import DROPPED, harmless
from mssql_extract.snapshot import SecuritySnapshot
from mssql_extract.tsql import dropped
from tests.extract.tsql_helpers import perms, snap

SETUP = (
    "USE d\nGO\nCREATE SCHEMA ledger\nGO\nCREATE TABLE ledger.t (a int)\nGO\n"  # lines 1-6
    "CREATE ROLE [Ledger_Writers]\nCREATE ROLE [Readers]\nCREATE USER [app] WITHOUT LOGIN\n"
    "GRANT SELECT ON SCHEMA::ledger TO [Readers]\n"  # line 10
    "GRANT INSERT, UPDATE ON ledger.t TO [Readers] WITH GRANT OPTION\n"  # line 11
    "DENY DELETE ON ledger.t TO [app]\nGRANT SELECT ON ledger.t (a) TO [app]\nGO\n"  # 12, 13
)
LISTED = (
    "GRANT SELECT ON SCHEMA::[ledger] TO [Readers] (line 10); "
    "GRANT INSERT, UPDATE ON OBJECT::[ledger].[t] TO [Readers] WITH GRANT OPTION (line 11); "
    "DENY DELETE ON OBJECT::[ledger].[t] TO [app] (line 12); "
    "GRANT SELECT ON OBJECT::[ledger].[t] ([a]) TO [app] (line 13)"
)
TABLE_LISTED = LISTED.split("; ", 1)[1]


def _only_skipped(s: SecuritySnapshot) -> tuple[int | None, str, str]:
    [skipped] = s.skipped
    assert skipped.reason.startswith(DROPPED)
    assert not harmless(skipped)
    return skipped.source_ref.line, skipped.reason, skipped.text


def test_a_new_schema_owner_lists_the_permissions_it_dropped() -> None:
    s = snap(SETUP + "ALTER AUTHORIZATION ON SCHEMA::ledger TO [Ledger_Writers]\nGO\n")
    assert perms(s) == set()
    line, reason, text = _only_skipped(s)
    assert (line, text) == (15, LISTED)
    assert "SCHEMA [ledger] a new owner" in reason
    assert "what it holds without an owner of its own" in reason


@pytest.mark.parametrize(
    ("statement", "what"),
    [
        ("ALTER AUTHORIZATION ON OBJECT::ledger.t TO [Ledger_Writers]",
         "ALTER AUTHORIZATION gives OBJECT [ledger].[t] a new owner"),
        ("ALTER SCHEMA dbo TRANSFER ledger.t", "ALTER SCHEMA [dbo] TRANSFER moves OBJECT [ledger].[t]"),
        ("EXEC sp_changeobjectowner 'ledger.t', 'dbo'",
         "sp_changeobjectowner moves [ledger].[t] to schema [dbo]"),
    ],
    ids=["object-owner", "schema-transfer", "sp_changeobjectowner"],
)  # fmt: skip
def test_an_object_changing_owner_or_schema_lists_the_permissions_it_dropped(
    statement: str, what: str
) -> None:
    s = snap(SETUP + statement + "\nGO\n")
    assert perms(s) == {("SCHEMA", None, "ledger", None, "SELECT", "G", "Readers")}
    line, reason, text = _only_skipped(s)
    assert (line, text) == (15, TABLE_LISTED)
    assert what in reason


def test_a_new_role_owner_lists_the_permissions_it_dropped() -> None:
    s = snap(SETUP + "GRANT ALTER ON ROLE::[Readers] TO [app]\nGO\n"
             "ALTER AUTHORIZATION ON ROLE::[Readers] TO [app]\n")  # fmt: skip
    line, reason, text = _only_skipped(s)
    assert (line, text) == (17, "GRANT ALTER ON ROLE::[Readers] TO [app] (line 15)")
    assert "ROLE [Readers] a new owner" in reason


@pytest.mark.parametrize(
    "after",
    [
        "ALTER AUTHORIZATION ON SCHEMA::ledger TO dbo\n",  # the owner it has: no transfer
        "ALTER AUTHORIZATION ON OBJECT::ledger.t TO SCHEMA OWNER\n",
        "ALTER AUTHORIZATION ON SCHEMA::other TO [app]\n",
    ],
)
def test_nothing_dropped_nothing_listed(after: str) -> None:
    s = snap(SETUP + after)
    assert len(perms(s)) == 5
    assert s.skipped == ()


def test_a_statement_from_another_file_is_listed_with_its_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from mssql_extract.tsql import extract_scripts

    (tmp_path / "a.sql").write_text(SETUP)
    (tmp_path / "b.sql").write_text("USE d\nGO\nALTER SCHEMA dbo TRANSFER ledger.t\n")
    [skipped] = extract_scripts([tmp_path]).skipped
    assert str(skipped.source_ref).endswith("b.sql:3:1")
    assert f"ON OBJECT::[ledger].[t] TO [app] ({tmp_path / 'a.sql'}:12:1)" in skipped.text


def test_under_an_if_it_cannot_evaluate_the_entry_says_so() -> None:
    s = snap(SETUP + "IF @@VERSION LIKE '%x%'\n    ALTER SCHEMA dbo TRANSFER ledger.t\n")
    [skipped] = s.skipped
    assert skipped.reason.startswith(DROPPED)
    assert "only if the condition of the IF at t.sql:15:1 holds" in skipped.reason


def test_the_plan_reports_the_dropped_statements() -> None:
    s = snap(SETUP + "ALTER AUTHORIZATION ON SCHEMA::ledger TO [Ledger_Writers]\nGO\n")
    [finding] = [f for f in plan(s, Policy()).findings if f.rule_id == "GB045"]
    assert finding.source_ref == "t.sql:15:1"
    assert finding.evidence.endswith(": " + LISTED)
    assert finding.action.startswith("Not in the plan, as on the server: SQL Server drops these")
    assert DROPPED == dropped.DROPPED  # the mapper tells these entries by the extractor's prefix
