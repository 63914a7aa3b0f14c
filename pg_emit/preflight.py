"""What the role applying a plan must be able to do, checked before anything runs.

``grantbridge apply`` runs each database's sections in one transaction, but a multi-database
apply commits database by database (:mod:`pg_emit.apply`): a refusal half-way leaves the earlier
databases applied. So what PostgreSQL would refuse the connected role is asked first, and
refused with one message naming everything in the way. A superuser may do it all (but give
SUPERUSER-only attributes on RDS); a non-superuser, such as Amazon RDS / Aurora's master user
(LOGIN, CREATEROLE, CREATEDB), must own what the scripts hand over, and be able to grant what
they grant.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import psycopg

from grantbridge.errors import InputError
from grantbridge.plural import plural
from mapper import platforms
from mapper.plan import MigrationPlan
from pg_emit import intent
from pg_emit.render_roles import SAFE_ATTRIBUTES, STANDIN_MARK
from pg_emit.server import connect

#: Is the connected role a superuser / CREATEROLE, and is this RDS? (an ``rds_superuser`` that
#: is not grantbridge's own stand-in).
RDS_CHECK_SQL = """
SELECT r.rolsuper, r.rolcreaterole,
       EXISTS (SELECT FROM pg_catalog.pg_roles s WHERE s.rolname = 'rds_superuser'
               AND coalesce(shobj_description(s.oid, 'pg_authid'), '') <> %s)
FROM pg_catalog.pg_roles r WHERE r.rolname = current_user
"""


def preflight(conn: psycopg.Connection[Any], plan: MigrationPlan) -> bool:
    """Refuse up front what the connected role cannot do, rather than fail half-way.

    A plan for plain PostgreSQL is refused on RDS / Aurora (its Kerberos logins lack
    ``rds_ad`` there). A superuser can do everything but give SUPERUSER-only attributes on RDS.
    A non-superuser (the RDS master user: CREATEROLE, CREATEDB, member of ``rds_superuser``;
    on plain PostgreSQL a CREATEROLE CREATEDB role) must be able to create the plan's roles,
    hand over the plan's databases (CREATEDB, and the privileges of their current owner, or
    02 makes it a member of the owner role) and grant every role the plan grants that exists
    already (:data:`UNGRANTABLE_SQL`). Roles the scripts create are the applier's to grant, on
    every version. Returns whether the connected role is a superuser (else
    :func:`preflight_owners` checks the objects too, in each database).
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
    check_lock_table(conn, plan, with_cluster=len(plan.databases) <= 1)
    if superuser:
        return True
    if not createrole:
        raise InputError("the connected role can neither create roles nor is a superuser")
    if unsafe:
        raise InputError(
            "the plan needs attributes only a superuser can give, and the connected role is "
            f"none: {', '.join(unsafe)}"
        )
    _preflight_non_superuser(conn, plan)
    return False


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
    owners = intent.planned_owner_roles(plan)
    granted = sorted({m.role for m in intent.memberships(plan)} | set(intent.applier_roles(plan)))
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


#: The plan's schemas and objects that exist in the connected database and whose owner the
#: connected role may not act as: 03's ``ALTER … OWNER TO`` needs the privileges of the current
#: owner ("ALTER TABLE": "You must own the table"), which a plan owner role gives (01 makes the
#: applier a member of each). Routines match by name, every overload (the plan names them so).
FOREIGN_OWNED_SQL = """
WITH wanted(schema_name, name, kind) AS (
  SELECT * FROM unnest(%(schemas)s::text[], %(names)s::text[], %(kinds)s::text[])),
found(what, owner) AS (
  SELECT format('schema %%I', n.nspname), n.nspowner FROM pg_catalog.pg_namespace n
   WHERE n.nspname = ANY (%(plan_schemas)s::text[])
  UNION ALL
  SELECT format('%%s %%I.%%I', w.kind, n.nspname, c.relname), c.relowner
    FROM wanted w JOIN pg_catalog.pg_namespace n ON n.nspname = w.schema_name
    JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = w.name
   WHERE w.kind IN ('table', 'view', 'sequence')
  UNION ALL
  SELECT format('%%s %%I.%%I', w.kind, n.nspname, p.proname), p.proowner
    FROM wanted w JOIN pg_catalog.pg_namespace n ON n.nspname = w.schema_name
    JOIN pg_catalog.pg_proc p ON p.pronamespace = n.oid AND p.proname = w.name
   WHERE w.kind IN ('function', 'procedure')
  UNION ALL
  SELECT format('type %%I.%%I', n.nspname, t.typname), t.typowner
    FROM wanted w JOIN pg_catalog.pg_namespace n ON n.nspname = w.schema_name
    JOIN pg_catalog.pg_type t ON t.typnamespace = n.oid AND t.typname = w.name
   WHERE w.kind = 'type')
SELECT DISTINCT format('%%s (owner %%s)', f.what, pg_get_userbyid(f.owner))
  FROM found f
 WHERE NOT pg_has_role(current_user, f.owner, 'USAGE')
   AND NOT pg_get_userbyid(f.owner) = ANY (%(owners)s::text[])
 ORDER BY 1
"""

#: Objects named in the refusal; the rest are counted.
FOREIGN_SHOWN = 10


def preflight_owners(dsn: str, plan: MigrationPlan) -> None:
    """Refuse a non-superuser apply that 03 would stop half-way: a plan schema or object that
    exists already, owned by a role the connected one is not a member of (the conversion ran
    as another user, say). Each existing plan database is asked over its own connection."""
    owners = intent.planned_owner_roles(plan)
    with connect(dsn) as conn:
        rows = conn.execute(
            "SELECT datname FROM pg_catalog.pg_database WHERE datname = ANY (%s)",
            [[d.name for d in plan.databases]],
        ).fetchall()
    foreign: list[str] = []
    for (database,) in sorted(rows):
        objects = [o for o in plan.objects if o.database == database]
        params = {
            "schemas": [o.schema_name for o in objects],
            "names": [o.name for o in objects],
            "kinds": [o.kind for o in objects],
            "plan_schemas": [s.name for s in plan.schemas if s.database == database],
            "owners": owners,
        }
        with connect(dsn, database) as conn:
            found = conn.execute(FOREIGN_OWNED_SQL, params).fetchall()
        foreign += [f"{database}: {what}" for (what,) in found]
    if foreign:
        shown = ", ".join(foreign[:FOREIGN_SHOWN])
        more = f" and {len(foreign) - FOREIGN_SHOWN} more" if len(foreign) > FOREIGN_SHOWN else ""
        raise InputError(
            "the connected role is no superuser and does not own these schemas and objects, "
            f"which the plan gives to its owner roles: {shown}{more}; apply as a superuser, or "
            "make the connected role a member of their owner (GRANT <owner> TO <it>) first"
        )


#: What ``verify`` on a live target can do instead of raising the setting.
VERIFY_INSTEAD = "or verify on the embedded throwaway server (no --dsn), which has room"

#: The shared lock table's size. "The shared lock table tracks locks on
#: max_locks_per_transaction * (max_connections + max_prepared_transactions) objects (e.g.,
#: tables); hence, no more than this many distinct objects can be locked at any one time"
#: (PostgreSQL documentation, "Lock Management", max_locks_per_transaction).
LOCK_TABLE_SQL = """
SELECT current_setting('max_locks_per_transaction')::int,
       current_setting('max_connections')::int,
       current_setting('max_prepared_transactions')::int
"""


#: What a database's sections lock besides roles, one and several.
_SCHEMAS_AND_OBJECTS = ("schema or object", "schemas and objects")


def lock_need(plan: MigrationPlan, *, with_cluster: bool) -> tuple[int, str]:
    """About how many objects the largest transaction of an apply locks, and which it is.

    Every role created, object re-owned or object granted on holds a lock until commit
    (:data:`pg_emit.apply.LOCKS_HINT`). An apply of several databases commits 01 and 02 on
    their own and each database's sections on their own; ``with_cluster``: the roles are
    created in the same transaction as a database's sections (a one-database apply, and
    ``verify`` on a live target, which rolls each database back with the roles).
    """
    roles = len(intent.created_roles(plan))
    objects = Counter(o.database for o in plan.objects)
    objects.update(s.database for s in plan.schemas)
    database, most = max(objects.items(), key=lambda item: (item[1], item[0]), default=("", 0))
    role_count, object_count = plural(roles, "role"), plural(most, *_SCHEMAS_AND_OBJECTS)
    if with_cluster:
        return roles + most, f"{role_count} created and {object_count} of {database}"
    if roles >= most:
        return roles, f"01_roles.sql creates {role_count}"
    return most, f"the sections for {database} touch {object_count}"


def check_lock_table(
    conn: psycopg.Connection[Any], plan: MigrationPlan, *, with_cluster: bool,
    command: str = "apply", instead: str = "",
) -> None:  # fmt: skip
    """Refuse up front a plan whose largest transaction cannot fit the server's lock table:
    PostgreSQL would stop it with "out of shared memory" part-way (at bench scale M the first
    section, 23,292 roles, against a default 64 × 100 = 6,400), and raising the setting needs
    a restart (RDS / Aurora: the DB parameter group and a reboot). ``instead``: what else
    ``command``'s user can do, said after the setting."""
    row = conn.execute(LOCK_TABLE_SQL).fetchone()
    assert row is not None
    per_transaction, connections, prepared = row
    capacity = per_transaction * (connections + prepared)
    need, what = lock_need(plan, with_cluster=with_cluster)
    if need <= capacity:
        return
    wanted = math.ceil(need * 1.25 / (connections + prepared))  # room for other sessions
    raise InputError(
        f"one transaction of this {command} locks about {need} objects ({what}), more than the "
        f"server's lock table holds: {capacity} (max_locks_per_transaction {per_transaction} × "
        f"(max_connections {connections} + max_prepared_transactions {prepared})); set "
        f"max_locks_per_transaction to at least {wanted} and restart the server (RDS / Aurora: "
        "in the DB parameter group, then reboot)" + (f"; {instead}" if instead else "")
    )
