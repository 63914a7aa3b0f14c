"""Small helpers for reading catalog rows whatever produced them (pyodbc or FOR JSON)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mssql_extract.queries import AZURE_SQL_DATABASE_EDITION
from mssql_extract.snapshot import PermissionState, Skipped, SourceRef

Rows = Sequence[Mapping[str, Any]]

#: sys.*_permissions.state → PermissionState; "R" (revoke) rows are not facts.
_STATES: dict[str, PermissionState] = {
    "G": PermissionState.GRANT,
    "W": PermissionState.GRANT_WITH_GRANT_OPTION,
    "D": PermissionState.DENY,
}


@dataclass(frozen=True)
class Source:
    """The rows of one scope (server or one database) and how to cite them."""

    queries: Mapping[str, Rows]
    origin_prefix: str = ""
    database: str | None = None

    def rows(self, query: str) -> Rows:
        """Rows of ``query``; a query that returned nothing may be absent."""
        return self.queries.get(query, ())

    def section(self, query: str) -> str:
        """How errors name the rows of ``query``: ``server_permissions``, ``Sales.objects``."""
        return f"{self.database}.{query}" if self.database else query

    def ref(self, view: str, key: str) -> SourceRef:
        """A source reference such as ``sys.database_permissions[Sales:class=1,…]``."""
        scoped = f"{self.database}:{key}" if self.database else key
        return SourceRef(origin=f"{self.origin_prefix}{view}", key=scoped)


def as_bool(value: Any) -> bool:
    """A bit column: pyodbc gives bool, FOR JSON gives true/false, some drivers 0/1."""
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true"}
    return bool(value)


def as_str(value: Any) -> str | None:
    """An nvarchar column, None for NULL."""
    return None if value is None else str(value)


def as_hex(value: Any) -> str | None:
    """A varbinary column as ``0x…`` upper-case hex (queries already convert with style 1)."""
    if value is None:
        return None
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex().upper()
    text = str(value)
    return "0x" + text[2:].upper() if text[:2].lower() == "0x" else text.upper()


def by_id(rows: Rows, column: str) -> dict[int, Mapping[str, Any]]:
    """Index rows by an integer id column."""
    return {int(row[column]): row for row in rows}


def lookup(principals: Mapping[int, Mapping[str, Any]], pid: Any) -> str | None:
    """The name of principal ``pid``, None when NULL or unknown."""
    if pid is None:
        return None
    row = principals.get(int(pid))
    return None if row is None else str(row["name"])


def permission_state(value: Any) -> PermissionState | None:
    """``state`` as a PermissionState; None for REVOKE rows (never facts)."""
    return _STATES.get(str(value).strip())


def permission_text(row: Mapping[str, Any], state: PermissionState, grantee: str) -> str:
    """A permission row in words, for a skipped entry: ``DENY SELECT TO [sales_staff]``."""
    verb = {PermissionState.DENY: "DENY"}.get(state, "GRANT")
    return f"{verb} {row['permission_name']} TO [{grantee}]"


def is_internal_login(name: str) -> bool:
    """``##MS_…##`` logins are created by SQL Server setup for internal signing and policy."""
    return name.startswith("##") and name.endswith("##")


def unknown_ids(principals: Mapping[int, Mapping[str, Any]], **ids: Any) -> dict[str, int]:
    """The ids among ``ids`` (role=…, member=…) that are not NULL and name no principal."""
    return {
        what: int(pid)
        for what, pid in ids.items()
        if pid is not None and int(pid) not in principals
    }


def unknown_principal(ref: SourceRef, view: str, missing: Mapping[str, int]) -> Skipped:
    """A row naming a principal its principals view does not list: recorded, never dropped.

    A capture can hold such a row when the extracting login may not see every principal
    (metadata visibility) or when the views were read at different moments.
    """
    names = " and ".join(f"{what} principal_id {pid}" for what, pid in missing.items())
    verb = "are" if len(missing) > 1 else "is"
    return Skipped(kind="row", reason=f"{names} {verb} not in {view}", source_ref=ref)


def is_azure_sql_database(server_properties: Rows) -> bool:
    """Whether the ``server_properties`` row says Azure SQL Database (EngineEdition 5)."""
    edition = server_properties[0].get("engine_edition") if server_properties else None
    return edition is not None and int(edition) == AZURE_SQL_DATABASE_EDITION
