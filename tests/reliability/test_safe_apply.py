"""Issue 8, item 6: ``apply`` needs consent, refuses stale plans and RDS-unsafe roles, logs."""

from __future__ import annotations

import uuid
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from grantbridge.cli import main
from mapper.plan import MigrationPlan, PgRole, RoleKind
from pg_emit.artifacts import write_artifacts
from pg_emit.server import connect
from tests.conftest import skip_unless_ci
from tests.emit.conftest import Scratch

pytestmark = pytest.mark.postgres


def _plan_dir(tmp_path: Path, scratch: Scratch, extra: tuple[PgRole, ...] = ()) -> Path:
    grown = scratch.plan.model_copy(update={"roles": (*scratch.plan.roles, *extra)})
    plan = MigrationPlan.from_json(grown.to_json())  # sorted and validated, as planned
    plan_dir = tmp_path / "plan"
    plan_dir.mkdir()
    (plan_dir / "plan.json").write_text(plan.to_json(), encoding="utf-8")
    write_artifacts(plan, plan_dir)
    return plan_dir


def _roles(scratch: Scratch) -> set[str]:
    with connect(scratch.dsn) as conn:
        rows = conn.execute("SELECT rolname FROM pg_roles WHERE starts_with(rolname, %s)",
                            [scratch.prefix]).fetchall()  # fmt: skip
    return {r[0] for r in rows}


def _one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err
    assert len(lines) == 1, err
    return lines[0]


def test_no_consent_without_a_terminal(
    scratch: Scratch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan_dir = _plan_dir(tmp_path, scratch)
    before = scratch.state()
    assert main(["apply", str(plan_dir), "--dsn", scratch.dsn]) == 2  # pytest's stdin: no TTY
    assert "pass --yes" in _one_error_line(capsys.readouterr().err)
    assert scratch.state() == before
    assert _roles(scratch) == set()


def test_applies_with_yes_and_logs_each_script(
    scratch: Scratch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan_dir = _plan_dir(tmp_path, scratch)
    assert main(["apply", str(plan_dir), "--dsn", scratch.dsn, "--yes"]) == 0
    out = capsys.readouterr().out
    assert f"apply: plan {scratch.plan.fingerprint[:12]} from {plan_dir}" in out
    for script in ("01_roles", "02_memberships", "03_ownership", "04_privileges", "06_hardening"):
        assert f"sql/{script}.sql: " in out, out
    assert f"{scratch.prefix}_app" in _roles(scratch)


@pytest.mark.parametrize("edit", ["other-plan", "edited-plan-json", "edited-script"])
def test_stale_or_edited_plan_is_refused(
    edit: str, scratch: Scratch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan_dir = _plan_dir(tmp_path, scratch)
    plan_json = plan_dir / "plan.json"
    if edit == "other-plan":  # plan.json re-planned since the scripts were written
        newer = scratch.plan.model_copy(update={"fingerprint": "0" * 64})
        plan_json.write_text(newer.to_json(), encoding="utf-8")
    elif edit == "edited-plan-json":
        text = plan_json.read_text(encoding="utf-8")
        plan_json.write_text(text.replace('"SELECT"', '"DELETE"', 1), encoding="utf-8")
    else:
        script = plan_dir / "sql" / "02_memberships.sql"
        script.write_text(script.read_text(encoding="utf-8").replace("COMMIT;", "GRANT pg_write_server_files TO PUBLIC;\nCOMMIT;"), encoding="utf-8")  # fmt: skip
    assert main(["apply", str(plan_dir), "--dsn", scratch.dsn, "--yes"]) == 2
    assert str(plan_dir) in _one_error_line(capsys.readouterr().err)
    assert _roles(scratch) == set()


def test_superuser_only_attribute_is_refused_on_rds(
    scratch: Scratch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bypass = PgRole(name=f"{scratch.prefix}_bypass", kind=RoleKind.GROUP, attributes=("BYPASSRLS",))
    plan_dir = _plan_dir(tmp_path, scratch, (bypass,))
    fake_rds = "rds_superuser"
    with connect(scratch.dsn) as conn:
        exists = conn.execute("SELECT FROM pg_roles WHERE rolname = %s", [fake_rds]).fetchone()
        if exists:
            skip_unless_ci("this server already has an rds_superuser role")
        conn.execute(f"CREATE ROLE {fake_rds} NOLOGIN".encode())
    try:
        assert main(["apply", str(plan_dir), "--dsn", scratch.dsn, "--yes"]) == 2
    finally:
        with connect(scratch.dsn) as conn:
            conn.execute(f"DROP ROLE {fake_rds}".encode())
    line = _one_error_line(capsys.readouterr().err)
    assert "SUPERUSER-only" in line
    assert f"{scratch.prefix}_bypass: BYPASSRLS" in line
    assert _roles(scratch) == set()


def test_a_role_that_cannot_create_roles_is_refused(
    scratch: Scratch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan_dir = _plan_dir(tmp_path, scratch)
    weak = f"{scratch.prefix}weak{uuid.uuid4().hex[:4]}"
    with connect(scratch.dsn) as conn:
        conn.execute(f"CREATE ROLE {weak} LOGIN".encode())
    dsn = make_conninfo(scratch.dsn, user=weak)
    try:
        psycopg.connect(dsn).close()
    except psycopg.Error:
        skip_unless_ci("this server does not let a new role log in without a password")
    assert main(["apply", str(plan_dir), "--dsn", dsn, "--yes"]) == 2
    assert "can neither create roles" in _one_error_line(capsys.readouterr().err)
    assert _roles(scratch) == {weak}
