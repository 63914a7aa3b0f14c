"""The plan's databases and objects that the target lacks, refused before anything runs.

The scripts create roles and schemas (``03``: "schemas created if absent"), never databases,
tables, views, sequences, routines or types: those come from the schema conversion (AWS SCT,
pgloader …). A plan database missing from the server made ``apply`` fail to connect to it
(exit 4, "cannot connect") and a missing object stopped ``03`` at its ``ALTER … OWNER TO``;
with several databases both came after ``01`` and ``02`` (and earlier databases' sections) had
been committed (:mod:`pg_emit.apply`), leaving the target half-applied. So ``apply`` asks
first, and refuses with one message naming what is missing (exit 2), nothing run. ``verify
--dsn`` and ``drift`` refuse a missing database with the same message (:func:`no_database`):
the server answered, so it is bad input, not a connection failure.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from grantbridge.errors import ConnectionFailed, InputError, TargetError
from grantbridge.plural import plural
from mapper.plan import MigrationPlan
from pg_emit.server import MAINTENANCE_DATABASES, connect

#: The plan objects of the connected database that it lacks. Routines match by name, as the
#: scripts name them (any overload will do), and relations by name whatever their relkind,
#: as :data:`pg_emit.preflight.FOREIGN_OWNED_SQL` matches them.
MISSING_OBJECTS_SQL = """
WITH wanted(schema_name, name, kind) AS (
  SELECT * FROM unnest(%(schemas)s::text[], %(names)s::text[], %(kinds)s::text[]))
SELECT format('%%s %%I.%%I', w.kind, w.schema_name, w.name)
  FROM wanted w
 WHERE NOT EXISTS (
   SELECT FROM pg_catalog.pg_namespace n
    WHERE n.nspname = w.schema_name
      AND CASE
        WHEN w.kind IN ('table', 'view', 'sequence') THEN EXISTS (
          SELECT FROM pg_catalog.pg_class c WHERE c.relnamespace = n.oid AND c.relname = w.name)
        WHEN w.kind IN ('function', 'procedure') THEN EXISTS (
          SELECT FROM pg_catalog.pg_proc p WHERE p.pronamespace = n.oid AND p.proname = w.name)
        ELSE EXISTS (
          SELECT FROM pg_catalog.pg_type t WHERE t.typnamespace = n.oid AND t.typname = w.name)
      END)
 ORDER BY 1
"""

#: Databases and objects named in the refusal; the rest are counted.
MISSING_SHOWN = 10

ADVICE = (
    "nothing was applied. The scripts grant on what the schema conversion (AWS SCT, pgloader …) "
    "created and create no database nor object: convert the schema first, or plan again with "
    "--target (grantbridge inspect of the converted target), which leaves out what it lacks "
    "(finding GB042)"
)


def _listed(items: list[str]) -> str:
    shown = ", ".join(items[:MISSING_SHOWN])
    more = len(items) - MISSING_SHOWN
    return shown + (f" and {more} more" if more > 0 else "")


#: The databases of a list that exist (asked through any database of the server).
_PRESENT_SQL = "SELECT datname FROM pg_catalog.pg_database WHERE datname = ANY (%s)"
#: libpq's text (as :func:`pg_emit.server.connect` quotes it) for a database the server lacks.
_DOES_NOT_EXIST = re.compile(r'FATAL:\s+database "[^"]*" does not exist')


def no_database(absent: Sequence[str], wanted: int, command: str, nothing: str) -> TargetError:
    """The refusal of a plan whose databases ``absent`` (of ``wanted``) the target lacks:
    ``command`` (apply, verify, drift) did ``nothing`` (applied, verified, compared)."""
    return TargetError(
        f"the target has no database {_listed(list(absent))} of the plan ({len(absent)} of "
        f"{wanted}); nothing was {nothing}. The scripts create no database: create it with the "
        f"converted schema (AWS SCT, pgloader …), then {command} again"
    )


def refuse_absent_databases(
    dsn: str, wanted: Sequence[str], command: str, nothing: str, *, through_plan: bool = False
) -> None:
    """Raise :func:`no_database` for the databases of ``wanted`` the server lacks.

    The server is asked through the DSN's own database, or (``through_plan``: ``drift``, which
    never needs the DSN's own database) through the first of ``wanted`` it lets the role into,
    else through a maintenance database (``postgres``, ``template1``): which of the failures
    before meant "no such database" is then the server's answer, not its message's words
    (``Datenbank »x« existiert nicht`` under a German ``lc_messages``).
    """
    candidates = [*wanted, *MAINTENANCE_DATABASES] if through_plan else [None]
    failures: list[ConnectionFailed] = []
    for database in candidates:
        try:
            with connect(dsn, database) as conn:
                present = {name for (name,) in conn.execute(_PRESENT_SQL, [list(wanted)])}
        except ConnectionFailed as exc:
            if database is None:
                raise
            failures.append(exc)  # absent or closed: ask through the next
            continue
        break
    else:  # nothing answered: English "does not exist" for each of them, or unreachable
        if not all(_DOES_NOT_EXIST.search(str(exc)) for exc in failures[: len(wanted)]):
            raise failures[0]
        present = set()
    absent = [name for name in wanted if name not in present]
    if absent:
        raise no_database(absent, len(wanted), command, nothing)


def preflight_missing(dsn: str, plan: MigrationPlan) -> None:
    """Refuse a plan whose databases or objects the target does not have (exit 2)."""
    wanted = sorted({d.name for d in plan.databases})
    if not wanted:
        return
    refuse_absent_databases(dsn, wanted, "apply", "applied")
    missing: list[str] = []
    for database in wanted:
        objects = [o for o in plan.objects if o.database == database]
        if not objects:
            continue
        params = {
            "schemas": [o.schema_name for o in objects],
            "names": [o.name for o in objects],
            "kinds": [o.kind for o in objects],
        }
        with connect(dsn, database) as conn:
            found = conn.execute(MISSING_OBJECTS_SQL, params).fetchall()
        missing += [f"{database}: {what}" for (what,) in found]
    if missing:
        raise InputError(
            f"the target lacks {plural(len(missing), 'object')} of the plan: {_listed(missing)}; "
            f"{ADVICE}"
        )
