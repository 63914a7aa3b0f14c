"""Scaling check for the effective-permission engine (not collected by pytest).

Run: ``uv run python -m tests.semantics.bench_effective 10000 100000`` (add ``--memory`` for
the tracemalloc peak; it slows everything down, so timings are taken without it).

The generated estate keeps its *shape* constant as it grows: one object per 10 permission rows,
one user and one role per 100 rows, every user in two roles, roles nested in a four-wide tree,
5 % of the rows DENY. So the work per principal stays about constant and the totals should grow
about linearly with the number of rows.
"""

from __future__ import annotations

import random
import sys
import time
import tracemalloc

from mapper.effective import EffectivePermissions, Securable
from mssql_extract.snapshot import (
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
    SourceRef,
    User,
    UserType,
)

REF = SourceRef(origin="generated.sql", line=1)


def _objects(rnd: random.Random, count: int) -> list[DbObject]:
    schemas = [f"s{i}" for i in range(max(5, count // 50))]
    return [
        DbObject(schema_name=rnd.choice(schemas), name=f"t{i}", kind=ObjectKind.TABLE,
                 columns=("a", "b", "c"), source_ref=REF)
        for i in range(count)
    ]  # fmt: skip


def _memberships(rnd: random.Random, users: list[str], roles: list[str]) -> list[Membership]:
    found = {(r, u) for u in users for r in rnd.sample(roles, 2)}
    found |= {(roles[(i - 1) // 4], roles[i]) for i in range(1, len(roles))}
    return [Membership(role=r, member=m, source_ref=REF) for r, m in sorted(found)]


def _permissions(
    rnd: random.Random, count: int, objects: list[DbObject], grantees: list[str]
) -> list[Permission]:
    found: dict[str, Permission] = {}
    while len(found) < count:
        obj = rnd.choice(objects)
        state = PermissionState.DENY if rnd.random() < 0.05 else PermissionState.GRANT
        row = Permission(
            securable_class="OBJECT", schema_name=obj.schema_name, object_name=obj.name,
            permission=rnd.choice(["SELECT", "INSERT", "UPDATE", "DELETE"]), state=state,
            grantee=rnd.choice(grantees), source_ref=REF,
        )  # fmt: skip
        found.setdefault(row.key, row)
    return list(found.values())


def generate(rows: int) -> SecuritySnapshot:
    """A one-database estate with ``rows`` permission rows (see the module docstring)."""
    rnd = random.Random(1)
    objects = _objects(rnd, max(100, rows // 10))
    users = [f"u{i}" for i in range(max(50, rows // 100))]
    roles = [f"r{i}" for i in range(max(10, rows // 100))]
    database = Database(
        name="Big",
        users=tuple(
            User(
                name=u,
                type=UserType.SQL,
                authentication_type=AuthenticationType.INSTANCE,
                login=u,
                source_ref=REF,
            )
            for u in users
        ),
        roles=tuple(DatabaseRole(name=r, source_ref=REF) for r in roles),
        memberships=tuple(_memberships(rnd, users, roles)),
        permissions=tuple(_permissions(rnd, rows, objects, users + roles)),
        schemas=tuple(
            Schema(name=s, owner="dbo", source_ref=REF)
            for s in sorted({o.schema_name for o in objects})
        ),
        objects=tuple(objects),
        source_ref=REF,
    )
    logins = tuple(Login(name=u, type=LoginType.SQL, source_ref=REF) for u in users)
    return SecuritySnapshot(server=Server(name="bench"), logins=logins, databases=(database,))


def measure(rows: int, memory: bool) -> str:
    """Time building the engine, one explain() per row, and effective() for every user."""
    snapshot = generate(rows)
    database = snapshot.databases[0]
    if memory:
        tracemalloc.start()
    started = time.perf_counter()
    engine = EffectivePermissions(snapshot)
    built = time.perf_counter()
    for row in database.permissions:
        engine.explain("Big", row.grantee, Securable.of(row), row.permission)
    explained = time.perf_counter()
    pairs = sum(len(engine.effective("Big", user.name)) for user in database.users)
    done = time.perf_counter()
    peak = f" peak={tracemalloc.get_traced_memory()[1] / 1e6:.0f}MB" if memory else ""
    return (
        f"rows={rows} build={built - started:.2f}s explain_per_row={explained - built:.2f}s "
        f"effective_all_users={done - explained:.2f}s users={len(database.users)} "
        f"pairs={pairs}{peak}"
    )


if __name__ == "__main__":
    arguments = [a for a in sys.argv[1:] if a != "--memory"]
    for size in arguments or ["10000"]:
        print(measure(int(size), "--memory" in sys.argv))
