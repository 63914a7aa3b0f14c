"""Script replay of an ``sp_rename`` of what a view or inline function WITH SCHEMABINDING
references (``mssql_extract/tsql/rename_refusals.py``): SQL Server refuses it (Msg 15336), so the
table, view or column keeps its name and its grants, in the snapshot and in the plan (GB045); a
column no module names, the module itself, and anything once the module is dropped, are renamed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mapper.translate.skipped import REFUSED_RENAME
from mssql_extract.snapshot import SecuritySnapshot
from mssql_extract.tsql.rename_refusals import NAME_STANDS
from tests.extract_sources.test_schema_binding import FUNCTION, LINE, grants, objects, replayed
from tests.modules.test_ownership_chains import findings, planned

#: Msg 15336, for the ``@objname`` written so.
MSG_15336 = (
    "so SQL Server refuses the sp_rename (Msg 15336 \"Object '{}' cannot be renamed because the "
    f'object participates in enforced dependencies."): {NAME_STANDS}'
)


def refusals(snapshot: SecuritySnapshot) -> list[tuple[int, str]]:
    return [(s.source_ref.line, s.reason) for s in snapshot.skipped
            if s.reason.endswith(NAME_STANDS)]  # fmt: skip


@pytest.mark.parametrize(
    ("rename", "reason"),
    [
        ("EXEC sp_rename 's.t', 't2'",
         "table [s].[t] is referenced by the view [s].[v] WITH SCHEMABINDING, "
         + MSG_15336.format("s.t")),
        ("EXEC sp_rename @objname = N'[s].[v]', @newname = N'v2'",
         "view [s].[v] is referenced by the view [s].[w] WITH SCHEMABINDING, "
         + MSG_15336.format("[s].[v]")),
        ("EXEC sp_rename 's.t.a', 'a2', 'COLUMN'",
         "column [a] of [s].[t] is used by the view [s].[v] WITH SCHEMABINDING, "
         + MSG_15336.format("s.t.a")),
    ],
    ids=["table", "view", "column"],
)  # fmt: skip
def test_what_a_view_binds_keeps_its_name_and_grants(
    tmp_path: Path, rename: str, reason: str
) -> None:
    snapshot = replayed(tmp_path, f"{rename}\nGO\n")
    assert refusals(snapshot) == [(LINE, reason)]
    assert grants(snapshot) == {("t", ""), ("t", "id"), ("t", "a"), ("t", "b"), ("t", "c"),
                                ("v", "")}  # fmt: skip
    assert {"s.t", "s.v", "s.w"} <= objects(snapshot)


def test_an_inline_function_keeps_the_table_and_column_it_binds(tmp_path: Path) -> None:
    tail = FUNCTION + "EXEC sp_rename 's.u.d', 'd2', 'COLUMN'\nGO\nEXEC sp_rename 's.u', 'u2'\nGO\n"
    snapshot = replayed(tmp_path, tail)
    assert [(line, reason.split(", so ")[0]) for line, reason in refusals(snapshot)] == [
        (LINE + 3, "column [d] of [s].[u] is used by the function [s].[f] WITH SCHEMABINDING"),
        (LINE + 5, "table [s].[u] is referenced by the function [s].[f] WITH SCHEMABINDING and "
                   "the view [s].[v] WITH SCHEMABINDING"),
    ]  # fmt: skip
    assert "s.u" in objects(snapshot)


def test_what_no_module_binds_is_renamed(tmp_path: Path) -> None:
    """A column the view does not name, the view that binds (nothing binds s.w), and the table
    once the views that bind it are dropped."""
    tail = ("EXEC sp_rename 's.t.b', 'b2', 'COLUMN'\nGO\nEXEC sp_rename 's.w', 'w2'\nGO\n"
            "DROP VIEW s.w2\nGO\nDROP VIEW s.v\nGO\nEXEC sp_rename 's.t', 't2'\nGO\n")  # fmt: skip
    snapshot = replayed(tmp_path, tail)
    assert not refusals(snapshot)
    assert grants(snapshot) == {("t2", ""), ("t2", "id"), ("t2", "a"), ("t2", "b2"),
                                ("t2", "c")}  # fmt: skip
    bound = replayed(tmp_path, "EXEC sp_rename 's.t', 't2'\nGO\n")
    assert [line for line, _ in refusals(bound)] == [LINE]


def test_the_plan_keeps_the_grants_under_the_old_name_and_says_why(tmp_path: Path) -> None:
    body = ("CREATE TABLE [s].[t] (id int, x int)\nGO\n"
            "CREATE VIEW [s].[v] WITH SCHEMABINDING AS SELECT x FROM [s].[t]\nGO\n"
            "GRANT SELECT ON OBJECT::[s].[t] TO [{p}carol]\nGO\n")  # fmt: skip
    migration = planned(tmp_path, body + "EXEC sp_rename N'[s].[t]', N't2'\nGO\n")
    on_tables = {(g.name, g.privilege) for g in migration.grants if g.name in ("t", "t2")}
    assert on_tables == {("t", "SELECT")}
    (refused,) = findings(migration, "GB045")
    assert refused.evidence.startswith(
        "table [s].[t] is referenced by the view [s].[v] WITH SCHEMABINDING, so SQL Server "
        "refuses the sp_rename (Msg 15336"
    )
    assert refused.evidence.split(": EXEC")[0].endswith(REFUSED_RENAME)
    assert refused.action.startswith("Not in the plan as a rename: SQL Server refuses")
