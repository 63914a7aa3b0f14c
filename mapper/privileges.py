"""The declarative SQL Server → PostgreSQL privilege mapping (DESIGN §3.3, "Privileges").

One row per (SQL Server permission, securable class), for every pair ``sys.fn_builtin_permissions``
defines (``mapper.permissions.CATALOG``): explicit rows in ``_ROWS``, and for every other pair a
row from its class's default in ``_CLASS_DEFAULTS`` (with the reason). ``docs/mapping.md`` and
parametrized tests are generated from :data:`TABLE`, as ldap2pg does with its privileges.

``privileges`` maps a PostgreSQL object kind to the privileges granted on it:

* OBJECT rows: on the object itself, by its kind;
* SCHEMA rows: ``schema`` on the schema itself; other kinds on every object of that kind in the
  schema, plus default privileges for objects created later (SQL Server schema grants cover
  future objects);
* DATABASE rows: ``database`` on the database; other kinds on every object in every schema,
  plus default privileges;
* SERVER rows grant membership in a predefined ``role`` or a role ``attribute`` instead.

PostgreSQL privileges per object type: reference/mssql/pg_object_privileges.csv (PostgreSQL 17
docs §5.8, table 5.2); predefined roles: reference/mssql/pg_predefined_roles.csv.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from mapper.permissions import CATALOG
from mapper.visibility_notes import (
    DATABASES_SHOWN,
    DEFINITION_NOTE,
    DEFINITIONS_SHOWN,
    PERFORMANCE_DEFINITION_NOTE,
    PRINCIPAL_DEFINITION_NOTE,
    PRINCIPALS_SHOWN,
    SECURITY_DEFINITION_NOTE,
    SECURITY_SHOWN,
    TYPE_DEFINITION_NOTE,
    TYPES_SHOWN,
)
from mssql_extract.snapshot import ObjectKind

Outcome = Literal["mapped", "approximated", "not_applicable", "overgrant"]

#: SQL Server object kind → PostgreSQL object kind (None: nothing to grant on in PostgreSQL).
PG_KIND: Mapping[ObjectKind, str | None] = {
    ObjectKind.TABLE: "table",
    ObjectKind.VIEW: "view",
    ObjectKind.PROCEDURE: "procedure",
    ObjectKind.SCALAR_FUNCTION: "function",
    ObjectKind.TABLE_FUNCTION: "function",
    ObjectKind.AGGREGATE: "function",
    ObjectKind.SEQUENCE: "sequence",
    ObjectKind.TYPE: "type",
    ObjectKind.SYNONYM: None,
    ObjectKind.XML_SCHEMA_COLLECTION: None,
    ObjectKind.SECURITY_POLICY: None,
    ObjectKind.OTHER: None,
}


@dataclass(frozen=True)
class PrivilegeRow:
    """How one SQL Server permission on one securable class becomes PostgreSQL access."""

    securable_class: str
    permission: str
    outcome: Outcome
    privileges: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    role: str | None = None  # predefined role to grant (SERVER rows)
    attribute: str | None = None  # role attribute (SERVER rows)
    note: str = ""
    #: PostgreSQL already gives every role what this permission allows (its catalogs are
    #: readable by all), so a principal holding it loses nothing: ``not_applicable`` rows only
    everyone: bool = False
    #: what PostgreSQL shows every role that this permission guards in SQL Server (metadata
    #: visibility): a DENY of it cannot be carried, and is finding GB022 (``everyone`` rows)
    shown: str = ""


_DML = {
    "table": ("SELECT", "INSERT", "UPDATE", "DELETE"),
    "view": ("SELECT", "INSERT", "UPDATE", "DELETE"),
}
_ROUTINES = {"function": ("EXECUTE",), "procedure": ("EXECUTE",)}


def _each(kinds: tuple[str, ...], privileges: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    return dict.fromkeys(kinds, privileges)


_RELATIONS = ("table", "view")
_CREATE_NOTE = (
    "Needs ALTER on a schema as well to take effect in SQL Server: with ALTER on a schema (its "
    "own, or implied by ALTER ANY SCHEMA or ALTER on the database) the grantee gets CREATE on "
    "that schema (approximated, GB040); alone it grants nothing."
)
#: What CREATE on a schema gives that SQL Server's CREATE … with ALTER on the schema does not.
#: SQL Server: an object belongs to its schema's owner unless given an owner of its own ("Ownership
#: and User-Schema Separation"), so its creator has only the access its grants give. PostgreSQL:
#: "the creator of an object is made the owner" (GRANT, Notes). The plan's default privileges on
#: the schema are FOR ROLE its owner role (mapper.translate.grants) and do not apply to objects
#: another role creates; hardening adds a default revoke for the grantee (and the roles
#: inheriting it) so that its routines do not become executable by PUBLIC.
CREATOR_OWNS_NOTE = (
    "In PostgreSQL the grantee owns what it creates there, and may read, change, drop and grant "
    "it; in SQL Server the schema's owner owns new objects: the grantee may alter and drop them "
    "(ALTER on the schema), but has no access to their data beyond its grants and cannot grant "
    "them. The plan's default privileges on the schema are set for its owner "
    "role, so they do not reach the grantee's objects; hardening (on by default) keeps PUBLIC "
    "from running the routines it creates (ALTER DEFAULT PRIVILEGES FOR ROLE <grantee> REVOKE "
    "EXECUTE ON FUNCTIONS FROM PUBLIC)."
)
_OWNER_NOTE = "PostgreSQL reserves ALTER/DROP to the owner; grantbridge never gives ownership."
#: What ALTER on a table or view allows that PostgreSQL can grant without ownership.
#: "TRUNCATE TABLE (Transact-SQL)", Permissions: "The minimum permission required is ALTER on
#: table_name" (https://learn.microsoft.com/sql/t-sql/statements/truncate-table-transact-sql);
#: "CREATE TRIGGER (Transact-SQL)", Permissions: "To create a DML trigger requires ALTER
#: permission on the table or view on which the trigger is being created"
#: (https://learn.microsoft.com/sql/t-sql/statements/create-trigger-transact-sql). PostgreSQL's
#: TRUNCATE "allows TRUNCATE on a table", its TRIGGER "allows creation of a trigger on a table,
#: view, etc." (https://www.postgresql.org/docs/current/ddl-priv.html); ALTER TABLE / VIEW and
#: DROP TRIGGER need ownership. ALTER on a schema implies ALTER on each of its objects, and ALTER
#: ANY SCHEMA or ALTER on the database ALTER on every schema (sys.fn_builtin_permissions).
ALTERED: Mapping[str, tuple[str, ...]] = {"table": ("TRUNCATE", "TRIGGER"), "view": ("TRIGGER",)}
#: CREATE on a schema and nothing else: what creating objects there maps to (with ALTER on the
#: schema, :mod:`mapper.translate.permissions`), and what a DENY of a CREATE permission takes.
CREATE_ON_SCHEMA: Mapping[str, tuple[str, ...]] = {"schema": ("CREATE",)}
_ALTER_CARRIED = (
    "TRUNCATE and TRIGGER on a table, TRIGGER on a view: ALTER allows TRUNCATE TABLE and creating "
    "triggers in SQL Server. Not carried: the rest of ALTER (ALTER TABLE or VIEW, dropping a "
    "trigger, altering a sequence or routine), which PostgreSQL reserves to the owner; "
    "grantbridge never gives ownership."
)
ALTER_IN_SCHEMA_NOTE = (
    "On every table of the schema TRUNCATE and TRIGGER, on every view TRIGGER, current and future "
    "(ALTER on a schema implies ALTER on its objects, which allows TRUNCATE TABLE and creating "
    "triggers); altering and dropping its objects needs ownership in PostgreSQL."
)
#: "NEXT VALUE FOR (Transact-SQL)", Permissions: "Requires UPDATE permission on the sequence
#: object"; restarting it needs ALTER. PostgreSQL's USAGE allows nextval (and currval), its UPDATE
#: setval as well ("Sequence Manipulation Functions"), which is SQL Server's ALTER … RESTART.
_SEQUENCE_UPDATE_NOTE = (
    "UPDATE on a sequence (NEXT VALUE FOR) becomes USAGE (nextval); PostgreSQL's UPDATE would "
    "also allow setval, which SQL Server reserves to ALTER."
)
#: REFERENCES lets a principal bind to a function or sequence (schema binding, a default or a
#: constraint), not call it ("GRANT Object Permissions": EXECUTE and REFERENCES are separate).
_REFERENCES_NOTE = (
    "REFERENCES on a table or view becomes REFERENCES; on a function or sequence it grants "
    "nothing (it does not allow calling the function or taking a value). A default or constraint "
    "that calls one runs as the inserting role in PostgreSQL, which then needs EXECUTE or USAGE."
)
#: Table-valued functions have SELECT, not EXECUTE, in SQL Server ("GRANT Object Permissions");
#: PostgreSQL's default privileges cannot tell a set-returning function from a scalar one.
_EXECUTE_WIDE_NOTE = (
    "EXECUTE on the schema's or database's procedures and scalar functions, current and future "
    "(ALTER DEFAULT PRIVILEGES … ON FUNCTIONS). Current table-valued functions are left out, as "
    "in SQL Server; future ones get EXECUTE too, since PostgreSQL's default privileges cannot "
    "tell them apart."
)

#: CONTROL implies ALTER ("GRANT Object Permissions"), and "TRUNCATE TABLE (Transact-SQL)",
#: Permissions: "The minimum permission required is ALTER on table_name"; ALTER also lets one
#: create triggers. PostgreSQL 17's MAINTAIN (VACUUM, ANALYZE, REINDEX …;
#: reference/mssql/pg_acl_privileges.csv) is left out: earlier servers refuse to grant it.
_OBJECT_CONTROL_NOTE = (
    "On a table SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES and TRIGGER (CONTROL "
    "implies ALTER, which allows TRUNCATE TABLE and creating triggers); on a view the same "
    "without TRUNCATE; on a sequence USAGE, SELECT and UPDATE; on a routine EXECUTE. No "
    "ownership: ALTER and DROP stay with the owner in PostgreSQL. MAINTAIN (PostgreSQL 17) is "
    "not granted: servers before 17 refuse it."
)

#: A database-level permission covers every schema, those created later included; the plan
#: grants on each existing schema's objects with per-schema default privileges
#: (:mod:`mapper.translate.grants`, whose docstring says why PostgreSQL's global default
#: privileges would not be equivalent), so a schema created later is left out: approximated.
FUTURE_SCHEMAS_NOTE = (
    "Granted on the objects of every schema the database has, with default privileges in each "
    "for objects created there later; a schema created later is not covered, where SQL "
    "Server's database-level permission covers it: grant on it (USAGE, and these privileges "
    "with their defaults) when it is created."
)
#: "Permissions (Database Engine)": "ALTER ANY SCHEMA confers the ability to create, alter, or
#: drop any schema in the database"; sys.fn_builtin_permissions: CREATE SCHEMA is implied by ALTER
#: ANY SCHEMA, which ALTER on the database implies (reference/mssql/builtin_permissions_sql2022.csv
#: rows DATABASE CREATE SCHEMA, DATABASE ALTER ANY SCHEMA). PostgreSQL's CREATE SCHEMA needs
#: CREATE on the database, which CREATE SCHEMA maps to as well.
SCHEMA_CREATOR: Mapping[str, tuple[str, ...]] = {"database": ("CREATE",), **ALTERED}
_ALTER_SCHEMAS_NOTE = (
    "CREATE on the database: ALTER ANY SCHEMA (and ALTER on the database) implies CREATE SCHEMA, "
    "and PostgreSQL's CREATE SCHEMA needs CREATE on the database; the new schema belongs to "
    "its creator in both. "
    "ALTER ANY SCHEMA (and ALTER on the database) implies ALTER on every schema and its objects: "
    "on every table TRUNCATE and TRIGGER, on every view TRIGGER, current and future (TRUNCATE "
    "TABLE and creating triggers need ALTER on the table); with CREATE TABLE/VIEW/PROCEDURE/"
    "FUNCTION/TYPE the grantee also gets CREATE on each schema (GB040). Altering and dropping "
    "other owners' objects needs ownership in PostgreSQL. " + FUTURE_SCHEMAS_NOTE
)

# fmt: off
_ROWS: tuple[PrivilegeRow, ...] = (
    # --- objects
    PrivilegeRow("OBJECT", "SELECT", "mapped", {**_each(_RELATIONS, ("SELECT",)), "sequence": ("SELECT",), "function": ("EXECUTE",)},
                 note="SELECT on a table-valued function becomes EXECUTE."),
    PrivilegeRow("OBJECT", "INSERT", "mapped", _each(_RELATIONS, ("INSERT",))),
    PrivilegeRow("OBJECT", "UPDATE", "mapped", {**_each(_RELATIONS, ("UPDATE",)), "sequence": ("USAGE",)},
                 note=_SEQUENCE_UPDATE_NOTE),
    PrivilegeRow("OBJECT", "DELETE", "mapped", _each(_RELATIONS, ("DELETE",))),
    PrivilegeRow("OBJECT", "REFERENCES", "mapped", _each(_RELATIONS, ("REFERENCES",)),
                 note=_REFERENCES_NOTE),
    PrivilegeRow("OBJECT", "EXECUTE", "mapped", _ROUTINES),
    PrivilegeRow("OBJECT", "VIEW DEFINITION", "not_applicable", note=DEFINITION_NOTE, everyone=True, shown=DEFINITIONS_SHOWN),
    PrivilegeRow("OBJECT", "VIEW CHANGE TRACKING", "not_applicable", note="PostgreSQL has no change tracking; logical decoding is configured separately."),
    PrivilegeRow("OBJECT", "ALTER", "approximated", ALTERED, note=_ALTER_CARRIED),
    PrivilegeRow("OBJECT", "TAKE OWNERSHIP", "approximated", note=_OWNER_NOTE),
    PrivilegeRow("OBJECT", "CONTROL", "approximated", {"table": ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER"), "view": ("SELECT", "INSERT", "UPDATE", "DELETE", "REFERENCES", "TRIGGER"), "sequence": ("USAGE", "SELECT", "UPDATE"), **_ROUTINES},
                 note=_OBJECT_CONTROL_NOTE),
    PrivilegeRow("OBJECT", "UNMASK", "approximated", note="Dynamic data masking has no PostgreSQL equivalent; see the masking findings."),
    PrivilegeRow("OBJECT", "RECEIVE", "not_applicable", note="Service Broker queues do not exist in PostgreSQL."),
    # --- types
    PrivilegeRow("TYPE", "EXECUTE", "mapped", {"type": ("USAGE",)}),
    PrivilegeRow("TYPE", "REFERENCES", "mapped", {"type": ("USAGE",)}),
    PrivilegeRow("TYPE", "CONTROL", "approximated", {"type": ("USAGE",)}, note=_OWNER_NOTE),
    PrivilegeRow("TYPE", "VIEW DEFINITION", "not_applicable", note=TYPE_DEFINITION_NOTE, everyone=True, shown=TYPES_SHOWN),
    # --- schemas (current objects + default privileges)
    PrivilegeRow("SCHEMA", "SELECT", "mapped", {**_each(_RELATIONS, ("SELECT",)), "sequence": ("SELECT",)}),
    PrivilegeRow("SCHEMA", "INSERT", "mapped", _each(_RELATIONS, ("INSERT",))),
    PrivilegeRow("SCHEMA", "UPDATE", "mapped", {**_each(_RELATIONS, ("UPDATE",)), "sequence": ("USAGE",)},
                 note=_SEQUENCE_UPDATE_NOTE),
    PrivilegeRow("SCHEMA", "DELETE", "mapped", _each(_RELATIONS, ("DELETE",))),
    PrivilegeRow("SCHEMA", "REFERENCES", "mapped", _each(_RELATIONS, ("REFERENCES",))),
    PrivilegeRow("SCHEMA", "EXECUTE", "approximated", _ROUTINES, note=_EXECUTE_WIDE_NOTE),
    PrivilegeRow("SCHEMA", "ALTER", "approximated", {**CREATE_ON_SCHEMA, **ALTERED},
                 note="CREATE on the schema, as the grantee may also create objects in the database (CREATE TABLE/VIEW/PROCEDURE/FUNCTION/TYPE); PostgreSQL's CREATE allows every kind of object. " + ALTER_IN_SCHEMA_NOTE + " " + CREATOR_OWNS_NOTE),
    PrivilegeRow("SCHEMA", "CONTROL", "overgrant", {**CREATE_ON_SCHEMA, "table": ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER"), "view": ("SELECT", "INSERT", "UPDATE", "DELETE", "REFERENCES", "TRIGGER"), "sequence": ("USAGE", "SELECT", "UPDATE"), **_ROUTINES},
                 note="An over-grant (GB003): downscoped to DML and EXECUTE in the schema by default; faithful, REFERENCES, CREATE on the schema, and TRUNCATE and TRIGGER (CONTROL implies ALTER) too. No ownership."),
    PrivilegeRow("SCHEMA", "VIEW DEFINITION", "not_applicable", note=DEFINITION_NOTE, everyone=True, shown=DEFINITIONS_SHOWN),
    # --- databases
    PrivilegeRow("DATABASE", "CONNECT", "mapped", {"database": ("CONNECT",)}),
    PrivilegeRow("DATABASE", "SELECT", "approximated", {**_each(_RELATIONS, ("SELECT",)), "sequence": ("SELECT",)},
                 note=FUTURE_SCHEMAS_NOTE),
    PrivilegeRow("DATABASE", "INSERT", "approximated", _each(_RELATIONS, ("INSERT",)), note=FUTURE_SCHEMAS_NOTE),
    PrivilegeRow("DATABASE", "UPDATE", "approximated", {**_each(_RELATIONS, ("UPDATE",)), "sequence": ("USAGE",)},
                 note=f"{FUTURE_SCHEMAS_NOTE} {_SEQUENCE_UPDATE_NOTE}"),
    PrivilegeRow("DATABASE", "DELETE", "approximated", _each(_RELATIONS, ("DELETE",)), note=FUTURE_SCHEMAS_NOTE),
    PrivilegeRow("DATABASE", "REFERENCES", "approximated", _each(_RELATIONS, ("REFERENCES",)), note=FUTURE_SCHEMAS_NOTE),
    PrivilegeRow("DATABASE", "EXECUTE", "approximated", _ROUTINES, note=f"{_EXECUTE_WIDE_NOTE} {FUTURE_SCHEMAS_NOTE}"),
    PrivilegeRow("DATABASE", "CREATE SCHEMA", "mapped", {"database": ("CREATE",)}),
    PrivilegeRow("DATABASE", "CREATE TABLE", "not_applicable", note=_CREATE_NOTE),
    PrivilegeRow("DATABASE", "CREATE VIEW", "not_applicable", note=_CREATE_NOTE),
    PrivilegeRow("DATABASE", "CREATE PROCEDURE", "not_applicable", note=_CREATE_NOTE),
    PrivilegeRow("DATABASE", "CREATE FUNCTION", "not_applicable", note=_CREATE_NOTE),
    PrivilegeRow("DATABASE", "CREATE TYPE", "not_applicable", note=_CREATE_NOTE),
    PrivilegeRow("DATABASE", "ALTER ANY SCHEMA", "approximated", SCHEMA_CREATOR, note=_ALTER_SCHEMAS_NOTE),
    PrivilegeRow("DATABASE", "ALTER", "approximated", SCHEMA_CREATOR, note=_ALTER_SCHEMAS_NOTE),
    PrivilegeRow("DATABASE", "VIEW DEFINITION", "not_applicable", note=DEFINITION_NOTE, everyone=True, shown=DEFINITIONS_SHOWN),
    PrivilegeRow("DATABASE", "VIEW SECURITY DEFINITION", "not_applicable", note=SECURITY_DEFINITION_NOTE, everyone=True, shown=SECURITY_SHOWN),
    PrivilegeRow("DATABASE", "VIEW PERFORMANCE DEFINITION", "not_applicable", note=PERFORMANCE_DEFINITION_NOTE, everyone=True),
    PrivilegeRow("DATABASE", "VIEW DATABASE STATE", "approximated", role="pg_read_all_stats",
                 note="Database DMVs → pg_read_all_stats, which is cluster-wide: it reads the statistics and the query text of every database's sessions, not this database's only."),
    PrivilegeRow("DATABASE", "SHOWPLAN", "not_applicable", note="EXPLAIN needs no privilege beyond access to the objects."),
    PrivilegeRow("DATABASE", "CONTROL", "overgrant", note="db_owner equivalent; see the over-grant modes."),
    PrivilegeRow("DATABASE", "ALTER ANY USER", "overgrant", note="Principal administration; CREATEROLE only in faithful mode."),
    PrivilegeRow("DATABASE", "ALTER ANY ROLE", "overgrant", note="Principal administration; CREATEROLE only in faithful mode."),
    PrivilegeRow("DATABASE", "ALTER ANY APPLICATION ROLE", "overgrant", note="Principal administration."),
    # --- server
    PrivilegeRow("SERVER", "VIEW SERVER STATE", "mapped", role="pg_read_all_stats", note="Server DMVs → pg_stat_* views."),
    PrivilegeRow("SERVER", "VIEW SERVER PERFORMANCE STATE", "mapped", role="pg_read_all_stats"),
    PrivilegeRow("SERVER", "ALTER ANY CONNECTION", "mapped", role="pg_signal_backend", note="KILL → pg_cancel_backend / pg_terminate_backend."),
    PrivilegeRow("SERVER", "CREATE ANY DATABASE", "mapped", attribute="CREATEDB"),
    PrivilegeRow("SERVER", "VIEW ANY DEFINITION", "not_applicable", note=DEFINITION_NOTE, everyone=True, shown=DEFINITIONS_SHOWN),
    PrivilegeRow("SERVER", "VIEW ANY DATABASE", "not_applicable", note=f"PostgreSQL shows every role {DATABASES_SHOWN}: the grantee needs nothing, and a DENY of it cannot be carried (GB022).", everyone=True, shown=DATABASES_SHOWN),
    # SQL Server 2022 splits VIEW ANY DEFINITION ("Server-level roles": ##MS_DefinitionReader##
    # holds all four); PostgreSQL hides neither kind of definition from any role
    PrivilegeRow("SERVER", "VIEW ANY SECURITY DEFINITION", "not_applicable", note=SECURITY_DEFINITION_NOTE, everyone=True, shown=SECURITY_SHOWN),
    PrivilegeRow("SERVER", "VIEW ANY PERFORMANCE DEFINITION", "not_applicable", note=PERFORMANCE_DEFINITION_NOTE, everyone=True),
    PrivilegeRow("SERVER", "CONNECT SQL", "not_applicable", note="The LOGIN attribute of the role."),
    PrivilegeRow("SERVER", "CONNECT ANY DATABASE", "approximated", note="CONNECT (and TEMPORARY) on each migrated database SQL Server lets the login into; a database created later needs its own grant."),
    PrivilegeRow("SERVER", "SELECT ALL USER SECURABLES", "approximated", note="Membership in the db_datareader role of each migrated database the login may enter, except where a DENY takes SELECT away; a database or schema created later is not covered."),
    PrivilegeRow("SERVER", "CONTROL SERVER", "overgrant", note="sysadmin equivalent; rds_superuser in faithful mode (plain PostgreSQL: CREATEDB, CREATEROLE, pg_monitor, pg_signal_backend)."),
    PrivilegeRow("SERVER", "ALTER ANY LOGIN", "overgrant", note="Login administration; CREATEROLE only in faithful mode."),
    PrivilegeRow("SERVER", "IMPERSONATE ANY LOGIN", "overgrant", note="Impersonation of every login."),
    # principals' metadata (LOGIN and SERVER ROLE on the server, the others in a database)
    *(PrivilegeRow(cls, "VIEW DEFINITION", "not_applicable", note=PRINCIPAL_DEFINITION_NOTE, everyone=True, shown=PRINCIPALS_SHOWN)
      for cls in ("LOGIN", "SERVER ROLE", "USER", "ROLE", "APPLICATION ROLE")),
    PrivilegeRow("LOGIN", "IMPERSONATE", "overgrant", note="SET ROLE to the login's role (membership WITH INHERIT FALSE) in faithful mode."),
    PrivilegeRow("USER", "IMPERSONATE", "overgrant", note="SET ROLE to the user's role (membership WITH INHERIT FALSE) in faithful mode."),
)
# fmt: on

#: Default for every other pair of a class, with the reason.
_CLASS_DEFAULTS: Mapping[str, tuple[Outcome, str]] = {
    "SERVER": (
        "not_applicable",
        "Server administration stays with the target's administrator (a superuser on "
        "PostgreSQL; the master user and AWS APIs on RDS / Aurora).",
    ),
    "DATABASE": (
        "not_applicable",
        "Database administration stays with the owner role and deployments.",
    ),
    "SCHEMA": ("approximated", "No schema-level equivalent; schema owners keep this capability."),
    "OBJECT": ("not_applicable", "No PostgreSQL privilege corresponds."),
    "TYPE": ("not_applicable", "No PostgreSQL privilege corresponds."),
}
_OTHER_CLASS: tuple[Outcome, str] = (
    "not_applicable",
    "This securable class has no PostgreSQL counterpart.",
)


def _build() -> Mapping[tuple[str, str], PrivilegeRow]:
    table: dict[tuple[str, str], PrivilegeRow] = {}
    for row in _ROWS:
        pair = (row.securable_class, row.permission)
        if pair in table:
            raise ValueError(f"privilege mapping row {pair!r} is defined twice")
        if CATALOG.get(*pair) is None:
            raise ValueError(f"privilege mapping row {pair!r} is not a SQL Server permission")
        table[pair] = row
    for builtin in CATALOG.rows:
        pair = (builtin.securable_class, builtin.permission)
        outcome, note = _CLASS_DEFAULTS.get(pair[0], _OTHER_CLASS)
        table.setdefault(pair, PrivilegeRow(*pair, outcome, note=note))
    return dict(sorted(table.items()))


TABLE: Mapping[tuple[str, str], PrivilegeRow] = _build()


#: The database permissions that, with ALTER on a schema, let a principal create objects in it
#: ("CREATE TABLE (Transact-SQL)", Permissions: "Requires CREATE TABLE permission in the
#: database and ALTER permission on the schema in which the table is being created"; likewise
#: CREATE VIEW, PROCEDURE, FUNCTION and TYPE).
CREATE_IN_SCHEMA = ("CREATE TABLE", "CREATE VIEW", "CREATE PROCEDURE", "CREATE FUNCTION",
                    "CREATE TYPE")  # fmt: skip

#: ALTER on a schema held without any of :data:`CREATE_IN_SCHEMA`: it lets the grantee truncate
#: the schema's tables and create triggers on them (carried), alter and drop its objects (which
#: PostgreSQL reserves to their owners), and create nothing.
SCHEMA_ALTER_ALONE = PrivilegeRow(
    "SCHEMA", "ALTER", "approximated", ALTERED,
    note="ALTER on a schema without CREATE TABLE/VIEW/PROCEDURE/FUNCTION/TYPE in the database "
    "creates nothing in SQL Server, so no CREATE on the schema is granted. " + ALTER_IN_SCHEMA_NOTE,
)  # fmt: skip


def lookup(securable_class: str, permission: str) -> PrivilegeRow:
    """The mapping row of a pair; a pair SQL Server does not define is not_applicable."""
    row = TABLE.get((securable_class, permission))
    if row is None:  # made only when needed: the planner looks up every permission row twice
        row = PrivilegeRow(
            securable_class, permission, "not_applicable", note="Unknown permission."
        )
    return row


def render_markdown() -> str:
    """``docs/mapping.md``: the table (generated; do not edit by hand)."""
    lines = [
        "# SQL Server → PostgreSQL privilege mapping",
        "",
        "<!-- Generated from mapper/privileges.py by `python -m mapper.privileges`; do not edit. -->",
        "",
        "| Class | Permission | Outcome | PostgreSQL | Note |",
        "|---|---|---|---|---|",
    ]
    for row in TABLE.values():
        lines.append(
            f"| {row.securable_class} | {row.permission} | {row.outcome} | {_target(row)} "
            f"| {row.note} |"
        )
    return "\n".join(lines) + "\n"


def _target(row: PrivilegeRow) -> str:
    parts = [f"{kind}: {', '.join(privs)}" for kind, privs in row.privileges.items()]
    parts += [f"member of {row.role}"] if row.role else []
    parts += [row.attribute] if row.attribute else []
    return "; ".join(parts) or "—"


if __name__ == "__main__":  # pragma: no cover - doc generation entry point
    print(render_markdown(), end="")
