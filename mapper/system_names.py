"""System objects a module body may name by their names alone, which SQL Server takes before
any user object of the same name.

A name without its schema is looked up "sys first": in the ``sys`` schema unless the statement
is DDL, then in the active default schema, then in dbo ("Name resolution, default schema,
implicit schema", Part II for types, and Part III: "objects name resolution follows the same
rule", https://learn.microsoft.com/archive/blogs/sqlprogrammability/name-resolution-default-
schema-implicit-schema-part-iii). For procedures the product documentation says the same: "the
sys schema of the current database" first, and "If a user-defined procedure has the same name
as a system procedure, the user-defined procedure might not ever execute" ("Executing Stored
Procedures (Database Engine)", https://learn.microsoft.com/previous-versions/sql/sql-server-
2008-r2/ms189915(v=sql.105); "Execute a stored procedure", https://learn.microsoft.com/sql/
relational-databases/stored-procedures/execute-a-stored-procedure). System stored procedures
(``sp_``) and extended procedures (``xp_``) "logically appear in the sys schema of every system-
and user-defined database" (ms189915).

The snapshot holds no system objects, so these are the documented names a body is likely to use,
not every one: a name not listed is looked up among the database's objects as before. A system
procedure run by its name alone is the system procedure; a catalog view's name read by its name
alone where the database holds an object of that name too is not known (:func:`system_view`).
"""

from __future__ import annotations

from mssql_extract.snapshot import fold

#: System and extended stored procedures (sys schema), by their documented names.
# fmt: off
SYSTEM_PROCEDURES = frozenset(fold(name) for name in (
    "sp_addapprole", "sp_addextendedproperty", "sp_addlinkedserver", "sp_addlinkedsrvlogin",
    "sp_addlogin", "sp_addrole", "sp_addrolemember", "sp_addsrvrolemember", "sp_addtype",
    "sp_adduser", "sp_approlepassword", "sp_bindefault", "sp_bindrule",
    "sp_change_users_login", "sp_changedbowner", "sp_changeobjectowner", "sp_columns",
    "sp_configure", "sp_defaultdb", "sp_denylogin", "sp_describe_first_result_set",
    "sp_describe_undeclared_parameters", "sp_dropapprole", "sp_dropextendedproperty",
    "sp_droplogin", "sp_droprole", "sp_droprolemember", "sp_dropsrvrolemember",
    "sp_droptype", "sp_dropuser", "sp_execute", "sp_execute_external_script",
    "sp_executesql", "sp_getapplock", "sp_grantdbaccess", "sp_grantlogin", "sp_help",
    "sp_helpdb", "sp_helprole", "sp_helprolemember", "sp_helprotect", "sp_helptext",
    "sp_helpuser", "sp_lock", "sp_password", "sp_prepare", "sp_procoption", "sp_recompile",
    "sp_refreshsqlmodule", "sp_refreshview", "sp_releaseapplock", "sp_rename",
    "sp_revokedbaccess", "sp_revokelogin", "sp_sequence_get_range",
    "sp_set_session_context", "sp_setapprole", "sp_settriggerorder", "sp_spaceused",
    "sp_tables", "sp_unbindefault", "sp_unbindrule", "sp_unsetapprole",
    "sp_updateextendedproperty", "sp_updatestats", "sp_who", "sp_xml_preparedocument",
    "sp_xml_removedocument", "xp_cmdshell", "xp_logininfo", "xp_msver", "xp_sprintf",
    "xp_sscanf",
))
# fmt: on

#: Catalog views, compatibility views and dynamic management views (sys schema) a body reads.
# fmt: off
SYSTEM_VIEWS = frozenset(fold(name) for name in (
    "all_columns", "all_objects", "all_parameters", "all_sql_modules", "all_views",
    "allocation_units", "check_constraints", "columns", "computed_columns",
    "database_permissions", "database_principals", "database_role_members", "databases",
    "default_constraints", "dm_exec_connections", "dm_exec_requests", "dm_exec_sessions",
    "extended_properties", "foreign_key_columns", "foreign_keys", "identity_columns",
    "index_columns", "indexes", "key_constraints", "objects", "parameters", "partitions",
    "procedures", "schemas", "sequences", "server_permissions", "server_principals",
    "server_role_members", "sql_logins", "sql_modules", "synonyms", "system_objects",
    "tables", "triggers", "types", "views", "syscolumns", "syscomments", "sysdatabases",
    "sysindexes", "syslogins", "sysmembers", "sysobjects", "sysprocesses", "sysprotects",
    "systypes", "sysusers",
))
# fmt: on


def system_procedure(name: str, access: str) -> bool:
    """Whether a procedure run by its name alone is a system procedure, which SQL Server finds
    in ``sys`` before any schema of the database: documented for procedures (ms189915)."""
    return access == "EXECUTE" and fold(name) in SYSTEM_PROCEDURES


def system_view(name: str, access: str) -> bool:
    """Whether a name alone read or written is a catalog view's. Part III puts ``sys`` first for
    every object, but compatibility views are also reached through dbo, and no page read says
    that a catalog view is found by its name alone; where the database holds an object of that
    name the module would reach otherwise, which one SQL Server takes is not decided here."""
    return access != "EXECUTE" and fold(name) in SYSTEM_VIEWS
