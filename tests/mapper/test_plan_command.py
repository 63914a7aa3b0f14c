"""`grantbridge plan`: writes plan.json (and the emitter's artifacts), summary, --fail-on."""

from __future__ import annotations

from pathlib import Path

import pytest

from grantbridge.cli import main
from mapper.plan import MigrationPlan
from tests.mapper.estate import database, login, member, snapshot, user


@pytest.fixture
def snapshot_file(tmp_path: Path) -> Path:
    snap = snapshot(database(users=(user("app", "app"),), memberships=(member("db_owner", "app"),)),
                    logins=(login("app"),))  # fmt: skip
    path = tmp_path / "snapshot.json"
    path.write_text(snap.to_json(), encoding="utf-8")
    return path


def test_plan_writes_plan_json(
    snapshot_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert main(["plan", str(snapshot_file), "-o", str(out)]) == 0
    plan = MigrationPlan.from_json((out / "plan.json").read_text(encoding="utf-8"))
    assert plan.role("app") is not None
    assert "open findings: " in capsys.readouterr().out
    first = (out / "plan.json").read_bytes()
    assert main(["plan", str(snapshot_file), "-o", str(out)]) == 0
    assert (out / "plan.json").read_bytes() == first


def test_fail_on(snapshot_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main(["plan", str(snapshot_file), "-o", str(out), "--fail-on", "high"]) == 1  # GB001
    assert main(["plan", str(snapshot_file), "-o", str(out), "--fail-on", "critical"]) == 0


def test_accepted_findings_do_not_fail(snapshot_file: Path, tmp_path: Path) -> None:
    policy = tmp_path / "grantbridge.toml"
    policy.write_text('[[overgrants.accepted]]\nprincipal = "app"\nrule = "GB001"\nreason = "ok"\n')
    args = ["plan", str(snapshot_file), "-o", str(tmp_path / "o"), "--policy", str(policy)]
    assert main([*args, "--fail-on", "high"]) == 0


def test_bad_inputs_exit_2(tmp_path: Path) -> None:
    assert main(["plan", str(tmp_path / "missing.json"), "-o", str(tmp_path / "o")]) == 2
    bad = tmp_path / "bad.toml"
    bad.write_text("nonsense = 1\n")
    snap = tmp_path / "s.json"
    snap.write_text(snapshot().to_json())
    assert main(["plan", str(snap), "-o", str(tmp_path / "o"), "--policy", str(bad)]) == 2
    assert not (tmp_path / "o").exists()
