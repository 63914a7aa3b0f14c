"""Sequences called by column defaults, on a real PostgreSQL: ``inspect`` reads them, and the
plan resolved against them lets the INSERT grantees insert (``SET ROLE`` to the login).

Without the USAGE grants :func:`mapper.target.grant_default_sequences` adds, the same INSERT
fails with "permission denied for sequence": PostgreSQL runs the default as the inserting role.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from mapper.plan import MigrationPlan
from mapper.policy import Policy
from mapper.target import resolve_against_target
from pg_emit.apply import apply_plan_dir
from pg_emit.inspect import inspect_server
from pg_emit.server import connect
from pg_emit.verify import verify_plan
from tests.emit.conftest import _cleanup, write_plan_dir
from tests.mapper.test_target_sequences import CALLED, TARGET_DDL, catalog, sequence_plan

pytestmark = pytest.mark.postgres


@pytest.fixture
def converted(pg_dsn: str) -> Iterator[tuple[str, str, str]]:
    """(dsn, role prefix, database): a scratch database holding :data:`TARGET_DDL`."""
    prefix = f"gbt{uuid.uuid4().hex[:8]}"
    database = f"{prefix}_seq"
    with connect(pg_dsn) as conn:
        conn.execute(f'CREATE DATABASE "{database}"'.encode())
    try:
        with connect(pg_dsn, database) as conn:
            conn.execute(TARGET_DDL.encode())
        yield pg_dsn, prefix, database
    finally:
        _cleanup(pg_dsn, prefix, database)


def test_inspect_records_the_sequences_column_defaults_call(
    converted: tuple[str, str, str],
) -> None:
    dsn, _, database = converted
    target = inspect_server(dsn, [database])
    recorded = {o.name: o.default_sequences for o in target.objects if o.kind == "table"}
    assert recorded == CALLED  # serial and nextval default: yes; identity: nothing
    sequences = {o.name: o.default_sequences for o in target.objects if o.kind == "sequence"}
    assert sequences == {"order_no": (), "orders_id_seq": (), "ledger_id_seq": ()}


def _insert_as(dsn: str, database: str, login: str, table: str) -> None:
    with connect(dsn, database) as conn:
        conn.execute(f"SET ROLE {login}".encode())
        conn.execute(f"INSERT INTO s.{table} (note) VALUES ('x')".encode())


def test_the_resolved_plan_lets_the_login_insert_and_verifies(
    converted: tuple[str, str, str], tmp_path: Path
) -> None:
    dsn, prefix, database = converted
    planned = sequence_plan(prefix, database)
    login = f"{prefix}_app"
    apply_plan_dir(write_plan_dir(tmp_path / "plain", planned), dsn)
    for table in ("orders", "invoices"):  # the breakage: INSERT granted, the sequence not
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="for sequence"):
            _insert_as(dsn, database, login, table)
    target = MigrationPlan.from_json(inspect_server(dsn, [database]).to_json())
    resolved = resolve_against_target(planned, target, Policy())
    apply_plan_dir(write_plan_dir(tmp_path / "resolved", resolved), dsn)
    for table in CALLED:
        _insert_as(dsn, database, login, table)
    assert verify_plan(resolved, dsn, embedded=False) == []
    with connect(dsn, database) as conn:
        owner = conn.execute("SELECT pg_get_userbyid(relowner) FROM pg_class "
                             "WHERE oid = 's.orders_id_seq'::regclass").fetchone()  # fmt: skip
    assert owner == (f"{prefix}_owner",)


def test_the_resolved_plan_verifies_on_an_empty_server_with_stubs(embedded_pg: str) -> None:
    """``verify`` without ``--dsn``: the serial's sequence the plan adopted gets a stub too."""
    prefix = f"gbt{uuid.uuid4().hex[:8]}"
    database = f"{prefix}_seq"
    resolved = resolve_against_target(sequence_plan(prefix, database), catalog(database), Policy())
    assert "orders_id_seq" in {o.name for o in resolved.objects}
    try:
        assert verify_plan(resolved, embedded_pg, embedded=True) == []
    finally:
        _cleanup(embedded_pg, prefix, database)
