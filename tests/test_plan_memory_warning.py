"""``plan`` of a snapshot too large to plan whole on this machine says so before the load, and
points to ``--per-database`` for an estate of several databases (grantbridge/commands/plan.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from grantbridge.cli import main
from grantbridge.commands import plan as plan_command
from mssql_extract.snapshot import SecuritySnapshot
from tests.test_plan_per_database import contoso_file

__all__ = ["contoso_file"]  # the fixture, shared with that module


def _plan(snapshot: Path, out: Path, capsys: pytest.CaptureFixture[str]) -> str:
    capsys.readouterr()
    assert main(["plan", str(snapshot), "-o", str(out)]) == 0
    return capsys.readouterr().err


def test_a_snapshot_too_large_for_the_machine_is_warned_of_with_the_way_out(
    contoso_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    size = contoso_file.stat().st_size
    assert _plan(contoso_file, tmp_path / "roomy", capsys) == ""  # this machine has room
    monkeypatch.setattr(plan_command, "_physical_memory", lambda: size * 10)
    err = _plan(contoso_file, tmp_path / "tight", capsys)
    needed = f"{size * plan_command.WHOLE_PLAN_MEMORY / 1e9:,.1f} GB"
    assert err == (
        f"plan: warning: planning this {size / 1e9:,.1f} GB snapshot whole may need about "
        f"{needed} of memory, and this machine has {size * 10 / 1e9:,.1f} GB; --per-database "
        "plans one database at a time in far less\n"
    )
    # the plan is the same either way
    for name in ("plan.json", "report.md"):
        assert (tmp_path / "roomy" / name).read_bytes() == (tmp_path / "tight" / name).read_bytes()


def test_one_database_is_not_pointed_to_per_database(
    contoso_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    whole = SecuritySnapshot.from_json(contoso_file.read_bytes())
    alone = whole.model_copy(update={"databases": whole.databases[:1]})
    path = tmp_path / "one.json"
    alone.write_json(path)
    monkeypatch.setattr(plan_command, "_physical_memory", lambda: 1)
    err = _plan(path, tmp_path / "out", capsys)
    assert err.startswith("plan: warning: planning this ")
    assert "--per-database" not in err
