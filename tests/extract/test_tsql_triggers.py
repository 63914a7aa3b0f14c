"""A LOGON trigger decides who may connect, so it is reported (GB045), not kept in silence as the
other triggers are: the shape SSMS's "Script Server Trigger as → CREATE To" (SSMS 19/20, SMO)
and dbatools' Export-DbaInstance write, a ``DdlTrigger`` banner, the SET headers, ``ON ALL
SERVER WITH EXECUTE AS 'sa' FOR LOGON`` and an ``ENABLE TRIGGER … ON ALL SERVER`` after it."""

from __future__ import annotations

from mapper.planner import plan
from mapper.policy import Policy
from mapper.translate.skipped import harmless
from tests.extract.tsql_helpers import snap

SSMS_SERVER_TRIGGER = """USE [master]
GO
/****** Object:  DdlTrigger [trg_limit_app]    Script Date: 11/25/2026 4:05:00 PM ******/
SET ANSI_NULLS ON
GO
SET QUOTED_IDENTIFIER ON
GO
CREATE TRIGGER [trg_limit_app]
ON ALL SERVER WITH EXECUTE AS 'sa'
FOR LOGON
AS
BEGIN
IF ORIGINAL_LOGIN() = N'app' AND HOST_NAME() NOT LIKE N'APP%'
    ROLLBACK;
END;
GO
ENABLE TRIGGER [trg_limit_app] ON ALL SERVER
GO
"""


def test_ssms_server_logon_trigger_is_reported() -> None:
    s = snap(SSMS_SERVER_TRIGGER)
    (trigger,) = [x for x in s.skipped if (x.text or "").startswith("CREATE TRIGGER")]
    assert not harmless(trigger)
    assert trigger.reason.startswith("LOGON trigger")
    assert "N'app'" not in (trigger.text or "")  # the literals are masked, as for any skipped
    found = [f for f in plan(s, Policy()).findings if f.rule_id == "GB045"]
    assert [f.evidence.startswith("LOGON trigger") for f in found] == [True]


#: Each trigger's header, and whether it fires on LOGON (its body is the same ROLLBACK).
HEADERS = {
    "CREATE OR ALTER TRIGGER t1 ON ALL SERVER AFTER LOGON AS": True,
    "ALTER TRIGGER t2 ON ALL SERVER WITH EXECUTE AS OWNER FOR LOGON AS": True,
    "CREATE TRIGGER t3 ON ALL SERVER FOR CREATE_LOGIN AS": False,
    "USE d\nGO\nCREATE TRIGGER t4 ON dbo.t WITH EXECUTE AS OWNER AFTER INSERT AS": False,
    "CREATE TRIGGER [logon] ON DATABASE FOR CREATE_TABLE AS": False,
}


def test_every_spelling_of_a_logon_trigger_is_reported_and_other_triggers_stay_quiet() -> None:
    s = snap("".join(f"{header}\nBEGIN ROLLBACK; END;\nGO\n" for header in HEADERS))
    assert [not harmless(x) for x in s.skipped] == list(HEADERS.values())  # in script order


#: The "grant on every new table" trigger, as DBAs write it: dynamic SQL built from EVENTDATA().
AUTO_GRANT = """USE [Sales]
GO
CREATE TRIGGER [trg_grant_new_tables] ON DATABASE
FOR CREATE_TABLE, CREATE_VIEW
AS
BEGIN
    DECLARE @name sysname = EVENTDATA().value('(/EVENT_INSTANCE/ObjectName)[1]', 'sysname');
    DECLARE @sql nvarchar(max) = N'GRANT SELECT ON ' + QUOTENAME(@name) + N' TO [reporting]';
    EXEC (@sql);
END
GO
"""


def test_a_ddl_trigger_that_grants_on_new_objects_is_reported() -> None:
    s = snap(AUTO_GRANT)
    (trigger,) = s.skipped
    assert not harmless(trigger)
    assert trigger.reason.startswith(
        "DDL trigger ON DATABASE FOR CREATE_TABLE, CREATE_VIEW that runs GRANT when it fires"
    )
    assert "ALTER DEFAULT PRIVILEGES" in trigger.reason
    found = [f for f in plan(s, Policy()).findings if f.rule_id == "GB045"]
    assert [f.evidence.startswith("DDL trigger") for f in found] == [True]


#: Each DDL or DML trigger's header and body, and what the reason says it runs (None: quiet).
BODIES = {
    "CREATE TRIGGER t1 ON DATABASE FOR DDL_DATABASE_LEVEL_EVENTS AS GRANT VIEW DEFINITION TO dev":
        "GRANT",
    "CREATE TRIGGER t2 ON DATABASE FOR CREATE_PROCEDURE AS EXEC sys.sp_addrolemember 'r', 'u'":
        "SP_ADDROLEMEMBER",
    "CREATE TRIGGER t3 ON ALL SERVER FOR CREATE_DATABASE AS ALTER SERVER ROLE dbcreator "
    "ADD MEMBER x": "ALTER SERVER ROLE",
    "CREATE OR ALTER TRIGGER t4 ON DATABASE AFTER CREATE_SCHEMA AS ALTER AUTHORIZATION ON "
    "SCHEMA::s TO o": "ALTER AUTHORIZATION",
    "CREATE TRIGGER t5 ON DATABASE FOR DROP_TABLE AS EXEC (N'DENY ALTER ON SCHEMA::dbo TO x')":
        "DENY",
    # no security statement, or a table's trigger: quiet, as before
    "CREATE TRIGGER t6 ON DATABASE FOR CREATE_TABLE AS PRINT 'GRANTED'": None,
    "USE d\nGO\nCREATE TRIGGER t7 ON dbo.t AFTER INSERT AS GRANT SELECT ON dbo.t TO x": None,
}  # fmt: skip


def test_what_a_ddl_trigger_runs_is_found_in_its_statements_and_dynamic_sql() -> None:
    s = snap("".join(f"{body}\nGO\n" for body in BODIES))
    said = [
        x.reason.split(" that runs ")[1].split(" when ")[0] if not harmless(x) else None
        for x in s.skipped
    ]
    assert said == list(BODIES.values())  # in script order
