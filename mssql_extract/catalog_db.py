"""Catalog rows of one database → :class:`Database` (see :mod:`mssql_extract.catalog`).

:func:`convert_database` assembles a database from its converters: principals, memberships and
permissions (:mod:`mssql_extract.catalog_db_principals`); schemas, objects, security policies and
masked columns (:mod:`mssql_extract.catalog_db_objects`), both reading through one
:class:`~mssql_extract.catalog_db_index.DatabaseIndex`; and its audit specifications
(:func:`audit_specifications`, which the server's audit specifications use too).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from mssql_extract.catalog_db_index import DatabaseIndex, Row
from mssql_extract.catalog_db_objects import (
    read_masked_columns,
    read_objects,
    read_policies,
    read_schemas,
)
from mssql_extract.catalog_db_principals import (
    is_guest_enabled,
    read_memberships,
    read_permissions,
    read_principals,
    referenced_ids,
)
from mssql_extract.catalog_rows import Source, as_bool, as_hex, as_str
from mssql_extract.snapshot import (
    AuditAction,
    AuditSpecification,
    Database,
    Skipped,
    SourceRef,
    one_per_grantor_merged,
)


def audit_specifications(
    rows: list[Row], level: str, ref: Any, principal: Any
) -> list[AuditSpecification]:
    """Group audit specification rows (one per action) by specification."""
    specs: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        specs[str(row["name"])].append(row)
    return [
        AuditSpecification(
            name=name,
            level=level,
            audit_name=as_str(group[0].get("audit_name")),
            enabled=as_bool(group[0].get("is_state_enabled")),
            actions=tuple(
                AuditAction(
                    action=r["audit_action_name"],
                    securable_class=as_str(r.get("class_desc")),
                    principal=principal(r.get("audited_principal_id")),
                )
                for r in group
                if r.get("audit_action_name")
            ),
            source_ref=ref(name),
        )
        for name, group in specs.items()
    ]


def convert_database(
    src: Source,
    row: Row,
    logins_by_sid: Mapping[str, str] | None,
    ref: SourceRef,
    skipped: list[Skipped],
) -> Database:
    """One database's rows (``src``) plus its ``sys.databases`` row → :class:`Database`.

    ``logins_by_sid`` is None when the server's logins were not read (Azure SQL Database):
    users then name no login and none is called orphaned. Rows that cannot be read are
    appended to ``skipped``.
    """
    db = DatabaseIndex(src, skipped)
    users, roles, app_roles = read_principals(db, logins_by_sid, referenced_ids(db))
    owner_sid = as_hex(row.get("owner_sid"))
    owner = logins_by_sid.get(owner_sid) if owner_sid and logins_by_sid is not None else None
    audits = audit_specifications(
        list(src.rows("database_audit_specifications")), "DATABASE",
        lambda name: db.ref("sys.database_audit_specifications", f"name={name}"), db.name,
    )  # fmt: skip
    return Database(
        name=row["name"],
        owner=owner,
        owner_sid=owner_sid,
        trustworthy=as_bool(row.get("is_trustworthy_on")),
        db_chaining=as_bool(row.get("is_db_chaining_on")),
        containment="PARTIAL" if int(row.get("containment") or 0) == 1 else "NONE",
        collation=as_str(row.get("collation_name")),
        state=as_str(row.get("state_desc")) or "ONLINE",
        guest_enabled=is_guest_enabled(db),
        users=tuple(users),
        roles=tuple(roles),
        application_roles=tuple(app_roles),
        memberships=tuple(read_memberships(db)),
        permissions=tuple(one_per_grantor_merged(read_permissions(db))),
        schemas=tuple(read_schemas(db)),
        objects=tuple(read_objects(db)),
        security_policies=tuple(read_policies(db)),
        masked_columns=tuple(read_masked_columns(db)),
        audit_specifications=tuple(audits),
        source_ref=ref,
    )
