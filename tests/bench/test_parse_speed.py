"""The extractor's speed measures (issue 7) leave its behaviour and the interpreter as they were."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from bench.generate import generate_snapshot
from bench.scales import SCALES
from bench.tsql import render_scripts
from mssql_extract.tsql import extract_scripts, parse_text


def _write(tmp_path: Path) -> list[Path]:
    paths = []
    for name, (text, _) in render_scripts(generate_snapshot(SCALES["XS"], 2)).items():
        (tmp_path / name).write_text(text, encoding="utf-8")
        paths.append(tmp_path / name)
    return sorted(paths)


@pytest.mark.parametrize("enabled", [True, False])
def test_the_collector_is_paused_while_replaying_and_restored_after(
    tmp_path: Path, enabled: bool
) -> None:
    seen: list[bool] = []
    before = gc.isenabled()
    (gc.enable if enabled else gc.disable)()
    try:
        extract_scripts(_write(tmp_path), on_file=lambda _: seen.append(gc.isenabled()))
        after = gc.isenabled()
    finally:
        (gc.enable if before else gc.disable)()
    assert seen
    assert not any(seen)
    assert after is enabled


def test_the_collector_is_restored_when_a_script_is_malformed() -> None:
    assert gc.isenabled()
    with pytest.raises(Exception, match="GRANT"):
        parse_text("GRANT SELECT ON [t] TO ;")
    assert gc.isenabled()


def test_column_rows_are_revoked_with_their_table_as_before() -> None:
    """The column index still finds column rows (its key is now derived from the row's key)."""
    snapshot = parse_text(
        "USE [d]\nGO\nCREATE ROLE [r]\nGRANT SELECT ([a], [b]) ON [dbo].[t] TO [r]\n"
        "GRANT UPDATE ([a]) ON [dbo].[t] TO [r]\nREVOKE SELECT ON [dbo].[t] FROM [r]\n"
    )
    rows = [(p.permission, p.column_name) for p in snapshot.databases[0].permissions]
    assert rows == [("UPDATE", "a")]
