"""Statements go to the server in batches (psql's ``\\;``; pipeline mode in apply / verify).

The scripts must still read as one statement per step, parse back statement by statement,
apply with the real psql binary exactly as ``grantbridge apply`` applies them, and name the
failing statement when one in the middle of a batch fails.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from bench.pgload import psql_binary
from pg_emit.apply import APPLY_ORDER
from pg_emit.execute import StatementFailed, run_statements
from pg_emit.psql import parse_script
from pg_emit.render import render_sql
from pg_emit.script import BATCH, Script, Section, Statement
from pg_emit.server import connect
from pg_emit.verify import check_state
from tests.emit.conftest import Scratch


def _script(count: int) -> Script:
    statements = tuple(Statement(f"SELECT {i}", (f"step {i}",)) for i in range(count))
    return Script("t.sql", "test", "sha256:0", sections=(Section("db", statements),))


def test_every_batch_ends_with_a_semicolon_and_parses_back() -> None:
    count = 2 * BATCH + 3
    text = _script(count).render()
    ends = [line for line in text.splitlines() if line.startswith("SELECT ")]
    sent = [i for i, line in enumerate(ends) if line.endswith(";") and not line.endswith("\\;")]
    assert sent == [BATCH - 1, 2 * BATCH - 1, count - 1]
    assert all(line.endswith(" \\;") for i, line in enumerate(ends) if i not in sent)
    (section,) = parse_script(text, "t.sql")
    assert section.statements == tuple(f"SELECT {i}" for i in range(count))


def test_psql_subset_reads_batch_ends_outside_quotes_only() -> None:
    text = (
        "BEGIN;\nSELECT 'a \\;' \\;\nDO $t$ BEGIN PERFORM 1; END $t$ \\;\n"
        'SELECT 1 AS "x \\;";\nCOMMIT;\n'
    )
    (section,) = parse_script(text, "t.sql")
    assert section.statements == (
        "SELECT 'a \\;'", "DO $t$ BEGIN PERFORM 1; END $t$", 'SELECT 1 AS "x \\;"'
    )  # fmt: skip


@pytest.mark.postgres
@pytest.mark.parametrize("failing", [0, BATCH - 1, BATCH, BATCH + 7, 2 * BATCH + 2])
def test_run_statements_names_the_failing_statement(embedded_pg: str, failing: int) -> None:
    statements = [f"CREATE TEMP TABLE gb_batch_{i} (x int)" for i in range(2 * BATCH + 3)]
    statements[failing] = f"GRANT SELECT ON TABLE gb_no_such_{failing} TO PUBLIC"
    with connect(embedded_pg, autocommit=False) as conn:
        with pytest.raises(StatementFailed) as caught:
            run_statements(conn, statements)
        conn.rollback()
        assert caught.value.index == failing
        assert caught.value.first_line == statements[failing]
        assert f'"gb_no_such_{failing}" does not exist' in caught.value.reason
        run_statements(conn, statements[:failing])  # the ones before it do run
        names = "SELECT count(*) FROM pg_class WHERE relname LIKE 'gb\\_batch\\_%'"
        assert conn.execute(names).fetchone() == (failing,)
        conn.rollback()


def _psql(dsn: str, script: Path) -> subprocess.CompletedProcess[str]:
    command = [psql_binary(), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", dsn, "-f", str(script)]
    return subprocess.run(command, capture_output=True, text=True, check=False)


@pytest.mark.postgres
def test_psql_applies_the_scripts_as_apply_does(scratch: Scratch, tmp_path: Path) -> None:
    """The real psql binary runs the batched scripts to the planned state, and a failure in
    the middle of a batch stops it and keeps nothing of that transaction."""
    scripts = render_sql(scratch.plan)
    broken = scripts["sql/04_privileges.sql"].replace(
        " \\;\n", " \\;\nGRANT SELECT ON TABLE sales.gb_no_such_table TO PUBLIC \\;\n", 1
    )
    assert broken != scripts["sql/04_privileges.sql"]
    (tmp_path / "broken.sql").write_text(broken, encoding="utf-8")
    before = scratch.state()
    for name in APPLY_ORDER[:3]:
        (tmp_path / "part.sql").write_text(scripts[name], encoding="utf-8")
        assert _psql(scratch.dsn, tmp_path / "part.sql").returncode == 0
    after_three = scratch.state()
    assert after_three != before
    failed = _psql(scratch.dsn, tmp_path / "broken.sql")
    assert failed.returncode == 3, failed.stderr
    assert 'relation "sales.gb_no_such_table" does not exist' in failed.stderr
    assert scratch.state() == after_three
    for name in APPLY_ORDER[3:]:
        (tmp_path / "part.sql").write_text(scripts[name], encoding="utf-8")
        done = _psql(scratch.dsn, tmp_path / "part.sql")
        assert done.returncode == 0, done.stderr
    with connect(scratch.dsn, scratch.database) as conn:
        assert check_state(conn, scratch.plan, scratch.database) == []
