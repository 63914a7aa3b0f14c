"""Small helpers for reading catalog rows whatever produced them (pyodbc or FOR JSON)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mssql_extract.snapshot import PermissionState, SourceRef

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


def is_internal_login(name: str) -> bool:
    """``##MS_…##`` logins are created by SQL Server setup for internal signing and policy."""
    return name.startswith("##") and name.endswith("##")
