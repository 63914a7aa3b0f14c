"""Issue 8, item 4: malformed inputs exit 2 with one line naming the file; outputs stay whole."""

from __future__ import annotations

import errno
import json
import os
import re
import zipfile
from pathlib import Path

import pytest

from grantbridge.cli import main
from grantbridge.errors import ExtractError, MappingError
from mapper.plan import MigrationPlan
from mssql_extract.snapshot import SecuritySnapshot
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
    "extract-output-under-a-file": ({"e.sql": "CREATE LOGIN l WITH PASSWORD = 'p'\n", "f": "x"}, ["extract", "-s", "e.sql", "-o", "f/s.json"], "cannot write"),
    "verify-without-plan": ({"dir": None}, ["verify", "dir"], "no plan.json"),
    "diff-truncated-plan": ({"a.json": '{"schema_version": 1, "fin'}, ["diff", "a.json", "a.json"], "not valid JSON"),
    # json.loads' ValueError and RecursionError, and a string no file can hold, were tracebacks
    "snapshot-huge-number": ({"in.json": SNAPSHOT.replace("1", "1" * 5000, 1)}, ["plan", "in.json", "-o", "out"], ":2:21: not valid JSON: a number has more than 4300 digits"),
    "snapshot-nested-too-deeply": ({"in.json": "[" * 100_000 + "]" * 100_000}, ["plan", "in.json", "-o", "out"], "nested too deeply"),
    "snapshot-lone-surrogate": ({"in.json": _json_edit("source", "x").replace('"x"', '"\\ud800x"')}, ["plan", "in.json", "-o", "out"], "\\ud800 is half of a UTF-16 surrogate pair"),
    "plan-nested-too-deeply": ({"a.json": '{"roles": ' + "[" * 100_000}, ["diff", "a.json", "a.json"], "nested too deeply"),
    "catalog-huge-number": ({"c.json": '{"server": ' + "1" * 5000 + "}"}, ["extract", "--catalog-json", "c.json", "-o", "s.json"], "c.json:1:12: not valid JSON (a number has more"),
    # UTF-16 without a byte-order mark is valid UTF-8 when ASCII: every statement was skipped
    "utf16-script-without-bom": ({"u.sql": "CREATE LOGIN l WITH PASSWORD = 'p'\n".encode("utf-16-le").decode()}, ["extract", "-s", "u.sql", "-o", "s.json"], "--encoding utf-16-le"),
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


@pytest.mark.parametrize(
    ("escapes", "error"),
    [
        ("\\ud83d\\ude00", None),  # a pair: one character (an emoji)
        ("\\\\ud800", None),  # an escaped backslash, then the text ud800
        ("a\\ud83d", "1:4: the string escape \\ud83d"),  # a high half at the end
        ("\\ud83d\\u0041", "1:3: the string escape \\ud83d"),  # a high half, then no low one
        ("\\\\\\ude00", "1:5: the string escape \\ude00"),  # a low half after a backslash
    ],
)
def test_lone_surrogate_escapes_are_errors_at_their_place(escapes: str, error: str | None) -> None:
    """Both JSON parsers accept an escaped lone surrogate, which the plan or snapshot could then
    not be written with (a traceback); a pair and literal text stay as they were."""
    text = '{"' + escapes + '": 1,' + SNAPSHOT[1:]  # an unknown key, on the first line
    if error is None:
        with pytest.raises(ExtractError, match="Extra inputs"):  # loaded: the key is unknown
            SecuritySnapshot.from_json(text, origin="in.json")
    else:
        with pytest.raises(ExtractError, match=re.escape(f"in.json:{error}")):
            SecuritySnapshot.from_json(text, origin="in.json")


def test_an_error_quoting_control_characters_prints_them_escaped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A name from the input reaches the error line: its NUL (which log tools cut at) and its
    escape sequence (which the terminal obeys, here bold type) print as escapes."""
    data = json.loads(SNAPSHOT)
    data["logins"][0]["name"] = "a\x00b\x1b[1m"
    (tmp_path / "in.json").write_text(json.dumps(data), encoding="utf-8")
    assert main(["plan", str(tmp_path / "in.json"), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: a\\x00b\\x1b[1m@LOCAL: the name"), err
    assert [c for c in err if ord(c) < 0x20 and c != "\n"] == []


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


def _plan_dir(out: Path) -> Path:
    """``out`` as an earlier ``grantbridge plan`` left it, with files a later plan no longer
    writes (a script and the IAM policy of a login since removed)."""
    assert main(["plan", str(out.parent / "in.json"), "-o", str(out)]) == 0
    (out / "sql" / "08_retired.sql").write_text("-- an older plan's", encoding="utf-8")
    (out / "iam" / "policies").mkdir()
    (out / "iam" / "policies" / "gone.json").write_text("{}", encoding="utf-8")
    return out


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize("earlier", ["plan", "empty"])
def test_successful_plan_replaces_a_directory_it_wrote_whole(earlier: str, tmp_path: Path) -> None:
    (tmp_path / "in.json").write_text(SNAPSHOT, encoding="utf-8")
    out = tmp_path / "out"
    if earlier == "plan":
        _plan_dir(out)
    else:
        out.mkdir()
    assert main(["plan", str(tmp_path / "in.json"), "-o", str(out)]) == 0
    assert not (out / "sql" / "08_retired.sql").exists()
    assert not (out / "iam" / "policies").exists()
    assert (out / "plan.json").is_file()
    assert (out / "sql" / "01_roles.sql").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.json", "out"]


#: name → (what the output directory holds besides an earlier plan, or None: no earlier plan;
#: the entries the error quotes)
FOREIGN: dict[str, tuple[dict[str, str], str]] = {
    "user-file": ({"important.txt": "keep"}, "(it has no plan.json; it holds important.txt)"),
    "user-folder": ({"sql/mine.sql": "keep"}, "(it has no plan.json; it holds sql)"),
    "beside-a-plan": ({"notes.md": "keep"}, "does not write (notes.md)"),
    "in-a-plan-folder": ({"iam/keys.txt": "k", "sql/x/a.sql": "k", "z/a": "k", "y": "k"},
                         "does not write (iam/keys.txt, sql/x/, y, … (4 in all))"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(FOREIGN))
def test_plan_refuses_a_directory_holding_other_files(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Replacing deletes: a directory holding files grantbridge does not write is refused
    (exit 2, one line naming it and what it holds) and left as it was."""
    (tmp_path / "in.json").write_text(SNAPSHOT, encoding="utf-8")
    out = tmp_path / "out"
    files, quoted = FOREIGN[case]
    if case.endswith("plan") or case.startswith("in-a"):
        _plan_dir(out)
    for name, text in files.items():
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_text(text, encoding="utf-8")
    before = _tree(out)
    capsys.readouterr()
    assert main(["plan", str(tmp_path / "in.json"), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.startswith(f"error: {out}: the output directory "), err
    assert err.count("\n") == 1, err
    assert quoted in err
    assert _tree(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.json", "out"]


@pytest.mark.parametrize("output", [".", "..", "{tmp}"])
def test_plan_refuses_the_directory_it_runs_in(
    output: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``-o .`` (or any directory holding the working directory) cannot be renamed away: exit 2
    naming it, nothing written, no scratch directory left beside it."""
    (tmp_path / "in.json").write_text(SNAPSHOT, encoding="utf-8")
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")
    argv = ["plan", str(tmp_path / "in.json"), "-o", output.format(tmp=tmp_path)]
    beside = sorted(tmp_path.parent.iterdir())
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err == (
        f"error: {output.format(tmp=tmp_path)}: the output directory holds the current working "
        "directory, so it cannot be replaced: name a new directory (a subdirectory of it, for "
        "instance)\n"
    )
    assert sorted(tmp_path.parent.iterdir()) == beside
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.json", "sub"]
    assert list((tmp_path / "sub").iterdir()) == []


def test_plan_keeps_files_written_into_the_directory_meanwhile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The directory is checked again just before it is replaced."""
    (tmp_path / "in.json").write_text(SNAPSHOT, encoding="utf-8")
    out = _plan_dir(tmp_path / "out")

    def write(plan: MigrationPlan, outdir: Path) -> None:
        write_artifacts(plan, outdir)
        (out / "report-notes.md").write_text("written by a person meanwhile", encoding="utf-8")

    monkeypatch.setattr("grantbridge.commands.plan.write_artifacts", write)
    before = _tree(out)
    assert main(["plan", str(tmp_path / "in.json"), "-o", str(out)]) == 2
    assert "does not write (report-notes.md)" in capsys.readouterr().err
    assert _tree(out) == before | {"report-notes.md": b"written by a person meanwhile"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.json", "out"]


def test_plan_that_cannot_replace_the_directory_puts_it_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A rename the system refuses (a mount point: EBUSY) is exit 2, the earlier directory as it
    was, and no scratch directory left."""
    (tmp_path / "in.json").write_text(SNAPSHOT, encoding="utf-8")
    out = _plan_dir(tmp_path / "out")
    before = _tree(out)
    rename = Path.rename

    def busy(self: Path, target: Path) -> Path:
        if Path(target) == out and not self.name.endswith(".old"):  # not putting it back
            raise OSError(errno.EBUSY, os.strerror(errno.EBUSY))
        return rename(self, target)

    monkeypatch.setattr(Path, "rename", busy)
    assert main(["plan", str(tmp_path / "in.json"), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err == f"error: {out}: cannot replace the output directory: {os.strerror(errno.EBUSY)}\n"
    assert _tree(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.json", "out"]


def test_plan_layout_names_every_artifact() -> None:
    """What ``plan`` may replace is what it writes: the layout covers every artifact, an IAM
    policy file included."""
    from grantbridge.commands.plan import PLAN_LAYOUT
    from mapper.plan import IamPolicy
    from pg_emit.artifacts import render_artifacts
    from tests.emit.builders import realistic_plan

    plan = realistic_plan()
    plan = plan.model_copy(update={"iam_policies": (IamPolicy(role="gb_app", document="{}"),)})
    files = ["plan.json", *render_artifacts(plan)]
    assert "iam/policies/gb_app.json" in files
    assert [f for f in files if not PLAN_LAYOUT.holds_file(tuple(f.split("/")))] == []
