"""The catalog queries: the single definition shared by live mode and the extraction script.

Each query is a named constant; :data:`SERVER_QUERIES` run once in ``master``,
:data:`DATABASE_QUERIES` run in every online database (their catalog views are unqualified,
so they read the current database). Live mode runs them through pyodbc
(:mod:`mssql_extract.live`); :mod:`mssql_extract.extraction_script` wraps the very same text in
one T-SQL script that a DBA runs in SSMS or sqlcmd and that returns every row as one JSON
document.

Rules the queries follow:

* they return raw catalog columns under SQL Server's own names, plus a few resolved names
  (aliases ending in ``_name``) where only a join can resolve an id;
* SIDs are returned as ``CONVERT(varchar(172), sid, 1)``, i.e. the ``0x…`` hex text, so that
  pyodbc and ``FOR JSON`` (which would base64-encode varbinary) agree;
* ``sys.sql_logins.password_hash`` is never selected: only the policy flags are read;
* a query marked ``on_azure_sql_database=False`` is not run on Azure SQL Database
  (``SERVERPROPERTY('EngineEdition')`` 5), whose databases have no server-level security views
  of their own: logins live in the logical server's ``master``, and ``sys.server_audits`` and
  ``sys.server_audit_specifications`` exist on SQL Server and Managed Instance only (Microsoft
  Learn, sys-server-audits-transact-sql, sys-server-audit-specifications-transact-sql).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

#: ``SERVERPROPERTY('EngineEdition')`` of Azure SQL Database (Microsoft Learn,
#: serverproperty-transact-sql: 5 = SQL Database; 8 = SQL Managed Instance).
AZURE_SQL_DATABASE_EDITION = 5


@dataclass(frozen=True)
class Query:
    """One catalog query: its name (the JSON key and fixture file name) and its T-SQL."""

    name: str
    scope: Literal["server", "database"]
    sql: str
    on_azure_sql_database: bool = True  # False: its views are missing there (module docstring)


SERVER_PROPERTIES = Query(
    "server_properties",
    "server",
    """SELECT CAST(SERVERPROPERTY('ServerName') AS nvarchar(128)) AS server_name,
       CAST(SERVERPROPERTY('ProductVersion') AS nvarchar(128)) AS product_version,
       CAST(SERVERPROPERTY('Edition') AS nvarchar(128)) AS edition,
       CAST(SERVERPROPERTY('Collation') AS nvarchar(128)) AS collation,
       CAST(SERVERPROPERTY('IsIntegratedSecurityOnly') AS int) AS is_integrated_security_only,
       CAST(SERVERPROPERTY('EngineEdition') AS int) AS engine_edition""",
)

SERVER_PRINCIPALS = Query(
    "server_principals",
    "server",
    """SELECT sp.name, sp.principal_id, CONVERT(varchar(172), sp.sid, 1) AS sid, sp.type,
       sp.type_desc, sp.is_disabled, sp.create_date, sp.modify_date, sp.default_database_name,
       sp.default_language_name, sp.credential_id, cr.name AS credential_name,
       sp.owning_principal_id, sp.is_fixed_role
FROM sys.server_principals AS sp
LEFT JOIN sys.credentials AS cr ON cr.credential_id = sp.credential_id
ORDER BY sp.principal_id""",
    on_azure_sql_database=False,
)

SQL_LOGINS = Query(
    "sql_logins",
    "server",
    """SELECT sl.name, sl.principal_id, sl.is_policy_checked, sl.is_expiration_checked,
       CAST(LOGINPROPERTY(sl.name, 'IsMustChange') AS int) AS is_must_change
FROM sys.sql_logins AS sl
ORDER BY sl.principal_id""",
    on_azure_sql_database=False,
)

SERVER_ROLE_MEMBERS = Query(
    "server_role_members",
    "server",
    """SELECT rm.role_principal_id, rm.member_principal_id
FROM sys.server_role_members AS rm
ORDER BY rm.role_principal_id, rm.member_principal_id""",
    on_azure_sql_database=False,
)

# Securables resolved by class: 101 login or server role, 105 endpoint, 108 availability group.
# A class 108 major_id is the replica_metadata_id of the local replica of the group in
# sys.availability_replicas ("ID for the local metadata object for availability replicas",
# Microsoft Learn, sys-availability-replicas-transact-sql; joined so in Daniel Hutmacher's
# sp_help_permissions, sqlsunday.com), whose group_id names the group in sys.availability_groups.
SERVER_PERMISSIONS = Query(
    "server_permissions",
    "server",
    """SELECT p.class, p.class_desc, p.major_id, p.minor_id, p.grantee_principal_id,
       p.grantor_principal_id, p.type, p.permission_name, p.state, p.state_desc,
       COALESCE(target.name, ep.name, ag.name) AS securable_name
FROM sys.server_permissions AS p
LEFT JOIN sys.server_principals AS target ON p.class = 101 AND target.principal_id = p.major_id
LEFT JOIN sys.endpoints AS ep ON p.class = 105 AND ep.endpoint_id = p.major_id
LEFT JOIN sys.availability_replicas AS ar
  ON p.class = 108 AND ar.replica_metadata_id = p.major_id
LEFT JOIN sys.availability_groups AS ag ON ag.group_id = ar.group_id
ORDER BY p.class, p.major_id, p.minor_id, p.grantee_principal_id, p.type""",
    on_azure_sql_database=False,
)

DATABASES = Query(
    "databases",
    "server",
    """SELECT d.name, d.database_id, CONVERT(varchar(172), d.owner_sid, 1) AS owner_sid,
       d.is_trustworthy_on, d.is_db_chaining_on, d.containment, d.containment_desc, d.state,
       d.state_desc, d.collation_name, d.is_read_only, HAS_DBACCESS(d.name) AS has_dbaccess
FROM sys.databases AS d
ORDER BY d.database_id""",
)

SERVER_AUDIT_SPECIFICATIONS = Query(
    "server_audit_specifications",
    "server",
    """SELECT s.name, s.server_specification_id, s.is_state_enabled, a.name AS audit_name,
       d.audit_action_name, d.class_desc, d.major_id, d.audited_principal_id
FROM sys.server_audit_specifications AS s
LEFT JOIN sys.server_audits AS a ON a.audit_guid = s.audit_guid
LEFT JOIN sys.server_audit_specification_details AS d
  ON d.server_specification_id = s.server_specification_id
ORDER BY s.name, d.audit_action_name""",
    on_azure_sql_database=False,
)

DATABASE_PRINCIPALS = Query(
    "database_principals",
    "database",
    """SELECT dp.name, dp.principal_id, dp.type, dp.type_desc, dp.default_schema_name,
       dp.create_date, dp.modify_date, dp.owning_principal_id,
       CONVERT(varchar(172), dp.sid, 1) AS sid, dp.is_fixed_role, dp.authentication_type,
       dp.authentication_type_desc
FROM sys.database_principals AS dp
ORDER BY dp.principal_id""",
)

DATABASE_ROLE_MEMBERS = Query(
    "database_role_members",
    "database",
    """SELECT rm.role_principal_id, rm.member_principal_id
FROM sys.database_role_members AS rm
ORDER BY rm.role_principal_id, rm.member_principal_id""",
)

# Securables resolved by class (sys.database_permissions.class): 1 object or column, 3 schema,
# 4 database principal, 5 assembly, 6 type, 10 XML schema collection, 24/25/26 keys and
# certificates. Other classes keep NULL names; the converter records them as skipped rows.
# Class 1 joins sys.all_objects and sys.all_columns, which hold system objects too: a
# major_id < 0 is a system object (catalog_views.json, sys.database_permissions.major_id), as in
# DENY SELECT ON sys.objects TO public.
DATABASE_PERMISSIONS = Query(
    "database_permissions",
    "database",
    """SELECT p.class, p.class_desc, p.major_id, p.minor_id, p.grantee_principal_id,
       p.grantor_principal_id, p.type, p.permission_name, p.state, p.state_desc,
       COALESCE(os.name, ts.name, xs.name) AS securable_schema_name,
       COALESCE(o.name, s.name, pr.name, asm.name, t.name, x.name, sk.name, cert.name,
                ak.name) AS securable_name,
       c.name AS column_name
FROM sys.database_permissions AS p
LEFT JOIN sys.all_objects AS o ON p.class = 1 AND o.object_id = p.major_id
LEFT JOIN sys.schemas AS os ON os.schema_id = o.schema_id
LEFT JOIN sys.all_columns AS c
  ON p.class = 1 AND p.minor_id > 0 AND c.object_id = p.major_id AND c.column_id = p.minor_id
LEFT JOIN sys.schemas AS s ON p.class = 3 AND s.schema_id = p.major_id
LEFT JOIN sys.database_principals AS pr ON p.class = 4 AND pr.principal_id = p.major_id
LEFT JOIN sys.assemblies AS asm ON p.class = 5 AND asm.assembly_id = p.major_id
LEFT JOIN sys.types AS t ON p.class = 6 AND t.user_type_id = p.major_id
LEFT JOIN sys.schemas AS ts ON ts.schema_id = t.schema_id
LEFT JOIN sys.xml_schema_collections AS x
  ON p.class = 10 AND x.xml_collection_id = p.major_id
LEFT JOIN sys.schemas AS xs ON xs.schema_id = x.schema_id
LEFT JOIN sys.symmetric_keys AS sk ON p.class = 24 AND sk.symmetric_key_id = p.major_id
LEFT JOIN sys.certificates AS cert ON p.class = 25 AND cert.certificate_id = p.major_id
LEFT JOIN sys.asymmetric_keys AS ak ON p.class = 26 AND ak.asymmetric_key_id = p.major_id
ORDER BY p.class, p.major_id, p.minor_id, p.grantee_principal_id, p.type""",
)

SCHEMAS = Query(
    "schemas",
    "database",
    """SELECT s.name, s.schema_id, s.principal_id
FROM sys.schemas AS s
ORDER BY s.schema_id""",
)

# Object types a GRANT can target; constraints, triggers and internal tables are left out.
OBJECTS = Query(
    "objects",
    "database",
    """SELECT o.name, o.object_id, o.principal_id, o.schema_id, o.parent_object_id, o.type,
       o.type_desc, o.create_date, o.modify_date, o.is_ms_shipped
FROM sys.objects AS o
WHERE o.is_ms_shipped = 0
  AND o.type IN ('U', 'V', 'P', 'PC', 'FN', 'FS', 'IF', 'TF', 'FT', 'AF', 'SO', 'SN')
ORDER BY o.object_id""",
)

TYPES = Query(
    "types",
    "database",
    """SELECT t.name, t.user_type_id, t.schema_id, t.principal_id, t.is_table_type
FROM sys.types AS t
WHERE t.is_user_defined = 1
ORDER BY t.user_type_id""",
)

COLUMNS = Query(
    "columns",
    "database",
    """SELECT c.object_id, c.column_id, c.name
FROM sys.columns AS c
JOIN sys.objects AS o ON o.object_id = c.object_id
WHERE o.is_ms_shipped = 0 AND o.type IN ('U', 'V')
ORDER BY c.object_id, c.column_id""",
)

SQL_MODULES = Query(
    "sql_modules",
    "database",
    """SELECT m.object_id, m.execute_as_principal_id, CAST(NULL AS nvarchar(max)) AS definition
FROM sys.sql_modules AS m
JOIN sys.objects AS o ON o.object_id = m.object_id
WHERE o.is_ms_shipped = 0
ORDER BY m.object_id""",
)

#: The same query with module bodies (``--include-definitions``).
SQL_MODULES_WITH_DEFINITIONS = Query(
    "sql_modules",
    "database",
    SQL_MODULES.sql.replace("CAST(NULL AS nvarchar(max)) AS definition", "m.definition"),
)

#: A synonym's base object (catalog_views.json has no sys.synonyms: the view adds
#: ``base_object_name``, nvarchar(1035), "fully quoted name of the base object", to sys.objects'
#: columns; Microsoft Learn, sys-synonyms-transact-sql). An export made before this query has no
#: such section: its synonyms keep an unknown base object.
SYNONYMS = Query(
    "synonyms",
    "database",
    """SELECT sn.object_id, sn.base_object_name
FROM sys.synonyms AS sn
ORDER BY sn.object_id""",
)

#: Column defaults that call a sequence. sys.default_constraints has sys.objects' columns and
#: ``parent_column_id`` and ``definition``, nvarchar(max), "SQL expression that defines this
#: default", stored decoded (``(NEXT VALUE FOR [s].[seq])``; Microsoft Learn,
#: sys-default-constraints-transact-sql; catalog_views.json has no such view). Only those that
#: call a sequence are read (:mod:`mssql_extract.sequence_defaults`): PostgreSQL's converted
#: ``nextval`` needs USAGE for the inserting role. An export made before this query has no such
#: section: its tables keep no sequence defaults.
DEFAULT_CONSTRAINTS = Query(
    "default_constraints",
    "database",
    """SELECT dc.parent_object_id, dc.parent_column_id, dc.definition
FROM sys.default_constraints AS dc
WHERE UPPER(dc.definition) LIKE N'%NEXT VALUE FOR%'
ORDER BY dc.parent_object_id, dc.parent_column_id""",
)

SECURITY_POLICIES = Query(
    "security_policies",
    "database",
    """SELECT sp.name, sp.object_id, sp.principal_id, sp.schema_id, sp.is_enabled,
       sp.is_schemabinding_enabled
FROM sys.security_policies AS sp
ORDER BY sp.object_id""",
)

SECURITY_PREDICATES = Query(
    "security_predicates",
    "database",
    """SELECT pr.object_id, pr.security_predicate_id, pr.target_object_id,
       pr.predicate_definition, pr.predicate_type, pr.predicate_type_desc, pr.operation,
       pr.operation_desc
FROM sys.security_predicates AS pr
ORDER BY pr.object_id, pr.security_predicate_id""",
)

MASKED_COLUMNS = Query(
    "masked_columns",
    "database",
    """SELECT mc.object_id, mc.column_id, mc.name, mc.is_masked, mc.masking_function
FROM sys.masked_columns AS mc
WHERE mc.is_masked = 1
ORDER BY mc.object_id, mc.column_id""",
)

DATABASE_AUDIT_SPECIFICATIONS = Query(
    "database_audit_specifications",
    "database",
    """SELECT s.name, s.database_specification_id, s.is_state_enabled, a.name AS audit_name,
       d.audit_action_name, d.class_desc, d.major_id, d.audited_principal_id
FROM sys.database_audit_specifications AS s
LEFT JOIN sys.server_audits AS a ON a.audit_guid = s.audit_guid
LEFT JOIN sys.database_audit_specification_details AS d
  ON d.database_specification_id = s.database_specification_id
ORDER BY s.name, d.audit_action_name""",
    on_azure_sql_database=False,  # joins sys.server_audits
)

#: The one server option the semantics depend on: with *common criteria compliance enabled* on,
#: "a table-level DENY takes precedence over a column-level GRANT" (Microsoft Learn, "common
#: criteria compliance enabled Server Configuration Option"; sys.configurations:
#: ``value_in_use`` is the running value). Editions without the option have no row: not known.
SERVER_CONFIGURATIONS = Query(
    "server_configurations",
    "server",
    """SELECT c.configuration_id, c.name, CAST(c.value_in_use AS int) AS value_in_use
FROM sys.configurations AS c
WHERE c.name = N'common criteria compliance enabled'
ORDER BY c.configuration_id""",
    on_azure_sql_database=False,
)

SERVER_QUERIES: tuple[Query, ...] = (
    SERVER_PROPERTIES,
    SERVER_CONFIGURATIONS,
    SERVER_PRINCIPALS,
    SQL_LOGINS,
    SERVER_ROLE_MEMBERS,
    SERVER_PERMISSIONS,
    DATABASES,
    SERVER_AUDIT_SPECIFICATIONS,
)

_DATABASE_QUERIES_BEFORE_MODULES: tuple[Query, ...] = (
    DATABASE_PRINCIPALS,
    DATABASE_ROLE_MEMBERS,
    DATABASE_PERMISSIONS,
    SCHEMAS,
    OBJECTS,
    TYPES,
    COLUMNS,
    SYNONYMS,
    DEFAULT_CONSTRAINTS,
)
_DATABASE_QUERIES_AFTER_MODULES: tuple[Query, ...] = (
    SECURITY_POLICIES,
    SECURITY_PREDICATES,
    MASKED_COLUMNS,
    DATABASE_AUDIT_SPECIFICATIONS,
)


def server_queries(*, azure_sql_database: bool = False) -> tuple[Query, ...]:
    """The server queries (:data:`SERVER_PROPERTIES` first), those Azure SQL Database has."""
    return tuple(q for q in SERVER_QUERIES if q.on_azure_sql_database or not azure_sql_database)


def database_queries(
    *, include_definitions: bool, azure_sql_database: bool = False
) -> tuple[Query, ...]:
    """The per-database queries, with or without module bodies, on Azure SQL Database or not."""
    modules = SQL_MODULES_WITH_DEFINITIONS if include_definitions else SQL_MODULES
    every = (*_DATABASE_QUERIES_BEFORE_MODULES, modules, *_DATABASE_QUERIES_AFTER_MODULES)
    return tuple(q for q in every if q.on_azure_sql_database or not azure_sql_database)


#: Every query (definitions off), for tests and documentation.
ALL_QUERIES: tuple[Query, ...] = (
    *SERVER_QUERIES,
    *database_queries(include_definitions=False),
)
