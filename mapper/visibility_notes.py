"""What PostgreSQL shows every role that SQL Server guards with a metadata permission (VIEW
DEFINITION and its kin): the notes of the ``not_applicable`` rows of :mod:`mapper.privileges`
that have ``everyone`` set, and what each shows (finding GB022 names it when a DENY of it cannot
be carried). Split out of :mod:`mapper.privileges` for length.
"""

from __future__ import annotations

#: "Metadata Visibility Configuration": SQL Server shows a principal the metadata of the
#: securables it owns or holds some permission on, and a module's or view's definition only with
#: VIEW DEFINITION (or CONTROL, which implies it) or ownership. PostgreSQL's catalogs and their
#: functions answer every role: pg_views.definition, pg_get_viewdef(), pg_proc.prosrc,
#: pg_get_functiondef().
DEFINITIONS_SHOWN = (
    "the definitions of views and routines (pg_views.definition, pg_get_viewdef(), "
    "pg_proc.prosrc, pg_get_functiondef())"
)
DEFINITION_NOTE = (
    f"PostgreSQL shows every role {DEFINITIONS_SHOWN} and the rest of its catalogs, which SQL "
    "Server shows only to principals that own the object or hold VIEW DEFINITION on it (or "
    "CONTROL): the grantee needs nothing, and a DENY of it cannot be carried (GB022)."
)
TYPES_SHOWN = "the definitions of types (pg_type, and pg_attribute for composite types)"
TYPE_DEFINITION_NOTE = (
    f"PostgreSQL shows every role {TYPES_SHOWN}: the grantee needs nothing, and a DENY of it "
    "cannot be carried (GB022)."
)
PRINCIPALS_SHOWN = "the roles and their memberships (pg_roles, pg_auth_members)"
PRINCIPAL_DEFINITION_NOTE = (
    f"PostgreSQL shows every role {PRINCIPALS_SHOWN}: the grantee needs nothing, and a DENY of "
    "it cannot be carried (GB022)."
)
SECURITY_SHOWN = (
    "its security metadata: roles, memberships and privileges (pg_roles, pg_auth_members, the "
    "ACL columns)"
)
DATABASES_SHOWN = "the list of databases (pg_database)"
#: SELECT on SQL Server's catalog views (schema sys, INFORMATION_SCHEMA): their counterparts,
#: pg_catalog and information_schema, answer every role (``grants.on_catalog``).
CATALOG_SHOWN = "its own catalog (pg_catalog, information_schema)"
SECURITY_DEFINITION_NOTE = (
    f"PostgreSQL shows every role {SECURITY_SHOWN}: the grantee needs nothing, and a DENY of it "
    "cannot be carried (GB022)."
)
PERFORMANCE_DEFINITION_NOTE = (
    "PostgreSQL catalogs are readable by every role; it has no performance objects such as "
    "Extended Events sessions whose definitions a privilege would guard."
)
