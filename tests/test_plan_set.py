"""``apply``, ``verify`` and ``drift`` given a ``plan --per-database`` set: every part, checked
first, in ``parts.json``'s order, reported per part (grantbridge/commands/plan_set.py)."""

from __future__ import annotations

import io
import json
import shutil
import sys
from pathlib import Path

import pytest

from grantbridge.cli import main
from mapper.plan import MigrationPlan, PgMembership
from pg_emit.artifacts import write_artifacts
from tests.test_plan_per_database import _created, _sql, contoso_file, contoso_parts

__all__ = ["contoso_file", "contoso_parts"]  # the fixtures, shared with that module

NOWHERE = "postgresql://nobody@127.0.0.1:1/none"  # nothing listens: a connection would be exit 4


def _copy(parts: Path, tmp_path: Path, name: str = "set") -> Path:
    copy = tmp_path / name
    shutil.copytree(parts, copy)
    return copy


def _tamper(parts: Path, part: str) -> Path:
    """One part's 04_privileges.sql edited by hand (a comment added)."""
    script = parts / part / "sql" / "04_privileges.sql"
    script.write_text(script.read_text("utf-8") + "-- added by hand\n", "utf-8")
    return script


class _Answer(io.StringIO):
    """A terminal answering yes that edits a part's script as it answers: after apply checked
    every part, before it runs the first."""

    def __init__(self, parts: Path, part: str) -> None:
        super().__init__("y\n")
        self.parts, self.part = parts, part

    def isatty(self) -> bool:
        return True

    def readline(self, size: int | None = -1, /) -> str:
        _tamper(self.parts, self.part)
        return super().readline(size)


def _lines(path: Path) -> list[dict[str, str]]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


def test_verify_passes_on_the_set(
    contoso_parts: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    written = tmp_path / "mismatches.jsonl"
    assert main(["verify", str(contoso_parts), "--mismatches", str(written)]) == 0
    err = capsys.readouterr().err
    assert "verify: 3 parts together on an embedded throwaway PostgreSQL" in err
    for number, name in enumerate(("HR", "Reporting", "Sales"), start=1):
        assert f"verify part {number} of 3 (database {name}, {contoso_parts / name})" in err
    assert "verification passed: PostgreSQL grants exactly what the plan says (3 parts)" in err
    assert written.read_text("utf-8") == ""


def test_verify_applies_the_parts_together(
    contoso_parts: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A part whose memberships give a shared login one of another part's roles passes on its
    own, and so does the other part, but not the two together: the set is verified on one
    server, and the mismatch is said, and written, with the part it breaks."""
    parts = _copy(contoso_parts, tmp_path)
    reporting = MigrationPlan.from_json((parts / "Reporting" / "plan.json").read_bytes())
    hr = MigrationPlan.from_json((parts / "HR" / "plan.json").read_bytes())
    (readers,) = (r for r in hr.roles if r.name == "hr_hr_readers")
    assert ("hr_hr_readers", "sales_app") not in {(m.role, m.member) for m in hr.memberships}
    widened = reporting.model_copy(update={
        "roles": (*reporting.roles, readers),
        "memberships": (*reporting.memberships, PgMembership(role="hr_hr_readers", member="sales_app")),
    })  # fmt: skip
    widened.write_json(parts / "Reporting" / "plan.json")  # the scripts of the plan as read:
    reread = MigrationPlan.from_json((parts / "Reporting" / "plan.json").read_bytes())
    write_artifacts(reread, parts / "Reporting")
    for alone in ("Reporting", "HR"):
        assert main(["verify", str(parts / alone)]) == 0, alone
    capsys.readouterr()
    written = tmp_path / "mismatches.jsonl"
    args = ["--json", "verify", str(parts), "--mismatches", str(written)]
    assert main(args) == 3
    out = json.loads(capsys.readouterr().out)
    wanted = {"kind": "membership", "database": "", "subject": "sales_app in hr_hr_readers",
              "status": "extra", "detail": "", "part": "HR"}  # fmt: skip
    assert wanted in out["mismatches"]  # and what the membership gives sales_app in hr
    hr_part = [m for m in out["mismatches"] if m["part"] == "HR" and m != wanted]
    assert hr_part
    assert {(m["kind"], m["database"], m["status"]) for m in hr_part} == {
        ("effective", "hr", "extra")
    }
    assert all(m["subject"].startswith("sales_app: ") for m in hr_part)
    # Reporting, now saying who is in hr_hr_readers, finds HR's member there
    assert [(m["part"], m["subject"]) for m in out["mismatches"] if m["part"] != "HR"] == [
        ("Reporting", "analysts@CONTOSO in hr_hr_readers")
    ]  # fmt: skip
    assert _lines(written) == out["mismatches"]
    assert [(p["directory"], p["passed"]) for p in out["parts"]] == [
        ("HR", False), ("Reporting", False), ("Sales", True)
    ]  # fmt: skip
    assert main(["verify", str(parts)]) == 3
    err = capsys.readouterr().err
    count = f"{len(hr_part) + 1} mismatches"
    assert f"part 1 of 3 (database HR, {parts / 'HR'}): {count}" in err
    assert f"part 2 of 3 (database Reporting, {parts / 'Reporting'}): 1 mismatch\n" in err
    total = len(out["mismatches"])
    assert f"verification failed: {total} mismatches in 2 parts (HR, Reporting)" in err


def test_a_tampered_part_refuses_verify_of_the_set(
    contoso_parts: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    parts = _copy(contoso_parts, tmp_path)
    script = _tamper(parts, "Reporting")
    assert main(["verify", str(parts)]) == 2
    err = capsys.readouterr().err
    assert f"{script}: part 2 of 3 (database Reporting): the script differs from" in err
    assert "or planned by another version of grantbridge? Re-run grantbridge plan" in err
    assert "nothing was verified" in err
    assert "verify part" not in err  # refused before the first part ran
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("edit", "key", "said"),
    [
        (lambda t: t.replace('"directory": "HR"', '"directory": HR'), ":6:", "not valid JSON"),
        (lambda t: "[]", ": ", "not a parts.json of grantbridge plan --per-database"),
        (lambda t: '{"schema_version": 1, "parts": []}', "[parts]", "no parts listed"),
        (
            lambda t: t.replace('"directory": "Reporting"', '"directory": 7'),
            "[parts.1]",
            "directory: a non-empty string expected",
        ),
        (
            lambda t: t.replace('"directory": "Reporting"', '"directory": "../x"'),
            "[parts.1.directory]",
            "directory '../x' is not a directory of the set",
        ),
        (
            lambda t: t.replace('"directory": "Reporting"', '"directory": "Gone"'),
            "[parts.1.directory]",
            "the plan directory of database 'Reporting', {set}/Gone, is missing",
        ),
        (
            lambda t: t.replace('"directory": "Reporting"', '"directory": "HR"'),
            "[parts.1.directory]",
            "directory 'HR' is listed twice (entries 1 and 2)",
        ),
    ],
    ids=["json", "not-parts", "empty", "not-string", "outside", "missing", "twice"],
)
@pytest.mark.parametrize("command", ["verify", "apply", "drift"])
def test_a_bad_parts_json_is_exit_2_naming_the_file_and_entry(
    contoso_parts: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    edit: object, key: str, said: str, command: str,
) -> None:  # fmt: skip
    parts = _copy(contoso_parts, tmp_path)
    index = parts / "parts.json"
    index.write_text(edit(index.read_text("utf-8")), "utf-8")  # type: ignore[operator]
    args = [command, str(parts)] + ([] if command == "verify" else ["--dsn", NOWHERE])
    assert main(args + (["--yes"] if command == "apply" else [])) == 2  # not 4: no connection
    err = capsys.readouterr().err
    assert f"{index}{key if key.startswith(':') else ' ' + key}" in err, err
    assert said.format(set=parts) in err, err
    assert "Traceback" not in err


def test_a_part_directory_without_its_plan(
    contoso_parts: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    parts = _copy(contoso_parts, tmp_path)
    (parts / "Sales" / "plan.json").unlink()
    assert main(["verify", str(parts)]) == 2
    err = capsys.readouterr().err
    assert f"{parts / 'parts.json'} [parts.2.directory]: the plan directory of database " in err
    assert f"'Sales', {parts / 'Sales'}, has no plan.json" in err


@pytest.mark.postgres
def test_apply_the_set_then_drift_and_verify_it(
    contoso_file: Path, contoso_parts: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """A tampered part refuses the set with nothing applied, and one changed once checked
    stops the run naming the parts applied before it; the set applied, drift finds
    nothing (authoritative too: no part reports another part's roles or grants), verify on the
    live target passes, and a GRANT by hand in one database is that part's difference."""
    from tests.cluster import throwaway_cluster
    from tests.emit.conftest import build_target

    whole_dir = tmp_path / "whole"
    assert main(["plan", str(contoso_file), "-o", str(whole_dir)]) == 0
    whole = MigrationPlan.from_json((whole_dir / "plan.json").read_bytes())
    tampered = _copy(contoso_parts, tmp_path)
    script = _tamper(tampered, "Sales")
    with throwaway_cluster({}) as (dsn, _log):
        build_target(dsn, whole)
        capsys.readouterr()
        assert main(["apply", str(tampered), "--dsn", dsn, "--yes"]) == 2
        err = capsys.readouterr().err
        assert f"{script}: part 3 of 3 (database Sales): the script differs from" in err
        assert "nothing was applied" in err
        assert _created(dsn) == set()  # not even the parts before it
        racing = _copy(contoso_parts, tmp_path, "racing")
        monkeypatch.setattr(sys, "stdin", _Answer(racing, "Sales"))
        assert main(["apply", str(racing), "--dsn", dsn]) == 2  # asked once, then a part fails
        captured = capsys.readouterr()
        assert captured.out.count("Apply 3 parts (") == 1, captured.out
        assert "apply: part 2 of 3 (database Reporting" in captured.out
        assert (
            f"{racing / 'Sales' / 'sql' / '04_privileges.sql'}: part 3 of 3 (database Sales): "
            "the script changed since apply checked it; parts applied before it: HR, Reporting "
            "(each part's sql/rollback.sql undoes that part)"
        ) in captured.err
        assert "hr_hr_readers" in _created(dsn)
        monkeypatch.undo()
        assert main(["apply", str(contoso_parts), "--dsn", dsn, "--yes"]) == 0
        out = capsys.readouterr().out
        for number, name in enumerate(("HR", "Reporting", "Sales"), start=1):
            assert f"apply: part {number} of 3 (database {name}, {contoso_parts / name})" in out
        assert "applied 3 parts; each part's sql/rollback.sql undoes it" in out
        assert _created(dsn) == {r.name for r in whole.roles if r.kind.value != "predefined"}
        assert main(["drift", str(whole_dir), "--dsn", dsn, "--authoritative"]) == 0
        for mode in ([], ["--authoritative"]):
            assert main(["drift", str(contoso_parts), "--dsn", dsn, *mode]) == 0, mode
        capsys.readouterr()
        assert main(["verify", str(contoso_parts), "--dsn", dsn]) == 0
        assert "(3 parts)" in capsys.readouterr().err
        (table,) = [o for o in whole.objects if o.database == "sales" and o.kind == "table"][:1]
        securable = f"{table.schema_name}.{table.name}"
        _sql(dsn.rsplit("/", 1)[0] + "/sales", f"GRANT TRUNCATE ON {securable} TO PUBLIC")
        written = tmp_path / "drift.jsonl"
        args = ["drift", str(contoso_parts), "--dsn", dsn, "--authoritative"]
        assert main([*args, "--mismatches", str(written)]) == 3
        captured = capsys.readouterr()
        assert f"part 3 of 3 (database Sales, {contoso_parts / 'Sales'}): 1 mismatch" in (
            captured.err
        )
        assert "drift: 1 difference from the plans of 1 part (Sales)" in captured.err
        assert [(m["part"], m["status"]) for m in _lines(written)] == [("Sales", "extra")]
        assert f"REVOKE TRUNCATE ON TABLE {securable} FROM PUBLIC" in captured.out
        assert captured.out.count("-- part ") == 3
