"""The semantics table: one row per rule of DESIGN §3.2 (setup, question, answer, reference).

Each row builds a small snapshot, asks ``explain(database, principal, securable, permission)``
and checks the answer. The reference column names the Microsoft document the rule comes from
(or the grantbridge decision, in ``mapper/permissions.py`` / ``mapper/effective.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from mapper.effective import EffectivePermissions
from mssql_extract.snapshot import SecuritySnapshot
from tests.semantics.builders import (
    deny,
    estate,
    grant,
    grant_all,
    login,
    member,
    sales,
    securable,
    user,
)

LEARN = "https://learn.microsoft.com/sql"
PERMS = f"{LEARN}/relational-databases/security/permissions-database-engine"
HIERARCHY = f"{LEARN}/relational-databases/security/permissions-hierarchy-database-engine"
FN_BUILTIN = (
    f"{LEARN}/relational-databases/system-functions/sys-fn-builtin-permissions-transact-sql"
)
GRANT_ALL = f"{LEARN}/t-sql/statements/grant-transact-sql"
GRANT_OBJECT = f"{LEARN}/t-sql/statements/grant-object-permissions-transact-sql"
GRANT_SCHEMA = f"{LEARN}/t-sql/statements/grant-schema-permissions-transact-sql"
GRANT_DB = f"{LEARN}/t-sql/statements/grant-database-permissions-transact-sql"
GRANT_SERVER = f"{LEARN}/t-sql/statements/grant-server-permissions-transact-sql"
GRANT_PRINCIPAL = f"{LEARN}/t-sql/statements/grant-database-principal-permissions-transact-sql"
DENY_OBJECT = f"{LEARN}/t-sql/statements/deny-object-permissions-transact-sql"
DB_ROLES = f"{LEARN}/relational-databases/security/authentication-access/database-level-roles"
SERVER_ROLES = f"{LEARN}/relational-databases/security/authentication-access/server-level-roles"
APP_ROLES = f"{LEARN}/relational-databases/security/authentication-access/application-roles"
OWNERSHIP = (
    f"{LEARN}/relational-databases/security/authentication-access/"
    "ownership-and-user-schema-separation"
)
ALTER_AUTH = f"{LEARN}/t-sql/statements/alter-authorization-transact-sql"
GUEST = f"{LEARN}/relational-databases/policy-based-management/guest-permissions-on-user-databases"
ORPHANS = f"{LEARN}/sql-server/failover-clusters/troubleshoot-orphaned-users-sql-server"
EXECUTE_AS = f"{LEARN}/t-sql/statements/execute-as-transact-sql"
DECISION = "grantbridge decision (mapper/permissions.py _UNDOCUMENTED_COVERING / _EXTRA_PARENTS)"

ORDERS = "OBJECT::sales.Orders"
TOTAL = "OBJECT::sales.Orders(total)"
SECRET = "OBJECT::sales.Orders(secret)"
REPORT = "OBJECT::sales.Report"
PROC = "OBJECT::dbo.usp_Run"


@dataclass(frozen=True)
class Case:
    id: str
    setup: Callable[[], SecuritySnapshot]
    database: str | None
    principal: str
    on: str
    permission: str
    allowed: bool
    reference: str


def db(**kw: object) -> Callable[[], SecuritySnapshot]:
    """A setup: the standard estate whose Sales database gets ``kw`` (perms, members …)."""
    return lambda: estate(sales(**kw))  # type: ignore[arg-type]


def server(db_kw: dict[str, object] | None = None, **kw: object) -> Callable[[], SecuritySnapshot]:
    """A setup: the standard estate with server-level ``kw`` and Sales database ``db_kw``."""
    return lambda: estate(sales(**(db_kw or {})), **kw)  # type: ignore[arg-type]


NEST = [member("r1", "alice"), member("r2", "r1"), member("r3", "r2"), member("r4", "r3")]

CASES = [
    # --- covering and parent covering permissions (fn_builtin_permissions) -------------------
    Case("object-grant", db(perms=[grant("SELECT", ORDERS, "alice")]), "Sales", "alice", ORDERS, "SELECT", True, GRANT_OBJECT),
    Case("no-grant", db(), "Sales", "alice", ORDERS, "SELECT", False, PERMS),
    Case("schema-grant-implies-object", db(perms=[grant("SELECT", "SCHEMA::sales", "alice")]), "Sales", "alice", ORDERS, "SELECT", True, GRANT_SCHEMA),
    Case("schema-grant-not-other-schema", db(perms=[grant("SELECT", "SCHEMA::dbo", "alice")]), "Sales", "alice", ORDERS, "SELECT", False, GRANT_SCHEMA),
    Case("database-grant-implies-object", db(perms=[grant("UPDATE", "DATABASE", "alice")]), "Sales", "alice", ORDERS, "UPDATE", True, GRANT_DB),
    Case("control-object-implies-select", db(perms=[grant("CONTROL", ORDERS, "alice")]), "Sales", "alice", ORDERS, "SELECT", True, HIERARCHY),
    Case("control-object-implies-take-ownership", db(perms=[grant("CONTROL", ORDERS, "alice")]), "Sales", "alice", ORDERS, "TAKE OWNERSHIP", True, GRANT_OBJECT),
    Case("control-object-not-sibling", db(perms=[grant("CONTROL", ORDERS, "alice")]), "Sales", "alice", REPORT, "SELECT", False, HIERARCHY),
    Case("control-schema-implies-object-update", db(perms=[grant("CONTROL", "SCHEMA::sales", "alice")]), "Sales", "alice", ORDERS, "UPDATE", True, HIERARCHY),
    Case("control-database-implies-execute", db(perms=[grant("CONTROL", "DATABASE", "alice")]), "Sales", "alice", PROC, "EXECUTE", True, HIERARCHY),
    Case("control-server-implies-database-objects", server(server_perms=[grant("CONTROL SERVER", "SERVER", "alice")]), "Sales", "alice", ORDERS, "DELETE", True, PERMS),
    Case("receive-covers-select", db(perms=[grant("RECEIVE", ORDERS, "alice")]), "Sales", "alice", ORDERS, "SELECT", True, FN_BUILTIN),
    Case("select-does-not-imply-insert", db(perms=[grant("SELECT", ORDERS, "alice")]), "Sales", "alice", ORDERS, "INSERT", False, GRANT_OBJECT),
    Case("alter-schema-implies-object-alter", db(perms=[grant("ALTER", "SCHEMA::sales", "alice")]), "Sales", "alice", ORDERS, "ALTER", True, GRANT_SCHEMA),
    Case("view-any-definition-reaches-objects", server(server_perms=[grant("VIEW ANY DEFINITION", "SERVER", "alice")]), "Sales", "alice", ORDERS, "VIEW DEFINITION", True, GRANT_SERVER),
    Case("undocumented-control-covers-performance-state", db(perms=[grant("CONTROL", "DATABASE", "alice")]), "Sales", "alice", "DATABASE", "VIEW DATABASE PERFORMANCE STATE", True, DECISION),
    Case("undocumented-view-state-covers-security-state", db(perms=[grant("VIEW DATABASE STATE", "DATABASE", "alice")]), "Sales", "alice", "DATABASE", "VIEW DATABASE SECURITY STATE", True, DECISION),
    Case("undocumented-create-user-under-control", db(perms=[grant("CONTROL", "DATABASE", "alice")]), "Sales", "alice", "DATABASE", "CREATE USER", True, DECISION),
    Case("undocumented-create-user-not-under-alter", db(perms=[grant("ALTER", "DATABASE", "alice")]), "Sales", "alice", "DATABASE", "CREATE USER", False, DECISION),
    Case("unmask-schema-reaches-object", db(perms=[grant("UNMASK", "SCHEMA::sales", "alice")]), "Sales", "alice", ORDERS, "UNMASK", True, PERMS),
    Case("ledger-parent-control-server", server(server_perms=[grant("CONTROL SERVER", "SERVER", "alice")]), "Sales", "alice", "DATABASE", "ENABLE LEDGER", True, DECISION),
    Case("select-all-user-securables", server(server_perms=[grant("SELECT ALL USER SECURABLES", "SERVER", "alice")]), "Sales", "alice", ORDERS, "SELECT", True, GRANT_SERVER),
    # --- DENY ---------------------------------------------------------------------------------
    Case("deny-beats-grant-same-row", db(perms=[grant("SELECT", ORDERS, "r1"), deny("SELECT", ORDERS, "alice")], members=[member("r1", "alice")]), "Sales", "alice", ORDERS, "SELECT", False, DENY_OBJECT),
    Case("deny-through-role-beats-user-grant", db(perms=[grant("SELECT", ORDERS, "alice"), deny("SELECT", ORDERS, "r1")], members=[member("r1", "alice")]), "Sales", "alice", ORDERS, "SELECT", False, PERMS),
    Case("deny-to-public-beats-grant", db(perms=[grant("SELECT", ORDERS, "alice"), deny("SELECT", ORDERS, "public")]), "Sales", "alice", ORDERS, "SELECT", False, PERMS),
    Case("deny-schema-beats-object-grant", db(perms=[grant("SELECT", ORDERS, "alice"), deny("SELECT", "SCHEMA::sales", "alice")]), "Sales", "alice", ORDERS, "SELECT", False, HIERARCHY),
    Case("deny-database-beats-object-grant", db(perms=[grant("SELECT", ORDERS, "alice"), deny("SELECT", "DATABASE", "r2")], members=[member("r2", "alice")]), "Sales", "alice", ORDERS, "SELECT", False, HIERARCHY),
    Case("deny-control-schema-denies-select", db(perms=[grant("SELECT", ORDERS, "alice"), deny("CONTROL", "SCHEMA::sales", "alice")]), "Sales", "alice", ORDERS, "SELECT", False, HIERARCHY),
    Case("deny-other-object-leaves-this", db(perms=[grant("SELECT", "SCHEMA::sales", "alice"), deny("SELECT", REPORT, "alice")]), "Sales", "alice", ORDERS, "SELECT", True, DENY_OBJECT),
    Case("deny-insert-leaves-select", db(perms=[grant("SELECT", ORDERS, "alice"), deny("INSERT", ORDERS, "alice")]), "Sales", "alice", ORDERS, "SELECT", True, DENY_OBJECT),
    Case("deny-connect-shuts-out", db(perms=[grant("SELECT", ORDERS, "alice"), deny("CONNECT", "DATABASE", "alice")]), "Sales", "alice", ORDERS, "SELECT", False, GRANT_DB),
    # a DENY of a permission covering CONNECT shuts the principal out as DENY CONNECT does
    Case("deny-connect-replication-shuts-out", db(perms=[grant("SELECT", ORDERS, "public"), deny("CONNECT REPLICATION", "DATABASE", "alice")]), "Sales", "alice", ORDERS, "SELECT", False, FN_BUILTIN),
    Case("deny-control-database-shuts-out-of-public-grant", db(perms=[grant("SELECT", ORDERS, "public"), deny("CONTROL", "DATABASE", "alice")]), "Sales", "alice", ORDERS, "SELECT", False, PERMS),
    Case("deny-control-database-denies-connect", db(members=[member("db_datareader", "alice")], perms=[deny("CONTROL", "DATABASE", "alice")]), "Sales", "alice", "DATABASE", "CONNECT", False, PERMS),
    Case("deny-control-database-through-role-shuts-out", db(members=[member("r1", "alice")], perms=[grant("SELECT", ORDERS, "alice"), deny("CONTROL", "DATABASE", "r1")]), "Sales", "alice", ORDERS, "SELECT", False, PERMS),
    Case("deny-control-database-leaves-others-in", db(perms=[grant("SELECT", ORDERS, "public"), deny("CONTROL", "DATABASE", "alice")]), "Sales", "bob", ORDERS, "SELECT", True, PERMS),
    Case("deny-control-server-shuts-out-of-database", server({"perms": [grant("SELECT", ORDERS, "public")]}, server_perms=[deny("CONTROL SERVER", "SERVER", "alice")]), "Sales", "alice", ORDERS, "SELECT", False, PERMS),
    Case("deny-alter-database-denies-schema-alter", db(members=[member("r1", "alice")], perms=[grant("ALTER", "SCHEMA::sales", "r1"), deny("ALTER", "DATABASE", "alice")]), "Sales", "alice", "SCHEMA::sales", "ALTER", False, GRANT_DB),
    Case("deny-alter-database-leaves-connect", db(perms=[grant("SELECT", ORDERS, "public"), deny("ALTER", "DATABASE", "alice")]), "Sales", "alice", ORDERS, "SELECT", True, GRANT_DB),
    Case("deny-server-level-beats-role", server(server_members=[member("securityadmin", "alice")], server_perms=[deny("ALTER ANY LOGIN", "SERVER", "alice")]), None, "alice", "SERVER", "ALTER ANY LOGIN", False, PERMS),
    # --- columns ------------------------------------------------------------------------------
    Case("column-grant-allows-column", db(perms=[grant("SELECT", TOTAL, "alice")]), "Sales", "alice", TOTAL, "SELECT", True, GRANT_OBJECT),
    Case("column-grant-not-whole-table", db(perms=[grant("SELECT", TOTAL, "alice")]), "Sales", "alice", ORDERS, "SELECT", False, GRANT_OBJECT),
    Case("column-grant-not-other-column", db(perms=[grant("SELECT", TOTAL, "alice")]), "Sales", "alice", SECRET, "SELECT", False, GRANT_OBJECT),
    Case("table-grant-implies-column", db(perms=[grant("UPDATE", ORDERS, "alice")]), "Sales", "alice", TOTAL, "UPDATE", True, GRANT_OBJECT),
    Case("column-grant-beats-table-deny", db(perms=[deny("SELECT", ORDERS, "alice"), grant("SELECT", TOTAL, "alice")]), "Sales", "alice", TOTAL, "SELECT", True, GRANT_OBJECT),
    Case("column-grant-via-role-beats-table-deny", db(perms=[deny("SELECT", ORDERS, "r1"), grant("SELECT", TOTAL, "r2")], members=[member("r1", "alice"), member("r2", "alice")]), "Sales", "alice", TOTAL, "SELECT", True, GRANT_OBJECT),
    Case("column-deny-beats-table-grant", db(perms=[grant("SELECT", ORDERS, "alice"), deny("SELECT", SECRET, "alice")]), "Sales", "alice", SECRET, "SELECT", False, DENY_OBJECT),
    Case("column-deny-beats-column-grant", db(perms=[grant("SELECT", SECRET, "alice"), deny("SELECT", SECRET, "r1")], members=[member("r1", "alice")]), "Sales", "alice", SECRET, "SELECT", False, DENY_OBJECT),
    Case("column-deny-leaves-other-columns", db(perms=[grant("SELECT", ORDERS, "alice"), deny("SELECT", SECRET, "alice")]), "Sales", "alice", TOTAL, "SELECT", True, DENY_OBJECT),
    Case("schema-deny-beats-column-grant", db(perms=[grant("SELECT", TOTAL, "alice"), deny("SELECT", "SCHEMA::sales", "alice")]), "Sales", "alice", TOTAL, "SELECT", False, HIERARCHY),
    # --- fixed database roles -------------------------------------------------------------------
    Case("db-datareader-select", db(members=[member("db_datareader", "alice")]), "Sales", "alice", ORDERS, "SELECT", True, DB_ROLES),
    Case("db-datareader-no-insert", db(members=[member("db_datareader", "alice")]), "Sales", "alice", ORDERS, "INSERT", False, DB_ROLES),
    Case("db-datareader-with-denydatareader", db(members=[member("db_datareader", "alice"), member("db_denydatareader", "alice")]), "Sales", "alice", ORDERS, "SELECT", False, DB_ROLES),
    Case("db-denydatareader-beats-object-grant", db(perms=[grant("SELECT", ORDERS, "alice")], members=[member("db_denydatareader", "alice")]), "Sales", "alice", ORDERS, "SELECT", False, DB_ROLES),
    Case("db-datawriter-delete", db(members=[member("db_datawriter", "alice")]), "Sales", "alice", ORDERS, "DELETE", True, DB_ROLES),
    Case("db-denydatawriter-beats-datawriter", db(members=[member("db_datawriter", "alice"), member("db_denydatawriter", "alice")]), "Sales", "alice", ORDERS, "UPDATE", False, DB_ROLES),
    Case("db-owner-controls-schema", db(members=[member("db_owner", "alice")]), "Sales", "alice", "SCHEMA::sales", "ALTER", True, DB_ROLES),
    Case("db-owner-member-can-be-denied", db(members=[member("db_owner", "alice")], perms=[deny("SELECT", ORDERS, "alice")]), "Sales", "alice", ORDERS, "SELECT", False, DB_ROLES),
    Case("db-ddladmin-create-table", db(members=[member("db_ddladmin", "alice")]), "Sales", "alice", "DATABASE", "CREATE TABLE", True, DB_ROLES),
    Case("db-ddladmin-no-select", db(members=[member("db_ddladmin", "alice")]), "Sales", "alice", ORDERS, "SELECT", False, DB_ROLES),
    Case("db-securityadmin-alter-any-role", db(members=[member("db_securityadmin", "alice")]), "Sales", "alice", "DATABASE", "ALTER ANY ROLE", True, DB_ROLES),
    Case("db-accessadmin-alter-any-user", db(members=[member("db_accessadmin", "alice")]), "Sales", "alice", "DATABASE", "ALTER ANY USER", True, DB_ROLES),
    Case("db-backupoperator-backup", db(members=[member("db_backupoperator", "alice")]), "Sales", "alice", "DATABASE", "BACKUP DATABASE", True, DB_ROLES),
    # --- fixed server roles ---------------------------------------------------------------------
    Case("securityadmin-alter-any-login", server(server_members=[member("securityadmin", "alice")]), None, "alice", "SERVER", "ALTER ANY LOGIN", True, SERVER_ROLES),
    Case("securityadmin-no-table-data", server(server_members=[member("securityadmin", "alice")]), "Sales", "alice", ORDERS, "SELECT", False, SERVER_ROLES),
    Case("dbcreator-create-any-database", server(server_members=[member("dbcreator", "alice")]), None, "alice", "SERVER", "CREATE ANY DATABASE", True, SERVER_ROLES),
    Case("serveradmin-shutdown", server(server_members=[member("serveradmin", "alice")]), None, "alice", "SERVER", "SHUTDOWN", True, SERVER_ROLES),
    Case("processadmin-alter-any-connection", server(server_members=[member("processadmin", "alice")]), None, "alice", "SERVER", "ALTER ANY CONNECTION", True, SERVER_ROLES),
    Case("bulkadmin-bulk-operations", server(server_members=[member("bulkadmin", "alice")]), None, "alice", "SERVER", "ADMINISTER BULK OPERATIONS", True, SERVER_ROLES),
    Case("setupadmin-linked-servers", server(server_members=[member("setupadmin", "alice")]), None, "alice", "SERVER", "ALTER ANY LINKED SERVER", True, SERVER_ROLES),
    Case("ms-server-state-reader-database-state", server(server_members=[member("##MS_ServerStateReader##", "alice")]), "Sales", "alice", "DATABASE", "VIEW DATABASE STATE", True, SERVER_ROLES),
    Case("ms-definition-reader-object-definition", server(server_members=[member("##MS_DefinitionReader##", "alice")]), "Sales", "alice", ORDERS, "VIEW DEFINITION", True, SERVER_ROLES),
    Case("ms-database-connector-without-user", server(server_members=[member("##MS_DatabaseConnector##", "dave")], logins=(login("dave"),)), "Sales", "dave", "DATABASE", "CONNECT", True, SERVER_ROLES),
    Case("control-server-login-without-user-enters", server(server_perms=[grant("CONTROL SERVER", "SERVER", "dave")], logins=(login("dave"),)), "Sales", "dave", ORDERS, "SELECT", True, GRANT_SERVER),
    Case("server-grant-without-user-or-guest-shut-out", server(server_perms=[grant("VIEW SERVER STATE", "SERVER", "dave")], logins=(login("dave"),)), "Sales", "dave", "DATABASE", "VIEW DATABASE STATE", False, GUEST),
    # --- never denied: sysadmin, dbo, owners ----------------------------------------------------
    Case("sysadmin-never-denied", server({"perms": [deny("SELECT", ORDERS, "alice")]}, server_members=[member("sysadmin", "alice")]), "Sales", "alice", ORDERS, "SELECT", True, SERVER_ROLES),
    Case("sysadmin-without-user-enters-as-dbo", server(server_members=[member("sysadmin", "dave")], logins=(login("dave"),)), "Sales", "dave", ORDERS, "DELETE", True, SERVER_ROLES),
    Case("sysadmin-server-deny-ignored", server(server_members=[member("sysadmin", "alice")], server_perms=[deny("SHUTDOWN", "SERVER", "alice")]), None, "alice", "SERVER", "SHUTDOWN", True, SERVER_ROLES),
    Case("dbo-never-denied", db(perms=[deny("SELECT", ORDERS, "public")]), "Sales", "dbo", ORDERS, "SELECT", True, DB_ROLES),
    Case("database-owner-login-is-dbo", server({"owner": "dave", "perms": [deny("SELECT", "DATABASE", "public")]}, logins=(login("dave"),)), "Sales", "dave", ORDERS, "SELECT", True, ALTER_AUTH),
    Case("schema-owner-never-denied", db(schema_owners={"sales": "bob"}, perms=[deny("SELECT", "SCHEMA::sales", "bob")]), "Sales", "bob", ORDERS, "SELECT", True, OWNERSHIP),
    Case("object-owner-has-control", db(object_owners={"Orders": "carol"}), "Sales", "carol", ORDERS, "ALTER", True, OWNERSHIP),
    Case("object-owner-not-other-objects", db(object_owners={"Orders": "carol"}), "Sales", "carol", REPORT, "SELECT", False, OWNERSHIP),
    Case("schema-owned-by-role-members-own", db(schema_owners={"sales": "r1"}, members=[member("r1", "alice")]), "Sales", "alice", ORDERS, "DELETE", True, OWNERSHIP),
    Case("role-owner-alters-role", db(role_owners={"r1": "bob"}), "Sales", "bob", "ROLE::r1", "ALTER", True, ALTER_AUTH),
    # --- public, guest, orphaned users ----------------------------------------------------------
    Case("public-grant-reaches-everyone", db(perms=[grant("SELECT", ORDERS, "public")]), "Sales", "bob", ORDERS, "SELECT", True, DB_ROLES),
    Case("public-grant-reaches-app-role", db(perms=[grant("SELECT", ORDERS, "public")]), "Sales", "reporting_app", ORDERS, "SELECT", True, APP_ROLES),
    Case("guest-disabled-login-without-user", server({"perms": [grant("SELECT", ORDERS, "guest")]}, logins=(login("dave"),)), "Sales", "dave", ORDERS, "SELECT", False, GUEST),
    Case("guest-enabled-login-without-user", server({"perms": [grant("SELECT", ORDERS, "guest")], "guest_enabled": True}, logins=(login("dave"),)), "Sales", "dave", ORDERS, "SELECT", True, GUEST),
    Case("guest-grants-not-for-mapped-users", db(perms=[grant("SELECT", ORDERS, "guest")], guest_enabled=True), "Sales", "alice", ORDERS, "SELECT", False, GUEST),
    Case("guest-itself-disabled", db(perms=[grant("SELECT", ORDERS, "guest")]), "Sales", "guest", ORDERS, "SELECT", False, GUEST),
    Case("orphaned-user-keeps-database-grants", db(extra_users=(user("eve", sid="0x0E", orphaned=True),), perms=[grant("SELECT", ORDERS, "eve")]), "Sales", "eve", ORDERS, "SELECT", True, ORPHANS),
    Case("orphaned-user-gets-no-server-grants", server({"extra_users": (user("eve", sid="0x0E", orphaned=True),)}, logins=(login("eve", sid="0x0F"),), server_perms=[grant("CONTROL SERVER", "SERVER", "eve")]), "Sales", "eve", ORDERS, "SELECT", False, ORPHANS),
    # --- nesting ------------------------------------------------------------------------------
    Case("roles-nested-four-deep-grant", db(members=NEST, perms=[grant("SELECT", ORDERS, "r4")]), "Sales", "alice", ORDERS, "SELECT", True, DB_ROLES),
    Case("roles-nested-four-deep-deny", db(members=NEST, perms=[grant("SELECT", ORDERS, "alice"), deny("SELECT", "SCHEMA::sales", "r4")]), "Sales", "alice", ORDERS, "SELECT", False, PERMS),
    Case("role-grant-does-not-reach-nonmember", db(members=NEST, perms=[grant("SELECT", ORDERS, "r4")]), "Sales", "bob", ORDERS, "SELECT", False, DB_ROLES),
    # --- application roles ------------------------------------------------------------------------
    Case("app-role-own-grant", db(perms=[grant("EXECUTE", PROC, "reporting_app")]), "Sales", "reporting_app", PROC, "EXECUTE", True, APP_ROLES),
    Case("app-role-not-users-grants", db(perms=[grant("EXECUTE", PROC, "alice")]), "Sales", "reporting_app", PROC, "EXECUTE", False, APP_ROLES),
    Case("app-role-not-login-server-grants", server(server_perms=[grant("CONTROL SERVER", "SERVER", "alice")]), "Sales", "reporting_app", ORDERS, "SELECT", False, APP_ROLES),
    # --- IMPERSONATE ---------------------------------------------------------------------------
    Case("impersonate-user-granted", db(perms=[grant("IMPERSONATE", "USER::bob", "alice")]), "Sales", "alice", "USER::bob", "IMPERSONATE", True, EXECUTE_AS),
    Case("impersonate-only-that-user", db(perms=[grant("IMPERSONATE", "USER::bob", "alice")]), "Sales", "alice", "USER::carol", "IMPERSONATE", False, GRANT_PRINCIPAL),
    Case("control-database-impersonates-users", db(members=[member("db_owner", "alice")]), "Sales", "alice", "USER::bob", "IMPERSONATE", True, GRANT_PRINCIPAL),
    Case("deny-impersonate-beats-db-owner", db(members=[member("db_owner", "alice")], perms=[deny("IMPERSONATE", "USER::bob", "alice")]), "Sales", "alice", "USER::bob", "IMPERSONATE", False, GRANT_PRINCIPAL),
    Case("impersonate-any-login", server(server_perms=[grant("IMPERSONATE ANY LOGIN", "SERVER", "alice")]), None, "alice", "LOGIN::bob", "IMPERSONATE", True, GRANT_SERVER),
    # --- ALL expansion ------------------------------------------------------------------------
    Case("all-on-table-select", db(perms=grant_all(ORDERS, "alice", "TABLE")), "Sales", "alice", ORDERS, "SELECT", True, GRANT_ALL),
    Case("all-on-table-not-alter", db(perms=grant_all(ORDERS, "alice", "TABLE")), "Sales", "alice", ORDERS, "ALTER", False, GRANT_ALL),
    Case("all-on-procedure-execute", db(perms=grant_all(PROC, "alice", "PROCEDURE")), "Sales", "alice", PROC, "EXECUTE", True, GRANT_ALL),
    Case("all-on-database-create-table", db(perms=grant_all("DATABASE", "alice")), "Sales", "alice", "DATABASE", "CREATE TABLE", True, GRANT_ALL),
    Case("all-on-database-not-control", db(perms=grant_all("DATABASE", "alice")), "Sales", "alice", ORDERS, "SELECT", False, GRANT_ALL),
    # --- server scope -------------------------------------------------------------------------
    Case("control-server-implies-alter-any-login", server(server_perms=[grant("CONTROL SERVER", "SERVER", "alice")]), None, "alice", "SERVER", "ALTER ANY LOGIN", True, GRANT_SERVER),
    Case("server-grant-through-user-defined-role", server(server_roles=("ops",), server_members=[member("ops", "alice")], server_perms=[grant("VIEW SERVER STATE", "SERVER", "ops")]), None, "alice", "SERVER", "VIEW SERVER STATE", True, GRANT_SERVER),
    Case("alter-any-database-implies-database-alter", server(server_perms=[grant("ALTER ANY DATABASE", "SERVER", "alice")]), "Sales", "alice", "DATABASE", "ALTER", True, GRANT_DB),
]  # fmt: skip


def test_table_is_big_enough() -> None:
    assert len(CASES) >= 60
    assert len({case.id for case in CASES}) == len(CASES), "case ids must be unique"
    assert all(case.reference for case in CASES)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_semantics(case: Case) -> None:
    engine = EffectivePermissions(case.setup())
    decision = engine.explain(case.database, case.principal, securable(case.on), case.permission)
    assert decision.allowed is case.allowed, f"{decision.reason} ({case.reference})"
    assert decision.reason
    if case.allowed and decision.grant is not None:
        assert decision.deny is None
    if not case.allowed:
        assert decision.grant is None
