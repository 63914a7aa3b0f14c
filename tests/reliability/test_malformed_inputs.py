"""Issue 8, item 4: malformed inputs exit 2 with one line naming the file; outputs stay whole."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from grantbridge.cli import main
from grantbridge.errors import MappingError
from mapper.plan import MigrationPlan
from mssql_extract.tsql import extract_scripts
from pg_emit.artifacts import write_artifacts
from tests.conftest import CONTOSO

SNAPSHOT = extract_scripts([CONTOSO]).to_json()


def _json_edit(key: str, value: object) -> str:
    data = json.loads(SNAPSHOT)
    data[key] = value
    return json.dumps(data)


def _nested_unknown() -> str:
    data = json.loads(SNAPSHOT)
    data["databases"][0]["users"][0]["password_hash"] = "0x0200AB"
    return json.dumps(data)


def _zip(path: Path, members: dict[str, str]) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in members.items():
            archive.writestr(name, text)


#: name → (files to create: relative path → text, or None for a folder; argv; words expected)
CASES: dict[str, tuple[dict[str, str | None], list[str], str]] = {
    "truncated-snapshot": ({"in.json": SNAPSHOT[:400]}, ["plan", "in.json", "-o", "out"], "not valid JSON"),
    "empty-snapshot": ({"in.json": ""}, ["plan", "in.json", "-o", "out"], "not valid JSON"),
    "snapshot-not-object": ({"in.json": "[]"}, ["plan", "in.json", "-o", "out"], "JSON object"),
    "unknown-version": ({"in.json": _json_edit("schema_version", 99)}, ["plan", "in.json", "-o", "out"], "schema_version 99"),
    "unknown-field": ({"in.json": _json_edit("extra", 1)}, ["plan", "in.json", "-o", "out"], "extra"),
    "unknown-nested-field": ({"in.json": _nested_unknown()}, ["plan", "in.json", "-o", "out"], "password_hash"),
    "policy-bad-key": ({"in.json": SNAPSHOT, "p.toml": "[naming]\nbogus = 1\n"}, ["plan", "in.json", "--policy", "p.toml", "-o", "out"], "bogus"),
    "policy-bad-type": ({"in.json": SNAPSHOT, "p.toml": 'hardening = "maybe"\n'}, ["plan", "in.json", "--policy", "p.toml", "-o", "out"], "hardening"),
    "policy-not-toml": ({"in.json": SNAPSHOT, "p.toml": "[naming\n"}, ["plan", "in.json", "--policy", "p.toml", "-o", "out"], "TOML"),
    "policy-missing": ({"in.json": SNAPSHOT}, ["plan", "in.json", "--policy", "p.toml", "-o", "out"], "p.toml"),
    "dacpac-not-zip": ({"x.dacpac": "not a zip"}, ["extract", "--dacpac", "x.dacpac", "-o", "s.json"], "zip"),
    "dacpac-no-model": ({}, ["extract", "--dacpac", "nomodel.dacpac", "-o", "s.json"], "model.xml"),
    "empty-script": ({"e.sql": ""}, ["extract", "-s", "e.sql", "-o", "s.json"], "empty"),
    "empty-catalog-json": ({"c.json": ""}, ["extract", "--catalog-json", "c.json", "-o", "s.json"], "JSON"),
    "folder-without-scripts": ({"dir": None, "dir/readme.txt": "x"}, ["extract", "-s", "dir", "-o", "s.json"], "no .sql"),
    "plan-output-is-a-file": ({"in.json": SNAPSHOT, "out": "a file"}, ["plan", "in.json", "-o", "out"], "not a directory"),
    "extract-output-under-a-file": ({"e.sql": "CREATE ROLE r\n", "f": "x"}, ["extract", "-s", "e.sql", "-o", "f/s.json"], "cannot write"),
    "verify-without-plan": ({"dir": None}, ["verify", "dir"], "no plan.json"),
    "diff-truncated-plan": ({"a.json": '{"schema_version": 1, "fin'}, ["diff", "a.json", "a.json"], "not valid JSON"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(CASES))
def test_malformed_input_exits_2_with_one_line(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    files, argv, expected = CASES[case]
    monkeypatch.chdir(tmp_path)
    for name, text in files.items():
        if text is None:
            Path(name).mkdir()
        else:
            Path(name).write_text(text, encoding="utf-8")
    _zip(tmp_path / "nomodel.dacpac", {"Origin.xml": "<DacOrigin/>"})
    before = sorted(p.name for p in tmp_path.iterdir())
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    named = [a for a in argv if a in files or a.endswith((".dacpac", ".toml")) or "/" in a]
    assert lines[0].startswith("error: ")
    assert any(n in lines[0] for n in named), lines[0]
    assert expected in lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written, nothing left


# --------------------------------------------------------------------------- atomic output


def _partial_then_fail(error: BaseException):  # type: ignore[no-untyped-def]
    def write(plan: MigrationPlan, outdir: Path) -> None:
        write_artifacts(plan, outdir)  # everything written … then the last step fails
        (outdir / "sql" / "01_roles.sql").write_text("-- half", encoding="utf-8")
        raise error

    return write


@pytest.mark.parametrize("existing", [False, True])
@pytest.mark.parametrize(
    "error", [MappingError("planted failure"), RuntimeError("planted bug")], ids=["error", "bug"]
)
def test_failed_plan_never_leaves_a_half_written_directory(
    existing: bool,
    error: BaseException,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "in.json").write_text(SNAPSHOT, encoding="utf-8")
    out = tmp_path / "out"
    if existing:
        out.mkdir()
        (out / "plan.json").write_text("previous", encoding="utf-8")
    monkeypatch.setattr("grantbridge.commands.plan.write_artifacts", _partial_then_fail(error))
    argv = ["plan", str(tmp_path / "in.json"), "-o", str(out)]
    if isinstance(error, MappingError):
        assert main(argv) == 2
        assert "planted failure" in capsys.readouterr().err
    else:  # a bug: its traceback and a request for a bug report, exit 1 (cli.INTERNAL_ERROR)
        assert main(argv) == 1
        assert "RuntimeError: planted bug" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == (
        ["in.json", "out"] if existing else ["in.json"]
    )
    if existing:
        assert [p.name for p in out.iterdir()] == ["plan.json"]
        assert (out / "plan.json").read_text(encoding="utf-8") == "previous"


def test_successful_plan_replaces_the_directory_whole(tmp_path: Path) -> None:
    (tmp_path / "in.json").write_text(SNAPSHOT, encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    (out / "stale.txt").write_text("old run", encoding="utf-8")
    assert main(["plan", str(tmp_path / "in.json"), "-o", str(out)]) == 0
    assert not (out / "stale.txt").exists()
    assert (out / "plan.json").is_file()
    assert (out / "sql" / "01_roles.sql").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.json", "out"]
