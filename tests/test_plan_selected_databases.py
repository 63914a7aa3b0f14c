"""``grantbridge plan --per-database --database NAME``: a migration wave's parts, each the same
as the full set's part of that database (grantbridge/commands/plan_parts.py, ``selected``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from grantbridge.cli import main
from mssql_extract.snapshot import SecuritySnapshot
from mssql_extract.snapshot_parts import database_names, scan
from tests.test_plan_per_database import _tree, contoso_file, contoso_parts

__all__ = ["contoso_file", "contoso_parts"]  # the fixtures, shared with that module


def _part_tree(parts: Path, name: str) -> dict[str, bytes]:
    return _tree(parts / name)


def test_a_wave_is_the_full_sets_parts(
    contoso_file: Path, contoso_parts: Path, tmp_path: Path
) -> None:
    """Names match without case, and a name given twice is one part; the parts are byte for
    byte the full set's, named as in the whole estate (one of 3 databases)."""
    wave = tmp_path / "wave"
    args = ["plan", str(contoso_file), "-o", str(wave), "--per-database"]
    assert main([*args, "-d", "sales", "--database", "HR", "-d", "Sales"]) == 0
    index = json.loads((wave / "parts.json").read_text("utf-8"))
    assert [p["database"] for p in index["parts"]] == ["HR", "Sales"]
    full = json.loads((contoso_parts / "parts.json").read_text("utf-8"))
    assert index["parts"] == [p for p in full["parts"] if p["database"] != "Reporting"]
    for name in ("HR", "Sales"):
        assert _part_tree(wave, name) == _part_tree(contoso_parts, name), name
    report = (wave / "report.md").read_text("utf-8")
    assert "· 2 parts of the snapshot's 3 databases (`--database`), one" in report
    assert "of the snapshot's" not in (contoso_parts / "report.md").read_text("utf-8")
    rollback = (wave / "rollback.sql").read_text("utf-8")
    assert "\\ir Sales/sql/rollback.sql" in rollback
    assert "Reporting" not in rollback


def test_a_wave_from_a_snapshot_loaded_whole(
    contoso_file: Path, contoso_parts: Path, tmp_path: Path
) -> None:
    compact = tmp_path / "compact.json"  # not the canonical layout: loaded whole, then split
    compact.write_text(json.dumps(json.loads(contoso_file.read_text("utf-8"))), "utf-8")
    wave = tmp_path / "wave"
    assert main(["plan", str(compact), "-o", str(wave), "--per-database", "-d", "reporting"]) == 0
    assert sorted(p.name for p in wave.iterdir() if p.is_dir()) == ["Reporting"]
    assert _part_tree(wave, "Reporting") == _part_tree(contoso_parts, "Reporting")


@pytest.mark.parametrize("compact", [False, True])
def test_a_database_the_snapshot_lacks_is_exit_2_and_writes_nothing(
    contoso_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], compact: bool
) -> None:
    source = contoso_file
    if compact:
        source = tmp_path / "compact.json"
        source.write_text(json.dumps(json.loads(contoso_file.read_text("utf-8"))), "utf-8")
    out = tmp_path / "wave"
    args = ["plan", str(source), "-o", str(out), "--per-database", "-d", "Sales", "-d", "Saels"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert (
        f"{source}: --database 'Saels': the snapshot holds no such database "
        "(it holds: HR, Reporting, Sales)" in err
    )
    assert "Traceback" not in err
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == (["compact.json"] if compact else [])


def test_database_without_per_database_is_exit_2(
    contoso_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["plan", str(contoso_file), "-o", str(tmp_path / "p"), "-d", "Sales"]) == 2
    assert "--database goes with --per-database" in capsys.readouterr().err
    assert not (tmp_path / "p").exists()


def test_database_names_are_read_from_each_items_first_line(
    contoso_file: Path, tmp_path: Path
) -> None:
    """Names as JSON spells them (escapes, non-ASCII), and the whole item where its first line
    is not its name (a file edited by hand, still in the canonical layout)."""
    snapshot = SecuritySnapshot.from_json(contoso_file.read_text("utf-8"))
    odd = ['Sa"les\\', "Zürich – Ω", "x"]
    renamed = tuple(
        db.model_copy(update={"name": name})
        for db, name in zip(snapshot.databases, odd, strict=True)
    )
    path = tmp_path / "odd.json"
    snapshot.model_copy(update={"databases": renamed}).write_json(path)
    layout = scan(path)
    assert layout is not None
    assert sorted(database_names(path, layout)) == sorted(odd)
    text = path.read_text("utf-8")
    first = '    {\n      "name": "x",\n'
    start = text.index(first)
    end = text.index("\n    }", start)  # the item's last line: its name moves there
    edited = text[:start] + "    {\n" + text[start + len(first) : end]
    edited += ',\n      "name": "x"' + text[end:]
    path.write_text(edited, "utf-8")
    layout = scan(path)
    assert layout is not None
    assert sorted(database_names(path, layout)) == sorted(odd)
