"""verify's and drift's mismatch report: counts, the first 50 whole, and every one on demand.

An empty target's drift at bench scale M has 1.5 million mismatches, which a rich table of all
of them took 12 minutes and 542 MB of stderr to print, with role names cut at 80 columns.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from grantbridge.cli import main
from mapper.quoting import quote_ident
from pg_emit import mismatch_report
from pg_emit.apply import apply_plan_dir
from pg_emit.compare import Mismatch, astuple_fields, in_order
from pg_emit.mismatch_report import SHOWN, as_dict, print_mismatches, write_mismatches
from pg_emit.server import connect
from tests.emit.conftest import Scratch, write_plan_dir

#: A role name longer than a terminal is wide, with rich markup in it.
LONG = "billing_db_owner_part_billing_writers_" + "x" * 60 + "_[bold]end[/bold]"


def _mismatches() -> list[Mismatch]:
    """120 mismatches: 70 missing ACL entries in sales, 40 extra in hr, 10 missing roles."""
    found = [Mismatch("acl", "sales", f"TABLE s.t{i:03} SELECT to r", "missing") for i in range(70)]
    found += [Mismatch("acl", "hr", f"TABLE s.u{i:03} SELECT to r", "extra") for i in range(40)]
    found += [Mismatch("role", "", f"role{i}", "missing") for i in range(9)]
    found.append(Mismatch("acl", "billing", f"TABLE s.v SELECT to {LONG}", "missing"))
    return in_order(found)


def _render(mismatches: list[Mismatch], written: Path | None = None) -> str:
    out = io.StringIO()
    print_mismatches(Console(file=out, width=80), mismatches, written=written)
    return out.getvalue()


def _rows(text: str, table: int) -> list[tuple[str, ...]]:
    """The rows of the ``table``-th table in ``text``, each cell's wrapped lines joined, its
    spaces taken out (rich drops the one where it wraps a line)."""
    body = text.split("┡")[table + 1].split("└")[0].splitlines()[1:]
    rows: list[list[str]] = []
    for line in body:
        cells = [c.strip() for c in line.split("│")[1:-1]]
        if cells[0] or not rows:  # a row's first line: its kind is there
            rows.append(cells)
        else:
            rows[-1] = [a + b for a, b in zip(rows[-1], cells, strict=True)]
    return [tuple(map(_bare, r)) for r in rows]


def _bare(text: str) -> str:
    return "".join(text.split())


def test_counts_then_the_first_50_whole_then_how_many_more() -> None:
    mismatches = _mismatches()
    text = _render(mismatches)
    assert " ".join(text.split("┏")[0].split()) == "120 mismatches between the plan and PostgreSQL"
    assert _rows(text, 0) == [
        ("acl", "billing", "missing", "1"), ("acl", "hr", "extra", "40"),
        ("acl", "sales", "missing", "70"), ("role", "(cluster)", "missing", "9"),
    ]  # fmt: skip
    assert f"the first {SHOWN} of 120 mismatches" in text
    listed = _rows(text, 1)
    assert listed == [tuple(map(_bare, astuple_fields(m))) for m in mismatches[:SHOWN]]
    assert listed[0][2] == _bare(f"TABLE s.v SELECT to {LONG}")  # whole, its markup as written
    assert "…" not in text.split("… and")[0]  # no cell cut short
    *tables, more, end = text.split("\n")
    assert (more, end) == ("… and 70 more not shown: --mismatches FILE writes every one (JSON "
                           "lines), as does --json (on stdout)", "")  # fmt: skip
    assert max(len(line) for line in tables) <= 80


def test_a_short_list_is_shown_whole_without_a_more_line() -> None:
    text = _render(_mismatches()[:3])
    assert "3 mismatches between the plan and PostgreSQL" in text
    assert "more not shown" not in text


def test_mismatches_file_holds_every_one_as_json_lines(tmp_path: Path) -> None:
    mismatches = _mismatches()
    path = tmp_path / "out" / "mismatches.jsonl"
    write_mismatches(path, mismatches)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == [as_dict(m) for m in mismatches]
    assert json.loads(lines[0])["subject"] == f"TABLE s.v SELECT to {LONG}"
    assert sorted(p.name for p in path.parent.iterdir()) == ["mismatches.jsonl"]  # no temp file
    more = _render(mismatches, path).splitlines()[-1]
    assert more == f"… and 70 more not shown: every one is in {path} (JSON lines)"
    write_mismatches(path, [])
    assert path.read_text(encoding="utf-8") == ""


# --------------------------------------------------------------------------- the commands


@pytest.mark.postgres
def test_drift_and_verify_cap_the_table_and_write_every_mismatch(
    scratch: Scratch, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """Against a target the plan was never applied to, both commands show 5 (the cap, lowered
    here), say how many more, and write them all with --mismatches; --json lists them all."""
    monkeypatch.setattr(mismatch_report, "SHOWN", 5)
    plan_dir = write_plan_dir(tmp_path / "plan", scratch.plan)
    file = tmp_path / "drift.jsonl"
    assert main(["drift", str(plan_dir), "--dsn", scratch.dsn, "-o", str(tmp_path / "d.sql"),
                 "--mismatches", str(file)]) == 3  # fmt: skip
    err = capsys.readouterr().err
    written = [json.loads(line) for line in file.read_text(encoding="utf-8").splitlines()]
    assert len(written) > 5
    assert f"the first 5 of {len(written)} mismatches" in err
    assert f"… and {len(written) - 5} more not shown: every one is in {file} (JSON" in err
    assert main(["--json", "drift", str(plan_dir), "--dsn", scratch.dsn]) == 3
    data = json.loads(capsys.readouterr().out)
    assert (data["differences"], data["mismatches"]) == (len(written), written)

    apply_plan_dir(plan_dir, scratch.dsn)  # then grants the plan does not make: extra
    reader = quote_ident(f"{scratch.prefix}_sales_reader")
    with connect(scratch.dsn, scratch.database) as conn:
        conn.execute(f"GRANT TRUNCATE, TRIGGER, REFERENCES ON sales.orders, sales.customers "
                     f"TO {reader}".encode())  # fmt: skip
    file = tmp_path / "verify.jsonl"
    assert main(["verify", str(plan_dir), "--dsn", scratch.dsn, "--mismatches", str(file)]) == 3
    err = capsys.readouterr().err
    written = [json.loads(line) for line in file.read_text(encoding="utf-8").splitlines()]
    assert sum(m["kind"] == "acl" and m["status"] == "extra" for m in written) == 6
    assert f"the first 5 of {len(written)} mismatches" in err
    assert f"… and {len(written) - 5} more not shown: every one is in {file} (JSON" in err
    assert main(["--json", "verify", str(plan_dir), "--dsn", scratch.dsn]) == 3
    assert json.loads(capsys.readouterr().out)["mismatches"] == written
