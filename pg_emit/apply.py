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
from grantbridge.inputs import read_input, read_input_bytes
from grantbridge.plural import plural
from mapper.plan import MigrationPlan
from pg_emit.execute import StatementFailed, run_statements
from pg_emit.preflight import preflight, preflight_owners
from pg_emit.preflight_missing import preflight_missing
from pg_emit.psql import ScriptSection, parse_script
from pg_emit.render import render_sql
from pg_emit.section_log import summary
from pg_emit.server import connect

APPLY_ORDER: tuple[str, ...] = (
    "sql/01_roles.sql", "sql/02_memberships.sql", "sql/03_ownership.sql",
    "sql/04_privileges.sql", "sql/05_default_privileges.sql", "sql/06_hardening.sql",
    "sql/07_security.sql",
)  # fmt: skip

Log = Callable[[str], None]

#: SQLSTATE 53200 ("out of memory"): PostgreSQL's answer when one transaction holds more
#: locks than the shared lock table has slots (its hint names max_locks_per_transaction).
OUT_OF_MEMORY = "53200"
LOCKS_HINT = (
    ": the server's lock table is too small for this section's {statements} in one "
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
            reason += LOCKS_HINT.format(statements=summary(step.statements))
        raise ApplyFailed(
            f"{reason} (statement: {failed.first_line}); its transaction was rolled back",
            Location(step.script, key=step.database or "cluster"),
        ) from None
    log(f"{step.script}: {summary(step.statements)} in {step.database or 'cluster'}")


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
    return (
        f"; {plural(len(committed), 'earlier section')} of this multi-database apply "
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
    plan = MigrationPlan.from_json(read_input_bytes(plan_path, "the plan"), origin=str(plan_path))
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
                "the script differs from what plan.json renders to: edited by hand, or "
                "planned by another version of grantbridge? Re-run grantbridge plan and review "
                "what changed (grantbridge diff OLD NEW)",
                Location(str(path)),
            )
    return plan, expected


def apply_plan_dir(plan_dir: Path, dsn: str, *, log: Log = lambda _m: None) -> MigrationPlan:
    """Check the plan directory and the server, then run 01 … 07 (see :func:`run_scripts`)."""
    plan, scripts = load_plan_dir(plan_dir)
    check_target(plan, dsn)
    run_scripts(dsn, ordered(scripts), log=log)
    return plan


def check_target(plan: MigrationPlan, dsn: str) -> None:
    """What the connected role cannot do for this plan, and the databases and objects the
    target lacks, refused before anything runs (:mod:`pg_emit.preflight`,
    :mod:`pg_emit.preflight_missing`)."""
    with connect(dsn) as conn:
        superuser = preflight(conn, plan)
    preflight_missing(dsn, plan)
    if not superuser:
        preflight_owners(dsn, plan)


def ordered(scripts: dict[str, str]) -> list[tuple[str, str]]:
    """The scripts ``apply`` runs, (name, text) in :data:`APPLY_ORDER`."""
    return [(name, scripts[name]) for name in APPLY_ORDER]
