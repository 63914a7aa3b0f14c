"""A script's ``ALTER TABLE … DROP COLUMN``, planned: no grant on a column the target will not
have. SQL Server drops a column's permissions with it; a column a default depends on is refused
(Msg 5074, 4922) and keeps them, and the plan grants them as the server holds them (GB045 tells
why). Planned from T-SQL as :mod:`tests.mapper.test_default_sequence_drops` does.
"""

from __future__ import annotations

from pathlib import Path

from mapper.plan import MigrationPlan
from tests.modules.test_ownership_chains import findings, planned, script

BODY = """CREATE SEQUENCE [s].[seq] AS bigint
GO
CREATE TABLE [s].[t] ([id] bigint CONSTRAINT [df_t_id] DEFAULT (NEXT VALUE FOR [s].[seq]),
    [note] nvarchar(20), [code] int)
GO
GRANT SELECT ([note], [code]) ON OBJECT::[s].[t] TO [{p}carol]
GRANT UPDATE ([note]) ON OBJECT::[s].[t] TO [{p}caller]
GRANT SELECT ([id]) ON [s].[t] TO [{p}caller]
GO
"""


def column_grants(migration: MigrationPlan) -> set[tuple[str, str, tuple[str, ...]]]:
    """(grantee, privilege, columns) of the plan's column grants on s.t."""
    return {(g.grantee, g.privilege, g.columns) for g in migration.grants
            if g.name == "t" and g.columns}  # fmt: skip


def test_the_plan_grants_nothing_on_a_dropped_column(tmp_path: Path) -> None:
    before = planned(tmp_path, BODY)
    assert ("caller", "UPDATE", ("note",)) in column_grants(before)
    migration = planned(tmp_path, BODY + "ALTER TABLE [s].[t] DROP COLUMN [note]\nGO\n")
    assert column_grants(migration) == {
        ("carol", "SELECT", ("code",)),
        ("caller", "SELECT", ("id",)),
    }
    assert "note" not in script(migration, "04_privileges.sql")
    assert not findings(migration, "GB045")


def test_a_refused_drop_keeps_the_grants_and_says_why(tmp_path: Path) -> None:
    migration = planned(tmp_path, BODY + "ALTER TABLE [s].[t] DROP COLUMN [note], [id]\nGO\n")
    assert column_grants(migration) == column_grants(planned(tmp_path, BODY))
    (refused,) = findings(migration, "GB045")
    assert refused.evidence.startswith(
        "column [id] of [s].[t] has the default [df_t_id], so SQL Server refuses the ALTER TABLE"
    )
    assert refused.action.startswith(
        "Not in the plan as a drop: SQL Server refuses the statement, so the column stays with "
        "its permissions"
    )


def test_the_default_dropped_first_lets_the_column_go(tmp_path: Path) -> None:
    tail = "ALTER TABLE [s].[t] DROP CONSTRAINT [df_t_id], COLUMN [id], [note]\nGO\n"
    migration = planned(tmp_path, BODY + tail)
    assert column_grants(migration) == {("carol", "SELECT", ("code",))}
    assert not findings(migration, "GB045")
