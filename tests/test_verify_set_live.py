"""``verify SET --dsn``: each part's database transactions run the part's own cluster-wide
statements and, of the other parts', those that can change what it verifies
(pg_emit/verify_set.py, ``SetCluster``), not every part's."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from grantbridge.cli import main
from mapper.plan import MigrationPlan, PgMembership, PgRole, RoleKind
from pg_emit.apply import load_plan_dir
from pg_emit.artifacts import write_artifacts
from pg_emit.preflight import lock_need
from pg_emit.verify_set import SetCluster
from tests.test_plan_per_database import contoso_file, contoso_parts

__all__ = ["contoso_file", "contoso_parts"]  # the fixtures, shared with that module

PARTS = ("HR", "Reporting", "Sales")
#: A lock table of 10 × 5 = 50 slots: each Contoso part's roles and largest database fit
#: (at most 26 roles and 17 schemas and objects), all three parts' 47 roles with any do not.
SMALL_LOCK_TABLE = {"max_locks_per_transaction": "10", "max_connections": "5"}


def _cluster(parts: Path) -> tuple[SetCluster, list[MigrationPlan]]:
    cluster, plans = SetCluster(), []
    for name in PARTS:
        plan, scripts = load_plan_dir(parts / name)
        cluster.add(name, plan, scripts)
        plans.append(plan)
    return cluster, plans


def _bridged(parts: Path, tmp_path: Path) -> Path:
    """The set with a Reporting role ``reporting_bridge`` that is a member of
    ``pg_read_all_data`` and has HR's (shared) login ``sales_app`` as its member: a role only
    Reporting knows, between a role HR knows and a predefined role."""
    copy = tmp_path / "bridged"
    shutil.copytree(parts, copy)
    path = copy / "Reporting" / "plan.json"
    plan = MigrationPlan.from_json(path.read_bytes())
    (template,) = [r for r in plan.roles if r.kind == RoleKind.GROUP][:1]
    bridge = template.model_copy(update={"name": "reporting_bridge", "comment": ""})
    plan = plan.model_copy(update={
        "roles": (*plan.roles, bridge),
        "memberships": (*plan.memberships,
                        PgMembership(role="pg_read_all_data", member="reporting_bridge"),
                        PgMembership(role="reporting_bridge", member="sales_app")),
    })  # fmt: skip
    plan.write_json(path)
    write_artifacts(MigrationPlan.from_json(path.read_bytes()), copy / "Reporting")
    return copy


def test_each_part_runs_its_own_and_the_shared_roles_statements(contoso_parts: Path) -> None:
    cluster, plans = _cluster(contoso_parts)
    every = {r.name for plan in plans for r in plan.roles if r.kind != RoleKind.PREDEFINED}
    for number, plan in enumerate(plans):
        statements, roles = cluster.for_part(number)
        own = {r.name for r in plan.roles if r.kind != RoleKind.PREDEFINED}
        assert {r.name for r in roles} == own  # no other part's database roles
        assert len(own) < len(every)
        mine = cluster.parts[number].statements
        # the part's own, whole and in order, after what the parts before it run
        starts = [i for i in range(len(statements)) if statements[i : i + len(mine)] == mine]
        assert starts
        assert (starts[-1] > 0) == (number > 0)
        others = [s for s in statements if s not in cluster.parts[number].statements]
        assert others, plan.databases[0].name  # the shared logins, as the parts before it
        for other in cluster.parts:
            if other is not cluster.parts[number]:
                foreign = set(other.roles) - own
                assert not any(f'"{name}"' in s for s in others for name in foreign)


def test_a_bridging_role_is_run_with_the_part_it_reaches(
    contoso_parts: Path, tmp_path: Path
) -> None:
    bridged = _bridged(contoso_parts, tmp_path)
    cluster, _plans = _cluster(bridged)
    hr = PARTS.index("HR")
    assert "reporting_bridge" in cluster.known(hr)
    statements, roles = cluster.for_part(hr)
    assert "reporting_bridge" in {r.name for r in roles}
    assert "GRANT pg_read_all_data TO reporting_bridge" in statements
    assert "GRANT reporting_bridge TO sales_app" in statements


@pytest.mark.postgres
def test_live_verify_of_a_set_fits_a_small_lock_table_and_finds_what_embedded_finds(
    contoso_file: Path, contoso_parts: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every part's roles in each transaction (47 and a database's objects) would be refused
    by the lock-table preflight here; each part's own fit. A mismatch that another part's
    bridging role causes is found on the live target as on the embedded server."""
    from tests.cluster import throwaway_cluster
    from tests.emit.conftest import build_target

    whole_dir = tmp_path / "whole"
    assert main(["plan", str(contoso_file), "-o", str(whole_dir)]) == 0
    whole = MigrationPlan.from_json((whole_dir / "plan.json").read_bytes())
    every = tuple(r for r in whole.roles if r.kind != RoleKind.PREDEFINED)
    assert lock_need(whole.model_copy(update={"roles": every}), with_cluster=True)[0] > 50
    bridged = _bridged(contoso_parts, tmp_path)
    capsys.readouterr()
    assert main(["--json", "verify", str(bridged)]) == 3
    embedded = json.loads(capsys.readouterr().out)["mismatches"]
    from_bridge = [m for m in embedded if m["part"] == "HR"]
    assert from_bridge
    assert all(m["subject"].startswith("sales_app: ") for m in from_bridge)
    with throwaway_cluster(SMALL_LOCK_TABLE) as (dsn, _log):
        build_target(dsn, whole)
        capsys.readouterr()
        assert main(["verify", str(contoso_parts), "--dsn", dsn]) == 0
        assert "verification passed" in capsys.readouterr().err
        assert main(["--json", "verify", str(bridged), "--dsn", dsn]) == 3
        live = json.loads(capsys.readouterr().out)["mismatches"]
        # the whole plan's transactions would each create all 47 roles: refused, saying so
        assert main(["verify", str(whole_dir), "--dsn", dsn]) == 2
        err = " ".join(capsys.readouterr().err.split())
    assert live == embedded
    assert "one transaction of this verify locks about 64 objects (47 roles created and " in err
    assert err.endswith(
        "or verify on the embedded throwaway server (no --dsn), which has room, or plan "
        "--per-database and verify the set on this server"
    )


def test_a_part_the_roles_of_which_do_not_fit_is_refused_before_anything_runs(
    contoso_parts: Path,
) -> None:
    """The preflight counts what the part's transactions create: its roles and the bridging
    ones (here none), with its largest database."""
    cluster, plans = _cluster(contoso_parts)
    needs = [
        lock_need(
            plan.model_copy(update={"roles": tuple(cluster.for_part(n)[1])}), with_cluster=True
        )[0]
        for n, plan in enumerate(plans)
    ]
    assert (
        max(needs)
        <= 50
        < min(
            lock_need(
                plan.model_copy(update={"roles": tuple(_every_role(plans))}), with_cluster=True
            )[0]
            for plan in plans
        )
    )


def _every_role(plans: list[MigrationPlan]) -> list[PgRole]:
    return list(
        {r.name: r for p in plans for r in p.roles if r.kind != RoleKind.PREDEFINED}.values()
    )
