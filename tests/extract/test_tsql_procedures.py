"""System procedures: calls without EXEC, and the legacy security procedures (SQL Server 2000-era,
still run by old deployment scripts), each replayed as its modern statement or kept as a skipped
item the plan reports (never as "no security effect")."""

from __future__ import annotations

import pytest

from mapper.translate.skipped import harmless
from mssql_extract.snapshot import SecuritySnapshot
from tests.extract.tsql_helpers import db, snap


def _members(s: SecuritySnapshot, name: str | None = "Sales") -> set[tuple[str, str]]:
    items = s.server_memberships if name is None else db(s, name).memberships
    return {(m.role, m.member) for m in items}


#: A procedure call that is the first statement of its batch needs no EXEC; SSMS "Generate
#: Scripts" for SQL Server 2005/2008 writes role memberships this way (audit repro
#: handwritten/legacy_noexec.sql; "sys.sp_addrolemember @rolename = N'db_owner', @membername =
#: N'debug'" in an SSMS script of the code index).
NO_EXEC = """USE [master]
GO
sp_addlogin 'legacy_app', 'Legacy-Pw-2001', 'Sales'
GO
sp_addsrvrolemember 'legacy_app', 'sysadmin'
GO
USE [Sales]
GO
sp_grantdbaccess 'legacy_app'
GO
sys.sp_addrolemember @rolename = N'db_owner', @membername = N'legacy_app'
GO
sp_changedbowner 'legacy_dbo'
GO
[sys].[sp_addrolemember] N'db_datawriter', N'legacy_app'
GO
master..sp_dropsrvrolemember 'legacy_app', 'sysadmin'
GO
"""


def test_procedures_called_without_exec_at_the_start_of_a_batch() -> None:
    s = snap(NO_EXEC)
    login = s.logins[0]
    assert (login.name, login.has_password, login.default_database) == ("legacy_app", True, "Sales")
    assert _members(s, None) == set()  # added, then dropped again by the last batch
    assert [u.login for u in db(s, "Sales").users] == ["legacy_app"]
    assert _members(s) == {("db_owner", "legacy_app"), ("db_datawriter", "legacy_app")}
    assert db(s, "Sales").owner == "legacy_dbo"  # legacy_app has a user: not the owner
    assert s.skipped == ()
    assert "Legacy-Pw-2001" not in s.to_json()


def test_only_the_first_statement_of_a_batch_may_omit_exec() -> None:
    s = snap("USE [Sales]\nGO\nCREATE ROLE r\nsp_addrolemember 'r', 'u'\n", lenient=True)
    assert _members(s) == set()
    assert [x.kind for x in s.skipped] == ["error"]


#: The SQL Server 2000-era procedures of audit repro handwritten/legacy_procs.sql (each one's
#: documentation page names the statement that replaced it; see mssql_extract/tsql/legacy.py).
LEGACY = """EXEC sp_grantlogin 'CONTOSO\\Accounting'
EXEC sp_grantlogin @loginame = 'CONTOSO\\Interns'
EXEC sp_denylogin 'CONTOSO\\Interns'
EXEC sp_denylogin 'CONTOSO\\Contractors'
EXEC sp_grantlogin 'CONTOSO\\Temps'
EXEC sp_revokelogin 'CONTOSO\\Temps'
EXEC sp_defaultdb 'CONTOSO\\Accounting', 'Sales'
GO
USE [Sales]
GO
CREATE TABLE dbo.Ledger (Id int)
CREATE SCHEMA accounting
GRANT SELECT ON dbo.Ledger TO [public]
EXEC sp_grantdbaccess 'CONTOSO\\Accounting', 'accounting'
EXEC sp_addgroup 'ledger_group'
EXEC sp_addgroup 'old_group'
EXEC sp_addrolemember 'old_group', 'accounting'
EXEC sp_changegroup 'ledger_group', 'accounting'
EXEC sp_dropgroup 'old_group'
EXEC sp_addalias 'CONTOSO\\Interns', 'dbo'
EXEC sp_changeobjectowner 'dbo.Ledger', 'accounting'
GO
"""


def test_legacy_security_procedures_are_replayed() -> None:
    s = snap(LEGACY)
    logins = {x.name: x for x in s.logins}
    assert set(logins) == {"CONTOSO\\Accounting", "CONTOSO\\Interns", "CONTOSO\\Contractors"}
    assert logins["CONTOSO\\Accounting"].default_database == "Sales"
    denied = {(p.permission, p.state.value, p.grantee) for p in s.server_permissions}
    assert denied == {
        ("CONNECT SQL", "D", "CONTOSO\\Interns"),
        ("CONNECT SQL", "D", "CONTOSO\\Contractors"),
    }
    sales = db(s, "Sales")
    assert [r.name for r in sales.roles] == ["ledger_group"]
    assert _members(s) == {("ledger_group", "accounting")}
    # sp_changeobjectowner moves the table into the schema of the new owner, without permissions
    assert [(o.schema_name, o.name) for o in sales.objects] == [("accounting", "Ledger")]
    assert sales.permissions == ()
    alias, moved = s.skipped
    assert "sp_addalias" in alias.reason
    assert not harmless(alias)
    # … and says which permissions it dropped (mssql_extract/tsql/dropped.py)
    assert moved.text == "GRANT SELECT ON OBJECT::[dbo].[Ledger] TO [public] (line 13)"


@pytest.mark.parametrize(
    ("sql", "reported"),
    [
        ("EXEC sp_configure 'xp_cmdshell', 1", True),
        ("EXEC master.dbo.sp_addlinkedsrvlogin @rmtsrvname = N'R', @useself = N'True'", True),
        ("EXEC xp_logininfo 'CONTOSO\\x'", True),
        ("EXEC sp_dropalias 'CONTOSO\\x'", True),
        ("sp_rename 'Sales', 'Sales2', 'DATABASE'", True),  # a table's: replayed (object_renames)
        ("EXEC [Sales].[dbo].[sp_fulltext_database] @action = 'enable'", False),
        ("EXECUTE sp_db_vardecimal_storage_format N'Sales', 'ON'", False),
        ("EXEC sys.sp_addextendedproperty @name = N'MS_Description', @value = N'x'", False),
        # dbatools' Export-DbaLogin, for each job the login owns (public/Export-DbaLogin.ps1)
        ("EXEC msdb.dbo.sp_update_job @job_name=N'Nightly ETL', @owner_login_name=N'app'", False),
        ("EXEC dbo.usp_nightly_cleanup", False),
    ],
)
def test_an_unknown_system_procedure_is_reported(sql: str, reported: bool) -> None:
    [skipped] = snap("USE [Sales]\nGO\n" + sql).skipped
    assert harmless(skipped) is not reported, skipped.reason
