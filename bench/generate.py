"""A seeded generator of synthetic SQL Server estates with a realistic security shape.

The shape follows what large estates look like: many logins (SQL, Windows users and groups),
one user per login in the databases it uses, user-defined roles nested up to five deep,
fixed-role members, many objects per schema, mostly per-object grants to roles, some
schema-level grants, column grants, DENYs and ``WITH GRANT OPTION``.

Every draw comes from ``random.Random(seed)`` (and per-database generators seeded from it), and
every collection is sorted by key, so the same seed gives a byte-identical snapshot. The models
are built without validation (:func:`construct`, a leaner ``model_construct``) for speed
(millions of rows at scale L); ``tests/bench`` checks that the result validates when dumped and
loaded again and that it equals ``model_construct``'s.

:func:`generate_estate` yields the databases one at a time, so a writer can stream scale L to
disk holding one database in memory; :func:`generate_snapshot` collects them.

A (securable, permission, grantee) triple is used at most once, whether as GRANT, DENY or a
column grant, so the T-SQL scripts rendered from a snapshot replay to the same facts in any
order (no later DENY replaces an earlier GRANT).
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel

from bench.scales import Scale
from mssql_extract.snapshot import (
    ApplicationRole,
    AuthenticationType,
    Database,
    DatabaseRole,
    DbObject,
    Login,
    LoginType,
    Membership,
    ObjectKind,
    Permission,
    PermissionState,
    Schema,
    SecuritySnapshot,
    Server,
    ServerRole,
    SourceRef,
    User,
    UserType,
)

#: Provenance of generated facts: one shared instance (the models are frozen).
SOURCE = SourceRef(origin="bench-generator")

FIRST = ("anna", "ben", "chen", "dara", "eli", "fatima", "gus", "hana", "ivan", "jose", "kim")
LAST = ("smith", "garcia", "ng", "okafor", "muller", "rossi", "tanaka", "khan", "silva")
DEPTS = ("sales", "hr", "finance", "ops", "it", "audit", "support", "billing", "logistics")
DB_WORDS = ("Sales", "HR", "Finance", "Reporting", "Inventory", "Billing", "Crm", "Payroll")
NOUNS = ("orders", "customers", "invoices", "items", "shipments", "accounts", "ledger", "staff")
VERBS = ("reader", "writer", "analyst", "admin", "exec", "auditor")
COLUMNS = ("id", "name", "amount", "created_at", "status", "owner_id", "email", "phone", "ssn")
COLUMNS_MORE = ("salary", "notes", "code", "region", "total", "updated_at", "due_date")

#: Login types with their share of logins, and the user type / authentication of their users.
LOGIN_KINDS: tuple[tuple[LoginType, float, UserType, AuthenticationType], ...] = (
    (LoginType.SQL, 0.50, UserType.SQL, AuthenticationType.INSTANCE),
    (LoginType.WINDOWS_USER, 0.35, UserType.WINDOWS_USER, AuthenticationType.WINDOWS),
    (LoginType.WINDOWS_GROUP, 0.15, UserType.WINDOWS_GROUP, AuthenticationType.WINDOWS),
)

#: Object kinds: share of objects, object permissions (sys.fn_builtin_permissions, class OBJECT).
OBJECT_KINDS: tuple[tuple[ObjectKind, float, tuple[str, ...]], ...] = (
    (ObjectKind.TABLE, 0.55, ("SELECT", "INSERT", "UPDATE", "DELETE", "REFERENCES")),
    (ObjectKind.VIEW, 0.20, ("SELECT", "INSERT", "UPDATE", "DELETE")),
    (ObjectKind.PROCEDURE, 0.20, ("EXECUTE", "VIEW DEFINITION")),
    (ObjectKind.SCALAR_FUNCTION, 0.05, ("EXECUTE", "REFERENCES")),
)
PERMISSIONS_OF = {kind: perms for kind, _, perms in OBJECT_KINDS}
MODULES = frozenset({ObjectKind.PROCEDURE, ObjectKind.SCALAR_FUNCTION})
COLUMN_PERMISSIONS = ("SELECT", "UPDATE", "REFERENCES")
SCHEMA_PERMISSIONS = ("SELECT", "INSERT", "UPDATE", "DELETE", "EXECUTE", "VIEW DEFINITION", "ALTER")
DATABASE_PERMISSIONS = ("CREATE TABLE", "CREATE VIEW", "SHOWPLAN", "VIEW DEFINITION", "EXECUTE")
SERVER_PERMISSIONS = ("VIEW SERVER STATE", "VIEW ANY DEFINITION", "VIEW ANY DATABASE")
#: Fixed database roles and the share of users in each.
FIXED_ROLE_SHARES = (("db_datareader", 0.10), ("db_datawriter", 0.04), ("db_denydatawriter", 0.02))

#: Shares of a database's permission rows (after CONNECT and database-level grants).
SCHEMA_SHARE, COLUMN_SHARE, DENY_SHARE, GRANT_OPTION_SHARE = 0.04, 0.05, 0.03, 0.01
MAX_DEPTH = 5  # roles are nested up to five deep

T = TypeVar("T")


M = TypeVar("M", bound=BaseModel)

#: Per model class: every field in declaration order, optional ones at their default. The
#: serialiser writes ``__dict__`` in its order, so a constructed model must keep this order.
_TEMPLATES: dict[type[BaseModel], dict[str, Any]] = {}


def construct(cls: type[M], **fields: Any) -> M:
    """``cls.model_construct(**fields)`` without its per-call overhead (about 3× faster).

    Only for the generator's own, trusted values: nothing is validated (as with
    ``model_construct``). Every optional field left out takes its (immutable) default.
    """
    template = _TEMPLATES.get(cls)
    if template is None:
        template = {
            name: None if info.is_required() else info.get_default(call_default_factory=True)
            for name, info in cls.model_fields.items()
        }
        _TEMPLATES[cls] = template
    values = template.copy()
    values.update(fields)
    instance = object.__new__(cls)
    _set(instance, "__dict__", values)
    _set(instance, "__pydantic_fields_set__", set(fields))
    _set(instance, "__pydantic_extra__", None)
    _set(instance, "__pydantic_private__", None)
    return instance


_set = object.__setattr__


def _sorted(items: Sequence[Any]) -> tuple[Any, ...]:
    """Sort by key and refuse duplicates, as the snapshot's validator would."""
    keyed = sorted(((item.key, item) for item in items), key=_first)
    for (before, _), (after, _) in itertools.pairwise(keyed):
        if before == after:
            raise AssertionError(f"generator produced a duplicate key {after!r}")
    return tuple(item for _, item in keyed)


def _first(pair: tuple[str, Any]) -> str:
    return pair[0]


def _weighted(rng: random.Random, table: Sequence[tuple[Any, ...]]) -> tuple[Any, ...]:
    return rng.choices(table, weights=[row[1] for row in table])[0]


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


def _perm(cls: Any, perm: str, state: PermissionState, grantee: str, **where: Any) -> Permission:
    return construct(
        Permission,
        securable_class=cls,
        permission=perm,
        state=state,
        grantee=grantee,
        source_ref=SOURCE,
        **where,
    )


# --------------------------------------------------------------------------- server level


def _login_name(kind: LoginType, rng: random.Random, i: int) -> str:
    dept = rng.choice(DEPTS)
    if kind is LoginType.SQL:
        return f"{rng.choice(('app', 'svc', 'etl', 'rpt'))}_{dept}_{i:05d}"
    if kind is LoginType.WINDOWS_USER:
        return f"CORP\\{rng.choice(FIRST)}.{rng.choice(LAST)}{i:05d}"
    return f"CORP\\GG_{dept.title()}_{i:05d}"


def _login(rng: random.Random, i: int, databases: Sequence[str]) -> Login:
    kind = _weighted(rng, LOGIN_KINDS)[0]
    sql = kind is LoginType.SQL
    return construct(
        Login,
        name=_login_name(kind, rng, i),
        type=kind,
        sid=f"0x{rng.getrandbits(128):032X}" if sql else None,
        disabled=rng.random() < 0.05,
        default_database=rng.choice(databases),
        check_policy=(rng.random() > 0.1) if sql else None,
        check_expiration=False if sql else None,
        has_password=sql,
        source_ref=SOURCE,
    )


def _server_level(
    rng: random.Random, scale: Scale, databases: Sequence[str]
) -> tuple[list[Login], list[ServerRole], list[Membership], list[Permission]]:
    logins = [_login(rng, i, databases) for i in range(scale.logins)]
    roles = [construct(ServerRole, name=n, source_ref=SOURCE) for n in ("monitoring", "ops")]
    # fixed roles appear in the snapshot when a membership names them, as the parser records them
    roles += [
        construct(ServerRole, name=n, is_fixed=True, source_ref=SOURCE)
        for n in ("securityadmin", "sysadmin")
    ]
    names = [login.name for login in logins]
    members = {("sysadmin", names[0]), ("securityadmin", names[1])}
    for name in rng.sample(names, max(2, len(names) // 25)):
        members.add((rng.choice(("monitoring", "ops")), name))
    memberships = [
        construct(Membership, role=r, member=m, source_ref=SOURCE) for r, m in sorted(members)
    ]
    grantees = ["monitoring", "ops", *rng.sample(names, max(3, len(names) // 20))]
    perms = {(g, rng.choice(SERVER_PERMISSIONS)) for g in grantees}
    permissions = [_perm("SERVER", p, PermissionState.GRANT, g) for g, p in sorted(perms)]
    return logins, roles, memberships, permissions


def generate_estate(scale: Scale, seed: int = 0) -> tuple[SecuritySnapshot, Iterator[Database]]:
    """The estate of size ``scale`` as a snapshot without databases plus its databases, lazily.

    The databases come in the snapshot's order (sorted by key), each drawn only when the
    iterator reaches it, so a caller that writes and drops each one holds a single database
    in memory. Joined, they are exactly :func:`generate_snapshot`'s.
    """
    rng = random.Random(seed)
    names = [
        f"{DB_WORDS[i % len(DB_WORDS)]}{i // len(DB_WORDS) or ''}" for i in range(scale.databases)
    ]
    logins, server_roles, server_members, server_perms = _server_level(rng, scale, names)
    db_rows = (scale.permission_rows - len(server_perms)) // scale.databases
    seeds = {name: rng.getrandbits(64) for name in names}  # drawn in creation order
    header = construct(
        SecuritySnapshot,
        server=construct(Server, name="BENCH"),
        logins=_sorted(logins),
        server_roles=_sorted(server_roles),
        server_memberships=_sorted(server_members),
        server_permissions=_sorted(server_perms),
    )
    ordered = sorted(names, key=lambda n: construct(Database, name=n, source_ref=SOURCE).key)

    def databases() -> Iterator[Database]:
        for name in ordered:
            yield _DatabaseBuilder(random.Random(seeds[name]), name, scale, db_rows).build(logins)

    return header, databases()


def generate_snapshot(scale: Scale, seed: int = 0) -> SecuritySnapshot:
    """Generate a synthetic estate of size ``scale``; the same seed gives the same snapshot.

    Args:
        scale: How many databases, principals and permission rows.
        seed: Seed of the ``random.Random`` every choice is drawn from.

    Returns:
        A snapshot with ``source="script"``, every fact's provenance being :data:`SOURCE`.
    """
    header, databases = generate_estate(scale, seed)
    return header.model_copy(update={"databases": tuple(databases)})


# --------------------------------------------------------------------------- one database


class _DatabaseBuilder:
    """Draws one database: principals, role nesting, schemas, objects, then permission rows."""

    def __init__(self, rng: random.Random, name: str, scale: Scale, rows: int) -> None:
        self.rng, self.name, self.rows = rng, name, rows
        per_db = scale.principals_per_database
        self.n_roles = max(MAX_DEPTH + 1, round(per_db * 0.28))
        self.n_app_roles = max(1, per_db // 50)
        self.n_users = max(4, per_db - self.n_roles - self.n_app_roles)
        self.taken: set[tuple[str, str, str]] = set()

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
            users=_sorted(users),
            roles=_sorted(roles),
            application_roles=_sorted(app_roles),
            memberships=_sorted(memberships),
            permissions=_sorted(permissions),
            schemas=_sorted(schemas),
            objects=_sorted(objects),
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
            kind = _weighted(self.rng, OBJECT_KINDS)[0]
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

    def _claim(self, securable: str, perm: str, grantee: str) -> bool:
        triple = (securable, perm, grantee.casefold())
        if triple in self.taken:
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
        rows = [_perm("DATABASE", "CONNECT", grant, u.name) for u in users]
        for grantee in self.role_names[::2] + list(app_roles):
            perm = self.rng.choice(DATABASE_PERMISSIONS)
            if self._claim("DATABASE", perm, grantee):
                rows.append(_perm("DATABASE", perm, grant, grantee))
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
        if not self._claim(f"SCHEMA:{schema}", perm, grantee):
            return None
        return [_perm("SCHEMA", perm, state, grantee, object_name=schema)]

    def _object_row(
        self, objects: Sequence[DbObject], state: PermissionState | None
    ) -> list[Permission] | None:
        obj = self.rng.choice(objects)
        perm, grantee = self.rng.choice(PERMISSIONS_OF[obj.kind]), self._grantee()
        if not self._claim(f"OBJECT:{obj.schema_name}.{obj.name}", perm, grantee):
            return None
        if state is None:
            with_option = self.rng.random() < GRANT_OPTION_SHARE
            state = (
                PermissionState.GRANT_WITH_GRANT_OPTION if with_option else PermissionState.GRANT
            )
        where = {"schema_name": obj.schema_name, "object_name": obj.name}
        return [_perm("OBJECT", perm, state, grantee, **where)]

    def _column_rows(self, objects: Sequence[DbObject]) -> list[Permission] | None:
        obj = self.rng.choice(objects)
        perm, grantee = self.rng.choice(COLUMN_PERMISSIONS), self._grantee()
        if not self._claim(f"OBJECT:{obj.schema_name}.{obj.name}", perm, grantee):
            return None
        columns = sorted(
            self.rng.sample(obj.columns, self.rng.randint(1, min(3, len(obj.columns))))
        )
        where = {"schema_name": obj.schema_name, "object_name": obj.name}
        return [
            _perm("OBJECT", perm, PermissionState.GRANT, grantee, column_name=c, **where)
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
