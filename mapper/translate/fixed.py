"""Fixed database roles → per-database NOLOGIN roles with the equivalent explicit grants.

``db_datareader`` becomes ``<database>_db_datareader`` holding SELECT on every table, view and
sequence plus default privileges, so the plan says exactly what the role contains (fixed role
permissions: mapper/data/fixed_database_roles.csv, "Database-level roles"). db_owner and the
administration roles are over-grants (:mod:`mapper.translate.overgrants`); the deny roles are
DENYs (:mod:`mapper.translate.deny`).
"""

from __future__ import annotations

from collections.abc import Mapping

from mapper.plan import RoleKind
from mapper.privileges import lookup
from mapper.translate.grants import Target, expand
from mapper.translate.state import PlanState
from mssql_extract.snapshot import Database, fold

#: Fixed role → the DATABASE-level permissions it stands for (db_datareader = SELECT on the
#: database, db_datawriter = INSERT, UPDATE, DELETE on the database: fixed_database_roles.csv).
EQUIVALENT: Mapping[str, tuple[str, ...]] = {
    "db_datareader": ("SELECT",),
    "db_datawriter": ("INSERT", "UPDATE", "DELETE"),
    # downscoped db_owner: DML, sequences and EXECUTE; no DDL, ownership or role administration
    "db_owner": ("SELECT", "INSERT", "UPDATE", "DELETE", "EXECUTE"),
}
DENY_ROLES: Mapping[str, tuple[str, ...]] = {
    "db_denydatareader": ("SELECT",),
    "db_denydatawriter": ("INSERT", "UPDATE", "DELETE"),
}
OVERGRANT_ROLES: Mapping[str, str] = {
    "db_owner": "GB001",
    "db_securityadmin": "GB005",
    "db_accessadmin": "GB005",
    "db_ddladmin": "GB043",
    "db_backupoperator": "GB043",
}


def fixed_role(state: PlanState, db: Database, role: str, fact: str) -> str | None:
    """The NOLOGIN role standing for a fixed role with explicit grants, made on first use."""
    permissions = EQUIVALENT.get(fold(role))
    if permissions is None:
        return None
    existing = state.role_of(db.name, role)
    if existing is not None:
        return existing
    name = state.names.database_principal(db.name, fold(role), "fixed role", always_prefixed=True)
    comment = f"{role} equivalent: {', '.join(permissions)} on every object of the database"
    if fold(role) == "db_owner":
        comment = "db_owner downscoped: " + comment + "; no DDL, ownership or role administration"
    state.role(name, RoleKind.GROUP, source=f"fixed role [{db.name}].[{role}]", comment=comment)
    state.roles[name].facts.add(fact)
    state.bind(db.name, role, name)
    for permission in permissions:
        items = expand(state, db, name, Target("DATABASE"), lookup("DATABASE", permission)) or []
        state.add_all(items, fact)
    return name
