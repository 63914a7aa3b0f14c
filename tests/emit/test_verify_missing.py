"""``verify`` on a live target that lacks a column of the plan: one clear error, exit 2.

On a live target (``--dsn``) verify creates stubs only for objects that are absent; a table that
exists without one of the plan's columns reaches the effective-privilege check, which cannot ask
``has_column_privilege`` about a column that is not there — or, when the plan grants on that
column, the grant itself fails while the plan is applied.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from grantbridge.cli import main
from grantbridge.errors import TargetError
from pg_emit.apply import ApplyFailed
from pg_emit.server import connect
from pg_emit.verify import verify_plan
from tests.emit.conftest import Scratch, write_plan_dir

pytestmark = pytest.mark.postgres

MESSAGE = (
    "TABLE sales.orders (note): column 'note' of table 'sales.orders' is in the plan but not in "
    "database '{database}' on the target: create it (or run the data migration first), or "
    "verify on the embedded server (no --dsn), which creates the plan's objects as stubs"
)


@pytest.fixture
def without_column(scratch: Scratch) -> Scratch:
    """The scratch database, its ``sales.orders`` without the plan's column ``note``."""
    with connect(scratch.dsn, scratch.database) as conn:
        conn.execute(b"ALTER TABLE sales.orders DROP COLUMN note")
    return scratch


def _cli_errors(scratch: Scratch, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> list[str]:
    """The ``error:`` lines of ``grantbridge verify --dsn`` (exit 2, no traceback)."""
    write_plan_dir(tmp_path, scratch.plan)
    capsys.readouterr()
    assert main(["verify", str(tmp_path), "--dsn", scratch.dsn]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return [line for line in err.splitlines() if line.startswith("error:")]


def test_verify_names_the_missing_column(without_column: Scratch) -> None:
    scratch = without_column
    with pytest.raises(TargetError) as raised:
        verify_plan(scratch.plan, scratch.dsn, embedded=False)
    assert str(raised.value) == MESSAGE.format(database=scratch.database)
    assert raised.value.exit_code == 2


def test_cli_exit_2_without_traceback(
    without_column: Scratch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scratch = without_column
    assert _cli_errors(scratch, tmp_path, capsys) == [
        f"error: {MESSAGE.format(database=scratch.database)}"
    ]


def test_a_failing_statement_is_an_error_too(
    scratch: Scratch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with connect(scratch.dsn, scratch.database) as conn:  # alice is granted SELECT (id, name)
        conn.execute(b"ALTER TABLE sales.customers DROP COLUMN name")
    with pytest.raises(ApplyFailed, match=r'column "name" of relation "customers" does not exist'):
        verify_plan(scratch.plan, scratch.dsn, embedded=False)
    [error] = _cli_errors(scratch, tmp_path, capsys)
    assert error.startswith(f"error: {scratch.database}: verify cannot apply the plan: column ")
    assert (
        f"(statement: GRANT SELECT (id, name) ON TABLE sales.customers TO {scratch.prefix}_alice)"
        in error
    )
