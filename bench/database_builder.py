"""Drawing one database of a generated estate: its users, roles and application roles, role
nesting and memberships, schemas and objects, then its permission rows. A (securable,
permission, grantee) triple is used at most once (see :mod:`bench.generate`).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import TypeVar

from bench.construct import SOURCE, construct, permission_row, sorted_by_key
from bench.estate_shape import (
    COLUMN_PERMISSIONS,
    COLUMN_SHARE,
    COLUMNS,
    COLUMNS_MORE,
    DATABASE_PERMISSIONS,
    DENY_SHARE,
    DEPTS,
    FIXED_ROLE_SHARES,
    GRANT_OPTION_SHARE,
    LOGIN_KINDS,
    MAX_DEPTH,
    MODULES,
    NOUNS,
    OBJECT_KINDS,
    PERMISSIONS_OF,
    SCHEMA_PERMISSIONS,
    SCHEMA_SHARE,
    VERBS,
    weighted,
)
from bench.scales import Scale
from mssql_extract.snapshot import (
    ApplicationRole,
    AuthenticationType,
    Database,
    DatabaseRole,
    DbObject,
    Login,
    Membership,
    ObjectKind,
    Permission,
    PermissionState,
    Schema,
    User,
    UserType,
)

T = TypeVar("T")


def _fill(budget: int, draw: Callable[[], list[T] | None]) -> list[T]:
    """Call ``draw`` until ``budget`` items exist; ``None`` is a collision, tried again."""
    items: list[T] = []
    attempts = 0
    while len(items) < budget and attempts < budget * 30 + 100:
        attempts += 1
        drawn = draw()
        if drawn:
            items.extend(drawn)
    return items


class DatabaseBuilder:
    """Draws one database: principals, role nesting, schemas, objects, then permission rows."""

    def __init__(self, rng: random.Random, name: str, scale: Scale, rows: int) -> None:
        self.rng, self.name, self.rows = rng, name, rows
        per_db = scale.principals_per_database
        self.n_roles = max(MAX_DEPTH + 1, round(per_db * 0.28))
        self.n_app_roles = max(1, per_db // 50)
        self.n_users = max(4, per_db - self.n_roles - self.n_app_roles)
        self.taken: set[tuple[str, str, str]] = set()
        self.owners: dict[str, str] = {}  # schema → its owner (folded), for _claim

    def build(self, logins: Sequence[Login]) -> Database:
        users = self._users(logins)
        roles = self._roles()
        app_roles = [
            construct(
                ApplicationRole,
                name=f"app_{self.name.lower()}_{i:02d}",
                default_schema="dbo",
                source_ref=SOURCE,
            )
            for i in range(self.n_app_roles)
        ]
        self.user_names = [u.name for u in users]
        self.role_names = [r.name for r in roles]
        schemas = self._schemas()
        objects = self._objects(schemas)
        memberships = self._role_nesting() + self._user_memberships()
        fixed = sorted({m.role for m in memberships} - set(self.role_names))
        roles += [construct(DatabaseRole, name=n, is_fixed=True, source_ref=SOURCE) for n in fixed]
        permissions = self._permissions(schemas, objects, users, [a.name for a in app_roles])
        return construct(
            Database,
            name=self.name,
            users=sorted_by_key(users),
            roles=sorted_by_key(roles),
            application_roles=sorted_by_key(app_roles),
            memberships=sorted_by_key(memberships),
            permissions=sorted_by_key(permissions),
            schemas=sorted_by_key(schemas),
            objects=sorted_by_key(objects),
            source_ref=SOURCE,
        )

    def _users(self, logins: Sequence[Login]) -> list[User]:
        mapped = self.rng.sample(list(logins), min(len(logins), self.n_users - 2))
        kinds = {kind: (utype, auth) for kind, _, utype, auth in LOGIN_KINDS}
        users = [
            construct(
                User,
                name=login.name,
                type=kinds[login.type][0],
                authentication_type=kinds[login.type][1],
                login=login.name,
                sid=login.sid,
                default_schema="dbo",
                source_ref=SOURCE,
            )
            for login in mapped
        ]
        for i in range(self.n_users - len(mapped)):  # users WITHOUT LOGIN (proxies, EXECUTE AS)
            users.append(
                construct(
                    User,
                    name=f"proxy_{self.name.lower()}_{i:03d}",
                    type=UserType.SQL,
                    authentication_type=AuthenticationType.NONE,
                    default_schema="dbo",
                    source_ref=SOURCE,
                )
            )
        return users

    def _roles(self) -> list[DatabaseRole]:
        roles = []
        for i in range(self.n_roles):
            dept, verb = self.rng.choice(DEPTS), self.rng.choice(VERBS)
            # a few names with spaces, as GUI-created roles have
            name = f"{dept.title()} {verb} {i:04d}" if i % 20 == 7 else f"{dept}_{verb}_{i:04d}"
            roles.append(construct(DatabaseRole, name=name, owner="dbo", source_ref=SOURCE))
        return roles

    def _role_nesting(self) -> list[Membership]:
        """Role i may join a role j < i (no cycles); the first five form a chain five deep."""
        depth = {0: 1}
        edges = []
        for i in range(1, len(self.role_names)):
            depth[i] = 1
            parents = [j for j in range(i) if depth[j] < MAX_DEPTH]
            parent = i - 1 if i < MAX_DEPTH else self.rng.choice(parents)
            if i < MAX_DEPTH or self.rng.random() < 0.6:
                depth[i] = depth[parent] + 1
                edges.append((self.role_names[parent], self.role_names[i]))
        return [construct(Membership, role=r, member=m, source_ref=SOURCE) for r, m in edges]

    def _user_memberships(self) -> list[Membership]:
        pairs: set[tuple[str, str]] = set()
        for user in self.user_names:
            for role in self.rng.sample(self.role_names, self.rng.randint(1, 3)):
                pairs.add((role, user))
            for fixed, share in FIXED_ROLE_SHARES:
                if self.rng.random() < share:
                    pairs.add((fixed, user))
        pairs.add(("db_owner", self.user_names[0]))
        return [
            construct(Membership, role=r, member=m, source_ref=SOURCE) for r, m in sorted(pairs)
        ]

    def _schemas(self) -> list[Schema]:
        count = max(2, self.rows // 1_200)
        return [
            construct(
                Schema,
                name=f"{DEPTS[i % len(DEPTS)]}{i // len(DEPTS) or ''}",
                owner=self.rng.choice(self.role_names) if self.rng.random() < 0.15 else "dbo",
                source_ref=SOURCE,
            )
            for i in range(count)
        ]

    def _objects(self, schemas: Sequence[Schema]) -> list[DbObject]:
        objects = []
        for i in range(max(10, self.rows // 20)):
            kind = weighted(self.rng, OBJECT_KINDS)[0]
            noun = self.rng.choice(NOUNS)
            name, columns = _object_shape(self.rng, kind, noun, i)
            objects.append(
                construct(
                    DbObject,
                    schema_name=self.rng.choice(schemas).name,
                    name=name,
                    kind=kind,
                    columns=columns,
                    execute_as="CALLER" if kind in MODULES else None,  # the T-SQL default
                    source_ref=SOURCE,
                )
            )
        return objects

    # ------------------------------------------------------------------ permission rows

    def _grantee(self) -> str:
        pool = self.role_names if self.rng.random() < 0.7 else self.user_names
        return self.rng.choice(pool)

    def _claim(self, securable: str, perm: str, grantee: str, schema: str | None = None) -> bool:
        """Whether the row is new and SQL Server would hold it: no permission is given to,
        or denied to, the owner of the securable (Msg 4624; an object here has no owner of
        its own, so its schema's counts)."""
        triple = (securable, perm, grantee.casefold())
        if triple in self.taken or self.owners.get(schema or "") == grantee.casefold():
            return False
        self.taken.add(triple)
        return True

    def _permissions(
        self,
        schemas: Sequence[Schema],
        objects: Sequence[DbObject],
        users: Sequence[User],
        app_roles: Sequence[str],
    ) -> list[Permission]:
        grant = PermissionState.GRANT
        self.owners = {s.name: (s.owner or "dbo").casefold() for s in schemas}
        rows = [permission_row("DATABASE", "CONNECT", grant, u.name) for u in users]
        for grantee in self.role_names[::2] + list(app_roles):
            perm = self.rng.choice(DATABASE_PERMISSIONS)
            if self._claim("DATABASE", perm, grantee):
                rows.append(permission_row("DATABASE", perm, grant, grantee))
        rest = max(0, self.rows - len(rows))
        denies = round(rest * DENY_SHARE)
        rows += _fill(round(rest * SCHEMA_SHARE), lambda: self._schema_row(schemas, grant))
        rows += _fill(denies // 5, lambda: self._schema_row(schemas, PermissionState.DENY))
        columned = [o for o in objects if o.columns]
        rows += _fill(round(rest * COLUMN_SHARE), lambda: self._column_rows(columned))
        rows += _fill(denies - denies // 5, lambda: self._object_row(objects, PermissionState.DENY))
        return rows + _fill(self.rows - len(rows), lambda: self._object_row(objects, None))

    def _schema_row(
        self, schemas: Sequence[Schema], state: PermissionState
    ) -> list[Permission] | None:
        schema, perm, grantee = (
            self.rng.choice(schemas).name,
            self.rng.choice(SCHEMA_PERMISSIONS),
            self._grantee(),
        )
        if not self._claim(f"SCHEMA:{schema}", perm, grantee, schema):
            return None
        return [permission_row("SCHEMA", perm, state, grantee, object_name=schema)]

    def _object_row(
        self, objects: Sequence[DbObject], state: PermissionState | None
    ) -> list[Permission] | None:
        obj = self.rng.choice(objects)
        perm, grantee = self.rng.choice(PERMISSIONS_OF[obj.kind]), self._grantee()
        if not self._claim(f"OBJECT:{obj.schema_name}.{obj.name}", perm, grantee, obj.schema_name):
            return None
        if state is None:
            with_option = self.rng.random() < GRANT_OPTION_SHARE
            state = (
                PermissionState.GRANT_WITH_GRANT_OPTION if with_option else PermissionState.GRANT
            )
        where = {"schema_name": obj.schema_name, "object_name": obj.name}
        return [permission_row("OBJECT", perm, state, grantee, **where)]

    def _column_rows(self, objects: Sequence[DbObject]) -> list[Permission] | None:
        obj = self.rng.choice(objects)
        perm, grantee = self.rng.choice(COLUMN_PERMISSIONS), self._grantee()
        if not self._claim(f"OBJECT:{obj.schema_name}.{obj.name}", perm, grantee, obj.schema_name):
            return None
        columns = sorted(
            self.rng.sample(obj.columns, self.rng.randint(1, min(3, len(obj.columns))))
        )
        where = {"schema_name": obj.schema_name, "object_name": obj.name}
        return [
            permission_row("OBJECT", perm, PermissionState.GRANT, grantee, column_name=c, **where)
            for c in columns
        ]


def _object_shape(
    rng: random.Random, kind: ObjectKind, noun: str, i: int
) -> tuple[str, tuple[str, ...]]:
    """Name and columns of object ``i``: tables and views have columns, routines none."""
    if kind is ObjectKind.TABLE:
        return f"{noun}_{i:05d}", tuple(rng.sample(COLUMNS + COLUMNS_MORE, rng.randint(3, 10)))
    if kind is ObjectKind.VIEW:
        return f"v_{noun}_{i:05d}", tuple(rng.sample(COLUMNS, rng.randint(2, 5)))
    if kind is ObjectKind.PROCEDURE:
        return f"usp_get_{noun}_{i:05d}", ()
    return f"fn_{noun}_{i:05d}", ()
