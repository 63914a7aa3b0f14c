"""mssql_extract.snapshot_parts: a canonical snapshot file read one database at a time (issue 7)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mssql_extract.snapshot_parts import database_count, parts
from tests.bench.test_decompose import two_database_estate
from tests.conftest import ROOT
from tests.mapper.estate import snapshot


def test_each_part_is_the_server_part_with_one_database(tmp_path: Path) -> None:
    whole = two_database_estate(sysadmin=True)
    path = tmp_path / "snapshot.json"
    whole.write_json(path)
    found = list(parts(path))
    assert [p.databases for p in found] == [(db,) for db in whole.databases]
    server = whole.model_copy(update={"databases": ()})
    assert all(p.model_copy(update={"databases": ()}) == server for p in found)
    assert server.server_memberships  # the sysadmin member is in every part
    assert database_count(path) == len(whole.databases) == 2


def test_an_estate_without_databases_has_no_parts(tmp_path: Path) -> None:
    path = tmp_path / "snapshot.json"
    snapshot().model_copy(update={"databases": ()}).write_json(path)
    assert list(parts(path)) == []
    assert database_count(path) == 0


def test_a_snapshot_not_in_the_canonical_layout_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "snapshot.json"
    path.write_text(
        json.dumps(json.loads(two_database_estate().to_json())), encoding="utf-8"
    )  # one line
    with pytest.raises(ValueError, match="not a canonical snapshot"):
        list(parts(path))


def test_the_parts_child_plans_every_database(tmp_path: Path) -> None:
    path = tmp_path / "snapshot.json"
    two_database_estate().write_json(path)
    command = [sys.executable, "-m", "bench.child", "plan-parts", str(path)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["databases"] == 2
    assert result["grants"] > 0
    assert result["peak_rss_mb"] > 0


@pytest.mark.parametrize("block", [7, 16, 17, 64, 1 << 24])
def test_the_scan_finds_the_same_items_whatever_the_block_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block: int
) -> None:
    import mssql_extract.snapshot_parts as snapshot_parts

    whole = two_database_estate(sysadmin=True)
    path = tmp_path / "snapshot.json"
    whole.write_json(path)
    monkeypatch.setattr(snapshot_parts, "_BLOCK", block)  # matches straddle the blocks
    layout = snapshot_parts.scan(path)
    assert layout is not None
    server = snapshot_parts.server_part(path, layout)
    items = [d.text for d in snapshot_parts.database_texts(path, layout)]
    rebuilt = server.head + '  "databases": [\n' + ",\n".join(items) + "\n  ],\n" + server.tail
    assert rebuilt == path.read_text(encoding="utf-8")
    assert [json.loads(i)["name"] for i in items] == ["HR", "Sales"]


def test_crlf_line_ends_are_not_the_canonical_layout(tmp_path: Path) -> None:
    import mssql_extract.snapshot_parts as snapshot_parts

    path = tmp_path / "snapshot.json"
    path.write_bytes(two_database_estate().to_json().replace("\n", "\r\n").encode())
    assert snapshot_parts.scan(path) is None
