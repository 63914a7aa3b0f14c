"""Catalog rows are checked before they are converted: a bad row is an input error saying where.

The rows come from pyodbc or from the extraction script's JSON document, which a DBA may have
edited or built by hand. :data:`COLUMNS` lists, per section (one per query of
:mod:`mssql_extract.queries`), the columns the converters read and what each must hold. A
missing column, a NULL where the catalog view never has one, a value of the wrong type or
outside its documented codes, or a ``schema_id`` naming no schema of the database stops the
extraction with one line (exit 2, DESIGN §6) naming the file, the section, the row (numbered
from 1 in the section's order) and the column::

    result.json [Sales.database_permissions row 98]: column 'class' of
    sys.database_permissions is NULL; it must be an integer

Principal ids that name no principal are not errors: the converters record such rows as
skipped (the extracting login may not see every principal), see :mod:`mssql_extract.catalog`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from grantbridge.errors import ExtractError, Location
from mssql_extract.catalog_rows import Rows
from mssql_extract.snapshot import AuthenticationType

_INT_TEXT = re.compile(r"-?\d+")


def _is_int(value: Any) -> bool:
    if isinstance(value, str):  # the converters use int(), which takes "12" as well
        return _INT_TEXT.fullmatch(value.strip()) is not None
    return isinstance(value, int) and not isinstance(value, bool)


def _is_bit(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"0", "1", "true", "false"}
    return isinstance(value, bool) or value in (0, 1)


@dataclass(frozen=True)
class Column:
    """What one column must hold: ``what`` for the message, a test, and its codes if any."""

    what: str
    accepts: Callable[[Any], bool]
    nullable: bool = False  # NULL or absent (the converters read it with a default)
    codes: frozenset[str] | None = None

    @property
    def or_null(self) -> Column:
        return replace(self, nullable=True)

    def of(self, *codes: str) -> Column:
        """The same column restricted to documented codes (compared without padding)."""
        return replace(self, codes=frozenset(codes))

    def problem(self, value: Any) -> str | None:
        """Why ``value`` does not fit, or None."""
        if value is None:
            return None if self.nullable else f"is NULL; it must be {self.what}"
        if not self.accepts(value):
            return f"holds {value!r}, not {self.what}"
        if self.codes is not None and str(value).strip() not in self.codes:
            return f"holds {value!r}, not one of {', '.join(sorted(self.codes))}"
        return None


INT = Column("an integer", _is_int)
STR = Column("a string", lambda v: isinstance(v, str))
BIT = Column("a bit (true, false, 0 or 1)", _is_bit)
HEX = Column("0x… hex text or bytes", lambda v: isinstance(v, str | bytes | bytearray))

#: sys.*_permissions.state: D, R, G, W (catalog_views.json, sys.database_permissions.state).
_STATE = STR.of("D", "R", "G", "W")
_GRANT_ROW = {
    "class": INT, "class_desc": STR.or_null, "major_id": INT, "grantee_principal_id": INT,
    "grantor_principal_id": INT.or_null, "type": STR, "permission_name": STR, "state": _STATE,
    "securable_name": STR.or_null,
}  # fmt: skip
_AUDIT = {
    "name": STR, "audit_name": STR.or_null, "is_state_enabled": BIT.or_null,
    "audit_action_name": STR.or_null, "class_desc": STR.or_null,
    "audited_principal_id": INT.or_null,
}  # fmt: skip
_OWNED = {"name": STR, "schema_id": INT, "principal_id": INT.or_null}

#: Per section, the columns the converters read (catalog_views.json gives the types and codes).
COLUMNS: Mapping[str, Mapping[str, Column]] = {
    "server_properties": {
        "server_name": STR.or_null, "product_version": STR.or_null, "edition": STR.or_null,
        "collation": STR.or_null, "is_integrated_security_only": BIT.or_null,
        "engine_edition": INT.or_null,
    },
    "server_configurations": {"configuration_id": INT, "name": STR, "value_in_use": INT.or_null},
    "server_principals": {
        "name": STR, "principal_id": INT, "type": STR, "sid": HEX.or_null,
        "is_disabled": BIT.or_null, "default_database_name": STR.or_null,
        "default_language_name": STR.or_null, "credential_name": STR.or_null,
        "owning_principal_id": INT.or_null, "is_fixed_role": BIT.or_null,
    },
    "sql_logins": {
        "principal_id": INT, "is_policy_checked": BIT.or_null,
        "is_expiration_checked": BIT.or_null, "is_must_change": BIT.or_null,
    },
    "server_role_members": {"role_principal_id": INT, "member_principal_id": INT},
    "server_permissions": _GRANT_ROW,
    "databases": {
        "name": STR, "database_id": INT, "owner_sid": HEX.or_null,
        "is_trustworthy_on": BIT.or_null, "is_db_chaining_on": BIT.or_null,
        "containment": INT.or_null, "collation_name": STR.or_null, "state_desc": STR.or_null,
        "has_dbaccess": BIT.or_null,
    },
    "server_audit_specifications": _AUDIT,
    "database_principals": {
        "name": STR, "principal_id": INT, "type": STR, "sid": HEX.or_null,
        "default_schema_name": STR.or_null, "owning_principal_id": INT.or_null,
        "is_fixed_role": BIT.or_null,
        "authentication_type_desc": STR.or_null.of(*AuthenticationType),
        # 0 None, 1 Instance, 2 Database, 3 Windows, 4 Entra (catalog_views.json)
        "authentication_type": INT.or_null.of("0", "1", "2", "3", "4"),
    },
    "database_role_members": {"role_principal_id": INT, "member_principal_id": INT},
    "database_permissions": {
        **_GRANT_ROW, "minor_id": INT, "securable_schema_name": STR.or_null,
        "column_name": STR.or_null,
    },
    "schemas": {"name": STR, "schema_id": INT, "principal_id": INT.or_null},
    "objects": {**_OWNED, "object_id": INT, "type": STR},
    "types": {**_OWNED, "user_type_id": INT},
    "columns": {"object_id": INT, "column_id": INT, "name": STR},
    "synonyms": {"object_id": INT, "base_object_name": STR.or_null},
    "default_constraints": {
        "parent_object_id": INT, "parent_column_id": INT, "definition": STR.or_null,
    },
    "sql_modules": {
        "object_id": INT, "execute_as_principal_id": INT.or_null, "definition": STR.or_null,
    },
    "security_policies": {"name": STR, "object_id": INT, "schema_id": INT, "is_enabled": BIT.or_null},
    "security_predicates": {
        "object_id": INT, "target_object_id": INT,
        "predicate_type_desc": STR.of("FILTER", "BLOCK"), "predicate_definition": STR,
        "operation_desc": STR.or_null.of(
            "", "AFTER INSERT", "AFTER UPDATE", "BEFORE UPDATE", "BEFORE DELETE"
        ),
    },
    "masked_columns": {
        "object_id": INT, "column_id": INT, "name": STR, "masking_function": STR,
        "is_masked": BIT.or_null,
    },
    "database_audit_specifications": _AUDIT,
}  # fmt: skip

#: Sections whose ``schema_id`` must name a row of the database's ``schemas``.
_IN_A_SCHEMA = ("objects", "types", "security_policies")

#: The catalog view behind each section, for messages (``sys.<section>`` otherwise).
_VIEWS = {"server_properties": "SERVERPROPERTY()"}


def view_of(section: str) -> str:
    """The catalog view a section's rows come from."""
    return _VIEWS.get(section, f"sys.{section}")


def _fail(origin: str | None, where: str, number: int, message: str) -> ExtractError:
    return ExtractError(message, Location(origin, key=f"{where} row {number}"))


def check_section(section: str, rows: Rows, where: str, origin: str | None) -> None:
    """Check every row of one section (``where`` names it: ``Sales.objects``).

    Raises:
        ExtractError: the first bad row, with the file, section, row number and column.
    """
    columns = COLUMNS.get(section, {})
    for number, row in enumerate(rows, 1):
        if not isinstance(row, Mapping):
            raise _fail(origin, where, number, f"the row is {type(row).__name__}, not an object")
        for name, column in columns.items():
            if name in row:
                problem = column.problem(row[name])
            else:
                problem = None if column.nullable else "is missing"
            if problem is not None:
                message = f"column {name!r} of {view_of(section)} {problem}"
                raise _fail(origin, where, number, message)


def _check_schema_ids(database: str, queries: Mapping[str, Rows], origin: str | None) -> None:
    schemas = {int(r["schema_id"]) for r in queries.get("schemas", ())}
    for section in _IN_A_SCHEMA:
        for number, row in enumerate(queries.get(section, ()), 1):
            if int(row["schema_id"]) not in schemas:
                raise _fail(
                    origin, f"{database}.{section}", number,
                    f"column 'schema_id' of {view_of(section)} holds {row['schema_id']!r}, "
                    f"which no row of {database}.schemas has",
                )  # fmt: skip


def check_rows(
    server: Mapping[str, Rows], databases: Mapping[str, Mapping[str, Rows]], origin: str | None
) -> None:
    """Check the server's and every database's rows (see the module docstring).

    Raises:
        ExtractError: the first bad row; ``origin`` (the file, if any) is its location's file.
    """
    for section, rows in server.items():
        check_section(section, rows, section, origin)
    for database, queries in databases.items():
        for section, rows in queries.items():
            check_section(section, rows, f"{database}.{section}", origin)
        _check_schema_ids(database, queries, origin)
