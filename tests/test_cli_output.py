"""Terminal UX: ``--json`` prints one JSON object, ``--quiet`` only the result, completion works."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from grantbridge import ui
from grantbridge.cli import main
from tests.conftest import CONTOSO
from tests.emit.conftest import Scratch
from tests.emit.conftest import scratch as scratch  # the fixture, shared with tests/emit

SEVERITIES = {"critical", "high", "medium", "low", "info"}


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def _json(argv: list[str], capsys: pytest.CaptureFixture[str], code: int = 0) -> dict[str, Any]:
    exit_code, out, err = _run(["--json", *argv], capsys)
    assert exit_code == code, err
    assert len(out.splitlines()) == 1, out  # exactly one object, nothing else on stdout
    data = json.loads(out)
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def contoso_plan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """contoso extracted and planned once (both human mode) for the commands that read a plan."""
    tmp = tmp_path_factory.mktemp("contoso")
    assert main(["extract", "--script", str(CONTOSO), "-o", str(tmp / "snapshot.json")]) == 0
    assert main(["plan", str(tmp / "snapshot.json"), "-o", str(tmp / "plan")]) == 0
    return tmp


def test_extract_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    snapshot = tmp_path / "snapshot.json"
    data = _json(["extract", "--script", str(CONTOSO), "-o", str(snapshot)], capsys)
    assert data == {
        "output": str(snapshot),
        "logins": 13,
        "databases": 3,
        "users": 17,
        "permissions": 49,
        "skipped": 0,
    }
    assert snapshot.is_file()


def test_extract_quiet_prints_only_the_result_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_file = tmp_path / "s.json"
    code, out, err = _run(["-q", "extract", "--script", str(CONTOSO), "-o", str(out_file)], capsys)
    assert code == 0
    assert (
        out == f"Wrote {out_file}: 13 logins, 3 databases, 17 users, 49 permissions, 0 skipped.\n"
    )
    assert err == ""


def test_plan_json(contoso_plan: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["plan", str(contoso_plan / "snapshot.json"), "-o", str(tmp_path / "p")]
    data = _json([*argv, "--fail-on", "critical"], capsys, code=1)
    assert set(data) == {"output", "roles", "grants", "findings", "dispositions", "exit_code"}
    assert set(data["findings"]) == SEVERITIES
    assert data["findings"]["critical"] > 0
    assert data["exit_code"] == 1  # contoso has open critical findings: --fail-on critical fails
    plan = json.loads((tmp_path / "p" / "plan.json").read_text(encoding="utf-8"))
    assert data["roles"] == len(plan["roles"])
    assert data["grants"] == len(plan["grants"])
    assert sum(data["dispositions"].values()) == len(plan["dispositions"])


def test_plan_quiet_prints_only_open_findings(
    contoso_plan: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--quiet", "plan", str(contoso_plan / "snapshot.json"), "-o", str(tmp_path / "p")]
    code, out, err = _run(argv, capsys)
    assert code == 0
    assert out.startswith("open findings: ")
    assert len(out.splitlines()) == 1
    assert err == ""


def test_errors_under_json_exit_2_on_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "missing.json"
    code, out, err = _run(["--json", "plan", str(missing), "-o", str(tmp_path / "p")], capsys)
    assert code == 2
    assert out == ""
    assert err.startswith("error: ")
    assert "missing.json" in err


def test_mode_does_not_leak_into_the_next_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _json(["policy", "init", str(tmp_path / "a.toml")], capsys)
    code, out, _ = _run(["policy", "init", str(tmp_path / "b.toml")], capsys)
    assert code == 0
    assert out == f"wrote {tmp_path / 'b.toml'}\n"


def test_demo_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    data = _json(["demo", "--no-verify"], capsys)
    assert data["verified"] is False
    assert data["report"] == str(Path("grantbridge-demo") / "plan" / "report.md")
    assert {"roles", "memberships", "grants", "open_findings"} <= set(data)
    assert (tmp_path / data["report"]).is_file()


def test_progress_bar_on_a_terminal_keeps_the_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """With stderr a terminal, extract draws a (transient) bar per file; stdout is unchanged."""
    from mssql_extract.tsql import extract_scripts

    seen: list[str] = []
    extract_scripts([CONTOSO], relative_to=CONTOSO.parent, on_file=seen.append)
    assert seen == sorted(seen)
    assert seen[0] == "contoso/00_server.sql"
    assert len(seen) >= 4
    monkeypatch.setattr(ui, "_bar_enabled", lambda: True)
    out_file = tmp_path / "s.json"
    code, out, _ = _run(["extract", "--script", str(CONTOSO), "-o", str(out_file)], capsys)
    assert code == 0
    assert (
        out == f"Wrote {out_file}: 13 logins, 3 databases, 17 users, 49 permissions, 0 skipped.\n"
    )


@pytest.mark.postgres
def test_verify_json_and_quiet(contoso_plan: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _json(["verify", str(contoso_plan / "plan")], capsys)
    assert data == {"passed": True, "mismatches": []}
    code, out, err = _run(["-q", "verify", str(contoso_plan / "plan")], capsys)
    assert code == 0
    assert (out, err) == ("", "verification passed: PostgreSQL grants exactly what the plan says\n")


def test_show_completion_prints_a_script(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """typer's --show-completion and click's source hook. typer finds the shell in the process
    tree (shellingham), which fails when pytest does not run under a shell (a background job,
    ``timeout``): the shell is given here, as an interactive bash would be found."""
    import shellingham

    monkeypatch.setattr(shellingham, "detect_shell", lambda: ("bash", "/bin/bash"))
    code, out, _ = _run(["--show-completion"], capsys)
    assert code == 0
    assert "grantbridge" in out


def test_bash_completion_script_and_completions(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("_GRANTBRIDGE_COMPLETE", "source_bash")
    code, out, _ = _run([], capsys)
    assert code == 0
    assert "complete -o default -F _grantbridge_completion grantbridge" in out
    monkeypatch.setenv("_GRANTBRIDGE_COMPLETE", "complete_bash")
    monkeypatch.setenv("COMP_WORDS", "grantbridge --js")
    monkeypatch.setenv("COMP_CWORD", "1")
    assert _run([], capsys)[:2] == (0, "--json\n")


@pytest.mark.postgres
def test_drift_and_apply_json(
    scratch: Scratch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """drift before apply: drift, exit 3, the script in the JSON; apply; then no drift."""
    from pg_emit.artifacts import write_artifacts

    (tmp_path / "plan.json").write_text(scratch.plan.to_json(), encoding="utf-8")
    write_artifacts(scratch.plan, tmp_path)
    before = _json(["drift", str(tmp_path), "--dsn", scratch.dsn], capsys, code=3)
    assert before["drift"] is True
    assert before["differences"] > 0
    assert "GRANT" in before["script"]
    applied = _json(["apply", str(tmp_path), "--dsn", scratch.dsn, "--yes"], capsys)
    assert applied["fingerprint"] == scratch.plan.fingerprint
    assert applied["grants"] == len(scratch.plan.grants)
    after = _json(["drift", str(tmp_path), "--dsn", scratch.dsn], capsys)
    assert (after["drift"], after["differences"]) == (False, 0)


def test_plan_of_a_large_snapshot_says_what_it_is_doing(
    contoso_plan: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from grantbridge.commands import plan as plan_command

    argv = ["plan", str(contoso_plan / "snapshot.json"), "-o", str(tmp_path / "p")]
    assert "plan: " not in _run(argv, capsys)[2]  # small: as before
    monkeypatch.setattr(plan_command, "LARGE_SNAPSHOT", 0)
    code, _, err = _run(argv, capsys)
    assert code == 0
    lines = [line for line in err.splitlines() if line.startswith("plan: ")]
    assert lines[0] == "plan: planning 3 databases, 49 permission rows"
    assert lines[1].startswith("plan: writing ")
    assert lines[1].endswith(f"to {tmp_path / 'p'}")


#: One login, one database, one user, one permission: every count of the summaries is 1.
ONE_OF_EACH = """\
CREATE LOGIN [app] WITH PASSWORD = 'x';
GO
CREATE DATABASE [Shop];
GO
USE [Shop];
GO
CREATE USER [app] FOR LOGIN [app];
GRANT SELECT ON SCHEMA::dbo TO [app];
GO
"""
#: One login and nothing else: a plan of one role.
ONE_LOGIN = "CREATE LOGIN [app] WITH PASSWORD = 'x';\nGO\n"


def _extract(tmp_path: Path, script: str, capsys: pytest.CaptureFixture[str]) -> tuple[Path, str]:
    source = tmp_path / "script.sql"
    source.write_text(script, encoding="utf-8")
    snapshot = tmp_path / "snapshot.json"
    code, out, err = _run(["-q", "extract", "--script", str(source), "-o", str(snapshot)], capsys)
    assert code == 0, err
    return snapshot, out


@pytest.mark.parametrize(
    ("script", "counts"),
    [
        (ONE_OF_EACH, "1 login, 1 database, 1 user, 1 permission"),
        (ONE_LOGIN, "1 login, 0 databases, 0 users, 0 permissions"),
    ],
)
def test_extract_counts_one_in_the_singular(
    script: str, counts: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Plural counts are above (contoso: 13 logins, 3 databases, …)."""
    snapshot, out = _extract(tmp_path, script, capsys)
    assert out == f"Wrote {snapshot}: {counts}, 0 skipped.\n"


def test_plan_counts_one_in_the_singular(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Plural counts: test_plan_of_a_large_snapshot_says_what_it_is_doing, and the README's
    session (test_readme)."""
    from grantbridge.commands import plan as plan_command

    monkeypatch.setattr(plan_command, "LARGE_SNAPSHOT", 0)  # the progress lines too
    snapshot, _ = _extract(tmp_path, ONE_OF_EACH, capsys)
    code, _, err = _run(["plan", str(snapshot), "-o", str(tmp_path / "p")], capsys)
    assert code == 0, err
    assert "plan: planning 1 database, 1 permission row\n" in err
    snapshot, _ = _extract(tmp_path, ONE_LOGIN, capsys)
    code, out, err = _run(["plan", str(snapshot), "-o", str(tmp_path / "q")], capsys)
    assert code == 0, err
    assert f"plan: writing 0 grants, 1 role to {tmp_path / 'q'}\n" in err
    assert "\n1 role, 0 memberships, 0 grants, 0 default privileges, 0 revokes\n" in out
