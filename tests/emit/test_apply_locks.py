"""A section larger than the server's lock table fails with a message saying what to change.

Every role created, object re-owned or object granted on holds a lock until the section's
transaction commits; PostgreSQL refuses past its lock table (max_locks_per_transaction ×
(max_connections + max_prepared_transactions) slots) with "out of shared memory" and a hint.
apply keeps the transaction atomic and says which setting to raise.
"""

from __future__ import annotations

import psycopg
import pytest

from pg_emit.apply import ApplyFailed, run_scripts
from tests.cluster import BINDIR, throwaway_cluster

pytestmark = pytest.mark.postgres

ROLES = 3_000


def test_lock_table_too_small_names_the_setting_and_changes_nothing() -> None:
    assert (BINDIR / "initdb").exists(), f"PostgreSQL 15 binaries are required in {BINDIR}"
    script = (
        "\\set ON_ERROR_STOP on\nBEGIN;\n"
        + "".join(
            f'CREATE ROLE "gb_lock_{i:05d}" NOLOGIN;\n'
            f"COMMENT ON ROLE \"gb_lock_{i:05d}\" IS 'grantbridge: test';\n"
            for i in range(ROLES)
        )
        + "COMMIT;\n"
    )
    settings = {"max_locks_per_transaction": "10", "max_connections": "5"}
    with throwaway_cluster(settings) as (dsn, _log):
        with pytest.raises(ApplyFailed) as failed:
            run_scripts(dsn, [("01_roles.sql", script)])
        message = str(failed.value)
        assert "out of shared memory" in message
        assert "lock table is too small" in message
        assert "raise max_locks_per_transaction" in message
        assert "rolled back" in message
        with psycopg.connect(dsn) as conn:
            left = conn.execute("SELECT count(*) FROM pg_roles WHERE rolname LIKE 'gb_lock_%'")
            assert left.fetchone() == (0,)


def test_the_embedded_server_has_room_for_large_sections(embedded_pg: str) -> None:
    """verify and demo apply whole sections on the throwaway server: it is sized for that."""
    from pg_emit.server import SETTINGS

    with psycopg.connect(embedded_pg) as conn:
        shown = conn.execute("SHOW max_locks_per_transaction").fetchone()
    assert shown == (SETTINGS["max_locks_per_transaction"],)
    assert int(SETTINGS["max_locks_per_transaction"]) >= 1024
