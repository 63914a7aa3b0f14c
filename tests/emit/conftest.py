"""Scratch databases and role prefixes for the PostgreSQL tests, cleaned up afterwards."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mapper.plan import MigrationPlan
from pg_emit.artifacts import write_artifacts
from pg_emit.inspect import inspect_server
from pg_emit.server import connect
from pg_emit.stubs import create_stubs
from tests.conftest import DROP_UNUSED_STANDINS
from tests.emit.builders import realistic_plan


@dataclass(frozen=True)
class Scratch:
    dsn: str
    prefix: str
    database: str
    plan: MigrationPlan

    def state(self) -> str:
        """The database's and the prefix roles' state (inspect JSON), for before/after checks."""
        live = inspect_server(self.dsn, [self.database])
        mine = {
            r.name
            for r in live.roles
            if r.name.startswith(self.prefix) or r.name.startswith("rds_")
        }
        live = live.model_copy(update={
            "roles": tuple(r for r in live.roles if r.name in mine),
            "memberships": tuple(m for m in live.memberships if {m.role, m.member} & mine),
        })  # fmt: skip
        return live.to_json()


def write_plan_dir(path: Path, plan: MigrationPlan) -> Path:
    """``plan.json`` and every artifact in ``path``, as ``grantbridge plan`` writes them."""
    path.mkdir(parents=True, exist_ok=True)
    (path / "plan.json").write_text(plan.to_json(), encoding="utf-8")
    write_artifacts(plan, path)
    return path


def build_target(dsn: str, plan: MigrationPlan, owner: str | None = None) -> None:
    """The plan's databases, schemas and objects as the conversion leaves them on ``dsn``:
    databases made by the connected user, stubs all owned by ``owner`` (default: that user)."""
    from pg_emit.verify import ensure_databases

    ensure_databases(dsn, plan, create=True)
    if owner is None:
        with connect(dsn) as conn:
            owner = str(conn.execute("SELECT current_user").fetchone()[0])  # type: ignore[index]
    stubs = plan.model_copy(update={
        "schemas": tuple(s.model_copy(update={"owner": owner}) for s in plan.schemas),
        "objects": tuple(o.model_copy(update={"owner": owner}) for o in plan.objects),
    })  # fmt: skip
    for db in plan.databases:
        with connect(dsn, db.name) as conn:
            create_stubs(conn, stubs, db.name)


def apply_on_stubs(dsn: str, plan: MigrationPlan, path: Path) -> None:
    """Create the plan's databases and its objects as stubs owned by the connected user (the
    converted schema a real apply finds), then apply the plan as ``grantbridge apply`` does
    from a plan directory written to ``path``."""
    from pg_emit.apply import apply_plan_dir

    build_target(dsn, plan)
    apply_plan_dir(write_plan_dir(path, plan), dsn)


def _cleanup(dsn: str, prefix: str, database: str) -> None:
    with connect(dsn) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'.encode())
        roles = conn.execute(
            "SELECT rolname FROM pg_roles WHERE starts_with(rolname, %s)", [prefix]
        )
        for (name,) in roles.fetchall():
            quoted = '"' + name.replace('"', '""') + '"'
            conn.execute(f"DROP OWNED BY {quoted}".encode())  # cluster-wide grants too
            conn.execute(f"DROP ROLE {quoted}".encode())
        conn.execute(DROP_UNUSED_STANDINS)


@pytest.fixture
def scratch(pg_dsn: str) -> Iterator[Scratch]:
    """A fresh database with the realistic plan's objects as stubs owned by the test user."""
    prefix = f"gbt{uuid.uuid4().hex[:8]}"
    database = f"{prefix}_sales"
    plan = realistic_plan(prefix, database)
    with connect(pg_dsn) as conn:
        conn.execute(f'CREATE DATABASE "{database}"'.encode())
        user = str(conn.execute("SELECT current_user").fetchone()[0])  # type: ignore[index]
    stub_plan = plan.model_copy(update={
        "schemas": tuple(s.model_copy(update={"owner": user}) for s in plan.schemas),
        "objects": tuple(o.model_copy(update={"owner": user}) for o in plan.objects),
    })  # fmt: skip
    try:
        with connect(pg_dsn, database) as conn:
            create_stubs(conn, stub_plan, database)
        yield Scratch(pg_dsn, prefix, database, plan)
    finally:
        _cleanup(pg_dsn, prefix, database)
