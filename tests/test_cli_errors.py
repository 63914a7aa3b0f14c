"""CLI error handling (DESIGN §6): bad input is one line and exit 2, a bug is a redacted traceback
and a bug-report request, secrets never reach stdout or stderr; plus --json diff, severity case,
apply's help and demo's quiet mode."""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path
from typing import Any

import pytest
import typer
from psycopg.conninfo import conninfo_to_dict

from grantbridge.cli import BUG_REPORT, app, main, redact_secrets
from grantbridge.commands.verify import PASSED
from mssql_extract.tsql import extract_scripts
from pg_emit.artifacts import write_artifacts
from pg_emit.server import redact
from tests.conftest import CONTOSO
from tests.emit.builders import realistic_plan
from tests.review import plans

SECRET = "Secret77"

#: Unreachable servers (port 1) whose DSNs hold SECRET in every form libpq reads a password.
DEAD_DSNS = {
    "quoted-keyword": f"host=127.0.0.1 port=1 password='Pg {SECRET}' connect_timeout=2",
    "quoted-escapes": rf"host=127.0.0.1 port=1 password='a\'b\\ {SECRET}' connect_timeout=2",
    "uri-userinfo": f"postgresql://gb:Pg%20{SECRET}@127.0.0.1:1/x?connect_timeout=2",
    "uri-query": f"postgresql://gb@127.0.0.1:1/x?connect_timeout=2&password={SECRET}",
}


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def _plan_dir(where: Path) -> Path:
    where.mkdir(parents=True, exist_ok=True)
    plan = realistic_plan("gberr", "gberr_sales")
    (where / "plan.json").write_text(plan.to_json(), encoding="utf-8")
    write_artifacts(plan, where)
    return where


def _one_error_line(err: str) -> str:
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    return lines[0]


# --------------------------------------------------------------------------- redact()


@pytest.mark.parametrize(
    ("dsn", "expected"),
    [
        ("host=x password=plain port=1", "host=x password=*** port=1"),
        ("host=x password='Pg Secret77' port=1", "host=x password=*** port=1"),
        (r"host=x password='a\'b\\ Secret77' port=1", "host=x password=*** port=1"),
        (r"host=x password=a\ Secret77 port=1", "host=x password=*** port=1"),
        ("host=x PASSWORD = 'Pg Secret77'", "host=x PASSWORD = ***"),
        ("host=x password='Pg Secret77", "host=x password=***"),  # unterminated: the rest
        ("sslpassword='k Secret77' host=x", "sslpassword=*** host=x"),
        ("postgresql://u:Secret77@h:5432/db", "postgresql://u:***@h:5432/db"),
        ("POSTGRES://U:Pg%20Secret77@H/db", "POSTGRES://U:***@H/db"),
        ("postgresql://u:Pg@Secret77@h/db", "postgresql://u:***@h/db"),  # an unencoded @
        (
            "postgresql://u@h/db?sslmode=require&password=Secret77&application_name=a",
            "postgresql://u@h/db?sslmode=require&password=***&application_name=a",
        ),
        ("postgresql://h/db?PassWord=Secret77#frag", "postgresql://h/db?PassWord=***#frag"),
        ("postgresql://u@h:5432/db", "postgresql://u@h:5432/db"),  # nothing to hide
        ("postgresql://h:5432/db and mail@example.org", "postgresql://h:5432/db and mail@example.org"),
    ],
)  # fmt: skip
def test_redact_hides_every_libpq_password_form(dsn: str, expected: str) -> None:
    assert redact(dsn) == expected


def test_redact_keeps_the_lines_after_a_password() -> None:
    text = 'connect("host=x password=\'a b\'")\n  File "x.py", line 3\nRuntimeError: boom'
    assert redact(text) == text.replace("'a b'", "***")


def test_redact_secrets_covers_the_runs_dsns_tsql_and_odbc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRANTBRIDGE_DSN", "host=h password='env pw'")
    monkeypatch.setenv("GRANTBRIDGE_MSSQL_PASSWORD", "mssqlPw9")
    text = redact_secrets(
        "decoded Pg Secret77 / env pw / mssqlPw9\n"
        "CREATE LOGIN [a] WITH PASSWORD = N'it''s tsql', CHECK_POLICY = OFF\n"
        "DRIVER={x};UID=sa;PWD={a;}}b};Encrypt=yes\n",
        ["inspect", f"--dsn=postgresql://u:Pg%20{SECRET}@h/db"],
    )
    for secret in (SECRET, "env pw", "mssqlPw9", "tsql", "a;}}b"):
        assert secret not in text
    assert "CHECK_POLICY = OFF" in text
    assert "Encrypt=yes" in text


# --------------------------------------------------------------------------- unexpected errors


@pytest.mark.parametrize("name", sorted(DEAD_DSNS))
def test_unexpected_error_prints_a_redacted_traceback_and_asks_for_a_report(
    name: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    dsn = DEAD_DSNS[name]
    password = conninfo_to_dict(dsn)["password"]

    def crash(target: str, databases: object, **_options: object) -> None:
        # a bug that quotes the DSN, and the password as libpq reads it (unquoted, decoded)
        raise RuntimeError(f"planted bug for {target} ({password})")

    monkeypatch.setattr("pg_emit.inspect.inspect_server", crash)
    code, out, err = _run(["inspect", "--dsn", dsn], capsys)
    assert code == 1  # DESIGN §6 names no code for internal errors: Python's own
    assert out == ""
    assert "Traceback (most recent call last)" in err
    assert "RuntimeError: planted bug for " in err
    assert err.rstrip().endswith(BUG_REPORT)
    assert SECRET not in err


def _dsn_command(command: str, tmp_path: Path) -> list[str]:
    """The arguments of a command that takes --dsn (a plan directory made for those needing one)."""
    if command == "inspect":
        return ["inspect"]
    plan_dir = _plan_dir(tmp_path / "plan")
    return {
        "drift": ["drift", str(plan_dir)],
        "apply": ["apply", str(plan_dir), "--yes"],
        "verify": ["verify", str(plan_dir)],
    }[command]


# --------------------------------------------------------------------------- bad input: exit 2


@pytest.mark.parametrize("dsn", ["not a dsn", f"host=127.0.0.1 password=Pg {SECRET}"])
@pytest.mark.parametrize("command", ["inspect", "drift", "apply", "verify"])
def test_malformed_dsn_is_bad_input_without_the_password(
    dsn: str, command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = _dsn_command(command, tmp_path)
    code, out, err = _run([*argv, "--dsn", dsn], capsys)
    assert code == 2
    line = _one_error_line(err)
    assert line.startswith("error: --dsn: not a valid PostgreSQL connection string")
    assert SECRET not in out + err


def test_unencoded_at_in_a_uri_password_stays_out_of_the_driver_message(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # libpq ends the password at the first '@' and reads 'Secret77@127.0.0.1' as the host,
    # which the connection error then quotes ("failed to resolve host …")
    dsn = f"postgresql://gb:Pg@{SECRET}@127.0.0.1:1/x?connect_timeout=2"
    code, out, err = _run(["inspect", "--dsn", dsn], capsys)
    assert code == 4
    assert _one_error_line(err).startswith("error: cannot connect to PostgreSQL at ")
    assert SECRET not in out + err


def test_malformed_dsn_from_the_environment_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GRANTBRIDGE_DSN", f"postgresql://u:{SECRET}@[::1/db")
    code, _, err = _run(["inspect"], capsys)
    assert code == 2
    assert _one_error_line(err).startswith("error: GRANTBRIDGE_DSN: not a valid PostgreSQL")
    assert SECRET not in err


def _non_utf8(path: Path) -> None:
    path.write_bytes(b'{\n  "schema_version": "\xff"\n}\n')


def _bad_plan_dir(tmp: Path) -> Path:
    (tmp / "pd").mkdir()
    _non_utf8(tmp / "pd" / "plan.json")
    return tmp / "pd"


def _bad_script_dir(tmp: Path) -> Path:
    plan_dir = _plan_dir(tmp / "pd")
    script = plan_dir / "sql" / "04_privileges.sql"
    script.write_bytes(b"-- \xe9\n" + script.read_bytes())
    return plan_dir


DEAD = "postgresql://gb@127.0.0.1:1/x?connect_timeout=2"

#: name → (argv with {tmp} and {dsn}, the file named, its line). apply and drift try the target
#: before loading the plan (a wrong DSN is exit 4 first): theirs is a server that answers.
NON_UTF8: dict[str, tuple[list[str], str, int]] = {
    "verify": (["verify", "{tmp}/pd"], "pd/plan.json", 2),
    "verify-script": (["verify", "{tmp}/pd"], "pd/sql/04_privileges.sql", 1),
    "apply": (["apply", "{tmp}/pd", "--dsn", "{dsn}", "--yes"], "pd/plan.json", 2),
    "drift": (["drift", "{tmp}/pd", "--dsn", "{dsn}"], "pd/plan.json", 2),
    "drift-file": (["drift", "{tmp}/pd/plan.json", "--dsn", "{dsn}"], "pd/plan.json", 2),
    "diff": (["diff", "{tmp}/pd", "{tmp}/pd"], "pd/plan.json", 2),
    "plan-snapshot": (["plan", "{tmp}/bad.json", "-o", "{tmp}/out"], "bad.json", 2),
    "plan-policy": (["plan", "{tmp}/good.json", "--policy", "{tmp}/bad.json", "-o", "{tmp}/out"], "bad.json", 2),
    "plan-target": (["plan", "{tmp}/good.json", "--target", "{tmp}/bad.json", "-o", "{tmp}/out"], "bad.json", 2),
}  # fmt: skip


@pytest.mark.parametrize(
    "case",
    [pytest.param(c, marks=[pytest.mark.postgres] if "{dsn}" in NON_UTF8[c][0] else [])
     for c in sorted(NON_UTF8)],
)  # fmt: skip
def test_non_utf8_input_exits_2_naming_file_line_and_offset(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], request: pytest.FixtureRequest
) -> None:
    argv, named, line_no = NON_UTF8[case]
    dsn = str(request.getfixturevalue("embedded_pg")) if "{dsn}" in argv else ""
    if case == "verify-script":
        _bad_script_dir(tmp_path)
    else:
        _bad_plan_dir(tmp_path)
    _non_utf8(tmp_path / "bad.json")
    (tmp_path / "good.json").write_text(extract_scripts([CONTOSO]).to_json(), encoding="utf-8")
    code, _, err = _run([a.format(tmp=tmp_path, dsn=dsn) for a in argv], capsys)
    assert code == 2
    line = _one_error_line(err)
    assert f"{tmp_path / named}:{line_no}: " in line
    assert "not UTF-8" in line
    assert re.search(r"byte 0x(ff|e9) at offset \d+", line), line
    assert not (tmp_path / "out").exists()


def test_drift_without_a_plan_names_the_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = _run(["drift", str(empty), "--dsn", DEAD], capsys)
    assert code == 2
    assert _one_error_line(err) == f"error: {empty / 'plan.json'}: no plan.json in this directory"
    code, _, err = _run(["drift", str(tmp_path / "nowhere"), "--dsn", DEAD], capsys)
    assert code == 2
    assert str(tmp_path / "nowhere") in _one_error_line(err)


@pytest.mark.parametrize("command", ["verify", "apply"])
def test_a_missing_plan_directory_is_named_missing(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    nowhere = tmp_path / "nope"
    code, _, err = _run([command, str(nowhere), "--dsn", DEAD, "--yes"][: 4 + (command == "apply")],
                        capsys)  # fmt: skip
    assert code == 2
    assert _one_error_line(err) == f"error: {nowhere}: the plan directory does not exist"
    (tmp_path / "plan.json").write_text("{}", encoding="utf-8")
    code, _, err = _run([command, str(tmp_path / "plan.json"), "--dsn", DEAD, "--yes"][
                        : 4 + (command == "apply")], capsys)  # fmt: skip
    assert code == 2
    assert _one_error_line(err).endswith("plan.json: not a directory: pass the plan directory")


# --------------------------------------------------------------------------- secrets, end to end


@pytest.mark.parametrize("name", sorted(DEAD_DSNS))
@pytest.mark.parametrize("command", ["inspect", "drift", "apply", "verify"])
def test_unreachable_server_error_never_shows_the_password(
    name: str, command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = _dsn_command(command, tmp_path)
    code, out, err = _run([*argv, "--dsn", DEAD_DSNS[name]], capsys)
    assert code == 4, err
    assert "cannot connect to PostgreSQL at " in err
    assert SECRET not in out + err
    assert "***" in err


# --------------------------------------------------------------------------- --json diff


@pytest.fixture
def plan_pair(tmp_path: Path) -> tuple[Path, Path]:
    return plans.write_plan_dirs(tmp_path)


def test_json_diff_prints_one_json_object(
    plan_pair: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    base, new = plan_pair
    code, out, err = _run(["--json", "diff", str(base), str(new)], capsys)
    assert (code, err) == (0, "")
    assert len(out.splitlines()) == 1, out
    data = json.loads(out)
    assert set(data) == {"diff", "empty", "exit_code", "failing", "failing_access", "output"}
    assert (data["empty"], data["exit_code"], data["failing"], data["output"]) == (
        False, 0, [], None,
    )  # fmt: skip
    assert data["failing_access"] == []  # --fail-on-gained was not given
    assert [r["name"] for r in data["diff"]["roles_added"]] == ["sales_auditors"]
    assert [f["rule_id"] for f in data["diff"]["findings_new"]] == ["GB002"]
    assert data["diff"]["new_fingerprint"] == plans.changed_sales_plan().fingerprint


def test_json_diff_gate_and_output_file(
    plan_pair: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base, new = plan_pair
    target = tmp_path / "diff.md"
    argv = ["--json", "diff", str(base), str(new), "--fail-on-new", "High", "-o", str(target)]
    code, out, _ = _run(argv, capsys)
    assert code == 1
    data = json.loads(out)
    assert (data["exit_code"], data["failing"], data["output"]) == (1, ["GB002"], str(target))
    assert target.read_text(encoding="utf-8").startswith("<!--")  # the Markdown comment


# --------------------------------------------------------------------------- minor


def test_apply_help_names_every_script_it_runs(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(["apply", "--help"], capsys)
    assert code == 0
    text = " ".join(out.replace("│", " ").split())
    assert "sql/01 … 07" in text


def _commands(group: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command's words (``("policy", "init")``), from the typer app's command tree."""
    found = []
    for name, command in sorted(group.commands.items()):
        if hasattr(command, "commands"):  # a group
            found += _commands(command, (*path, name))
        else:
            found.append((*path, name))
    return found


@pytest.mark.parametrize("command", _commands(typer.main.get_command(app)), ids=" ".join)
def test_help_shows_each_paragraph_as_flowing_text(
    command: tuple[str, ...], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each paragraph of a command's description is one line on a terminal wide enough for it:
    no line break in mid-sentence where the docstring's lines end."""
    monkeypatch.setenv("COLUMNS", "1000")
    code, out, _ = _run([*command, "--help"], capsys)
    assert code == 0
    lines = [line.strip() for line in out.splitlines()]
    node: Any = typer.main.get_command(app)
    for name in command:
        node = node.commands[name]
    for paragraph in inspect.cleandoc(node.help or "").split("\n\n"):
        assert " ".join(paragraph.split()) in lines, (paragraph, out)


@pytest.mark.parametrize("severity", ["HIGH", "Critical", "high"])
def test_plan_fail_on_is_case_insensitive(
    severity: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    snapshot = tmp_path / "snapshot.json"
    snapshot.write_text(extract_scripts([CONTOSO]).to_json(), encoding="utf-8")
    argv = ["plan", str(snapshot), "-o", str(tmp_path / "p"), "--fail-on", severity]
    code, _, err = _run(argv, capsys)
    assert code == 1, err  # contoso has open critical and high findings


@pytest.mark.postgres
@pytest.mark.parametrize("quiet", [["demo", "-q"], ["-q", "demo"]], ids=["demo-q", "global-q"])
def test_demo_quiet_prints_the_success_line_once_and_no_progress(
    quiet: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = _run([*quiet, "-o", "d"], capsys)
    assert code == 0
    assert (out, err) == (f"Report: {Path('d') / 'plan' / 'report.md'}\n", PASSED + "\n")


@pytest.mark.postgres
def test_demo_prints_the_success_line_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = _run(["demo", "-o", "d"], capsys)
    assert code == 0
    assert (out + err).count("verification passed") == 1
    assert "verify sales: apply, read back, compare" in err
    assert out.startswith("1/3 extract")
