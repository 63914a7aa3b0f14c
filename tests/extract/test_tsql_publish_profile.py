"""SSDT publish profiles (``extract --script … --publish-profile F``): the profile's SQLCMD
variable values go over the ``.sqlproj`` defaults and under ``--var`` and ``:setvar``, its
TargetDatabaseName stands in for ``--database``, and nothing else of it (a connection string's
password) reaches any output."""

from __future__ import annotations

from pathlib import Path

import pytest

from grantbridge.cli import main
from mssql_extract.tsql import extract_scripts
from mssql_extract.tsql.publish_profile import read_profile
from tests.extract.test_tsql_branches import SSDT
from tests.extract.test_tsql_sqlproj import CLASSIC, SDK_STYLE
from tests.extract.tsql_helpers import db

#: The connection string's password: it must reach no output.
PASSWORD = "Pr0file-S3cret!"

#: A profile as Visual Studio saves one from the Publish dialog ("Publish profiles overview",
#: learn.microsoft.com/sql/tools/sql-database-projects/concepts/publish-profiles).
PROFILE = f"""<?xml version="1.0" encoding="utf-8"?>
<Project ToolsVersion="Current" xmlns="http://schemas.microsoft.com/developer/msbuild/2003">
  <PropertyGroup>
    <IncludeCompositeObjects>True</IncludeCompositeObjects>
    <TargetDatabaseName>Sales</TargetDatabaseName>
    <DeployScriptFileName>Sales.sql</DeployScriptFileName>
    <TargetConnectionString>Data Source=srv;Integrated Security=False;User ID=deploy;Password={PASSWORD}</TargetConnectionString>
    <ProfileVersionNumber>1</ProfileVersionNumber>
  </PropertyGroup>
  <ItemGroup>
    <SqlCmdVariable Include="DeployType">
      <Value>DEVELOPMENT</Value>
    </SqlCmdVariable>
  </ItemGroup>
</Project>
"""


def _project(tmp_path: Path, profile: str = PROFILE, extra: dict[str, str] | None = None) -> Path:
    """The SSDT example project (test_tsql_branches.py), its .sqlproj defaulting DeployType to
    PRODUCTION, and a profile Prod.publish.xml beside it."""
    files = {
        **SSDT,
        "SalesDb/SalesDb.sqlproj": CLASSIC,
        "SalesDb/Prod.publish.xml": profile,
        **(extra or {}),
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path / "SalesDb"


def _run(
    capsys: pytest.CaptureFixture[str], folder: Path, *args: str, profile: str = "Prod"
) -> tuple[int, str, str]:
    """``extract`` on the folder with a profile of it; exit code, stdout + stderr, snapshot."""
    out = folder.parent / "s.json"
    argv = ["extract", "--script", str(folder), "-o", str(out), *args]
    if profile:
        argv += ["--publish-profile", str(folder / f"{profile}.publish.xml")]
    code = main(argv)
    captured = capsys.readouterr()
    snapshot = out.read_text(encoding="utf-8") if out.exists() else ""
    return code, captured.out + captured.err, snapshot


def _roles(snapshot: str) -> set[str]:
    return {r for r in ("db_owner", "db_datareader") if f'"{r}"' in snapshot}


def test_the_profile_drives_the_ssdt_deploy_type_branch(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the .sqlproj says PRODUCTION; the deployment ran with the profile's DEVELOPMENT
    code, output, snapshot = _run(capsys, _project(tmp_path))
    assert code == 0, output
    assert _roles(snapshot) == {"db_owner"}
    assert '"CONTROL"' in snapshot  # SecurityAdditionsDEV.sql, not PROD's
    assert '"name": "Sales"' in snapshot  # TargetDatabaseName: no --database needed
    assert "Prod.publish.xml: values of $(DeployType) (--var NAME=VALUE sets another)" in output
    assert "default values" not in output  # the project's default is not used
    assert "publish profiles found" not in output


@pytest.mark.parametrize(
    ("args", "setvar", "roles"),
    [
        ((), "", {"db_owner"}),  # profile (DEVELOPMENT) over the .sqlproj (PRODUCTION)
        (("--var", "DeployType=PRODUCTION"), "", {"db_datareader"}),  # --var over the profile
        (("--var", "deploytype=production"), "", {"db_datareader"}),  # names fold case
        ((), ':setvar DeployType "PRODUCTION"\n', {"db_datareader"}),  # :setvar too
    ],
    ids=["profile-over-sqlproj", "var-over-profile", "var-any-case", "setvar-over-profile"],
)
def test_precedence_var_then_setvar_then_profile_then_sqlproj(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    args: tuple[str, ...],
    setvar: str,
    roles: set[str],
) -> None:
    script = "SalesDb/Scripts/Script.PostDeployment.sql"
    folder = _project(tmp_path, extra={script: setvar + SSDT[script]})
    code, output, snapshot = _run(capsys, folder, *args)
    assert code == 0, output
    assert _roles(snapshot) == roles


def test_the_profile_sets_a_variable_the_project_declares_without_default(
    tmp_path: Path,
) -> None:
    sqlproj = SDK_STYLE.replace("<DefaultValue>PRODUCTION</DefaultValue>", "")
    profile = PROFILE.replace('Include="DeployType"', 'Include="deploytype"')
    folder = _project(tmp_path, profile, {"SalesDb/SalesDb.sqlproj": sqlproj})
    s = extract_scripts(
        [folder], database="Sales", profile=read_profile(folder / "Prod.publish.xml", "p")
    )
    assert {m.role for m in db(s, "Sales").memberships} == {"db_owner"}


def test_a_profile_never_reaches_any_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = "Pr0file-AppPw#7"
    profile = PROFILE.replace("DeployType", "AppPassword").replace("DEVELOPMENT", secret)
    folder = _project(tmp_path, profile, {
        "SalesDb/SalesDb.sqlproj": SDK_STYLE.replace("DeployType", "AppPassword"),
        "SalesDb/Scripts/Script.PostDeployment.sql":
            "CREATE LOGIN app WITH PASSWORD = N'$(AppPassword)'\n"
            "ALTER LOGIN app WITH PASSWORD = $(AppPassword)\n"
            "EXEC sp_addlinkedsrvlogin N'srv', 'false', NULL, N'app', N'$(AppPassword)'\n"
            "GRANT SELECT ON t TO\n",  # an error under --lenient: its text is kept
    })  # fmt: skip
    code, output, snapshot = _run(capsys, folder, "--lenient")
    assert code == 0, output
    assert "values of $(AppPassword)" in output
    assert '"has_password": true' in snapshot
    for text in (output, snapshot):
        for value in (secret, PASSWORD, "Pr0file", "User ID=deploy", "Data Source=srv"):
            assert value not in text
    # nor in any file extract wrote
    written = [p for p in tmp_path.rglob("*") if p.is_file() and p.suffix != ".xml"]
    assert not [p for p in written if PASSWORD in p.read_text(encoding="utf-8")]


def test_database_wins_over_target_database_name_with_a_note(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _project(tmp_path)
    code, output, snapshot = _run(capsys, folder, "--database", "SalesQA")
    assert code == 0, output
    assert '"name": "SalesQA"' in snapshot
    assert '"name": "Sales"' not in snapshot
    note = "note: --database SalesQA wins over the TargetDatabaseName of "
    assert f"{note}{folder.as_posix()}/Prod.publish.xml" in output
    code, output, _ = _run(capsys, folder, "--database", "sales")  # the same database
    assert code == 0, output
    assert "wins over" not in output


def test_the_last_target_database_name_counts_and_no_namespace_is_read(tmp_path: Path) -> None:
    profile = (
        PROFILE.replace(' xmlns="http://schemas.microsoft.com/developer/msbuild/2003"', "")
        .replace("<ProfileVersionNumber>", "<TargetDatabaseName>Sales2</TargetDatabaseName><X>")
        .replace("</ProfileVersionNumber>", "</X>")
    )
    (tmp_path / "p.publish.xml").write_text(profile, encoding="utf-8")
    read = read_profile(tmp_path / "p.publish.xml", "p.publish.xml")
    assert read.database == "Sales2"
    assert dict(read.values) == {"DeployType": "DEVELOPMENT"}


def test_an_empty_value_is_the_empty_value(tmp_path: Path) -> None:
    profile = PROFILE.replace("<Value>DEVELOPMENT</Value>", "<Value />")
    (tmp_path / "p.publish.xml").write_text(profile, encoding="utf-8")
    assert dict(read_profile(tmp_path / "p.publish.xml", "p").values) == {"DeployType": ""}


def test_a_variable_the_project_does_not_declare_is_used_with_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    item = '<SqlCmdVariable Include="Extra"><Value>role_x</Value></SqlCmdVariable>'
    profile = PROFILE.replace("</ItemGroup>", f"  {item}\n  </ItemGroup>")
    folder = _project(tmp_path, profile, {"SalesDb/Security/x.sql": "CREATE ROLE [$(Extra)]\n"})
    code, output, snapshot = _run(capsys, folder)
    assert code == 0, output
    assert '"role_x"' in snapshot
    assert "Prod.publish.xml sets $(Extra), which no SQL project (.sqlproj) read declares" in output
    assert "$(DeployType), which" not in output


def test_scripts_outside_a_project_take_the_profiles_values(tmp_path: Path) -> None:
    (tmp_path / "p.publish.xml").write_text(PROFILE, encoding="utf-8")
    (tmp_path / "roles.sql").write_text("CREATE ROLE [r_$(DeployType)]\n", encoding="utf-8")
    profile = read_profile(tmp_path / "p.publish.xml", "p.publish.xml")
    undeclared: list[tuple[str, tuple[str, ...]]] = []
    s = extract_scripts(
        [tmp_path / "roles.sql"],
        database=profile.database,
        profile=profile,
        on_undeclared=lambda origin, names: undeclared.append((origin, names)),
    )
    assert [r.name for r in db(s, "Sales").roles] == ["r_DEVELOPMENT"]
    assert undeclared == [("p.publish.xml", ("DeployType",))]  # no project declares it


def test_profiles_in_the_folder_are_named_and_none_is_picked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _project(tmp_path, extra={"SalesDb/Profiles/Dev.Publish.xml": PROFILE})
    code, output, snapshot = _run(capsys, folder, "--database", "Sales", profile="")
    assert code == 0, output
    assert _roles(snapshot) == {"db_datareader"}  # the .sqlproj's default, not a profile's
    assert (
        f"note: publish profiles found and not read: {folder.as_posix()}/Prod.publish.xml, "
        f"{folder.as_posix()}/Profiles/Dev.Publish.xml; pass the one the deployment used with "
        "--publish-profile FILE"
    ) in output


def test_several_profiles_or_another_source_are_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _project(tmp_path, extra={"SalesDb/Dev.publish.xml": PROFILE})
    code, output, snapshot = _run(
        capsys, folder, "--publish-profile", str(folder / "Dev.publish.xml")
    )
    assert (code, snapshot) == (2, "")
    assert "error: give one --publish-profile" in output
    profile = str(folder / "Prod.publish.xml")
    code = main(["extract", "--dacpac", "x.dacpac", "--publish-profile", profile])
    assert code == 2
    assert "--publish-profile applies to --script only" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("<Value>DEVELOPMENT</Value>", "<Value>DEVELOPMENT</Valeu>",
         "Prod.publish.xml:12:27: publish profile is not well-formed XML (mismatched tag)"),
        ("<Value>DEVELOPMENT</Value>", "<DefaultValue>DEVELOPMENT</DefaultValue>",
         'Prod.publish.xml:11 [DeployType]: <SqlCmdVariable Include="DeployType"> of the '
         "publish profile has no <Value> (SqlPackage reads <Value>, never <DefaultValue>)"),
        ('Include="DeployType"', "",
         "Prod.publish.xml:11: a <SqlCmdVariable> of the publish profile has no Include"),
        ("<Value>DEVELOPMENT</Value>", "<Value>DEVELOP\nMENT</Value>",
         "Prod.publish.xml:12 [DeployType]: the value of SQLCMD variable DeployType spans lines"),
        ("</SqlCmdVariable>",
         '</SqlCmdVariable>\n    <SqlCmdVariable Include="DEPLOYTYPE"><Value>X</Value></SqlCmdVariable>',
         "Prod.publish.xml:14 [DEPLOYTYPE]: SQLCMD variable DEPLOYTYPE has two different values"),
        ("<Project ToolsVersion", "<Projekt ToolsVersion",
         "Prod.publish.xml:15:3: publish profile is not well-formed XML (mismatched tag)"),
    ],
    ids=["malformed", "no-value", "no-include", "value-spans-lines", "two-values", "bad-xml-root"],
)  # fmt: skip
def test_a_bad_profile_is_exit_2_naming_file_line_and_element(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], old: str, new: str, message: str
) -> None:
    assert old in PROFILE
    folder = _project(tmp_path, PROFILE.replace(old, new))
    code, output, snapshot = _run(capsys, folder)
    assert (code, snapshot) == (2, "")
    assert "Traceback" not in output
    assert f"error: {folder.as_posix()}/{message}" in output
    for value in (PASSWORD, "DEVELOP", "Data Source"):
        assert value not in output


def test_a_profile_whose_root_is_not_a_project_is_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _project(tmp_path, "<Projekt><ItemGroup /></Projekt>\n")
    code, output, _ = _run(capsys, folder)
    assert code == 2
    assert "Prod.publish.xml:1: publish profile's root element is not an MSBuild <Project>" in (
        output
    )


def test_a_missing_profile_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = _project(tmp_path)
    code, output, snapshot = _run(capsys, folder, profile="Missing")
    assert (code, snapshot) == (2, "")
    assert (
        f"error: {folder.as_posix()}/Missing.publish.xml: cannot read publish profile: "
        "No such file or directory"
    ) in output
