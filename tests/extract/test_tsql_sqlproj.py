"""SSDT project folders: the ``.sqlproj`` gives SQLCMD variables their defaults (``--var`` and
``:setvar`` win) and orders the scripts as a deployment runs them (pre-deployment, objects,
post-deployment)."""

from __future__ import annotations

from pathlib import Path

import pytest

from grantbridge.cli import main
from grantbridge.errors import ExtractError
from mssql_extract.tsql import extract_scripts
from tests.extract.test_tsql_branches import SSDT
from tests.extract.tsql_helpers import db, perms

#: A classic SSDT project (Visual Studio), as learn.microsoft.com's "SQLCMD variables" page and
#: DacFx's Functionality.md show the SqlCmdVariable and PostDeploy items.
CLASSIC = """<?xml version="1.0" encoding="utf-8"?>
<Project DefaultTargets="Build" xmlns="http://schemas.microsoft.com/developer/msbuild/2003" ToolsVersion="4.0">
  <PropertyGroup>
    <Name>SalesDb</Name>
    <DSP>Microsoft.Data.Tools.Schema.Sql.Sql150DatabaseSchemaProvider</DSP>
  </PropertyGroup>
  <ItemGroup>
    <Build Include="Security\\AppUser.sql" />
  </ItemGroup>
  <ItemGroup>
    <PostDeploy Include="Scripts\\Script.PostDeployment.sql" />
  </ItemGroup>
  <ItemGroup>
    <SqlCmdVariable Include="DeployType">
      <DefaultValue>PRODUCTION</DefaultValue>
      <Value>$(SqlCmdVar__1)</Value>
    </SqlCmdVariable>
  </ItemGroup>
</Project>
"""

#: An SDK-style project (Microsoft.Build.Sql): no MSBuild namespace.
SDK_STYLE = """<Project DefaultTargets="Build">
  <Sdk Name="Microsoft.Build.Sql" Version="0.1.12-preview" />
  <PropertyGroup><Name>SalesDb</Name></PropertyGroup>
  <ItemGroup>
    <SqlCmdVariable Include="DeployType">
      <DefaultValue>PRODUCTION</DefaultValue>
      <Value>$(SqlCmdVar__1)</Value>
    </SqlCmdVariable>
  </ItemGroup>
  <ItemGroup><PostDeploy Include="Scripts\\Script.PostDeployment.sql" /></ItemGroup>
</Project>
"""


def _project(tmp_path: Path, sqlproj: str = CLASSIC, extra: dict[str, str] | None = None) -> Path:
    """The SSDT example project (tests/extract/test_tsql_branches.py) with a project file."""
    files = {**SSDT, "SalesDb/SalesDb.sqlproj": sqlproj, **(extra or {})}
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path / "SalesDb"


def _extract(folder: Path, **kwargs: object) -> set[str]:
    s = extract_scripts([folder], database="SalesDb", **kwargs)  # type: ignore[arg-type]
    return {m.role for m in db(s, "SalesDb").memberships}


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out + captured.err


@pytest.mark.parametrize("sqlproj", [CLASSIC, SDK_STYLE, SDK_STYLE.replace(
    '<Project DefaultTargets="Build">\n  <Sdk Name="Microsoft.Build.Sql" Version="0.1.12-preview" />',
    '<Project Sdk="MSBuild.Sdk.SqlProj/3.0.0">',
)], ids=["classic", "microsoft-build-sql", "msbuild-sdk-sqlproj"])  # fmt: skip
def test_the_project_default_fills_a_variable(tmp_path: Path, sqlproj: str) -> None:
    assert _extract(_project(tmp_path, sqlproj)) == {"db_datareader"}


@pytest.mark.parametrize("name", ["DeployType", "deploytype"])  # names are case-insensitive
def test_var_wins_over_the_project_default(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    folder = _project(tmp_path)
    assert _extract(folder, variables={name: "development"}) == {"db_owner"}
    out = tmp_path / "s.json"
    argv = ["extract", "--script", str(folder), "--database", "SalesDb", "-o", str(out)]
    code, output = _run([*argv, "--var", f"{name}=development"], capsys)
    assert code == 0, output
    assert "default values" not in output  # no default is used
    assert '"db_owner"' in out.read_text(encoding="utf-8")
    code, output = _run(argv, capsys)
    assert code == 0, output
    assert "SalesDb/SalesDb.sqlproj: default values of $(DeployType)" in output
    assert '"db_datareader"' in out.read_text(encoding="utf-8")


def test_setvar_wins_over_the_project_default(tmp_path: Path) -> None:
    script = "SalesDb/Scripts/Script.PostDeployment.sql"
    folder = _project(tmp_path, extra={script: ':setvar DeployType "DEVELOPMENT"\n' + SSDT[script]})
    assert _extract(folder) == {"db_owner"}


@pytest.mark.parametrize("default", ["", "<DefaultValue></DefaultValue>", "<DefaultValue />"])
def test_a_variable_without_a_default_stays_unset(tmp_path: Path, default: str) -> None:
    sqlproj = CLASSIC.replace("<DefaultValue>PRODUCTION</DefaultValue>", default)
    with pytest.raises(ExtractError, match=r"\$\(DeployType\) is not set; pass --var") as caught:
        _extract(_project(tmp_path, sqlproj))
    location = caught.value.location
    assert (location.file or "").endswith("Script.PostDeployment.sql")
    assert location.line == 8


def test_malformed_project_is_exit_2_at_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sqlproj = CLASSIC.replace("<DefaultValue>PRODUCTION</DefaultValue>",
                              "<DefaultValue>Sqlproj-Secret#1</Default>")  # fmt: skip
    folder = _project(tmp_path, sqlproj)
    argv = ["extract", "--script", str(folder), "-o", str(tmp_path / "s.json")]
    code, output = _run(argv, capsys)
    assert code == 2
    assert "Traceback" not in output
    assert f"{(folder / 'SalesDb.sqlproj').as_posix()}:15:" in output
    assert "not well-formed XML (mismatched tag)" in output
    assert "Sqlproj-Secret#1" not in output
    assert not (tmp_path / "s.json").exists()


def test_two_projects_in_one_folder_are_exit_2_naming_both(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _project(tmp_path, extra={"SalesDb/SalesDb.Copy.sqlproj": SDK_STYLE})
    code, output = _run(["extract", "--script", str(folder), "-o", str(tmp_path / "s")], capsys)
    assert code == 2
    assert "two SQL projects in one folder" in output
    assert "SalesDb/SalesDb.Copy.sqlproj" in output
    assert "SalesDb/SalesDb.sqlproj" in output


def test_two_different_defaults_for_one_variable_are_an_error(tmp_path: Path) -> None:
    item = (
        '<SqlCmdVariable Include="deploytype">'
        "<DefaultValue>Other-Secret#2</DefaultValue></SqlCmdVariable>"
    )
    sqlproj = CLASSIC.replace("</ItemGroup>\n</Project>", f"  {item}\n  </ItemGroup>\n</Project>")
    with pytest.raises(ExtractError, match="deploytype has two different defaults") as caught:
        _extract(_project(tmp_path, sqlproj))
    assert "Secret" not in str(caught.value)
    assert "PRODUCTION" not in str(caught.value)


def test_a_default_spanning_lines_is_an_error(tmp_path: Path) -> None:
    sqlproj = CLASSIC.replace("<DefaultValue>PRODUCTION</DefaultValue>",
                              "<DefaultValue>\n        PRODUCTION\n      </DefaultValue>")  # fmt: skip
    with pytest.raises(ExtractError, match="default of SQLCMD variable DeployType spans lines"):
        _extract(_project(tmp_path, sqlproj))


def test_each_project_gives_defaults_to_its_own_folder(tmp_path: Path) -> None:
    def project(role: str) -> str:
        return SDK_STYLE.replace("DeployType", "Role").replace("PRODUCTION", role)

    files = {
        "A/A.sqlproj": project("role_a"), "A/Security/roles.sql": "CREATE ROLE [$(Role)]\n",
        "B/B.sqlproj": project("role_b"), "B/roles.sql": "CREATE ROLE [$(Role)]\n",
        # a project's folder inside another's: the nearest project applies
        "B/Nested/Nested.sqlproj": project("role_nested"), "B/Nested/x.sql": "CREATE ROLE [$(Role)]\n",
        "shared.sql": "CREATE ROLE shared\n",  # outside every project: no defaults
    }  # fmt: skip
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    s = extract_scripts([tmp_path], database="d", relative_to=tmp_path)
    roles = {r.name: r.source_ref.origin for r in db(s).roles}
    assert roles == {
        "role_a": "A/Security/roles.sql",
        "role_b": "B/roles.sql",
        "role_nested": "B/Nested/x.sql",
        "shared": "shared.sql",
    }


def test_scripts_run_in_deployment_order(tmp_path: Path) -> None:
    # by name, Scripts/Script.PostDeployment.sql and Scripts/Script.PreDeployment.sql sort
    # before Security/: the project says when each runs
    sqlproj = CLASSIC.replace(
        '<PostDeploy Include="Scripts\\Script.PostDeployment.sql" />',
        '<PostDeploy Include="Scripts\\Script.PostDeployment.sql" />\n'
        '    <PreDeploy Include="scripts\\script.predeployment.sql" />',
    )
    folder = _project(tmp_path, sqlproj, extra={
        "SalesDb/Scripts/Script.PreDeployment.sql": "PRINT 'pre'\n",
        "SalesDb/Security/Permissions.sql": "GRANT SELECT ON SCHEMA::dbo TO [AppUser]\n",
        "SalesDb/Scripts/Script.PostDeployment.sql":
            "REVOKE SELECT ON SCHEMA::dbo FROM [AppUser]\n"
            + SSDT["SalesDb/Scripts/Script.PostDeployment.sql"],
    })  # fmt: skip
    order: list[str] = []
    s = extract_scripts([folder], database="SalesDb", relative_to=folder, on_file=order.append)
    assert order == [
        "Scripts/Script.PreDeployment.sql",
        "Security/AppUser.sql",
        "Security/Permissions.sql",
        "Scripts/Script.PostDeployment.sql",
    ]
    assert perms(s, "SalesDb") == set()  # the post-deployment REVOKE comes after the GRANT


def test_a_default_never_reaches_any_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = "Sqlproj-Pw#42"
    sqlproj = SDK_STYLE.replace("DeployType", "AppPassword").replace("PRODUCTION", secret)
    (tmp_path / "Db.sqlproj").write_text(sqlproj, encoding="utf-8")
    (tmp_path / "Script.PostDeployment.sql").write_text(
        "CREATE LOGIN app WITH PASSWORD = N'$(AppPassword)'\n"
        "ALTER LOGIN app WITH PASSWORD = $(AppPassword)\n"
        "EXEC sp_addlinkedsrvlogin N'srv', 'false', NULL, N'app', N'$(AppPassword)'\n"
        "GRANT SELECT ON t TO\n",  # an error under --lenient: its text is kept
        encoding="utf-8",
    )
    out = tmp_path / "s.json"
    argv = ["extract", "--script", str(tmp_path), "--lenient", "-o", str(out)]
    code, output = _run(argv, capsys)
    assert code == 0, output
    assert "default values of $(AppPassword)" in output
    snapshot = out.read_text(encoding="utf-8")
    assert '"has_password": true' in snapshot
    for text in (output, snapshot):
        assert secret not in text
        assert "Sqlproj-Pw" not in text


def test_a_sqlproj_given_as_a_script_names_its_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Read as T-SQL, the project's XML was one skipped statement and its scripts went unread
    (exit 0, an empty snapshot): the error says to pass the folder."""
    project = tmp_path / "SalesDb" / "SalesDb.sqlproj"
    project.parent.mkdir()
    project.write_text(CLASSIC, encoding="utf-8")
    out = tmp_path / "s.json"
    assert main(["extract", "--script", str(project), "-o", str(out)]) == 2
    assert capsys.readouterr().err == (
        f"error: {project}: a .sqlproj is read from its folder: pass the folder (--script "
        f"{project.parent.as_posix()}), whose scripts replay with the project's defaults\n"
    )
    assert not out.exists()
