"""A section larger than the server's lock table fails with a message saying what to change.

Every role created, object re-owned or object granted on holds a lock until the section's
transaction commits; PostgreSQL refuses past its lock table (max_locks_per_transaction ×
(max_connections + max_prepared_transactions) slots) with "out of shared memory" and a hint.
apply keeps the transaction atomic and says which setting to raise.
"""

from __future__ import annotations

import math
from pathlib import Path

import psycopg
import pytest

from grantbridge.errors import InputError
from pg_emit import intent
from pg_emit.apply import ApplyFailed, apply_plan_dir, run_scripts
from pg_emit.preflight import lock_need
from tests.cluster import BINDIR, throwaway_cluster
from tests.emit import contoso
from tests.emit.conftest import write_plan_dir

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


def test_apply_refuses_up_front_a_plan_the_lock_table_cannot_hold(tmp_path: Path) -> None:
    # bench scale M on a default server: 01 creates 23,292 roles against 64 × 100 = 6,400 slots,
    # and failed after a minute; now nothing runs and the message says what to set
    assert (BINDIR / "initdb").exists(), f"PostgreSQL 15 binaries are required in {BINDIR}"
    plan = contoso.default_plan()
    need, what = lock_need(plan, with_cluster=False)
    roles = len(intent.created_roles(plan))
    assert (need, what) == (roles, f"01_roles.sql creates {roles} roles")
    settings = {"max_locks_per_transaction": "10", "max_connections": "4"}
    with throwaway_cluster(settings) as (dsn, _log):
        with pytest.raises(InputError) as refused:
            apply_plan_dir(write_plan_dir(tmp_path / "plan", plan), dsn)
        message = str(refused.value)
        assert f"locks about {roles} objects (01_roles.sql creates {roles} roles)" in message
        assert "holds: 40 (max_locks_per_transaction 10 × (max_connections 4 + " in message
        assert f"at least {math.ceil(roles * 1.25 / 4)} and restart" in message
        with psycopg.connect(dsn) as conn:
            names = list(intent.created_roles(plan))
            left = conn.execute("SELECT count(*) FROM pg_roles WHERE rolname = ANY (%s)", [names])
            assert left.fetchone() == (0,)


def test_a_one_database_apply_counts_roles_and_objects_together() -> None:
    plan = contoso.default_plan()
    roles = len(intent.created_roles(plan))
    counts = {
        db.name: sum(o.database == db.name for o in plan.objects)
        + sum(s.database == db.name for s in plan.schemas)
        for db in plan.databases
    }
    most = max(counts.values())
    database = max(name for name, n in counts.items() if n == most)
    need, what = lock_need(plan, with_cluster=True)  # verify on a live target: roles each time
    assert (need, what) == (
        roles + most,
        f"{roles} roles created and {most} schemas and objects of {database}",
    )


def test_verify_on_a_live_target_refuses_up_front_too() -> None:
    # verify --dsn creates the roles again inside each database's rolled-back transaction
    from pg_emit.verify import verify_plan

    plan = contoso.default_plan()
    need, what = lock_need(plan, with_cluster=True)
    settings = {"max_locks_per_transaction": "10", "max_connections": "4"}
    with throwaway_cluster(settings) as (dsn, _log):
        with psycopg.connect(dsn, autocommit=True) as conn:
            for db in plan.databases:
                conn.execute(f'CREATE DATABASE "{db.name}"'.encode())
        with pytest.raises(InputError, match=rf"locks about {need} objects \({what}\)"):
            verify_plan(plan, dsn, embedded=False)
