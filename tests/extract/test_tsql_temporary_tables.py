"""Temporary tables in scripts (``#t``, ``##t``): SSDT post-deployment scripts stage data in
them. They live in tempdb for their session, nothing of the estate's security, so the
statements that make, change or drop them are read as without a security effect; before, the
first ``CREATE TABLE #t`` stopped the whole extract ("expected an object name")."""

from __future__ import annotations

from pathlib import Path

import pytest

from grantbridge.cli import main
from mapper.translate.skipped import harmless
from tests.extract.tsql_helpers import db, snap

STAGING = """CREATE TABLE #stage (id int NOT NULL, note nvarchar(20))
GO
CREATE TABLE ##shared (id int)
GO
ALTER TABLE #stage ADD extra int
GO
CREATE INDEX ix_stage ON #stage (id)
GO
CREATE UNIQUE CLUSTERED INDEX ux_stage ON #stage (id)
GO
CREATE NONCLUSTERED INDEX nx_stage ON #stage (note)
GO
INSERT INTO #stage (id, note) VALUES (1, N'a')
GO
SELECT * INTO #copy FROM #stage
GO
DROP INDEX ix_stage ON #stage
GO
DROP TABLE IF EXISTS #copy
GO
DROP TABLE #stage, ##shared
GO
CREATE TABLE dbo.T (id int)
GO
GRANT SELECT ON dbo.T TO [reader]
GO
"""


def test_temporary_tables_are_read_as_without_a_security_effect() -> None:
    found = snap(
        "CREATE DATABASE [d]\nGO\nUSE [d]\nGO\nCREATE USER [reader] WITHOUT LOGIN\nGO\n" + STAGING
    )
    d = db(found)
    assert [(o.schema_name, o.name) for o in d.objects] == [("dbo", "T")]
    assert [(p.permission, p.grantee) for p in d.permissions] == [("SELECT", "reader")]
    temporary = [s for s in found.skipped if "temporary table" in s.reason]
    assert len(temporary) == 9
    assert all(harmless(s) for s in found.skipped), [s.reason for s in found.skipped]


@pytest.mark.parametrize(
    "sql",
    [
        "CREATE TABLE #t (id int)",
        "DROP TABLE IF EXISTS #t",
        "CREATE INDEX ix ON #t (id)",
        "ALTER TABLE ##t ADD c int",
    ],
)
def test_each_statement_on_a_temporary_table_is_harmless(sql: str) -> None:
    [entry] = snap(sql).skipped
    assert "a temporary table (#name)" in entry.reason
    assert harmless(entry)
    assert entry.source_ref.line == 1


def test_a_table_named_like_a_temporary_one_in_brackets_is_a_table() -> None:
    """``[#t]`` is a permanent table whose name starts with #: still read."""
    found = snap("CREATE DATABASE [d]\nGO\nUSE [d]\nGO\nCREATE TABLE dbo.[#t] (id int)\nGO\n")
    assert [o.name for o in db(found).objects] == ["#t"]


def test_extract_of_a_script_with_temporary_tables_succeeds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script = tmp_path / "post-deploy.sql"
    script.write_text(
        "CREATE DATABASE [d]\nGO\nUSE [d]\nGO\n" + STAGING.replace("[reader]", "public")
    )
    assert main(["extract", "--script", str(script), "-o", str(tmp_path / "s.json")]) == 0
    assert "expected an object name" not in capsys.readouterr().err
