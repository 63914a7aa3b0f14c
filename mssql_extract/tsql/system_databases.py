"""System databases (``master``, ``model``, ``msdb``, ``tempdb``) stay out of a script's snapshot.

Catalog rows and dacpacs leave them out (``mssql_extract.catalog.SYSTEM_DATABASES``: "system
databases … are not listed"; a ``master`` dacpac gives server-level facts only), and so do
scripts: a plan would otherwise make a PostgreSQL database ``msdb`` or ``master`` for them, with
an owner role, hardening and ``\\connect "msdb"`` in every script, where the target has none.
Tools name them all the same: dbatools' Export-DbaLogin writes ``USE msdb`` before the
``sp_update_job`` of each job a login owns, and the users a login has in msdb (SQL Server
Agent's ``SQLAgentUserRole`` …) with the rest of its databases; SSMS's job scripts start with
``USE [msdb]``.

A system database the scripts only named (``USE msdb``) leaves nothing. Database facts no
``USE`` placed, without ``--database``, are an error (exit 2) naming the first of them: sqlcmd
would run them in ``master``, but they are most likely a database's own script. One holding what a plan
would migrate (a user, a role or membership, a permission, a schema or object, an owner …) is
kept as one skipped statement at its first mention, naming what it held, which the plan reports
(GB045, ``mapper/translate/skipped.py``): those facts are not dropped in silence.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from grantbridge.errors import ExtractError, Location
from grantbridge.plural import plural
from mssql_extract.snapshot import PermissionState, SourceRef, fold
from mssql_extract.tsql.state import FIXED_DATABASE_ROLES, SYSTEM_DATABASES, DbState, PermRow

if TYPE_CHECKING:
    from mssql_extract.tsql.replay import Builder

#: How the reason of such a skipped item begins (``mapper/translate/skipped.py`` reads it).
SYSTEM_DATABASE = "system database"

#: Names listed per kind of fact before the rest are only counted.
_NAMED = 5


def user_databases(builder: Builder) -> Iterator[DbState]:
    """The databases of the replay to put in the snapshot; each system database holding facts
    is recorded as skipped on ``builder`` instead."""
    for db in builder.databases.values():
        if fold(db.name) not in SYSTEM_DATABASES:
            yield db
            continue
        held = _held(db)
        if held and fold(db.name) == "master" and db.ref.line is None:  # no USE master first
            raise _outside_any_use(db, held)
        if held:
            reason = (
                f"{SYSTEM_DATABASE} {db.name}: not migrated, as catalog rows and dacpacs leave "
                "system databases out (the SQL Server Agent, Database Mail and other services "
                "they serve have no PostgreSQL database)"
            )
            builder.skip("statement", reason, "; ".join(held), _where(db))


def _outside_any_use(db: DbState, held: list[str]) -> ExtractError:
    """Database facts no ``USE`` placed, without ``--database``: a database's own script (SSDT
    project files, a hand-written permissions script), which sqlcmd would run in ``master``.
    Which database it belongs to is the engineer's to say; an empty plan would hide it."""
    where = _where(db)
    return ExtractError(
        f"database statements outside any USE, and no --database ({'; '.join(held)}): SQL "
        "Server would run them in master, which grantbridge does not migrate; name the "
        "database they belong to with --database NAME (or add USE [NAME] to the script)",
        Location(where.origin, where.line, where.column),
    )


def _where(db: DbState) -> SourceRef:
    """The database's first mention (its ``USE``), or, for ``master``, which scripts start in
    without naming it, the first fact recorded there."""
    if db.ref.line is not None:
        return db.ref
    refs = [
        *(u.ref for u in db.users.values()),
        *(r.ref for r in db.roles.values()),
        *(a.ref for a in db.app_roles.values()),
        *(ref for _, _, ref in db.memberships.values()),
        *(row.ref for row in db.perms.rows.values()),
        *(x.ref for x in db.schemas.values()),
        *(o.source_ref for o in db.objects.values()),
    ]
    return min(refs, key=lambda r: (r.origin, r.line or 0, r.column or 0), default=db.ref)


def _held(db: DbState) -> list[str]:
    """What the database holds that a plan would migrate, one entry per kind of fact."""
    roles = [r.name for r in db.roles.values() if fold(r.name) not in FIXED_DATABASE_ROLES]
    kinds = (
        ("user", [u.name for u in db.users.values()]),
        ("role", roles),
        ("application role", [a.name for a in db.app_roles.values()]),
        ("membership", [f"{role} <- {member}" for role, member, _ in db.memberships.values()]),
        ("permission", [_permission(row) for row in db.perms.rows.values()]),
        ("schema", [s.name for s in db.schemas.values()]),
        ("object", [f"{o.schema_name}.{o.name}" for o in db.objects.values()]),
    )
    held = [_listed(kind, names) for kind, names in kinds if names]
    if db.owner is not None:
        held.append(f"owner {db.owner}")
    return held


def _permission(row: PermRow) -> str:
    verb = "DENY" if row.state == PermissionState.DENY else "GRANT"
    return f"{verb} {row.permission} TO {row.grantee}"


def _listed(kind: str, names: list[str]) -> str:
    shown = ", ".join(sorted(names)[:_NAMED])
    more = f" and {len(names) - _NAMED} more" if len(names) > _NAMED else ""
    return f"{plural(len(names), kind)}: {shown}{more}"
