"""Predefined roles (PostgreSQL's pg_* roles, the RDS roles): never created, must exist.

Regression: a plan listing ``pg_read_all_stats`` / ``pg_signal_backend`` as predefined roles
made ``verify`` (and the demo) report them as missing, because inspect skipped every ``pg_*``
role. Also: the embedded server must not print platformdirs' XDG_RUNTIME_DIR warning.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from mapper.plan import MigrationPlan, PgMembership, PgRole, RoleKind
from pg_emit.compare import PREDEFINED_MISSING, Mismatch, compare_memberships, compare_roles
from pg_emit.effective import expected
from pg_emit.inspect import read_roles
from pg_emit.server import connect
from pg_emit.verify import verify_plan
from tests.conftest import ROOT
from tests.emit.conftest import Scratch

STATS, SIGNAL = "pg_read_all_stats", "pg_signal_backend"


def _with_predefined(plan: MigrationPlan, member: str) -> MigrationPlan:
    """The plan plus two pg_* roles listed as predefined, and one login a member of each."""
    roles = (
        PgRole(name=STATS, kind=RoleKind.PREDEFINED),
        PgRole(name=SIGNAL, kind=RoleKind.PREDEFINED),
    )
    memberships = tuple(PgMembership(role=r, member=member, facts=(f"server/perm:{r}",)) for r in (STATS, SIGNAL))  # fmt: skip
    return plan.model_copy(
        update={"roles": plan.roles + roles, "memberships": plan.memberships + memberships}
    )


@pytest.mark.postgres
def test_plan_with_pg_predefined_roles_verifies(scratch: Scratch) -> None:
    plan = _with_predefined(scratch.plan, f"{scratch.prefix}_app")
    assert verify_plan(plan, scratch.dsn, embedded=False) == []


@pytest.mark.postgres
def test_inspect_lists_pg_roles_as_predefined(pg_dsn: str) -> None:
    with connect(pg_dsn) as conn:
        roles, memberships = read_roles(conn)
    kinds = {r.name: r.kind for r in roles}
    assert kinds[STATS] == kinds[SIGNAL] == RoleKind.PREDEFINED
    assert all(k != RoleKind.PREDEFINED for n, k in kinds.items() if not n.startswith("pg_"))
    # PostgreSQL's own memberships among pg_* roles (pg_monitor ⊃ pg_read_all_stats) stay out
    assert not [m for m in memberships if m.role.startswith("pg_") and m.member.startswith("pg_")]


def test_missing_predefined_role_and_membership_are_reported() -> None:
    plan = _with_predefined(MigrationPlan(fingerprint="x", target="postgresql"), "monitor")
    monitor = PgRole(name="monitor", kind=RoleKind.LOGIN, login=True)
    plan = plan.model_copy(update={"roles": (*plan.roles, monitor)})
    live = MigrationPlan(
        fingerprint="inspect", target="postgresql",
        roles=(PgRole(name=STATS, kind=RoleKind.PREDEFINED, login=False),
               PgRole(name="monitor", kind=RoleKind.LOGIN, login=True)),
        memberships=(PgMembership(role=STATS, member="monitor"),),
    )  # fmt: skip
    assert compare_roles(plan, live) == [
        Mismatch("role", "", SIGNAL, "missing", PREDEFINED_MISSING)
    ]
    assert compare_memberships(plan, live) == [
        Mismatch("membership", "", f"monitor in {SIGNAL}", "missing")
    ]


def test_read_all_data_membership_means_select_everywhere() -> None:
    item = ("TABLE", "sales.orders", None, "TABLE sales.orders")
    closure = {"analyst", "PUBLIC", "pg_read_all_data"}
    plan = MigrationPlan(fingerprint="x", target="postgresql")
    assert expected(plan, "db", "analyst", item, "owner", "SELECT", set(), closure)
    assert not expected(plan, "db", "analyst", item, "owner", "INSERT", set(), closure)


def test_embedded_server_import_prints_no_runtime_dir_warning() -> None:
    env = {k: v for k, v in os.environ.items() if k != "XDG_RUNTIME_DIR"}
    code = "from pg_emit.server import _import_pgserver; assert _import_pgserver() is not None"
    result = subprocess.run(
        [sys.executable, "-W", "error::UserWarning", "-c", code],
        cwd=ROOT, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "XDG_RUNTIME_DIR" not in result.stderr
