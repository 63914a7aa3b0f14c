"""``grantbridge demo`` outputs do not depend on where it runs, and are complete."""

from __future__ import annotations

from pathlib import Path

import pytest

from grantbridge.cli import main

ARTIFACTS = (
    "snapshot.json",
    "plan/plan.json",
    "plan/report.md",
    "plan/findings.sarif",
    "plan/sql/01_roles.sql",
    "plan/sql/rollback.sql",
)


def _demo(where: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, bytes]:
    where.mkdir()
    monkeypatch.chdir(where)
    assert main(["demo", "--no-verify", "--quiet"]) == 0
    out = where / "grantbridge-demo"
    return {name: (out / name).read_bytes() for name in ARTIFACTS}


def test_demo_is_byte_identical_from_any_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _demo(tmp_path / "a", monkeypatch)
    second = _demo(tmp_path / "b", monkeypatch)
    assert first == second
    snapshot = first["snapshot.json"].decode()
    assert '"origin": "contoso/00_server.sql"' in snapshot
    assert str(tmp_path) not in snapshot
    assert "/work/" not in first["plan/report.md"].decode()


def test_demo_replaces_its_output_directory_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _demo(tmp_path / "run", monkeypatch)
    stale = tmp_path / "run" / "grantbridge-demo" / "plan" / "sql" / "08_retired.sql"
    stale.write_text("-- an older demo's")
    assert main(["demo", "--no-verify", "--quiet"]) == 0
    assert not stale.exists()


@pytest.mark.parametrize("extra", ["notes.txt", "plan/notes.txt"])
def test_demo_refuses_a_directory_holding_other_files(
    extra: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _demo(tmp_path / "run", monkeypatch)
    kept = tmp_path / "run" / "grantbridge-demo" / extra
    kept.write_text("mine")
    capsys.readouterr()
    assert main(["demo", "--no-verify", "--quiet"]) == 2
    assert capsys.readouterr().err == (
        f"error: grantbridge-demo: the output directory holds files grantbridge does not write "
        f"({extra}), which replacing it would delete: move them away or name another directory\n"
    )
    assert kept.read_text() == "mine"
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["grantbridge-demo"]
