"""SQL Server's permission hierarchy, as ``sys.fn_builtin_permissions`` describes it.

Source: ``mapper/data/builtin_permissions_sql2022.csv`` (see ``mapper/data/PROVENANCE.md``): for
each (securable class, permission) its *covering* permission on the same class and its *parent
covering* permission on the container class. "Permissions (Database Engine)" explains how SQL
Server reads this: a permission is implied by its covering permission and by the parent covering
permission on the container, recursively, so CONTROL implies everything on a securable and on
everything below it (https://learn.microsoft.com/sql/relational-databases/security/
permissions-database-engine, "Permissions hierarchy" and "Summary of the permission check
algorithm").

The reference has gaps and a few printing errors; the tables below (``_UNDOCUMENTED_COVERING``,
``_PARENT_FIXES``, ``_CONTAINER_FIXES``, ``_EXTRA_PARENTS``, ``_GRANT_ONLY_PARENTS``) hold grantbridge's decisions for
them, each with its reason, so the CSV itself stays a verbatim copy of the reference.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache, cached_property
from importlib.resources import files

from grantbridge.errors import Location, MappingError

#: A (securable class, permission) pair, e.g. ``("SCHEMA", "SELECT")``.
Pair = tuple[str, str]

DATA_FILE = "builtin_permissions_sql2022.csv"
SERVER = "SERVER"
CONTROL = "CONTROL"
CONTROL_SERVER = "CONTROL SERVER"

#: Rows the reference marks "NOT DOCUMENTED" (empty covering permission). Default decision: the
#: class's CONTROL (CONTROL SERVER on SERVER), because "CONTROL ... confers all defined
#: permissions on the securable" (GRANT (Transact-SQL) and "Permissions hierarchy"); so every
#: permission stays under CONTROL and nothing becomes un-grantable by CONTROL. Exceptions, where
#: the SQL Server 2022 granular permissions split an older permission, are covered by that older
#: permission, as "New granular permissions added to SQL Server 2022" (same article) describes
#: them ("VIEW SERVER STATE" → performance/security state, "VIEW ANY DEFINITION" →
#: performance/security definition) and as the 2022 fixed roles confirm (##MS_ServerStateReader##
#: inherits VIEW DATABASE PERFORMANCE/SECURITY STATE from VIEW SERVER STATE, fixed_server_roles.csv).
_UNDOCUMENTED_COVERING: Mapping[Pair, str] = {
    ("SERVER", "VIEW SERVER PERFORMANCE STATE"): "VIEW SERVER STATE",
    ("SERVER", "VIEW SERVER SECURITY STATE"): "VIEW SERVER STATE",
    ("SERVER", "VIEW SERVER SECURITY AUDIT"): "VIEW SERVER SECURITY STATE",
    ("SERVER", "VIEW ANY PERFORMANCE DEFINITION"): "VIEW ANY DEFINITION",
    ("SERVER", "VIEW ANY SECURITY DEFINITION"): "VIEW ANY DEFINITION",
    ("DATABASE", "VIEW DATABASE PERFORMANCE STATE"): "VIEW DATABASE STATE",
    ("DATABASE", "VIEW DATABASE SECURITY STATE"): "VIEW DATABASE STATE",
    ("DATABASE", "VIEW DATABASE SECURITY AUDIT"): "VIEW DATABASE SECURITY STATE",
    ("DATABASE", "VIEW PERFORMANCE DEFINITION"): "VIEW DEFINITION",
    ("DATABASE", "VIEW SECURITY DEFINITION"): "VIEW DEFINITION",
}

#: The doc table prints the container permission "CONTROL" on SERVER for the ledger rows and
#: SEARCH PROPERTY LIST (see the CSV's ``notes``); SERVER has no "CONTROL", only "CONTROL SERVER".
_PARENT_FIXES: Mapping[Pair, str] = {(SERVER, CONTROL): CONTROL_SERVER}

#: SEARCH PROPERTY LIST is a database-scoped securable (CREATE SEARCH PROPERTY LIST runs in a
#: database; its container permissions are the database-style REFERENCES / VIEW DEFINITION); the
#: doc table's "SERVER" container is a printing error (CSV ``notes``).
_CONTAINER_FIXES: Mapping[str, str] = {"SEARCH PROPERTY LIST": "DATABASE"}

#: Server permissions that reach every database although fn_builtin_permissions does not list
#: them as parent covering permissions: "SELECT ALL USER SECURABLES" reads all data in the
#: databases a login can connect to and "IMPERSONATE ANY LOGIN" impersonates any login, and a
#: DENY of either takes that away ("When denied, it prevents access to all objects"; "When
#: denied, a high privileged login can be blocked from impersonating other logins": GRANT Server
#: Permissions (Transact-SQL), https://learn.microsoft.com/sql/t-sql/statements/
#: grant-server-permissions-transact-sql, howarthcd/sql-docs @ 87b43382).
_EXTRA_PARENTS: Mapping[Pair, tuple[Pair, ...]] = {
    ("DATABASE", "SELECT"): ((SERVER, "SELECT ALL USER SECURABLES"),),
    ("LOGIN", "IMPERSONATE"): ((SERVER, "IMPERSONATE ANY LOGIN"),),
}
#: Extra parents that only a GRANT goes through. "CONNECT ANY DATABASE": "Grant CONNECT ANY
#: DATABASE to a login that must connect to all databases that currently exist and to any new
#: databases that might be created in future. Does not grant any permission in any database
#: beyond connect" (same page; ##MS_DatabaseConnector## in "Server-level roles": its members
#: "can connect to any database without requiring a User-account"). Unlike the two above, the
#: page says nothing of a DENY, and fn_builtin_permissions leaves it out of CONNECT's covering
#: chain (DATABASE CONNECT is implied by CONNECT REPLICATION and CONTROL SERVER only:
#: reference/mssql/builtin_permissions_sql2022.csv). A DENY denies what it covers ("Permissions
#: (Database Engine)", "Summary of the permission check algorithm"), so DENY CONNECT ANY
#: DATABASE refuses that permission and the entry it gives a login without a user, not the
#: CONNECT a database grants a login's user.
_GRANT_ONLY_PARENTS: Mapping[Pair, tuple[Pair, ...]] = {
    ("DATABASE", "CONNECT"): ((SERVER, "CONNECT ANY DATABASE"),),
}

#: What ``GRANT ALL`` means, by securable (GRANT (Transact-SQL), "ALL" argument; deprecated but
#: still accepted): https://learn.microsoft.com/sql/t-sql/statements/grant-transact-sql
_TABLE_ALL = ("DELETE", "INSERT", "REFERENCES", "SELECT", "UPDATE")
ALL_EXPANSION: Mapping[str, tuple[str, ...]] = {
    "DATABASE": (
        "BACKUP DATABASE",
        "BACKUP LOG",
        "CREATE DATABASE",
        "CREATE DEFAULT",
        "CREATE FUNCTION",
        "CREATE PROCEDURE",
        "CREATE RULE",
        "CREATE TABLE",
        "CREATE VIEW",
    ),
    "SCALAR_FUNCTION": ("EXECUTE", "REFERENCES"),
    "TABLE_FUNCTION": _TABLE_ALL,
    "PROCEDURE": ("EXECUTE",),
    "TABLE": _TABLE_ALL,
    "VIEW": _TABLE_ALL,
}

#: Permissions that exist on a single column (GRANT Object Permissions: "column ... SELECT,
#: REFERENCES, UPDATE"; UNMASK is column-grantable since SQL Server 2022, Dynamic Data Masking).
COLUMN_PERMISSIONS = frozenset({"SELECT", "REFERENCES", "UPDATE", "UNMASK"})


@dataclass(frozen=True)
class BuiltinPermission:
    """One row of ``sys.fn_builtin_permissions``, after grantbridge's documented fixes."""

    securable_class: str
    permission: str
    type_code: str
    covering: str | None
    parent_class: str | None
    parent_covering: str | None
    covering_source: str
    decided: bool  # True when covering or parent came from grantbridge's decision tables


def _read_rows() -> Iterator[dict[str, str]]:
    text = (files("mapper") / "data" / DATA_FILE).read_text(encoding="utf-8")
    yield from csv.DictReader(io.StringIO(text, newline=""))


def _fix_row(row: Mapping[str, str]) -> BuiltinPermission:
    """Apply the decision tables to one CSV row."""
    pair = (row["class_desc"], row["permission_name"])
    covering = row["covering_permission_name"] or None
    decided = False
    if covering is None and "NOT DOCUMENTED" in row["covering_source"]:
        root = CONTROL_SERVER if pair[0] == SERVER else CONTROL
        covering, decided = _UNDOCUMENTED_COVERING.get(pair, root), True
    parent_class = _CONTAINER_FIXES.get(pair[0], row["parent_class_desc"] or None)
    parent_covering = row["parent_covering_permission_name"] or None
    if parent_class is not None and parent_covering is not None:
        fixed = _PARENT_FIXES.get((parent_class, parent_covering), parent_covering)
        decided = decided or fixed != parent_covering or parent_class != row["parent_class_desc"]
        parent_covering = fixed
    return BuiltinPermission(
        pair[0], pair[1], row["type"], covering, parent_class, parent_covering,
        row["covering_source"], decided,
    )  # fmt: skip


class PermissionCatalog:
    """The permission hierarchy with implied-by / implies closures (memoized per pair)."""

    def __init__(self, rows: tuple[BuiltinPermission, ...]) -> None:
        self.rows = rows
        self._by_pair: dict[Pair, BuiltinPermission] = {}
        for row in rows:
            pair = (row.securable_class, row.permission)
            if pair in self._by_pair:
                raise MappingError(f"duplicate builtin permission {pair!r}", Location(DATA_FILE))
            self._by_pair[pair] = row

    def get(self, securable_class: str, permission: str) -> BuiltinPermission | None:
        """The row for a pair, or ``None`` when SQL Server has no such permission."""
        return self._by_pair.get((securable_class, permission))

    def require(self, securable_class: str, permission: str) -> BuiltinPermission:
        """The row for a pair; an unknown pair is a :class:`MappingError`."""
        row = self.get(securable_class, permission)
        if row is None:
            raise MappingError(
                f"SQL Server has no permission {permission!r} on class {securable_class!r}",
                Location(DATA_FILE, key=f"{securable_class}:{permission}"),
            )
        return row

    @cached_property
    def classes(self) -> tuple[str, ...]:
        """Every securable class, sorted."""
        return tuple(sorted({row.securable_class for row in self.rows}))

    @cached_property
    def container_class(self) -> Mapping[str, str | None]:
        """The container class of each class (OBJECT → SCHEMA → DATABASE → SERVER)."""
        return {row.securable_class: row.parent_class for row in self.rows}

    def permissions_of(self, securable_class: str) -> tuple[str, ...]:
        """Every permission defined on a class, sorted."""
        return tuple(
            sorted(r.permission for r in self.rows if r.securable_class == securable_class)
        )

    def _direct_implied_by(self, pair: Pair, grant: bool) -> tuple[Pair, ...]:
        row = self._by_pair.get(pair)
        if row is None:
            return ()
        found: list[Pair] = []
        if row.covering is not None:
            found.append((row.securable_class, row.covering))
        if row.parent_class is not None and row.parent_covering is not None:
            found.append((row.parent_class, row.parent_covering))
        found.extend(_EXTRA_PARENTS.get(pair, ()))
        found.extend(_GRANT_ONLY_PARENTS.get(pair, ()) if grant else ())
        return tuple(found)

    @cache  # noqa: B019 - the catalog lives as long as the process (one instance, CATALOG)
    def implied_by(
        self, securable_class: str, permission: str, *, grant: bool = True
    ) -> tuple[Pair, ...]:
        """Every pair whose grant implies ``permission`` on ``securable_class``, itself first;
        with ``grant=False``, every pair whose DENY denies it (without
        :data:`_GRANT_ONLY_PARENTS`).

        Breadth-first from the pair, so nearer (same securable, then container) come first.
        """
        start = (securable_class, permission)
        order: list[Pair] = [start]
        seen = {start}
        for pair in order:  # the list grows while we walk it: a breadth-first search
            for parent in self._direct_implied_by(pair, grant):
                if parent not in seen:
                    seen.add(parent)
                    order.append(parent)
        return tuple(order)

    @cache  # noqa: B019 - as implied_by
    def _implies_index(self, grant: bool) -> Mapping[Pair, frozenset[Pair]]:
        index: dict[Pair, set[Pair]] = {}
        for row in self.rows:
            pair = (row.securable_class, row.permission)
            for above in self.implied_by(*pair, grant=grant):
                index.setdefault(above, set()).add(pair)
        return {pair: frozenset(below) for pair, below in index.items()}

    def implies(
        self, securable_class: str, permission: str, *, grant: bool = True
    ) -> frozenset[Pair]:
        """Every pair that a grant of ``permission`` on ``securable_class`` implies (itself too);
        with ``grant=False``, every pair a DENY of it denies."""
        return self._implies_index(grant).get(
            (securable_class, permission), frozenset({(securable_class, permission)})
        )


def load_catalog() -> PermissionCatalog:
    """Read the bundled reference CSV into a :class:`PermissionCatalog`."""
    return PermissionCatalog(tuple(_fix_row(row) for row in _read_rows()))


CATALOG = load_catalog()


def expand_all(securable_class: str, object_kind: str | None = None) -> tuple[str, ...]:
    """The permissions ``GRANT ALL`` stands for on a securable (GRANT (Transact-SQL), "ALL").

    Args:
        securable_class: ``DATABASE`` or ``OBJECT``.
        object_kind: for OBJECT, the :class:`~mssql_extract.snapshot.ObjectKind` value; when
            the kind is not known (the object is not in the snapshot) ALL expands like a table,
            the widest set ALL has on any object, so no permission the source meant is lost.

    Raises:
        MappingError: ALL is not defined on this class or object kind.
    """
    key = "DATABASE" if securable_class == "DATABASE" else (object_kind or "TABLE")
    if securable_class in ("DATABASE", "OBJECT") and key in ALL_EXPANSION:
        return ALL_EXPANSION[key]
    what = securable_class if object_kind is None else f"{securable_class} ({object_kind})"
    raise MappingError(f"GRANT ALL is not defined on {what}")
