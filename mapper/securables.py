"""Securables and their containment: column ⊂ object ⊂ schema ⊂ database ⊂ server.

A :class:`Securable` names one thing a permission can be granted on, spelled like
``sys.fn_builtin_permissions`` spells its class. Its fields mirror the snapshot's
:class:`~mssql_extract.snapshot.Permission`: ``schema_name`` and ``name`` for schema-scoped
classes (OBJECT, TYPE, XML SCHEMA COLLECTION), ``name`` alone for SCHEMA, principals and other
named securables, nothing for DATABASE and SERVER, and ``column`` for a column of an OBJECT.

:class:`SecurableTree` lists the securables that exist in one scope of a snapshot (a database,
or the server) and what each contains, so effective permissions can be computed downwards from
a grant without scanning every securable.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from functools import cached_property, lru_cache
from typing import ClassVar

from mapper.permissions import CATALOG
from mssql_extract.snapshot import Database, ObjectKind, Permission, SecuritySnapshot, fold

#: SERVER and the classes it contains directly (LOGIN, ENDPOINT, SERVER ROLE …); DATABASE is
#: contained by SERVER too but starts a scope of its own.
SERVER_CLASSES = frozenset({"SERVER"}) | frozenset(
    cls for cls, box in CATALOG.container_class.items() if box == "SERVER" and cls != "DATABASE"
)
SCHEMA_SCOPED = frozenset(cls for cls, box in CATALOG.container_class.items() if box == "SCHEMA")

#: Object kinds that are not class OBJECT in fn_builtin_permissions.
_KIND_CLASS: Mapping[ObjectKind, str] = {
    ObjectKind.TYPE: "TYPE",
    ObjectKind.XML_SCHEMA_COLLECTION: "XML SCHEMA COLLECTION",
}


@dataclass(frozen=True)
class Securable:
    """Something a permission is granted on (see the module docstring for the fields)."""

    securable_class: str
    schema_name: str | None = None
    name: str | None = None
    column: str | None = None
    # securables are dictionary keys on every hot path: hash once (set per instance below;
    # ClassVar keeps it out of the dataclass fields, so asdict()/replace() see four fields)
    _hash: ClassVar[int]

    def __post_init__(self) -> None:
        parts = (self.securable_class, self.schema_name, self.name, self.column)
        object.__setattr__(self, "_hash", hash(parts))

    def __hash__(self) -> int:
        return self._hash

    @classmethod
    def of(cls, permission: Permission) -> Securable:
        """The securable of a snapshot permission row."""
        return cls(
            permission.securable_class,
            permission.schema_name,
            permission.object_name,
            permission.column_name,
        )

    def folded(self) -> Securable:
        """The same securable with case-folded names (SQL Server compares them so)."""
        schema, name, column = self.schema_name, self.name, self.column
        return Securable(
            self.securable_class,
            None if schema is None else fold(schema),
            None if name is None else fold(name),
            None if column is None else fold(column),
        )

    @property
    def is_server_level(self) -> bool:
        """True for SERVER and the securables it contains directly (LOGIN, ENDPOINT …)."""
        return self.securable_class in SERVER_CLASSES

    def container(self) -> Securable | None:
        """The securable that contains this one (``None`` for SERVER)."""
        if self.column is not None:
            return replace(self, column=None)
        box = CATALOG.container_class.get(self.securable_class)
        if box == "SCHEMA":
            return Securable("SCHEMA", name=self.schema_name) if self.schema_name else None
        return Securable(box) if box else None

    def ancestors(self) -> tuple[Securable, ...]:
        """This securable, then its containers outwards (memoized)."""
        return _ancestors(self)

    def sort_key(self) -> tuple[str, str, str, str]:
        """A total order for sorting (``None`` parts sort first)."""
        return (
            self.securable_class,
            self.schema_name or "",
            self.name or "",
            self.column or "",
        )

    def __str__(self) -> str:
        if self.securable_class in ("DATABASE", "SERVER"):
            return self.securable_class
        qualified = ".".join(p for p in (self.schema_name, self.name) if p is not None)
        text = f"{self.securable_class}::{qualified}"
        return f"{text}({self.column})" if self.column is not None else text


@lru_cache(maxsize=1 << 18)
def _ancestors(securable: Securable) -> tuple[Securable, ...]:
    chain: list[Securable] = [securable]
    while (box := chain[-1].container()) is not None:
        chain.append(box)
    return tuple(chain)


def object_securable(schema_name: str, name: str, kind: ObjectKind) -> Securable:
    """The securable of a schema-scoped object of a given kind."""
    return Securable(_KIND_CLASS.get(kind, "OBJECT"), schema_name, name)


class SecurableTree:
    """The folded securables of one scope and their containment (children per container)."""

    def __init__(self, securables: Iterable[Securable], *, server_root: bool) -> None:
        found: set[Securable] = set()
        for securable in {s.folded() for s in securables}:
            found.update(securable.ancestors())
        if not server_root:
            found.discard(Securable("SERVER"))
        self.members = tuple(sorted(found, key=Securable.sort_key))
        self._known = frozenset(found)
        self._children: dict[Securable, list[Securable]] = {}
        for securable in self.members:
            box = securable.container()
            if box is not None:
                self._children.setdefault(box, []).append(securable)
        self._below: dict[Securable, Mapping[str, tuple[Securable, ...]]] = {}

    def below(self, securable: Securable) -> Mapping[str, tuple[Securable, ...]]:
        """The securable and everything it contains, grouped by class (columns as "COLUMN")."""
        cached = self._below.get(securable)
        if cached is None and securable not in self._known:
            return {}
        if cached is None:
            groups: dict[str, list[Securable]] = {}
            stack = [securable]
            while stack:
                current = stack.pop()
                kind = "COLUMN" if current.column is not None else current.securable_class
                groups.setdefault(kind, []).append(current)
                stack.extend(self._children.get(current, ()))
            cached = {kind: tuple(items) for kind, items in groups.items()}
            self._below[securable] = cached
        return cached

    @cached_property
    def columns_of(self) -> Mapping[Securable, tuple[Securable, ...]]:
        """The known columns of each object."""
        found: dict[Securable, list[Securable]] = {}
        for securable in self.members:
            if securable.column is not None:
                found.setdefault(replace(securable, column=None), []).append(securable)
        return {table: tuple(cols) for table, cols in found.items()}


def database_securables(database: Database) -> list[Securable]:
    """Every securable a database's snapshot mentions: its objects, schemas, principals, rows."""
    found: list[Securable] = [Securable("DATABASE")]
    found += [Securable("SCHEMA", name=schema.name) for schema in database.schemas]
    for obj in database.objects:
        table = object_securable(obj.schema_name, obj.name, obj.kind)
        found.append(table)
        found += [replace(table, column=column) for column in obj.columns]
    found += [Securable("USER", name=user.name) for user in database.users]
    found += [Securable("USER", name=name) for name in ("dbo", "guest")]
    found += [Securable("ROLE", name=role.name) for role in database.roles]
    found += [Securable("APPLICATION ROLE", name=app.name) for app in database.application_roles]
    found += [Securable.of(p) for p in database.permissions if not Securable.of(p).is_server_level]
    return found


def server_securables(snapshot: SecuritySnapshot) -> list[Securable]:
    """Every server-level securable the snapshot mentions: logins, server roles, rows."""
    found: list[Securable] = [Securable("SERVER")]
    found += [Securable("LOGIN", name=login.name) for login in snapshot.logins]
    found += [Securable("SERVER ROLE", name=role.name) for role in snapshot.server_roles]
    found += [Securable.of(p) for p in snapshot.server_permissions]
    return found
