"""Small accessors over snapshots for the T-SQL extractor tests."""

from __future__ import annotations

from mssql_extract.snapshot import Database, Permission, SecuritySnapshot
from mssql_extract.tsql import parse_text


def snap(sql: str, **kwargs: object) -> SecuritySnapshot:
    return parse_text(sql, "t.sql", **kwargs)  # type: ignore[arg-type]


def db(snapshot: SecuritySnapshot, name: str = "d") -> Database:
    found = snapshot.database(name)
    assert found is not None, f"no database {name}"
    return found


def perms(snapshot: SecuritySnapshot, name: str | None = "d") -> set[tuple[object, ...]]:
    """(class, schema, object, column, permission, state, grantee) of a scope's permissions."""
    rows: tuple[Permission, ...] = (
        snapshot.server_permissions if name is None else db(snapshot, name).permissions
    )
    return {
        (p.securable_class, p.schema_name, p.object_name, p.column_name, p.permission,
         p.state.value, p.grantee)
        for p in rows
    }  # fmt: skip
