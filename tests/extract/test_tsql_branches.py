"""IF … ELSE: the branch a script takes is replayed when the script says which; otherwise both
are, and every statement replayed in a branch the script may not run is reported too."""

from __future__ import annotations

from pathlib import Path

import pytest

from mapper.translate.skipped import harmless
from mssql_extract.tsql import extract_scripts
from tests.extract.tsql_helpers import db, perms, snap

U = "USE d\nGO\n"

#: An SSDT project whose post-deployment script picks its security by $(DeployType) (audit repro
#: ssdt/SalesDb: the SqlCmdVariable pattern of SSDT environment-specific deployments).
SSDT = {
    "SalesDb/Security/AppUser.sql": "CREATE USER [AppUser] WITHOUT LOGIN;\n",
    "SalesDb/Scripts/Script.PostDeployment.sql": """/*
Post-Deployment Script Template
--------------------------------------------------------------------------------------
 Use SQLCMD syntax to include a file in the post-deployment script.
 Example:      :r .\\myfile.sql
--------------------------------------------------------------------------------------
*/
PRINT 'Executing Environment Specific Post-Deployment Scripts for DeployType $(DeployType)....'
IF (UPPER(N'$(DeployType)') = N'DEVELOPMENT') BEGIN
\t:r .\\SecurityAdditions\\SecurityAdditionsDEV.sql
END
ELSE IF (UPPER(N'$(DeployType)') = N'PRODUCTION') BEGIN
\t:r .\\SecurityAdditions\\SecurityAdditionsPROD.sql
END
""",
    "SalesDb/Scripts/SecurityAdditions/SecurityAdditionsDEV.sql":
        "ALTER ROLE [db_owner] ADD MEMBER [AppUser];\nGRANT CONTROL TO [AppUser];\n",
    "SalesDb/Scripts/SecurityAdditions/SecurityAdditionsPROD.sql":
        "ALTER ROLE [db_datareader] ADD MEMBER [AppUser];\n",
}  # fmt: skip


@pytest.mark.parametrize(
    ("deploy", "roles", "grants"),
    [
        ("PRODUCTION", {"db_datareader"}, set()),
        ("development", {"db_owner"}, {"CONTROL"}),
        ("TEST", set(), set()),
    ],
)
def test_ssdt_deploy_type_takes_one_branch(
    tmp_path: Path, deploy: str, roles: set[str], grants: set[str]
) -> None:
    for name, text in SSDT.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    # the included files run only through the post-deployment script, in its branches
    s = extract_scripts(
        [tmp_path / "SalesDb"], variables={"DeployType": deploy}, database="SalesDb"
    )
    sales = db(s, "SalesDb")
    assert {m.role for m in sales.memberships} == roles
    assert {p.permission for p in sales.permissions} == grants
    assert s.skipped == ()


#: Conditions that depend on the server: both branches are replayed and each statement in them
#: is reported (not "without a security effect").
@pytest.mark.parametrize(
    ("sql", "reported_lines"),
    [
        ("IF @@SERVERNAME = N'PROD01'\n  GRANT CONTROL TO r\nELSE\n  GRANT SELECT TO r", [5, 7]),
        ("IF SERVERPROPERTY('IsClustered') = 1 BEGIN\n  GRANT CONTROL TO r;\n  "
         "ALTER ROLE db_owner ADD MEMBER r;\nEND", [5, 6]),
        # an existence check with an ELSE is not a re-runnable guard
        ("IF EXISTS (SELECT * FROM sys.database_principals WHERE name = N'r')\n"
         "  GRANT CONTROL TO r\nELSE\n  GRANT SELECT TO r", [5, 7]),
        # the inner IF is evaluated; the outer one is not
        ("IF @@VERSION LIKE '%2019%' BEGIN\n  IF 'a' = 'b' GRANT CONTROL TO r\n"
         "  ELSE GRANT SELECT TO r\nEND", [6]),
    ],
)  # fmt: skip
def test_a_condition_that_cannot_be_evaluated_is_reported(
    sql: str, reported_lines: list[int]
) -> None:
    s = snap(U + "CREATE ROLE r\n" + sql)
    assert [x.source_ref.line for x in s.skipped] == reported_lines
    assert not any(harmless(x) for x in s.skipped)
    assert all("IF at t.sql:4:1" in x.reason for x in s.skipped), s.skipped
    assert perms(s) or db(s).memberships


def test_existence_checks_without_else_are_replayed_silently() -> None:
    s = snap(U + "IF NOT EXISTS (SELECT * FROM sys.database_principals WHERE name = N'r')\n"
             "  CREATE ROLE r\nIF DATABASE_PRINCIPAL_ID('r') IS NOT NULL\n  GRANT SELECT TO r\n")  # fmt: skip
    assert [r.name for r in db(s).roles] == ["r"]
    assert perms(s) == {("DATABASE", None, None, None, "SELECT", "G", "r")}
    assert s.skipped == ()


def test_a_branch_not_taken_leaves_nothing() -> None:
    # SSDT publish scripts: the SQLCMD-mode check, false once $(__IsSqlCmdEnabled) is set
    s = snap(
        ':setvar __IsSqlCmdEnabled "True"\nGO\n'
        "IF N'$(__IsSqlCmdEnabled)' NOT LIKE N'True'\n    BEGIN\n"
        "        PRINT N'SQLCMD mode must be enabled to successfully execute this script.';\n"
        "        SET NOEXEC ON;\n        USE elsewhere; CREATE ROLE never;\n    END\n"
        "CREATE LOGIN l WITH PASSWORD = 'p'\n"
    )
    assert [x.name for x in s.logins] == ["l"]
    assert s.databases == ()
    assert s.skipped == ()


def test_a_variable_set_in_an_uncertain_branch_is_unknown() -> None:
    s = snap(U + "DECLARE @sql nvarchar(max) = N'GRANT SELECT TO r'\n"
             "IF @@SERVERNAME = N'PROD01' SET @sql = N'GRANT CONTROL TO r'\nEXEC (@sql)\n")  # fmt: skip
    assert perms(s) == set()
    [dynamic] = [x for x in s.skipped if x.text.startswith("EXEC")]
    assert not harmless(dynamic)
