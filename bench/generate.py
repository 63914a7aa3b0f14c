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

The estate's shape is data in :mod:`bench.estate_shape`, the fast model construction is
:mod:`bench.construct`, and each database is drawn by :mod:`bench.database_builder`; this
module draws the server level and puts the estate together.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence

from bench.construct import SOURCE, construct, permission_row, sorted_by_key
from bench.database_builder import DatabaseBuilder
from bench.estate_shape import (
    DB_WORDS,
    DEPTS,
    FIRST,
    LAST,
    LOGIN_KINDS,
    SERVER_PERMISSIONS,
    weighted,
)
from bench.scales import Scale
from mssql_extract.snapshot import (
    Database,
    Login,
    LoginType,
    Membership,
    Permission,
    PermissionState,
    SecuritySnapshot,
    Server,
    ServerRole,
)


def _login_name(kind: LoginType, rng: random.Random, i: int) -> str:
    dept = rng.choice(DEPTS)
    if kind is LoginType.SQL:
        return f"{rng.choice(('app', 'svc', 'etl', 'rpt'))}_{dept}_{i:05d}"
    if kind is LoginType.WINDOWS_USER:
        return f"CORP\\{rng.choice(FIRST)}.{rng.choice(LAST)}{i:05d}"
    return f"CORP\\GG_{dept.title()}_{i:05d}"


def _login(rng: random.Random, i: int, databases: Sequence[str]) -> Login:
    kind = weighted(rng, LOGIN_KINDS)[0]
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
    permissions = [permission_row("SERVER", p, PermissionState.GRANT, g) for g, p in sorted(perms)]
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
        logins=sorted_by_key(logins),
        server_roles=sorted_by_key(server_roles),
        server_memberships=sorted_by_key(server_members),
        server_permissions=sorted_by_key(server_perms),
    )
    ordered = sorted(names, key=lambda n: construct(Database, name=n, source_ref=SOURCE).key)

    def databases() -> Iterator[Database]:
        for name in ordered:
            yield DatabaseBuilder(random.Random(seeds[name]), name, scale, db_rows).build(logins)

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
