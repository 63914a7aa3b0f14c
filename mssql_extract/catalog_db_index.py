"""Indexes over one database's catalog rows, shared by the converters of that database.

:class:`DatabaseIndex` holds one database's rows (a :class:`~mssql_extract.catalog_rows.Source`)
indexed by id — principals, schemas, objects, columns, and who holds CONNECT — and the list the
rows that cannot be read are recorded in (``skipped``): the principal, schema and object
converters (:mod:`mssql_extract.catalog_db_principals`, :mod:`mssql_extract.catalog_db_objects`)
resolve ids through it, and an id that names nothing becomes a skipped row, never a crash.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from mssql_extract.catalog_rows import (
    Source,
    by_id,
    lookup,
    permission_state,
    unknown_ids,
    unknown_principal,
)
from mssql_extract.snapshot import Skipped, SourceRef

Row = Mapping[str, Any]


class DatabaseIndex:
    """Indexes over one database's rows, and the list its unread rows are recorded in."""

    def __init__(self, src: Source, skipped: list[Skipped]) -> None:
        self.src = src
        self.skipped = skipped
        self.principals = by_id(src.rows("database_principals"), "principal_id")
        self.schemas = by_id(src.rows("schemas"), "schema_id")
        self.objects = by_id(src.rows("objects"), "object_id")
        self.columns: dict[int, list[Row]] = defaultdict(list)
        for row in src.rows("columns"):
            self.columns[int(row["object_id"])].append(row)
        #: principals holding CONNECT on the database, granted or denied: CREATE USER grants it
        #: ("CREATE USER": the new user gets CONNECT), so a user without the row had it revoked
        self.connects = {
            int(row["grantee_principal_id"]) for row in src.rows("database_permissions")
            if int(row["class"]) == 0 and str(row["permission_name"]) == "CONNECT"
            and permission_state(row["state"]) is not None
        }  # fmt: skip

    def name(self, pid: Any) -> str | None:
        return lookup(self.principals, pid)

    def schema_name(self, schema_id: Any) -> str:
        return str(self.schemas[int(schema_id)]["name"])

    def object_names(self, object_id: Any) -> tuple[str, str] | None:
        row = self.objects.get(int(object_id))
        return None if row is None else (self.schema_name(row["schema_id"]), str(row["name"]))

    def ref(self, view: str, key: str) -> SourceRef:
        return self.src.ref(view, key)

    def skip(self, ref: SourceRef, reason: str, text: str = "") -> None:
        self.skipped.append(Skipped(kind="row", reason=reason, text=text, source_ref=ref))

    def known(self, ref: SourceRef, **ids: Any) -> bool:
        """Whether every principal id of a row is known; if not, the row is recorded skipped."""
        missing = unknown_ids(self.principals, **ids)
        if missing:
            self.skipped.append(unknown_principal(ref, "sys.database_principals", missing))
        return not missing

    def owner(self, ref: SourceRef, pid: Any, what: str, fallback: str) -> str | None:
        """The principal ``pid`` names; an unknown one is recorded and ``None`` returned."""
        name = self.name(pid)
        if pid is not None and name is None:
            reason = f"{what} (principal_id {pid}) is not in sys.database_principals"
            self.skip(ref, f"{reason}; {fallback}")
        return name
