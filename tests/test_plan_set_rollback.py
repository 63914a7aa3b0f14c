"""The ``rollback.sql`` beside ``parts.json`` (``grantbridge plan --per-database``): every part's
rollback, last part first, then the login and server-role roles the parts share
(pg_emit/render_set_rollback.py)."""

from __future__ import annotations

import contextlib
import json
import subprocess
from pathlib import Path

import pytest

from bench.pgload import psql_binary
from grantbridge.cli import main
from mapper.plan import MigrationPlan
from mssql_extract import tsql
from tests.conftest import CONTOSO, ROOT


@pytest.fixture(scope="module")
def parts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    with contextlib.chdir(ROOT):
        snapshot = tsql.extract_scripts([CONTOSO.relative_to(ROOT)])
    root = tmp_path_factory.mktemp("set-rollback")
    snapshot.write_json(root / "snapshot.json")
    out = root / "plans"
    assert main(["plan", str(root / "snapshot.json"), "-o", str(out), "--per-database"]) == 0
    return out


def _plans(out: Path) -> dict[str, MigrationPlan]:
    index = json.loads((out / "parts.json").read_text(encoding="utf-8"))
    return {
        p["directory"]: MigrationPlan.from_json((out / p["directory"] / "plan.json").read_bytes())
        for p in index["parts"]
    }


def _shared(plan: MigrationPlan) -> set[str]:
    return {
        r.name for r in plan.roles
        if any(f.startswith(("server/login:", "server/server_role:")) for f in r.facts)
    }  # fmt: skip


def test_it_includes_each_part_last_first_then_drops_the_shared_roles(parts: Path) -> None:
    text = (parts / "rollback.sql").read_text(encoding="utf-8")
    includes = [line for line in text.splitlines() if line.startswith("\\ir ")]
    assert includes == [f"\\ir {d}/sql/rollback.sql" for d in ("Sales", "Reporting", "HR")]
    assert text.index("\\set ON_ERROR_STOP on") < text.index(includes[0])
    plans = _plans(parts)
    shared = set.union(*map(_shared, plans.values()))
    assert {"hr_app", "sales_app", "dbas@CONTOSO"} <= shared
    # each database of the set disowns them, then the cluster section drops them
    for database in ("hr", "reporting", "sales"):
        section = text.split(f'\\connect "{database}"\n')[1].split("COMMIT;")[0]
        assert "REASSIGN OWNED BY %I TO CURRENT_USER" in section
        assert all(f"'{name}'" in section for name in shared)
    cluster = text.rsplit("\\connect", 1)[1].split("COMMIT;", 1)[1]
    assert "DROP ROLE %I" in cluster
    assert "REVOKE %I FROM %I" in cluster
    assert all(f"'{name}'" in cluster for name in shared)
    # no role a part drops itself (a database's roles)
    for plan in plans.values():
        for role in {r.name for r in plan.roles} - _shared(plan) - {"rds_iam", "rds_ad"}:
            assert f"'{role}'" not in text, role


def _psql(dsn: str, script: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    command = [psql_binary(), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", dsn, "-f", str(script)]
    return subprocess.run(command, capture_output=True, text=True, check=False, cwd=cwd)


def _roles(dsn: str) -> set[str]:
    import psycopg

    with psycopg.connect(dsn) as conn:
        return {name for (name,) in conn.execute("SELECT rolname FROM pg_roles").fetchall()}


@pytest.mark.postgres
def test_it_takes_the_cluster_back_to_its_roles_before_the_apply(
    parts: Path, tmp_path: Path
) -> None:
    """All parts applied to one PostgreSQL 15 cluster: the set's rollback.sql, run by psql
    from another directory, leaves exactly the roles there were before (no login role, no
    RDS stand-in); run again, and with one part never applied, it still succeeds."""
    from tests.cluster import throwaway_cluster
    from tests.emit.conftest import build_target

    plans = _plans(parts)
    with throwaway_cluster({}) as (dsn, _log):
        for plan in plans.values():
            build_target(dsn, plan)
        before = _roles(dsn)
        for part in plans:
            assert main(["apply", str(parts / part), "--dsn", dsn, "--yes"]) == 0
        assert {"hr_app", "rds_iam"} <= _roles(dsn) - before
        done = _psql(dsn, parts / "rollback.sql", tmp_path)
        assert done.returncode == 0, done.stderr
        assert _roles(dsn) == before
        again = _psql(dsn, parts / "rollback.sql", tmp_path)
        assert again.returncode == 0, again.stderr
        for part in ("HR", "Sales"):  # Reporting never applied this time
            assert main(["apply", str(parts / part), "--dsn", dsn, "--yes"]) == 0
        done = _psql(dsn, parts / "rollback.sql", tmp_path)
        assert done.returncode == 0, done.stderr
        assert _roles(dsn) == before
