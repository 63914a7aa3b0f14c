"""Fixed server and database roles as permission sets.

Sources: ``mapper/data/fixed_database_roles.csv`` ("Database-level roles") and
``mapper/data/fixed_server_roles.csv`` ("Server-level roles", incl. the SQL Server 2022
``##MS_…##`` roles); see ``mapper/data/PROVENANCE.md``.

What is kept from the files, and why:

* rows whose state is GRANT, GRANT_WITH_GRANT_OPTION or DENY on a permission SQL Server defines
  (db_denydatareader is ``DENY SELECT ON DATABASE``, db_owner ``CONTROL`` on the database, …);
* not the ``public`` defaults ("GRANT (default, revocable)": VIEW ANY DATABASE, VIEW ANY COLUMN …
  KEY DEFINITION, SELECT on system tables): they are ordinary revocable permission rows, and a
  snapshot read from a server records them when they are still in place;
* not the CONNECT rows annotated "All roles (including the public role) have the CONNECT
  permissions": CONNECT is granted to each *user* when it is created, not through roles, and
  modelling it on ``public`` would let ``guest`` connect when it must not (only
  db_accessadmin's CONNECT WITH GRANT OPTION is a real role permission).

Bypass semantics that are not permissions (sysadmin members cannot be denied and enter every
database as dbo) live in :mod:`mapper.effective`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from importlib.resources import files

from mapper.permissions import CATALOG
from mssql_extract.snapshot import Permission, PermissionState, SourceRef, fold

DATABASE_FILE = "fixed_database_roles.csv"
SERVER_FILE = "fixed_server_roles.csv"

_STATES: Mapping[str, PermissionState] = {
    "GRANT": PermissionState.GRANT,
    "GRANT_WITH_GRANT_OPTION": PermissionState.GRANT_WITH_GRANT_OPTION,
    "DENY": PermissionState.DENY,
}
_ROLE_CONNECT_NOTE = "All roles (including the public role) have the CONNECT"

SYSADMIN = "sysadmin"
DB_OWNER = "db_owner"
PUBLIC = "public"


@dataclass(frozen=True)
class FixedGrant:
    """One permission of a fixed role: on the SERVER or on the DATABASE it lives in."""

    role: str
    securable_class: str  # "SERVER" or "DATABASE"
    permission: str
    state: PermissionState
    line: int  # line in the data file, for the source reference

    @property
    def source_file(self) -> str:
        return f"mapper/data/{SERVER_FILE if self.securable_class == 'SERVER' else DATABASE_FILE}"


def _rows(name: str) -> Iterator[tuple[int, dict[str, str]]]:
    text = (files("mapper") / "data" / name).read_text(encoding="utf-8")
    # line 1 is the header, so the first data row is line 2 (no field spans lines)
    yield from enumerate(csv.DictReader(io.StringIO(text, newline="")), start=2)


def _keep(securable_class: str, permission: str, state: str, notes: str) -> bool:
    if state not in _STATES or CATALOG.get(securable_class, permission) is None:
        return False
    return not (permission == "CONNECT" and _ROLE_CONNECT_NOTE in notes)


@cache
def database_role_grants() -> tuple[FixedGrant, ...]:
    """The permissions of the fixed database roles, in file order."""
    return tuple(
        FixedGrant(row["role"], "DATABASE", row["permission"], _STATES[row["state"]], line)
        for line, row in _rows(DATABASE_FILE)
        if row["scope"] == "DATABASE"
        and _keep("DATABASE", row["permission"], row["state"], row["notes"])
    )


@cache
def server_role_grants() -> tuple[FixedGrant, ...]:
    """The permissions of the fixed server roles, in file order."""
    return tuple(
        FixedGrant(row["role"], "SERVER", row["server_permission"], _STATES[row["state"]], line)
        for line, row in _rows(SERVER_FILE)
        if _keep("SERVER", row["server_permission"], row["state"], row["notes"])
    )


def server_role_permissions(role: str) -> tuple[str, ...]:
    """The server permissions a fixed server role grants its members, in file order (none for
    a role that is not a fixed server role, and for ``public``, whose defaults are not kept)."""
    return tuple(
        g.permission for g in server_role_grants()
        if fold(g.role) == fold(role) and g.state != PermissionState.DENY
    )  # fmt: skip


@cache
def fixed_database_roles() -> tuple[str, ...]:
    """Names of the fixed database roles (``public`` included), sorted."""
    return tuple(sorted({row["role"] for _, row in _rows(DATABASE_FILE)}))


@cache
def fixed_server_roles() -> tuple[str, ...]:
    """Names of the fixed server roles (``public`` and ``##MS_…##`` included), sorted."""
    return tuple(sorted({row["role"] for _, row in _rows(SERVER_FILE)}))


@cache
def server_inherited_database_permissions() -> Mapping[str, tuple[str, ...]]:
    """Per 2022 fixed server role, the database permissions the doc says its members get."""
    found: dict[str, set[str]] = {}
    for _, row in _rows(SERVER_FILE):
        inherited = row["database_level_permissions_inherited"]
        if inherited and inherited != "N/A":
            found.setdefault(row["role"], set()).update(p.strip() for p in inherited.split(";"))
    return {role: tuple(sorted(perms)) for role, perms in found.items()}


def as_permission(grant: FixedGrant) -> Permission:
    """The fixed-role grant as a snapshot :class:`Permission` row (for explain() paths)."""
    return Permission(
        securable_class="SERVER" if grant.securable_class == "SERVER" else "DATABASE",
        permission=grant.permission,
        state=grant.state,
        grantee=grant.role,
        grantor=None,
        source_ref=SourceRef(origin=grant.source_file, line=grant.line, key=grant.role),
    )
