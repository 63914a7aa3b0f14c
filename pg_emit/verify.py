"""``verify``: apply a plan to a real PostgreSQL and prove it grants exactly what it says.

Order, per target database, inside ONE transaction that is rolled back at the end:

1. ``01_roles.sql`` and ``02_memberships.sql`` — on a live target (``--dsn``) only: roles are
   cluster-wide, but CREATE ROLE is transactional, so the rollback removes them again. On the
   embedded throwaway server they run once, before the first database, and are committed
   (:func:`cluster_committed`), instead of again in every database's transaction (with 24k
   roles, about 5 s each time; bench scale M has 10 databases);
2. stubs: the plan's schemas and objects that do not exist yet, owned by their owner roles;
3. this database's sections of ``03`` … ``06``;
4. read back: catalog ACLs, memberships, owners, default ACLs (``inspect``), effective
   privileges (``has_*_privilege``), SECURITY DEFINER / search_path and row-level security
   (``security_state``), and compare both ways with the plan (``compare``, ``effective``).
   Roles and memberships are the cluster's, the same from every database: they are read and
   compared in the first database only.

Each database is verified in its own transaction because a transaction cannot span databases.
On the embedded server the target databases are created first (CREATE DATABASE cannot run in a
transaction) and the committed roles are dropped again at the end; on a live target the
databases must exist already, and nothing is kept.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any, cast

import psycopg
from rich.console import Console

from grantbridge.collector import collector_paused
from grantbridge.errors import Location, MismatchError
from grantbridge.plural import plural
from mapper.plan import MigrationPlan
from mapper.quoting import quote_ident
from mapper.target import bind_signatures
from pg_emit.apply import APPLY_ORDER, ApplyFailed, Log, load_plan_dir
from pg_emit.compare import Mismatch, compare_cluster, compare_database, in_order
from pg_emit.effective import check_effective
from pg_emit.execute import StatementFailed, run_statements
from pg_emit.inspect import read_database, read_roles, session_role
from pg_emit.mismatch_report import print_mismatches
from pg_emit.preflight import VERIFY_INSTEAD, check_lock_table
from pg_emit.preflight_missing import refuse_absent_databases
from pg_emit.psql import parse_script
from pg_emit.render import render_sql
from pg_emit.security_state import compare_security
from pg_emit.server import connect, embedded_server, redact
from pg_emit.stubs import create_stubs

#: The apply scripts' statements by database, in apply order (None: the cluster-wide ones).
Statements = dict[str | None, list[str]]


def statements_by_database(scripts: dict[str, str]) -> Statements:
    """Each apply script parsed once (they are parsed again per database otherwise: bench M's
    scripts hold 147k statements and ten databases)."""
    result: Statements = {}
    for name in APPLY_ORDER:
        for section in parse_script(scripts[name], name):
            result.setdefault(section.database, []).extend(section.statements)
    return result


def _parsed(scripts: dict[str, str] | Statements) -> Statements:
    """The scripts by database, parsed now unless they were already."""
    if any(isinstance(value, str) for value in scripts.values()):
        return statements_by_database(cast(dict[str, str], scripts))
    return cast(Statements, scripts)


def _statements(parsed: Statements, database: str, cluster: bool) -> list[str]:
    """Statements of the apply scripts for one database (or the cluster-wide ones)."""
    return parsed.get(None if cluster else database, [])


#: What to do when a statement of the plan fails, by where verify applies it. The embedded
#: server starts empty and gets a stub of every object the plan names, so there the plan itself
#: asks for something this PostgreSQL refuses.
FAILURE_HINTS = {
    False: "create what is missing (or run the data migration first), or verify on the "
    "embedded server (no --dsn)",
    True: "the embedded server starts empty and verify creates the plan's objects as stubs, so "
    "the plan asks for something this PostgreSQL refuses (a role or option of a later "
    "version, or a hand-edited plan.json)",
}


def _run(
    conn: psycopg.Connection[Any], statements: list[str], database: str | None, *, embedded: bool
) -> None:
    """Run statements; a failure becomes :class:`ApplyFailed` (exit 2), not a traceback."""
    try:
        run_statements(conn, statements)
    except StatementFailed as failed:
        raise ApplyFailed(
            f"verify cannot apply the plan: {failed.reason} (statement: {failed.first_line}); "
            f"nothing was kept — {FAILURE_HINTS[embedded]}",
            Location(key=database or "cluster"),
        ) from None


def live_state(
    conn: psycopg.Connection[Any], plan: MigrationPlan, *, roles: bool = True
) -> MigrationPlan:
    """The current database's state in the plan model, with the cluster's roles and memberships
    unless ``roles=False`` (they are the same from every database: read them once)."""
    cluster = read_roles(conn) if roles else ((), ())
    parts = read_database(conn)
    return MigrationPlan(fingerprint="inspect", target="postgresql", roles=cluster[0],
                         memberships=cluster[1], **{k: tuple(v) for k, v in parts.items()})  # fmt: skip


def only_database(plan: MigrationPlan, database: str) -> MigrationPlan:
    """The plan restricted to one database (roles and memberships kept)."""
    return plan.model_copy(update={
        field: tuple(i for i in getattr(plan, field) if getattr(i, "database", i.name if field == "databases" else None) == database)
        for field in ("databases", "schemas", "objects", "grants", "revokes", "default_privileges")
    })  # fmt: skip


def check_state(
    conn: psycopg.Connection[Any], plan: MigrationPlan, database: str, *, cluster: bool = True
) -> list[Mismatch]:
    """Compare the connected database's current state with the plan (no changes made).

    ``cluster=False`` leaves out roles and memberships (:func:`compare_cluster`): they are the
    cluster's, the same from every database, and verify compares them in its first one only.
    """
    live = live_state(conn, plan, roles=cluster)
    bound = bind_signatures(plan, live.objects)  # routines the plan names without arguments
    scoped = only_database(bound, database)
    found = compare_database(scoped, live)
    if cluster:
        found += compare_cluster(scoped, live, session_role(conn))
    found += check_effective(conn, scoped, database)
    return in_order(set(found + compare_security(bound, conn, database)))


@contextmanager
def applied(
    dsn: str, plan: MigrationPlan, scripts: dict[str, str] | Statements, database: str, *,
    cluster: bool = True,
) -> Iterator[psycopg.Connection[Any]]:  # fmt: skip
    """Yield a connection to ``database`` with the plan applied (stubs too), then roll back.

    ``scripts``: the rendered scripts, or their :func:`statements_by_database` (parsed once for
    every database). ``cluster=False`` leaves out ``01`` / ``02``: the caller committed them
    already (:func:`cluster_committed`), which only verify on the embedded server does.
    """
    parsed = _parsed(scripts)
    embedded = not cluster
    with connect(dsn, database, autocommit=False) as conn:
        try:
            if cluster:
                _run(conn, _statements(parsed, database, cluster=True), None, embedded=embedded)
            create_stubs(conn, plan, database)
            _run(conn, _statements(parsed, database, cluster=False), database, embedded=embedded)
            yield conn
        finally:
            conn.rollback()


def verify_database(
    dsn: str, plan: MigrationPlan, scripts: dict[str, str] | Statements, database: str, *,
    cluster: bool = True, roles: bool = True,
) -> list[Mismatch]:  # fmt: skip
    """Apply, stub, read back and compare in one database, in a transaction rolled back.

    ``cluster``: run ``01`` / ``02`` in the transaction (see :func:`applied`); ``roles``:
    compare roles and memberships too (see :func:`check_state`).
    """
    with applied(dsn, plan, scripts, database, cluster=cluster) as conn:
        return check_state(conn, plan, database, cluster=roles)


#: The roles and membership edges of the server, by OID: what :func:`cluster_committed` undoes.
ROLE_OIDS_SQL = "SELECT oid, quote_ident(rolname) FROM pg_catalog.pg_roles"
MEMBER_EDGES_SQL = """
SELECT a.roleid, a.member, quote_ident(pg_get_userbyid(a.roleid)),
       quote_ident(pg_get_userbyid(a.member))
FROM pg_catalog.pg_auth_members a
"""  # names by pg_get_userbyid, not joins: see pg_emit.inspect.MEMBERS_SQL


@contextmanager
def cluster_committed(dsn: str, scripts: dict[str, str] | Statements) -> Iterator[None]:
    """Commit ``01_roles.sql`` and ``02_memberships.sql`` once (one transaction), then undo them.

    For the embedded throwaway server only. Afterwards the roles they created are dropped and
    the memberships they granted between roles that existed before are revoked, so a server
    shared by several verifications (the test session's) is left as it was found.
    """
    with connect(dsn) as conn:
        roles = dict(conn.execute(ROLE_OIDS_SQL).fetchall())
        edges = {(r, m) for r, m, _, _ in conn.execute(MEMBER_EDGES_SQL).fetchall()}
    with connect(dsn, autocommit=False) as conn:  # rolled back on error, committed at the end
        _run(conn, _statements(_parsed(scripts), "", cluster=True), None, embedded=True)
    try:
        yield
    finally:
        with connect(dsn) as conn:
            granted = [(r, m) for a, b, r, m in conn.execute(MEMBER_EDGES_SQL).fetchall()
                       if (a, b) not in edges and a in roles and b in roles]  # fmt: skip
            created = [
                name for oid, name in conn.execute(ROLE_OIDS_SQL).fetchall() if oid not in roles
            ]
            for role, member in granted:
                conn.execute(f"REVOKE {role} FROM {member}".encode())
            if created:
                conn.execute(f"DROP ROLE {', '.join(sorted(created))}".encode())


def verified_databases(plan: MigrationPlan) -> list[str]:
    """The databases ``verify`` applies and compares in, one transaction each, sorted."""
    return sorted({d.name for d in plan.databases} | {o.database for o in plan.objects}
                  | {g.database for g in plan.grants})  # fmt: skip


def ensure_databases(dsn: str, plan: MigrationPlan, *, create: bool) -> None:
    """Create the plan's databases (embedded server) or insist they exist (live target: the
    server answered, so a missing one is bad input, exit 2, worded as ``apply`` words it)."""
    if not create:
        refuse_absent_databases(dsn, verified_databases(plan), "verify", "verified")
        return
    with connect(dsn) as conn:
        existing = {r[0] for r in conn.execute("SELECT datname FROM pg_database").fetchall()}
        for name in verified_databases(plan):
            if name not in existing:
                conn.execute(f"CREATE DATABASE {quote_ident(name)}".encode())


def verify_plan(
    plan: MigrationPlan, dsn: str, *, embedded: bool, log: Log = lambda _m: None
) -> list[Mismatch]:
    """Verify a plan on a server; returns every mismatch (empty: the plan holds).

    ``embedded=True`` (the throwaway server, ours alone): the cluster-wide ``01`` / ``02`` are
    committed once, before the databases (:func:`cluster_committed`). ``embedded=False`` (a live
    target): they run again inside every database's rolled-back transaction, because nothing
    may be kept on a live server, not even for the length of the run — its other sessions would
    see the roles, and a crash or a lost connection would leave them behind.
    """
    scripts = statements_by_database(render_sql(plan))
    ensure_databases(dsn, plan, create=embedded)
    if not embedded:  # each database's transaction creates the roles again: both must fit
        with connect(dsn) as conn:
            instead = VERIFY_INSTEAD
            if len(verified_databases(plan)) > 1:  # a set's parts each hold their own roles only
                instead += ", or plan --per-database and verify the set on this server"
            check_lock_table(conn, plan, with_cluster=True, command="verify", instead=instead)
    mismatches: set[Mismatch] = set()
    roles: AbstractContextManager[None] = (
        cluster_committed(dsn, scripts) if embedded else nullcontext()
    )
    # the checks build sets of millions of small objects beside the plan: no collector passes
    with roles, collector_paused():
        for index, database in enumerate(verified_databases(plan)):
            log(f"verify {database}: apply, read back, compare (transaction rolled back)")
            found = verify_database(
                dsn, plan, scripts, database, cluster=not embedded, roles=index == 0
            )
            mismatches |= set(found)
    return in_order(mismatches)


def verify_plan_dir(plan_dir: Path, dsn: str | None, *, console: Console | None = None) -> None:
    """``grantbridge verify``: raise :class:`MismatchError` (exit 3) on any mismatch."""
    console = console or Console(stderr=True)
    plan, _ = load_plan_dir(Path(plan_dir))
    if dsn is None:
        console.print("verify: embedded throwaway PostgreSQL")
        with embedded_server() as embedded_dsn:
            mismatches = verify_plan(plan, embedded_dsn, embedded=True, log=console.print)
    else:
        console.print(f"verify: live target {redact(dsn)}; every change is rolled back")
        mismatches = verify_plan(plan, dsn, embedded=False, log=console.print)
    if mismatches:
        print_mismatches(console, mismatches)
        raise MismatchError(
            f"verification failed: {plural(len(mismatches), 'mismatch', 'mismatches')}"
        )
    console.print("verification passed: PostgreSQL grants exactly what the plan says")
