"""Run rendered scripts over psycopg (no psql needed), atomically where PostgreSQL allows.

Transactions: when every section targets one database (cluster-wide sections run in the first
database a script connects to — roles are cluster-wide, so that is equivalent), the whole apply
is **one transaction**: any failure rolls everything back. A plan spanning several databases
cannot be one transaction (PostgreSQL has none across databases, and a role created in one
uncommitted transaction is invisible to the others), so then each script section is its own
transaction, exactly like ``psql -f``; ``rollback.sql`` undoes the committed ones.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from grantbridge.errors import GrantbridgeError, InputError, Location
from grantbridge.inputs import read_input
from mapper import platforms
from mapper.plan import MigrationPlan
from pg_emit import intent
from pg_emit.execute import StatementFailed, run_statements
from pg_emit.psql import ScriptSection, parse_script
from pg_emit.render import render_sql
from pg_emit.render_roles import SAFE_ATTRIBUTES, STANDIN_MARK
from pg_emit.server import connect

APPLY_ORDER: tuple[str, ...] = (
    "sql/01_roles.sql", "sql/02_memberships.sql", "sql/03_ownership.sql",
    "sql/04_privileges.sql", "sql/05_default_privileges.sql", "sql/06_hardening.sql",
    "sql/07_security.sql",
)  # fmt: skip

Log = Callable[[str], None]

#: Is the connected role a superuser / CREATEROLE, and is this RDS? (an ``rds_superuser`` that
#: is not grantbridge's own stand-in).
RDS_CHECK_SQL = """
SELECT r.rolsuper, r.rolcreaterole,
       EXISTS (SELECT FROM pg_catalog.pg_roles s WHERE s.rolname = 'rds_superuser'
               AND coalesce(shobj_description(s.oid, 'pg_authid'), '') <> %s)
FROM pg_catalog.pg_roles r WHERE r.rolname = current_user
"""


#: SQLSTATE 53200 ("out of memory"): PostgreSQL's answer when one transaction holds more
#: locks than the shared lock table has slots (its hint names max_locks_per_transaction).
OUT_OF_MEMORY = "53200"
LOCKS_HINT = (
    ": the server's lock table is too small for this section's {count} statements in one "
    "transaction (every role created, object re-owned or object granted on holds a lock until "
    "commit); raise max_locks_per_transaction (a restart is needed; on RDS/Aurora, in the "
    "parameter group) and apply again"
)


class ApplyFailed(GrantbridgeError):
    """A statement failed on the server; everything in its transaction was rolled back."""


@dataclass(frozen=True)
class Step:
    """One section of one script, with the database it runs in resolved."""

    script: str
    database: str | None
    statements: tuple[str, ...]


def _steps(scripts: Sequence[tuple[str, str]]) -> list[Step]:
    parsed = [(name, parse_script(text, name)) for name, text in scripts]
    home = next((s.database for _, ss in parsed for s in ss if s.database), None)
    return [
        Step(name, section.database or home, section.statements)
        for name, sections in parsed
        for section in sections
        if isinstance(section, ScriptSection)
    ]


def _execute(conn: psycopg.Connection[Any], step: Step, log: Log) -> None:
    try:
        run_statements(conn, step.statements)
    except StatementFailed as failed:
        conn.rollback()
        reason, exc = failed.reason, failed.error
        if exc.sqlstate == OUT_OF_MEMORY and "max_locks_per_transaction" in (
            exc.diag.message_hint or ""
        ):
            reason += LOCKS_HINT.format(count=len(step.statements))
        raise ApplyFailed(
            f"{reason} (statement: {failed.first_line}); its transaction was rolled back",
            Location(step.script, key=step.database or "cluster"),
        ) from None
    log(f"{step.script}: {len(step.statements)} statements in {step.database or 'cluster'}")


def run_scripts(
    dsn: str, scripts: Sequence[tuple[str, str]], *, log: Log = lambda _m: None, commit: bool = True
) -> None:
    """Run scripts (name, text) in order; see the module docstring for transactions.

    Args:
        dsn: the server; sections without ``\\connect`` run in its database if no script connects.
        scripts: the scripts' names and texts, in order.
        log: receives one line per executed section.
        commit: False rolls the single transaction back at the end (a dry run).
    """
    steps = _steps(scripts)
    databases = {s.database for s in steps}
    if len(databases) <= 1:
        database = next(iter(databases), None)
        with connect(dsn, database, autocommit=False) as conn:
            for step in steps:
                _execute(conn, step, log)
            conn.commit() if commit else conn.rollback()
        return
    committed: list[Step] = []
    for step in steps:
        with connect(dsn, step.database, autocommit=False) as conn:
            try:
                _execute(conn, step, log)
            except ApplyFailed as failed:
                if committed and commit:
                    raise ApplyFailed(failed.message + _committed_note(committed),
                                      failed.location) from None  # fmt: skip
                raise
            conn.commit() if commit else conn.rollback()
        committed.append(step)


def _committed_note(committed: Sequence[Step]) -> str:
    """What a multi-database apply left behind when a later section failed."""
    places = list(dict.fromkeys(f"{s.script} in {s.database or 'cluster'}" for s in committed))
    shown = ", ".join(places[:5]) + (f" and {len(places) - 5} more" if len(places) > 5 else "")
    count = len(committed)
    return (
        f"; {count} earlier section{'s' if count != 1 else ''} of this multi-database apply "
        f"had already been committed ({shown}): run sql/rollback.sql to undo them, or fix the "
        "cause and apply again (the scripts are idempotent)"
    )


def load_plan_dir(plan_dir: Path) -> tuple[MigrationPlan, dict[str, str]]:
    """Read ``plan.json`` and the scripts; refuse a directory edited since the plan was made.

    The scripts must be exactly what this plan renders to, and their header fingerprint must be
    the plan's: a hand-edited script or ``plan.json`` is refused, not applied.
    """
    plan_path = plan_dir / "plan.json"
    if not plan_path.is_file():
        raise InputError("no plan.json in the plan directory", Location(str(plan_dir)))
    plan = MigrationPlan.from_json(read_input(plan_path, "the plan"), origin=str(plan_path))
    expected = render_sql(plan)
    for name, text in expected.items():
        path = plan_dir / name
        if not path.is_file():
            raise InputError("the script is missing from the plan directory", Location(str(path)))
        actual = read_input(path, "the script")
        if f"-- plan fingerprint: {plan.fingerprint}\n" not in actual:
            raise InputError(
                "the script's fingerprint does not match plan.json (plan directory edited?)",
                Location(str(path)),
            )
        if actual != text:
            raise InputError(
                "the script differs from what plan.json renders to (edited by hand?); "
                "re-run grantbridge plan",
                Location(str(path)),
            )
    return plan, expected


def preflight(conn: psycopg.Connection[Any], plan: MigrationPlan) -> None:
    """Refuse up front what the connected role cannot do, rather than fail half-way.

    A plan for plain PostgreSQL is refused on RDS / Aurora (its Kerberos logins lack
    ``rds_ad`` there). A superuser can do everything but give SUPERUSER-only attributes on RDS.
    A non-superuser (the RDS master user: CREATEROLE, CREATEDB, member of ``rds_superuser``;
    on plain PostgreSQL a CREATEROLE CREATEDB role) must be able to create the plan's roles,
    hand over the plan's databases (CREATEDB, and the privileges of their current owner, or
    02 makes it a member of the owner role) and grant every role the plan grants that exists
    already (:data:`UNGRANTABLE_SQL`). Roles the scripts create are the applier's to grant, on
    every version.
    """
    row = conn.execute(RDS_CHECK_SQL, [STANDIN_MARK]).fetchone()
    assert row is not None
    superuser, createrole, on_rds = row
    unsafe = sorted(
        f"{r.name}: {a}"
        for r in plan.roles
        for a in r.attributes
        if a.upper() not in SAFE_ATTRIBUTES
    )
    if on_rds and not platforms.on_rds(plan.target):
        raise InputError(
            f"the plan is for target {plan.target!r} (plain PostgreSQL), but the server is "
            "Amazon RDS / Aurora (it has rds_superuser): its Kerberos logins are members of no "
            'rds_ad and could not log in; plan again with target = "rds" or "aurora"'
        )
    if unsafe and on_rds:
        raise InputError(f"the plan needs SUPERUSER-only attributes on RDS: {', '.join(unsafe)}")
    if superuser:
        return
    if not createrole:
        raise InputError("the connected role can neither create roles nor is a superuser")
    if unsafe:
        raise InputError(
            "the plan needs attributes only a superuser can give, and the connected role is "
            f"none: {', '.join(unsafe)}"
        )
    _preflight_non_superuser(conn, plan)


#: For a non-superuser: does it lack CREATEDB; which existing roles the plan grants can it not
#: grant (PostgreSQL 16+: without ADMIN OPTION on them, CREATEROLE no longer suffices; 15:
#: superuser roles); which existing plan databases is it not the owner of (by inheritance),
#: their owner not being a plan owner role that 02 makes it a member of.
UNGRANTABLE_SQL = """
SELECT NOT (SELECT rolcreatedb FROM pg_catalog.pg_roles WHERE rolname = current_user),
       ARRAY(SELECT r.rolname::text FROM pg_catalog.pg_roles r
             WHERE r.rolname = ANY (%(granted)s::text[])
               AND CASE WHEN current_setting('server_version_num')::int >= 160000
                        THEN NOT pg_has_role(current_user, r.oid, 'MEMBER WITH ADMIN OPTION')
                        ELSE r.rolsuper END
             ORDER BY 1),
       ARRAY(SELECT format('%%s (owner %%s)', d.datname, pg_get_userbyid(d.datdba))
             FROM pg_catalog.pg_database d
             WHERE d.datname = ANY (%(databases)s::text[])
               AND NOT pg_has_role(current_user, d.datdba, 'USAGE')
               AND NOT pg_get_userbyid(d.datdba) = ANY (%(owners)s::text[])
             ORDER BY 1)
"""


def _preflight_non_superuser(conn: psycopg.Connection[Any], plan: MigrationPlan) -> None:
    owners = [o for o in intent.owner_roles(plan) if plan.role(o) is not None]
    granted = sorted({m.role for m in intent.memberships(plan)} | set(owners))
    databases = [d.name for d in plan.databases]
    params = {"granted": granted, "databases": databases, "owners": owners}
    row = conn.execute(UNGRANTABLE_SQL, params).fetchone()
    assert row is not None
    no_createdb, ungrantable, foreign = row
    if databases and no_createdb:
        raise InputError(
            "the connected role is no superuser and lacks CREATEDB, which PostgreSQL asks of "
            "whoever gives a database a new owner (ALTER DATABASE … OWNER TO)"
        )
    if ungrantable:
        raise InputError(
            "the connected role may not grant these roles the plan grants (PostgreSQL 16+ asks "
            f"for ADMIN OPTION on them, 15 for a superuser): {', '.join(ungrantable)}"
        )
    if foreign:
        raise InputError(
            "the connected role is no superuser and does not own these databases: "
            f"{', '.join(foreign)}; it cannot give them to their planned owners, so apply as "
            "their owner (or a member of it)"
        )


def apply_plan_dir(plan_dir: Path, dsn: str, *, log: Log = lambda _m: None) -> MigrationPlan:
    """Check the plan directory and the server, then run 01 … 07 (see :func:`run_scripts`)."""
    plan, scripts = load_plan_dir(plan_dir)
    with connect(dsn) as conn:
        preflight(conn, plan)
    run_scripts(dsn, [(name, scripts[name]) for name in APPLY_ORDER], log=log)
    return plan
