"""A snapshot given where a plan is read, or a plan where a snapshot is, is named as such.

Both documents have ``schema_version`` 1, so validation alone said ``invalid plan: Field required
at fingerprint``; the message now says what the file is and which command makes what is wanted.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from grantbridge.cli import main
from mssql_extract.tsql import parse_text
from tests.emit.builders import realistic_plan


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    snapshot = tmp_path / "snapshot.json"
    snapshot.write_text(parse_text("USE d\nGO\nCREATE ROLE r\n", "t.sql").to_json())
    plan = tmp_path / "plan.json"
    plan.write_text(realistic_plan("gbdoc", "gbdoc_sales").to_json())
    return {"snapshot": snapshot, "plan": plan, "out": tmp_path / "out"}


def _error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    [line] = [line for line in err.splitlines() if line.startswith("error: ")]
    return line


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["diff", "{plan}", "{snapshot}"], "{snapshot}: a snapshot (grantbridge extract's "
         "output), not a plan: run grantbridge plan on it first"),
        (["diff", "{snapshot}", "{plan}"], "{snapshot}: a snapshot (grantbridge extract's "
         "output), not a plan: run grantbridge plan on it first"),
        (["plan", "{plan}", "-o", "{out}"], "{plan}: a plan (grantbridge plan's output), not a "
         "snapshot: grantbridge plan reads the snapshot grantbridge extract wrote"),
        (["plan", "{snapshot}", "--target", "{snapshot}", "-o", "{out}"], "{snapshot}: a snapshot "
         "(grantbridge extract's output), not a target catalog: --target takes grantbridge "
         "inspect's output for the converted target"),
    ],
    ids=["diff-new", "diff-old", "plan", "plan-target"],
)  # fmt: skip
def test_the_other_document_is_named(
    argv: list[str], message: str, files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    args = [a.format(**files) for a in argv]
    assert _error(args, capsys) == f"error: {message.format(**files)}"
    assert not files["out"].exists()


def test_a_plan_missing_a_field_is_still_an_invalid_plan(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    broken = json.loads(files["plan"].read_text())
    del broken["fingerprint"]
    files["plan"].write_text(json.dumps(broken))
    line = _error(["diff", str(files["plan"]), str(files["plan"])], capsys)
    assert (
        line == f"error: {files['plan']} [fingerprint]: invalid plan: Field required at fingerprint"
    )
