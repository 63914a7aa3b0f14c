"""What real tools export, read end to end: SSMS "Generate Scripts", dbatools, sp_help_revlogin,
SqlPackage's deployment script, SMO's SQL Server Agent job script and an SSDT project folder
(the samples in ``tests/data/exports``, written after each tool's output: see its README).

Each sample extracts without a secret in the snapshot, with the facts a migration engineer
reads off the script; the shapes that once broke the extractor have a test of their own.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from grantbridge.errors import ExtractError
from mapper.planner import plan
from mapper.policy import Policy
from mapper.translate.skipped import harmless
from mssql_extract.snapshot import SecuritySnapshot
from mssql_extract.tsql import extract_scripts
from tests.conftest import ROOT
from tests.extract.tsql_helpers import db, perms, snap

EXPORTS = ROOT / "tests" / "data" / "exports"

#: What no output may hold: the password hashes and passwords the samples carry.
SECRETS = (
    "0x0200", "0x0100", "HASHED,", "q3Vb+1lQ", "Zm9vYmFy", "wbQ#kl", "Y7gv^o", "8D22A249",
)  # fmt: skip


def _extract(name: str, **kwargs: object) -> SecuritySnapshot:
    return extract_scripts([EXPORTS / name], relative_to=ROOT, **kwargs)  # type: ignore[arg-type]


def _no_secret(snapshot: SecuritySnapshot) -> None:
    text = snapshot.to_json()
    assert [s for s in SECRETS if s in text] == []


def test_ssms_generate_scripts_with_logins_and_object_level_permissions() -> None:
    s = _extract("ssms_generate_scripts.sql")
    _no_secret(s)
    assert {(x.name, x.type.value, x.disabled) for x in s.logins} == {
        ("app_sales", "SQL_LOGIN", True), ("Jürgen]Ops", "SQL_LOGIN", True),
        ("CONTOSO\\svc_sales", "WINDOWS_LOGIN", False),
        ("CONTOSO\\SQL-Readers", "WINDOWS_LOGIN", False),
    }  # fmt: skip
    sales = db(s, "Sales")
    assert {(u.name, u.type.value) for u in sales.users} >= {
        ("signer_user", "CERTIFICATE_MAPPED_USER"), ("akey_user", "ASYMMETRIC_KEY_MAPPED_USER"),
        ("etl_nologin", "SQL_USER"),
    }  # fmt: skip
    assert [a.name for a in sales.application_roles] == ["sales_app"]  # SSMS's template
    assert ("sales_readers", "sales_writers") in {(m.role, m.member) for m in sales.memberships}
    found = perms(s, "Sales")
    assert ("OBJECT", "sales", "Orders", None, "SELECT", "W", "CONTOSO\\svc_sales") in found
    assert ("OBJECT", "sales", "Orders", "CardNumber", "SELECT", "D", "sales_readers") in found
    assert ("OBJECT", "odd]schema", "Tbl]1", "naïve col", "SELECT", "G", "Rôle «spécial»") in found
    # REVOKE … CASCADE AS [dbo] took the grant back
    assert not [p for p in found if p[4] == "VIEW DEFINITION"]
    # the application-role template's variables leave nothing the plan reports
    assert all(harmless(x) for x in s.skipped)


def test_dbatools_export_dbalogin() -> None:
    s = _extract("dbatools_export_dbalogin.sql")
    _no_secret(s)
    (login,) = s.logins
    assert (login.name, login.disabled, login.check_policy) == ("app_hr", True, False)
    assert {(m.role, m.member) for m in s.server_memberships} == {
        ("bulkadmin", "app_hr"),
        ("processadmin", "app_hr"),  # sp_addsrvrolemember @rolename=…
    }
    assert {(p.permission, p.state.value) for p in s.server_permissions} == {
        ("CONNECT SQL", "G"), ("VIEW SERVER STATE", "G"), ("VIEW ANY DEFINITION", "W"),
        ("ALTER ANY LOGIN", "D"),  # "Grant …  AS [sa]": PermissionState.ToString()
    }  # fmt: skip
    hr = db(s, "HR")
    assert ("OBJECT", "hr", "Salaries", "Amount", "SELECT", "D", "app_hr") in perms(s, "HR")
    assert {(m.role, m.member) for m in hr.memberships} == {
        ("hr_readers", "app_hr"),
        ("db_datawriter", "app_hr"),
    }
    # msdb (a job's owner, the login's user there) is no database of the snapshot …
    assert [d.name for d in s.databases] == ["HR"]
    # … and what the login held in it is reported, not dropped in silence
    (system,) = [x for x in s.skipped if x.reason.startswith("system database msdb")]
    assert "SQLAgentUserRole <- app_hr" in system.text
    assert not harmless(system)


def test_dbatools_export_dbauser_without_batch_separators() -> None:
    """``-ExcludeGoBatchSeparator`` joins the statements with spaces on one line."""
    s = _extract("dbatools_export_dbauser_nogo.sql")
    assert {(m.role, m.member) for m in db(s, "Reporting").memberships} == {
        ("rpt", "svc_rpt"),
        ("db_datareader", "svc_rpt"),
    }
    assert ("OBJECT", "dbo", "Sales", None, "SELECT", "G", "svc_rpt") in perms(s, "Reporting")


def test_sp_help_revlogin() -> None:
    s = _extract("sp_help_revlogin.sql")
    _no_secret(s)
    logins = {x.name: x for x in s.logins}
    assert logins["legacy_app"].disabled
    assert logins["legacy_app"].connect_revoked
    assert logins["Zoë]x"].check_expiration is True
    assert {(p.permission, p.state.value, p.grantee) for p in s.server_permissions} == {
        ("CONNECT SQL", "D", "CONTOSO\\Domain Admins")
    }
    assert ("sysadmin", "CONTOSO\\Domain Admins") in {
        (m.role, m.member) for m in s.server_memberships
    }
    assert s.databases == ()
    assert s.skipped == ()


def test_sqlpackage_deployment_script() -> None:
    s = _extract("sqlpackage_script.sql")
    _no_secret(s)
    sales = db(s, "Sales")
    assert {(u.name, u.authentication_type.value) for u in sales.users} == {
        ("app_web", "INSTANCE"), ("contained_svc", "DATABASE"), ("audit_reader", "NONE"),
    }  # fmt: skip
    found = perms(s, "Sales")
    # REVOKE CONNECT after CREATE USER, then GRANT CONNECT … AS [dbo] from the model
    assert ("DATABASE", None, None, None, "CONNECT", "G", "app_web") in found
    assert ("OBJECT", "web", "Sessions", "Token", "SELECT", "D", "web_role") in found
    assert all(harmless(x) for x in s.skipped), [x for x in s.skipped if not harmless(x)]


def test_smo_agent_job_script() -> None:
    s = _extract("smo_agent_job.sql")
    assert [d.name for d in s.databases] == ["Sales"]  # USE [msdb] named msdb only
    assert perms(s, "Sales") == {("SCHEMA", None, "dbo", None, "EXECUTE", "G", "etl_role")}
    assert all(harmless(x) for x in s.skipped), [x for x in s.skipped if not harmless(x)]


def test_ssdt_project_names_its_database_with_databasename() -> None:
    s = _extract("ssdt/SalesDb", database="SalesDb")
    sales = db(s, "SalesDb")
    # the post-deployment script's IF on $(Environment) (default DEV) took the ELSE branch
    assert ("db_owner", "CONTOSO\\svc-web-dev") in {(m.role, m.member) for m in sales.memberships}
    found = perms(s, "SalesDb")
    assert ("OBJECT", "web", "Orders", "Total", "UPDATE", "D", "web_role") in found
    # GRANT … ON DATABASE::[$(DatabaseName)], then REVOKE … CASCADE after deployment
    assert not [p for p in found if p[4] == "VIEW DEFINITION"]


# ------------------------------------------------------------------ shapes that once broke


def test_a_label_after_an_if_branch_ends_it() -> None:
    """SMO's job scripts end ``IF (@@TRANCOUNT > 0) ROLLBACK TRANSACTION`` / ``EndSave:``:
    once exit 2 ("unexpected 'EndSave' after the statement")."""
    s = snap("USE d\nGO\nIF (@@TRANCOUNT > 0) ROLLBACK TRANSACTION\nEndSave:\nCREATE ROLE r\n")
    assert [r.name for r in db(s).roles] == ["r"]


def test_goto_in_an_if_branch_before_a_block_end() -> None:
    """``IF (@@ERROR <> 0 …) GOTO QuitWithRollback`` right before ``END``: GOTO was read as part
    of the condition and the block's END as the branch (exit 2: "BEGIN without END")."""
    s = snap(
        "USE d\nGO\nIF NOT EXISTS (SELECT 1 FROM sys.objects)\nBEGIN\n"
        "EXEC @r = msdb.dbo.sp_add_category @class=N'JOB'\n"
        "IF (@@ERROR <> 0 OR @r <> 0) GOTO Quit\n\nEND\nCREATE ROLE r\nQuit:\n"
    )
    assert [r.name for r in db(s).roles] == ["r"]


def test_goto_takes_its_label_only() -> None:
    """``GOTO QuitWithRollback`` / ``QuitWithRollback:`` on the next line (SMO's job scripts):
    the label line was read into GOTO's skipped text; GOTO takes one label."""
    s = snap("USE d\nGO\nIF @@ERROR <> 0 GOTO Quit\nQuit:\nCREATE ROLE r\n")
    assert [r.name for r in db(s).roles] == ["r"]
    assert [(x.text, x.source_ref.line) for x in s.skipped] == [("GOTO Quit", 3), ("Quit:", 4)]
    assert all(harmless(x) for x in s.skipped)


@pytest.mark.parametrize("word", ["RAISERROR ('x', 16, 1)", "THROW 50000, 'x', 1", "BREAK"])
def test_a_control_of_flow_branch_does_not_take_the_next_statement(word: str) -> None:
    """The GRANT after ``IF … RAISERROR (…)`` always runs: it is no branch of the IF."""
    s = snap(f"USE d\nGO\nCREATE ROLE r\nIF @@ERROR <> 0 {word}\nGRANT CONNECT TO r\n")
    assert ("DATABASE", None, None, None, "CONNECT", "G", "r") in perms(s)
    assert s.skipped == () or all(harmless(x) for x in s.skipped)


def test_agent_job_procedures_are_not_reported() -> None:
    s = snap("USE msdb\nGO\nEXEC msdb.dbo.sp_add_job @job_name=N'j', @owner_login_name=N'l'\n")
    assert all(harmless(x) for x in s.skipped)


@pytest.mark.parametrize("system", ["msdb", "master", "model", "tempdb", "MSDB"])
def test_a_system_database_a_script_only_names_is_left_out(system: str) -> None:
    s = snap(f"USE {system}\nGO\nPRINT 'x'\nGO\nUSE d\nGO\nCREATE ROLE r\n")
    assert [d.name for d in s.databases] == ["d"]
    assert s.skipped == ()


def test_the_facts_of_a_system_database_are_reported() -> None:
    s = snap(
        "CREATE LOGIN l WITH PASSWORD = 'p'\nGO\nUSE [msdb]\nGO\nCREATE USER l FOR LOGIN l\n"
        "ALTER ROLE SQLAgentOperatorRole ADD MEMBER l\nGRANT EXECUTE ON dbo.sp_start_job TO l\n"
    )
    assert s.databases == ()
    (skipped,) = s.skipped
    assert skipped.reason.startswith("system database msdb: not migrated")
    assert skipped.text == (
        "1 user: l; 1 membership: SQLAgentOperatorRole <- l; 1 permission: GRANT EXECUTE TO l"
    )
    assert skipped.source_ref.line == 3
    found = [f for f in plan(s, Policy()).findings if f.rule_id == "GB045"]
    assert len(found) == 1
    assert "PostgreSQL has no such database" in found[0].action


def test_databasename_in_a_project_is_the_database_deployed_to(tmp_path: Path) -> None:
    """SqlPackage defines $(DatabaseName) itself: once exit 2 ("sqlcmd variable
    $(DatabaseName) is not set") for every SSDT permission script naming it."""
    (tmp_path / "Db.sqlproj").write_text("<Project/>", encoding="utf-8")
    (tmp_path / "perms.sql").write_text(
        "CREATE ROLE r\nGO\nGRANT VIEW DEFINITION ON DATABASE::[$(DatabaseName)] TO r\n",
        encoding="utf-8",
    )
    s = extract_scripts([tmp_path], database="Sales")
    assert ("DATABASE", None, None, None, "VIEW DEFINITION", "G", "r") in perms(s, "Sales")
    # --var, :setvar and a profile still win; outside a project it stays sqlcmd's: unset
    s = extract_scripts([tmp_path], database="Sales", variables={"DatabaseName": "Other"})
    assert [d.name for d in s.databases] == ["Sales"]


def test_a_schema_only_a_permission_names_is_planned() -> None:
    """Export-DbaUser scripts ``GRANT EXECUTE ON SCHEMA::[hr]`` without the schema: the plan
    makes it (if absent, owned by dbo's role) as it makes a schema only objects name."""
    s = snap(
        "USE d\nGO\nCREATE USER u WITHOUT LOGIN\nGRANT EXECUTE ON SCHEMA::hr TO u\n"
        "GRANT SELECT ON SCHEMA::HR TO u\nGRANT SELECT ON SCHEMA::sys TO u\n"
    )
    planned = plan(s, Policy())
    assert [(x.name, x.owner) for x in planned.schemas] == [("hr", "d_owner")]
    # SQL Server's catalog schema: nothing granted on it (PostgreSQL has no schema sys)
    assert not [g for g in planned.grants if g.schema_name == "sys" or g.name == "sys"]
    (sys_grant,) = [d for d in planned.dispositions if d.fact.endswith("SCHEMA:sys:SELECT:grant:u")]
    assert sys_grant.disposition == "not_applicable"
    assert sys_grant.reason.startswith("on SQL Server's catalog (schema sys or INFORMATION_SCHEMA)")


def test_sqlpackage_table_rebuild_keeps_the_table_name() -> None:
    """SqlPackage rebuilds a table as ``tmp_ms_xx_T`` and renames it back with sp_rename: once
    the snapshot held ``tmp_ms_xx_Orders`` and no ``Orders``, so the grants after the rebuild
    were unresolved (GB042) and the sp_rename calls reported."""
    s = _extract("sqlpackage_rebuild.sql")
    sales = db(s, "Sales")
    tables = {o.name: o.columns for o in sales.objects}
    assert tables == {"Orders": ("Id", "Total", "Comment"), "__RefactorLog": ("OperationKey",)}
    # the column grant before the rebuild went with the dropped table, as on the server
    assert perms(s, "Sales") == {
        ("OBJECT", "dbo", "Orders", "Comment", "SELECT", "G", "readers"),
        ("OBJECT", "dbo", "Orders", "Total", "UPDATE", "G", "readers"),
    }
    assert all(harmless(x) for x in s.skipped), [x for x in s.skipped if not harmless(x)]
    assert not [f for f in plan(s, Policy()).findings if f.rule_id in ("GB042", "GB045")]


def test_sp_rename_keeps_the_permissions_of_an_object_and_a_column() -> None:
    s = snap(
        "USE d\nGO\nCREATE ROLE r\nCREATE TABLE dbo.t (a int, b int)\n"
        "GRANT SELECT ON dbo.t TO r\nDENY UPDATE ON dbo.t (b) TO r\nALTER TABLE dbo.t "
        "ALTER COLUMN b ADD MASKED WITH (FUNCTION = 'default()')\nGO\n"
        "EXEC sp_rename 'dbo.t.b', 'c', 'COLUMN'\nEXEC sp_rename @objname = N'[dbo].[t]', "
        "@newname = N'u'\n"
    )
    assert [(o.name, o.columns) for o in db(s).objects] == [("u", ("a", "c"))]
    assert perms(s) == {
        ("OBJECT", "dbo", "u", None, "SELECT", "G", "r"),
        ("OBJECT", "dbo", "u", "c", "UPDATE", "D", "r"),
    }
    assert [(m.table_name, m.column_name) for m in db(s).masked_columns] == [("u", "c")]
    assert s.skipped == ()


def test_sp_rename_to_a_taken_name_is_refused_and_reported() -> None:
    s = snap(
        "USE d\nGO\nCREATE ROLE r\nCREATE TABLE dbo.t (a int)\nCREATE TABLE dbo.u (a int)\n"
        "GRANT SELECT ON dbo.t TO r\nGO\nEXEC sp_rename 'dbo.t', 'u'\n"
    )
    assert ("OBJECT", "dbo", "t", None, "SELECT", "G", "r") in perms(s)
    (refused,) = s.skipped
    assert "exists already" in refused.reason
    assert not harmless(refused)


def test_sp_help_revlogin_for_sql_server_2000() -> None:
    """KB 246133's script passes each hash as ``@pwd``: every SQL login was once lost ("with
    variable arguments cannot be read statically"); the password is never read anyway."""
    s = _extract("sp_help_revlogin_2000.sql")
    _no_secret(s)
    assert {(x.name, x.type.value, x.default_database, x.has_password) for x in s.logins} == {
        ("BUILTIN\\Administrators", "WINDOWS_LOGIN", None, False),
        ("CONTOSO\\old", "WINDOWS_LOGIN", None, False),
        ("legacy_app", "SQL_LOGIN", None, True),
        ("rpt", "SQL_LOGIN", "Sales", True),
    }
    assert all(harmless(x) for x in s.skipped)


def test_a_password_given_as_a_variable_does_not_stop_a_procedure() -> None:
    s = snap("USE d\nGO\nDECLARE @p sysname = N'x'\nEXEC sp_addapprole 'app', @p\n")
    assert [a.name for a in db(s).application_roles] == ["app"]
    # any other argument as a variable still cannot be read
    s = snap("USE d\nGO\nDECLARE @r sysname = N'x'\nEXEC sp_addrole @r\n")
    assert db(s).roles == ()
    assert "variable arguments" in s.skipped[-1].reason


def test_a_database_script_without_use_is_refused_with_the_way_out() -> None:
    """Database statements outside any USE, without --database: exit 2 at the first one, saying
    how to name the database (an empty plan would hide them); an explicit USE master is skipped."""
    with pytest.raises(ExtractError) as raised:
        snap("PRINT 1\nGO\nCREATE USER u WITHOUT LOGIN\nGRANT SELECT TO u\n")
    error = raised.value
    assert (error.location.line, error.location.column) == (3, 1)
    assert "1 user: u" in error.message
    assert "--database NAME" in error.message
    assert error.exit_code == 2
    (skipped,) = snap("USE master\nGO\nCREATE USER u WITHOUT LOGIN\n").skipped
    assert skipped.reason.startswith("system database master: not migrated")
    assert snap("CREATE LOGIN l WITH PASSWORD = 'x'\n").databases == ()  # server facts: fine
    assert [d.name for d in snap("CREATE USER u WITHOUT LOGIN\n", database="d").databases] == ["d"]
