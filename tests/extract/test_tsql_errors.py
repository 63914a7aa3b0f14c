"""Malformed statements: ExtractError with file:line:col and the statement text; exit 2 via CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from grantbridge.cli import app, main
from grantbridge.errors import ExtractError
from tests.extract.tsql_helpers import snap


@pytest.mark.parametrize(
    ("sql", "line", "column", "quoted"),
    [
        ("USE d\nGO\nGRANT SELECT ON t", 3, 17, "GRANT SELECT ON t"),
        ("GRANT FLY ON t TO r", 1, 7, "FLY is not a permission on class OBJECT"),
        ("GRANT SELECT ON WIDGET::x TO r", 1, 17, "unknown securable class"),
        ("GRANT SELECT ON t TO a b", 1, 24, "unexpected 'b'"),
        ("\n\n  CREATE LOGIN x WITH PASWORD = 'p'", 3, 23, "unexpected option PASWORD"),
        ("CREATE USER u FOR", 1, 15, "expected LOGIN"),
        ("ALTER ROLE r ADD u", 1, 18, "expected MEMBER"),
        ("EXEC sp_addrolemember @who = 'x'", 1, 23, "unknown parameter @who"),
        ("CREATE SCHEMA s AUTHORIZATION", 1, 17, "expected an owner"),
    ],
)
def test_malformed_statement(sql: str, line: int, column: int, quoted: str) -> None:
    with pytest.raises(ExtractError) as caught:
        snap(sql)
    error = caught.value
    assert (error.location.file, error.location.line, error.location.column) == (
        "t.sql",
        line,
        column,
    )
    assert quoted in str(error)


def test_error_text_never_shows_a_password() -> None:
    with pytest.raises(ExtractError) as caught:
        snap("CREATE LOGIN x WITH PASSWORD = 'Hunter2!', BOGUS = 1")
    assert "Hunter2" not in str(caught.value)
    assert "'***'" in str(caught.value)


def test_unset_sqlcmd_variable() -> None:
    with pytest.raises(ExtractError, match=r"\$\(DB\) is not set"):
        snap("USE [$(DB)]")


def test_unterminated_string_is_an_error_not_a_traceback() -> None:
    with pytest.raises(ExtractError, match="unterminated"):
        snap("GRANT SELECT ON t TO 'oops")


def test_lenient_records_and_goes_on() -> None:
    s = snap("USE d\nGO\nGRANT SELECT ON t\nCREATE ROLE r", lenient=True)
    assert [r.name for r in s.databases[0].roles] == ["r"]
    [error] = s.skipped
    assert (error.kind, error.source_ref.line) == ("error", 3)
    assert "expected TO" in error.reason


def test_cli_exit_2_without_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = tmp_path / "bad.sql"
    script.write_text("CREATE ROLE ok\nGO\nGRANT SELECT ON t TO\n")
    assert main(["extract", "--script", str(script), "-o", str(tmp_path / "s.json")]) == 2
    captured = capsys.readouterr()
    output = captured.out + captured.err
    assert "Traceback" not in output
    assert f"{script.as_posix()}:3:" in output
    assert "GRANT SELECT ON t TO" in output
    assert not (tmp_path / "s.json").exists()


def test_cli_lenient(tmp_path: Path) -> None:
    script = tmp_path / "bad.sql"
    script.write_text("GRANT SELECT ON t TO\nGO\nCREATE LOGIN a WITH PASSWORD = 'x'\n")
    out = tmp_path / "s.json"
    result = CliRunner().invoke(
        app, ["extract", "--script", str(script), "--lenient", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "1 login, 0 databases" in result.output
    assert "1 skipped" in result.output
