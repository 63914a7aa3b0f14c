"""The ``rollback.sql`` of a per-database plan set (``grantbridge plan --per-database``).

Each part's own ``sql/rollback.sql`` undoes that part, but leaves the roles made of logins and
server roles: every part has them, and dropping them while another part is applied would take
that part's privileges too (:func:`pg_emit.intent.dropped_roles`). The set's ``rollback.sql``,
beside ``parts.json``, undoes the whole set: it includes each part's rollback, the last part
first (psql's ``\\ir`` reads a file relative to the script including it), then takes the shared
roles away as a whole plan's rollback takes its roles away: in every database of the set,
``REASSIGN OWNED`` and ``DROP OWNED``; then, cluster-wide, their memberships revoked, the roles
dropped, and the RDS stand-ins dropped once nothing is a member of them. Only roles
01_roles.sql created are touched (:mod:`pg_emit.rollback_roles`), so a second run, or a run
after some parts' rollbacks were already run by hand, changes nothing more.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mapper.plan import MigrationPlan
from mapper.platforms import on_rds
from pg_emit import intent
from pg_emit import rollback_roles as teardown
from pg_emit.script import Script, Section

SET_ROLLBACK = "rollback.sql"


@dataclass(frozen=True)
class Leftover:
    """What one part's rollback leaves for the set's: the shared roles it creates, their
    memberships it does not revoke (in roles it does not drop: a server role's, ``rds_iam``)
    and the databases its scripts work in."""

    roles: tuple[str, ...] = ()
    memberships: tuple[tuple[str, str], ...] = ()
    databases: tuple[str, ...] = ()


def leftover(plan: MigrationPlan) -> Leftover:
    """What ``plan`` (a part of a per-database plan) leaves when its rollback.sql runs."""
    shared = intent.shared_roles(plan)
    dropped = set(intent.dropped_roles(plan))
    pairs = {
        (m.role, m.member)
        for m in intent.memberships(plan)
        if m.member in shared and m.role not in dropped
    }
    return Leftover(
        tuple(sorted(shared)), tuple(sorted(pairs)), tuple(intent.script_databases(plan))
    )


def render_set_rollback(
    directories: Sequence[str], leftovers: Sequence[Leftover], target: str
) -> str:
    """The set's rollback.sql: ``directories`` (the parts', in parts.json's order) included
    last first, then the shared roles of ``leftovers`` (one per part) taken away."""
    roles = tuple(sorted({r for part in leftovers for r in part.roles}))
    pairs = sorted({p for part in leftovers for p in part.memberships})
    databases = sorted({d for part in leftovers for d in part.databases})
    disown = teardown.created_roles_loop(
        roles, teardown.DISOWN_ACTIONS, *teardown.disown_notes(target)
    )
    sections = [Section(db, (disown,)) for db in (databases if roles else [])]
    cluster = teardown.revoke_memberships(pairs)
    if roles:
        note = "drop the roles made of logins and server roles that 01_roles.sql created"
        cluster.append(teardown.created_roles_loop(roles, (teardown.DROP_ACTION,), note))
    if on_rds(target):  # a postgresql plan's 01 makes no stand-ins
        cluster.append(teardown.drop_standins())
    sections.append(Section(None, tuple(cluster)))
    explanation = (
        "Undoes every part of this per-database plan: each part's sql/rollback.sql, the last",
        "part first (psql's \\ir reads them beside this file), then the roles made of logins and",
        "server roles that every part shares and a part's rollback leaves.",
        'Run with psql: psql "$DSN" -f rollback.sql. Roles that existed before are never dropped.',
    )
    fingerprints = "each part's (parts.json)"
    text = Script(
        SET_ROLLBACK, "undo every part", fingerprints, explanation, tuple(sections)
    ).render()
    head, marker, rest = text.partition("\\set ON_ERROR_STOP on\n")
    includes = "".join(f"\\ir {d}/sql/rollback.sql\n" for d in reversed(directories))
    return f"{head}{marker}\n{includes}{rest}"
