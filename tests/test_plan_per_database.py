"""``grantbridge plan --per-database``: one plan directory per database that add up to the
whole plan (issue 7; grantbridge/commands/plan_parts.py)."""

from __future__ import annotations

import contextlib
import json
import re
from pathlib import Path

import pytest

from bench.decompose import compare, merged
from grantbridge.cli import main
from mapper.plan import MigrationPlan
from mssql_extract import tsql
from mssql_extract.snapshot import SecuritySnapshot
from tests.bench.test_decompose import two_database_estate
from tests.conftest import CONTOSO, ROOT


@pytest.fixture(scope="module")
def contoso_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    with contextlib.chdir(ROOT):
        snapshot: SecuritySnapshot = tsql.extract_scripts([CONTOSO.relative_to(ROOT)])
    path = tmp_path_factory.mktemp("contoso") / "snapshot.json"
    snapshot.write_json(path)
    return path


@pytest.fixture(scope="module")
def contoso_parts(contoso_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("parts") / "plans"
    assert main(["plan", str(contoso_file), "-o", str(out), "--per-database", "--jobs", "2"]) == 0
    return out


def _plans(out: Path) -> list[MigrationPlan]:
    index = json.loads((out / "parts.json").read_text(encoding="utf-8"))
    return [
        MigrationPlan.from_json((out / p["directory"] / "plan.json").read_bytes())
        for p in index["parts"]
    ]


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_each_database_gets_a_plan_directory(contoso_parts: Path) -> None:
    index = json.loads((contoso_parts / "parts.json").read_text(encoding="utf-8"))
    assert [(p["database"], p["directory"]) for p in index["parts"]] == [
        ("HR", "HR"), ("Reporting", "Reporting"), ("Sales", "Sales")
    ]  # fmt: skip
    assert sorted(p.name for p in contoso_parts.iterdir()) == [
        "HR", "Reporting", "Sales", "parts.json", "report.md", "rollback.sql"
    ]  # fmt: skip
    for part, plan in zip(index["parts"], _plans(contoso_parts), strict=True):
        assert [d.name for d in plan.databases] == [part["database"].lower()]
        assert part["grants"] == len(plan.grants) > 0
        assert part["fingerprint"] == plan.fingerprint
        assert (contoso_parts / part["directory"] / "sql" / "04_privileges.sql").is_file()
        assert plan.part_of == 3
        report = (contoso_parts / part["directory"] / "report.md").read_text(encoding="utf-8")
        assert f"with `{part['database'].lower()}`, one of 3 databases" in report


def test_the_parts_add_up_to_the_whole_plan(
    contoso_file: Path, contoso_parts: Path, tmp_path: Path
) -> None:
    whole_dir = tmp_path / "whole"
    assert main(["plan", str(contoso_file), "-o", str(whole_dir)]) == 0
    whole = MigrationPlan.from_json((whole_dir / "plan.json").read_bytes())
    counts = compare(whole, merged(_plans(contoso_parts)))
    differing = {
        kind: {cause: n for cause, n in c.items() if cause != "total" and n}
        for kind, c in counts.items()
    }
    # only what a downscoped sysadmin member says about the other databases (GB002's action
    # and its disposition list each database's db_owner role: bench/decompose.py)
    assert {k: v for k, v in differing.items() if v} == {
        "findings": {"server fact": 1}, "dispositions": {"server fact": 1}
    }  # fmt: skip
    assert counts["grants"]["total"] == len(whole.grants) > 200


def test_the_output_is_the_same_with_one_worker_and_from_compact_json(
    contoso_file: Path, contoso_parts: Path, tmp_path: Path
) -> None:
    one = tmp_path / "one"
    assert main(["plan", str(contoso_file), "-o", str(one), "--per-database", "--jobs", "1"]) == 0
    assert _tree(one) == _tree(contoso_parts)
    compact = tmp_path / "compact.json"  # not the canonical layout: loaded whole, then split
    compact.write_text(json.dumps(json.loads(contoso_file.read_text(encoding="utf-8"))))
    again = tmp_path / "again"
    assert main(["plan", str(compact), "-o", str(again), "--per-database"]) == 0
    assert _tree(again) == _tree(contoso_parts)


@pytest.mark.parametrize(
    ("line", "broken", "said"),
    [
        ('      "name": "Sales",\n', '      "name": 7,\n', "[databases.1.name]: invalid snapshot"),
        ('      "name": "Sales",\n', '      "name": "Sales"\n', "not valid JSON"),
        ('  "skipped": []\n', '  "skipped": [}\n', "not valid JSON"),  # after the databases
    ],
)
def test_a_bad_snapshot_is_located_as_the_whole_load_locates_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], line: str, broken: str, said: str
) -> None:
    path = tmp_path / "snapshot.json"
    lines = two_database_estate().to_json().splitlines(keepends=True)
    at = [i for i, text in enumerate(lines) if text == line]
    assert len(at) == 1  # the second database's (HR sorts first), or the file's tail
    lines[at[0]] = broken
    path.write_text("".join(lines), encoding="utf-8")
    assert main(["plan", str(path), "-o", str(tmp_path / "whole")]) == 2
    whole = capsys.readouterr().err
    out = tmp_path / "plans"
    assert main(["plan", str(path), "-o", str(out), "--per-database", "--jobs", "2"]) == 2
    err = capsys.readouterr().err
    assert err == whole, (err, whole)
    assert said in err
    if "JSON" in said:  # with the file's line, as the whole load gives it
        assert re.search(rf"{re.escape(str(path))}:{at[0] + 1}[:0-9]* ", err) or re.search(
            rf"{re.escape(str(path))}:{at[0] + 2}:", err
        ), err
    assert "Traceback" not in err
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_refusals(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "snapshot.json"
    two_database_estate().model_copy(update={"databases": ()}).write_json(path)
    out = tmp_path / "plans"
    assert main(["plan", str(path), "-o", str(out), "--per-database"]) == 2
    assert "holds no database: plan it without --per-database" in capsys.readouterr().err
    assert main(["plan", str(path), "-o", str(out), "--jobs", "2"]) == 2
    assert "--jobs goes with --per-database" in capsys.readouterr().err
    two_database_estate().write_json(path)
    schema_mode = tmp_path / "grantbridge.toml"
    schema_mode.write_text('database_mode = "schema"\n', encoding="utf-8")
    args = ["plan", str(path), "-o", str(out), "--per-database", "--policy", str(schema_mode)]
    assert main(args) == 2
    assert 'with database_mode = "schema" they share one' in capsys.readouterr().err
    assert not out.exists()
    assert main(["plan", str(path), "-o", str(out)]) == 0  # a whole plan's directory …
    assert main(["plan", str(path), "-o", str(out), "--per-database"]) == 2  # … is not replaced
    assert "it has no parts.json" in capsys.readouterr().err
    assert (out / "plan.json").is_file()
    parts = tmp_path / "parts"
    assert main(["plan", str(path), "-o", str(parts), "--per-database"]) == 0
    assert main(["plan", str(path), "-o", str(parts)]) == 2  # and the other way round
    assert "it has no plan.json" in capsys.readouterr().err


def test_directory_names() -> None:
    from grantbridge.commands.plan_parts import directory_names

    assert directory_names(["Sales", "SALES", "a/b", "a b", ".x", ""]) == [
        "Sales", "SALES-2", "a_b", "a_b-2", "_x", "_"
    ]  # fmt: skip


@pytest.mark.postgres
def test_the_parts_applied_to_one_cluster_are_the_whole_plan(
    contoso_file: Path, contoso_parts: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each part's scripts applied, in any order, to one cluster: drift against the whole plan
    finds what one part grants missing until it is applied, and nothing after (authoritative:
    nothing beyond the whole plan either)."""
    from tests.cluster import throwaway_cluster
    from tests.emit.conftest import build_target

    whole_dir = tmp_path / "whole"
    assert main(["plan", str(contoso_file), "-o", str(whole_dir)]) == 0
    whole = MigrationPlan.from_json((whole_dir / "plan.json").read_bytes())
    with throwaway_cluster({}) as (dsn, _log):
        build_target(dsn, whole)
        for part in ("Sales", "HR"):
            assert main(["apply", str(contoso_parts / part), "--dsn", dsn, "--yes"]) == 0
        capsys.readouterr()
        assert main(["drift", str(whole_dir), "--dsn", dsn, "--authoritative"]) == 3
        assert "reporting" in capsys.readouterr().err
        assert main(["apply", str(contoso_parts / "Reporting"), "--dsn", dsn, "--yes"]) == 0
        capsys.readouterr()
        assert main(["drift", str(whole_dir), "--dsn", dsn, "--authoritative"]) == 0, (
            capsys.readouterr().err
        )
        # a membership by hand: the part that has the role sees it, the others do not
        _sql(dsn, "GRANT hr_hr_readers TO sales_app")
        assert main(["drift", str(contoso_parts / "Sales"), "--dsn", dsn]) == 0
        capsys.readouterr()
        assert main(["drift", str(contoso_parts / "HR"), "--dsn", dsn]) == 3
        assert "sales_app in hr_hr_readers" in capsys.readouterr().err
        _sql(dsn, "REVOKE hr_hr_readers FROM sales_app")
        # one part rolled back: the others untouched (the shared login roles kept, with their
        # CONNECT on the other databases), then every part: only the shared roles are left
        _roll_back(dsn, contoso_parts / "HR")
        for part in ("Reporting", "Sales"):
            assert main(["drift", str(contoso_parts / part), "--dsn", dsn]) == 0, part
        capsys.readouterr()
        assert main(["drift", str(contoso_parts / "HR"), "--dsn", dsn]) == 3
        for part in ("Sales", "Reporting"):
            _roll_back(dsn, contoso_parts / part)
        shared = {r.name for r in whole.roles if any(
            f.startswith(("server/login:", "server/server_role:")) for f in r.facts)}  # fmt: skip
        assert _created(dsn) == shared
        assert "hr_app" in shared
        assert "hr_hr_readers" in {r.name for r in whole.roles} - shared


def _roll_back(dsn: str, part: Path) -> None:
    from pg_emit.apply import run_scripts

    run_scripts(dsn, [("rollback.sql", (part / "sql" / "rollback.sql").read_text("utf-8"))])


def _sql(dsn: str, statement: str) -> None:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(statement.encode())


def _created(dsn: str) -> set[str]:
    import psycopg

    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT rolname FROM pg_roles WHERE shobj_description(oid, 'pg_authid') "
            "LIKE 'grantbridge: created%'"
        ).fetchall()
    return {name for (name,) in rows}


def test_diff_given_the_set_compares_it_with_a_set(
    contoso_parts: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """diff reads two sets part by part (tests/test_diff_set.py), never a set and one plan."""
    assert main(["diff", str(contoso_parts), str(contoso_parts)]) == 0
    out = capsys.readouterr().out
    assert "3 parts: 0 changed, 0 added, 0 removed, 3 unchanged." in out, out
    assert main(["diff", str(contoso_parts), str(contoso_parts / "HR")]) == 2
    err = capsys.readouterr().err
    assert f"{contoso_parts / 'HR'}: not a plan set, but {contoso_parts} is one" in err, err


def test_a_worker_that_dies_is_an_error_naming_the_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker killed (the out-of-memory killer) is exit 2 naming the part, no traceback and
    no output directory."""
    import grantbridge.commands.plan_parts as plan_parts

    path = tmp_path / "snapshot.json"
    two_database_estate().write_json(path)
    monkeypatch.setattr(plan_parts, "_plan_part", _die)  # the workers are forked from here
    out = tmp_path / "plans"
    assert main(["plan", str(path), "-o", str(out), "--per-database", "--jobs", "2"]) == 2
    err = capsys.readouterr().err
    assert "a worker process stopped while planning database 'HR'" in err, err
    assert "Traceback" not in err
    assert not out.exists()


def _die(_job: object) -> None:
    import os
    import signal

    os.kill(os.getpid(), signal.SIGKILL)
