"""The client's part of a script (sqlcmd, SSMS in SQLCMD mode, SSDT): ``:r`` includes, ``$(name)``
variables, ``GO [n]`` and comments, read line by line as the client reads them."""

from __future__ import annotations

from pathlib import Path

import pytest

from grantbridge.cli import main
from grantbridge.errors import ExtractError
from mssql_extract.tsql import extract_scripts
from tests.extract.tsql_helpers import db, perms, snap

#: The stock SSDT post-deployment script template (Visual Studio, "Script.PostDeployment.sql"),
#: as in audit repro ssdt/template/: a header comment, then ":r" of a file beside it.
SSDT_TEMPLATE = """/*
Post-Deployment Script Template\t\t\t\t\t\t\t
--------------------------------------------------------------------------------------
 This file contains SQL statements that will be executed after the build script.\t\t
 Use SQLCMD syntax to include a file in the post-deployment script.\t\t\t
 Example:      :r .\\myfile.sql\t\t\t\t\t\t\t\t
 Use SQLCMD syntax to reference a variable in the post-deployment script.\t\t
 Example:      :setvar TableName MyTable\t\t\t\t\t\t\t
               SELECT * FROM [$(TableName)]\t\t\t\t\t
--------------------------------------------------------------------------------------
*/

-- Include Permissions script
:r .\\Script.PostDeploymentPermissions.sql
"""


def _write(folder: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")


def test_r_includes_a_file_relative_to_the_including_one(tmp_path: Path) -> None:
    _write(tmp_path, {
        "Scripts/Script.PostDeployment.sql": "USE d\nGO\n" + SSDT_TEMPLATE,
        "Scripts/Script.PostDeploymentPermissions.sql": "\nGRANT SELECT ON SCHEMA::[dbo] TO [reporting];\n",
    })  # fmt: skip
    s = extract_scripts(
        [tmp_path / "Scripts/Script.PostDeployment.sql"], variables={"TableName": "t"}
    )
    assert perms(s) == {("SCHEMA", None, "dbo", None, "SELECT", "G", "reporting")}
    ref = db(s).permissions[0].source_ref
    assert (ref.origin, ref.line, ref.column) == (
        (tmp_path / "Scripts/Script.PostDeploymentPermissions.sql").as_posix(), 2, 1,
    )  # fmt: skip


def test_r_quoted_paths_variables_nesting_and_batches(tmp_path: Path) -> None:
    _write(tmp_path, {
        "main.sql": ':setvar Sub "sub folder"\nUSE d\nGO\n:r "$(Sub)\\A.sql"\nCREATE ROLE after_a\n',
        # an include's own :r starts from its folder; names match case-insensitively (Windows)
        "sub folder/a.sql": "CREATE ROLE in_a\nGO\n  :r ..\\b.SQL\n",
        "b.sql": "CREATE ROLE in_b\n",
    })  # fmt: skip
    s = extract_scripts([tmp_path / "main.sql"], relative_to=tmp_path)
    roles = {r.name: r.source_ref for r in db(s).roles}
    assert set(roles) == {"in_a", "in_b", "after_a"}
    assert (roles["in_a"].origin, roles["in_a"].line) == ("sub folder/a.sql", 1)
    assert (roles["in_b"].origin, roles["in_b"].line) == ("b.sql", 1)
    assert (roles["after_a"].origin, roles["after_a"].line) == ("main.sql", 5)


def test_r_of_a_missing_file_is_an_error_at_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _write(tmp_path, {"main.sql": "USE d\nGO\n\t:r .\\Scripts\\Missing.sql\n"})
    with pytest.raises(ExtractError, match=r"does not exist: 'Scripts/Missing\.sql'") as caught:
        extract_scripts([tmp_path / "main.sql"])
    assert (caught.value.location.line, caught.value.location.column) == (3, 2)
    argv = ["extract", "--script", str(tmp_path / "main.sql"), "-o", str(tmp_path / "s.json")]
    assert main(argv) == 2
    assert "main.sql:3:2" in capsys.readouterr().err


def test_r_loop_is_an_error(tmp_path: Path) -> None:
    _write(tmp_path, {"a.sql": "CREATE ROLE a\n:r b.sql\n", "b.sql": ":r a.sql\n"})
    with pytest.raises(ExtractError, match=r"includes it again: a.sql → b.sql → a.sql") as caught:
        extract_scripts([tmp_path / "a.sql"])
    assert (Path(caught.value.location.file or "").name, caught.value.location.line) == ("b.sql", 1)


def test_r_from_a_string_is_relative_to_the_working_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write(tmp_path, {"inc.sql": "CREATE ROLE r\n"})
    monkeypatch.chdir(tmp_path)
    assert [r.name for r in db(snap("USE d\nGO\n:r inc.sql\n")).roles] == ["r"]


def test_variables_in_comments_are_neither_substituted_nor_required(tmp_path: Path) -> None:
    # the stock SSDT template names $(TableName) in its header comment only (audit repro
    # ssdt/template/Script.PostDeployment.sql failed with "$(TableName) is not set")
    _write(tmp_path, {
        "Script.PostDeployment.sql": "USE d\nGO\n" + SSDT_TEMPLATE,
        "Script.PostDeploymentPermissions.sql": "GRANT SELECT ON SCHEMA::[dbo] TO [reporting];\n",
    })  # fmt: skip
    s = extract_scripts([tmp_path / "Script.PostDeployment.sql"])
    assert perms(s) == {("SCHEMA", None, "dbo", None, "SELECT", "G", "reporting")}


@pytest.mark.parametrize(
    ("sql", "role"),
    [
        ("CREATE ROLE [$(R)] -- not $(Unset)", "r1"),
        ("/* $(Unset) /* nested $(Unset) */ still $(Unset)\n $(Unset) */ CREATE ROLE [$(R)]", "r1"),
        ("CREATE ROLE [a--$(R)]", "a--r1"),  # -- inside a name is no comment
        ("CREATE ROLE [$(R)]; PRINT '/* $(R)'; CREATE ROLE [b$(R)]", "b"),
    ],
)
def test_comments_are_followed_across_lines(sql: str, role: str) -> None:
    roles = {r.name for r in db(snap("USE d\nGO\n" + sql, variables={"R": "r1"})).roles}
    assert any(name.startswith(role) for name in roles), roles


def test_a_variable_outside_comments_is_still_required() -> None:
    with pytest.raises(ExtractError, match=r"\$\(Unset\) is not set") as caught:
        snap("/* $(Other) */ CREATE ROLE [$(Unset)]")
    assert caught.value.location.column == 29


def test_go_zero_runs_its_batch_no_time() -> None:
    # audit repro handwritten/go_zero.sql
    s = snap("USE [Sales]\nGO\nCREATE ROLE [disabled_block]\nGRANT CONTROL TO [disabled_block]\n"
             "GO 0\nCREATE ROLE [normal]\nGO\n")  # fmt: skip
    assert [r.name for r in db(s, "Sales").roles] == ["normal"]
    assert db(s, "Sales").permissions == ()


GO_IN_COMMENT = """USE [Sales]
GO
CREATE ROLE [r1]
GO
/*
   Old grants, kept for reference (commented out by the DBA):
GO
GRANT CONTROL TO [role with spaces]
*/
GO
"""


def test_go_inside_a_block_comment_names_the_cause() -> None:
    # audit repro handwritten/go_in_block_comment.sql: sqlcmd and SSMS end the batch at that GO
    with pytest.raises(ExtractError, match="a GO line inside a /\\* \\*/ comment") as caught:
        snap(GO_IN_COMMENT)
    assert (caught.value.location.line, caught.value.location.column) == (7, 1)
    # the rest of the comment, after that GO, is a batch SQL Server cannot compile: not replayed
    lenient = snap(GO_IN_COMMENT, lenient=True)
    assert [(x.kind, x.source_ref.line) for x in lenient.skipped] == [("error", 7), ("error", 8)]
    assert db(lenient, "Sales").permissions == ()


def test_connect_to_one_server_is_read_and_to_a_second_one_is_an_error() -> None:
    """SSMS's availability-group scripts switch replicas with :connect; reading on would merge
    two servers' security into one snapshot (regression: :connect was ignored)."""
    one = ":connect SQL01\nCREATE LOGIN app WITH PASSWORD = 'x1'\nGO\n:connect sql01\nGO\n"
    assert [x.name for x in snap(one).logins] == ["app"]
    two = one + ":connect SQL02 -U sa -P Secret-9\nCREATE LOGIN other WITH PASSWORD = 'x2'\nGO\n"
    with pytest.raises(ExtractError, match=r":connect to a second server \(SQL02\)") as raised:
        snap(two)
    assert "Secret-9" not in str(raised.value)
    assert raised.value.location.line == 6
