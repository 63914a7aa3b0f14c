"""A multi-database apply that fails part-way says what was already committed and how to undo it.

PostgreSQL has no transaction across databases, so each section of a multi-database apply
commits on its own (pg_emit.apply). When a later section fails, the earlier ones stay: the
error must say so, name them, and point at rollback.sql — not just "rolled back".
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from pg_emit.apply import ApplyFailed, run_scripts
from pg_emit.server import connect

pytestmark = pytest.mark.postgres


@pytest.fixture
def two_databases(pg_dsn: str) -> Iterator[tuple[str, str, str]]:
    names = tuple(f"gb_multi_{uuid.uuid4().hex[:8]}_{i}" for i in (1, 2))
    with connect(pg_dsn) as conn:
        for name in names:
            conn.execute(f'CREATE DATABASE "{name}"'.encode())
    try:
        yield pg_dsn, names[0], names[1]
    finally:
        with connect(pg_dsn) as conn:
            for name in names:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())


def _tables(dsn: str, database: str) -> list[str]:
    with connect(dsn, database) as conn:
        rows = conn.execute(
            "SELECT relname FROM pg_class WHERE relname LIKE 'gb_multi_%' ORDER BY 1"
        )
        return [r[0] for r in rows.fetchall()]


BAD_GRANT = "GRANT SELECT ON TABLE gb_multi_no_such_table TO PUBLIC"


def _script(*sections: tuple[str, list[str]]) -> str:
    """A psql script with one transaction per (database, statements) section."""
    lines = ["\\set ON_ERROR_STOP on"]
    for database, statements in sections:
        lines += [f'\\connect "{database}"', "BEGIN;", *(f"{s};" for s in statements), "COMMIT;"]
    return "\n".join(lines) + "\n"


def test_failure_after_a_committed_database_names_it_and_the_rollback(
    two_databases: tuple[str, str, str],
) -> None:
    dsn, first, second = two_databases
    script = _script(
        (first, ["CREATE TABLE gb_multi_kept (x integer)"]),
        (second, ["CREATE TABLE gb_multi_gone (x integer)", BAD_GRANT]),
    )
    with pytest.raises(ApplyFailed) as failed:
        run_scripts(dsn, [("04_privileges.sql", script)])
    message = str(failed.value)
    assert "gb_multi_no_such_table" in message
    assert "1 earlier section of this multi-database apply had already been committed" in message
    assert f"(04_privileges.sql in {first})" in message
    assert "sql/rollback.sql" in message
    assert message.startswith(f"04_privileges.sql [{second}]: ")
    # what the message says is what happened: the first database kept its change, the second none
    assert _tables(dsn, first) == ["gb_multi_kept"]
    assert _tables(dsn, second) == []


def test_failure_in_the_first_section_claims_nothing_committed(
    two_databases: tuple[str, str, str],
) -> None:
    dsn, first, second = two_databases
    script = _script((first, [BAD_GRANT]), (second, ["CREATE TABLE gb_multi_never (x integer)"]))
    with pytest.raises(ApplyFailed) as failed:
        run_scripts(dsn, [("04_privileges.sql", script)])
    assert "committed" not in str(failed.value)
    assert "its transaction was rolled back" in str(failed.value)
    assert _tables(dsn, second) == []
