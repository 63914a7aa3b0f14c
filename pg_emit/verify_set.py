"""``verify`` of a plan set (``plan --per-database``): every part on ONE server, together.

The parts of a set share the cluster: the roles made of logins and server roles are in every
part, and each part's ``01_roles.sql`` / ``02_memberships.sql`` create and grant them again. A
part whose cluster-wide statements change what another part relies on (a shared role's
attributes, a membership that gives one of its roles more) is only seen when both parts' are on
the server together. So verify of a set puts every part's cluster-wide statements on the server
first, then verifies each part's databases as :func:`pg_emit.verify.verify_plan` does, one
transaction per database, rolled back:

- embedded throwaway server: each part's cluster-wide statements are committed in the set's
  order (:func:`pg_emit.verify.cluster_committed`, one per part, undone in reverse at the end);
- live target (``--dsn``): nothing may be kept, so every part's cluster-wide statements run
  again inside each database's rolled-back transaction, before that database's sections.

Each part's databases are its own (``plan --per-database``: one database a part), so the
database sections of two parts never meet; a part's comparison of memberships already leaves
out a shared role's membership in a role only another part knows
(:func:`pg_emit.intent.live_memberships`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager

from grantbridge.errors import GrantbridgeError
from mapper.plan import MigrationPlan, PgRole
from pg_emit.apply import Log
from pg_emit.compare import Mismatch, in_order
from pg_emit.preflight import check_lock_table
from pg_emit.server import connect
from pg_emit.verify import (
    Statements,
    _databases,
    cluster_committed,
    ensure_databases,
    statements_by_database,
    verify_database,
)


def cluster_statements(scripts: dict[str, str]) -> list[str]:
    """A part's cluster-wide statements (its scripts' sections without ``\\connect``)."""
    return statements_by_database(scripts).get(None, [])


@contextmanager
def every_cluster(
    dsn: str, clusters: Sequence[tuple[str, list[str]]], *, embedded: bool
) -> Iterator[list[str]]:
    """Every part's cluster-wide statements on the server for the length of the block;
    ``clusters``: each part's name (for an error) and statements, in the set's order.

    Embedded: committed, part after part, and undone at the end (yields nothing to run again).
    Live: yields them all, in the set's order, for each database's transaction to run first.
    """
    if not embedded:
        yield [s for _, statements in clusters for s in statements]
        return
    with ExitStack() as stack:
        for name, statements in clusters:
            part: Statements = {None: statements}
            try:
                stack.enter_context(cluster_committed(dsn, part))
            except GrantbridgeError as exc:
                raise type(exc)(f"{name}: {exc.message}", exc.location) from None
        yield []


def check_set_lock_table(dsn: str, plan: MigrationPlan, roles: Sequence[PgRole]) -> None:
    """On a live target, each database's transaction creates every part's roles again: the
    lock table must hold them all with the part's largest database."""
    with connect(dsn) as conn:
        check_lock_table(conn, plan.model_copy(update={"roles": tuple(roles)}), with_cluster=True)


def verify_part(
    plan: MigrationPlan, scripts: dict[str, str], dsn: str, cluster: list[str], *,
    embedded: bool, log: Log = lambda _m: None,
) -> list[Mismatch]:  # fmt: skip
    """One part's databases verified on the server :func:`every_cluster` prepared.

    ``cluster``: what it yielded (live: every part's cluster-wide statements, run in each of
    this part's database transactions instead of the part's own).
    """
    parsed: Statements = statements_by_database(scripts)
    if not embedded:
        parsed[None] = cluster
    ensure_databases(dsn, plan, create=embedded)
    mismatches: set[Mismatch] = set()
    for index, database in enumerate(_databases(plan)):
        log(f"verify {database}: apply, read back, compare (transaction rolled back)")
        found = verify_database(dsn, plan, parsed, database, cluster=not embedded, roles=index == 0)
        mismatches |= set(found)
    return in_order(mismatches)
