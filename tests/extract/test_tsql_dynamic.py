"""Dynamic SQL the script spells out is replayed as a nested batch; what it builds at run time is
kept as a skipped statement the plan reports (GB045), never as one without a security effect."""

from __future__ import annotations

import pytest

from grantbridge.errors import ExtractError
from mapper.translate.skipped import harmless
from tests.extract.tsql_helpers import db, perms, snap

U = "USE d\nGO\n"

#: SSMS "Generate Scripts" with "Check for object existence" (audit repro
#: ssms/ssms_generate_scripts_utf16.sql, lines 79-81 and 114-117).
SSMS_EXISTENCE = (
    U
    + """/****** Object:  Schema [reporting]    Script Date: 3/14/2024 9:12:44 AM ******/
IF NOT EXISTS (SELECT * FROM sys.schemas WHERE name = N'reporting')
EXEC sys.sp_executesql N'CREATE SCHEMA [reporting] AUTHORIZATION [sales_managers]'
GO
IF NOT EXISTS (SELECT * FROM sys.objects WHERE object_id = OBJECT_ID(N'[sales].[usp_Report]') AND type in (N'P', N'PC'))
BEGIN
EXEC dbo.sp_executesql @statement = N'CREATE PROCEDURE [sales].[usp_Report] AS'
END
GO
"""
)

#: SSMS scripts an application role with a password generated in the script (same repro,
#: lines 49-66): the role must be created, its password never read.
SSMS_APPLICATION_ROLE = (
    U
    + """/****** Object:  ApplicationRole [pos_terminal]    Script Date: 3/14/2024 9:12:44 AM ******/
/* To avoid disclosure of passwords, the password is generated in script. */
declare @idx as int
declare @randomPwd as nvarchar(64)
declare @rnd as float
select @idx = 0
select @randomPwd = N''
select @rnd = rand((@@CPU_BUSY % 100) + ((@@IDLE % 100) * 100) +
       (DATEPART(ss, GETDATE()) * 10000) + ((cast(DATEPART(ms, GETDATE()) as int) % 100) * 1000000))
while @idx < 64
begin
   select @randomPwd = @randomPwd + char((cast((@rnd * 83) as int) + 43))
   select @idx = @idx + 1
select @rnd = rand()
end
declare @statement nvarchar(4000)
select @statement = N'CREATE APPLICATION ROLE [pos_terminal] WITH DEFAULT_SCHEMA = [sales], ' + N'PASSWORD = N' + QUOTENAME(@randomPwd,'''')
EXEC dbo.sp_executesql @statement
GO
"""
)


def test_ssms_existence_checks_run_their_dynamic_sql() -> None:
    s = snap(SSMS_EXISTENCE)
    schema = db(s).schemas[0]
    assert (schema.name, schema.owner) == ("reporting", "sales_managers")
    # the source reference points inside the literal: line 5, after N'
    assert (schema.source_ref.line, schema.source_ref.column) == (5, 26)
    assert [(o.schema_name, o.name) for o in db(s).objects] == [("sales", "usp_Report")]
    assert s.skipped == ()


def test_ssms_application_role_template_creates_the_role_without_its_password() -> None:
    s = snap(SSMS_APPLICATION_ROLE)
    roles = db(s).application_roles
    assert [(r.name, r.default_schema) for r in roles] == [("pos_terminal", "sales")]
    assert all(harmless(x) for x in s.skipped), [x.reason for x in s.skipped]


def test_exec_of_a_literal_and_of_literal_concatenations() -> None:
    # re-runnable deployment scripts (audit repro handwritten/dynamic_secret.sql)
    s = snap(
        U + "IF NOT EXISTS (SELECT * FROM sys.database_principals WHERE name = N'kiosk')\n"
        "    EXEC(N'CREATE APPLICATION ROLE [kiosk]\n        WITH PASSWORD = N''Kiosk@2026'',\n"
        "        DEFAULT_SCHEMA = [dbo];');\n"
        "EXEC ('GRANT SELECT ON SCHEMA::dbo ' + N'TO [kiosk]') AS USER = 'dbo'\n"
        "DECLARE @sql nvarchar(max) = N'GRANT EXECUTE ON SCHEMA::dbo TO [kiosk]'\n"
        "EXECUTE sp_executesql @sql\n"
    )
    assert [r.name for r in db(s).application_roles] == ["kiosk"]
    assert perms(s) == {
        ("SCHEMA", None, "dbo", None, "SELECT", "G", "kiosk"),
        ("SCHEMA", None, "dbo", None, "EXECUTE", "G", "kiosk"),
    }
    assert "Kiosk@2026" not in s.to_json()


@pytest.mark.parametrize(
    "sql",
    [
        "DECLARE @sql nvarchar(max) = N'GRANT CONTROL TO ' + QUOTENAME(@who)\nEXEC (@sql)",
        "DECLARE @sql nvarchar(max)\nSELECT @sql = N'GRANT CONTROL TO ' + name FROM sys.users\n"
        "EXEC sp_executesql @sql",
        "EXEC sp_executesql @sql",
        "EXEC (@sql)",
        "EXEC ('GRANT CONTROL TO x') AT [REMOTE01]",
        "DECLARE @p sysname = N'sp_addrolemember'\nEXEC @p 'db_owner', 'x'",
    ],
)
def test_dynamic_sql_that_cannot_be_read_is_reported(sql: str) -> None:
    s = snap(U + sql)
    assert perms(s) == set()
    dynamic = [x for x in s.skipped if x.text.upper().startswith("EXEC")]
    assert len(dynamic) == 1, s.skipped
    assert not harmless(dynamic[0])


def test_a_use_inside_dynamic_sql_lasts_until_its_end() -> None:
    s = snap(U + "EXEC (N'USE other; CREATE ROLE inner_role')\nCREATE ROLE outer_role")
    assert [r.name for r in db(s, "other").roles] == ["inner_role"]
    assert [r.name for r in db(s).roles] == ["outer_role"]


def test_an_error_inside_dynamic_sql_points_into_the_literal() -> None:
    with pytest.raises(ExtractError) as caught:
        snap(U + "EXEC sp_executesql\n  N'CREATE ROLE r\n  GRANT NOPE TO r'")
    assert (caught.value.location.line, caught.value.location.column) == (5, 9)
