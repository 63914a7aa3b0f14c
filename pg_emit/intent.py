"""What a plan intends beyond its explicit items: implied memberships and PostgreSQL defaults.

The renderer, ``verify`` and ``drift`` must agree on the intended state, so it is computed
here once:

* on Amazon RDS / Aurora an IAM login is a member of ``rds_iam`` and a Kerberos login of
  ``rds_ad`` (DESIGN §3.3), even when the mapper did not list that membership explicitly; on
  plain PostgreSQL neither (:mod:`mapper.platforms`);
* PostgreSQL grants PUBLIC ``CONNECT`` and ``TEMPORARY`` on every database, ``EXECUTE`` on every
  function and procedure, ``USAGE`` on every type, and (PostgreSQL 15+) ``USAGE`` on the schema
  ``public``; whatever the plan does not revoke stays intended. Source: PostgreSQL 15
  documentation §5.7 "Privileges", table 5.2 (copied in reference/mssql/pg_object_privileges.csv).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator

from mapper.plan import MigrationPlan, PgGrant, PgMembership, PgRevoke, RoleKind
from mapper.platforms import auth_role

#: The Amazon RDS roles grantbridge stands in for when an aurora or rds plan is applied to plain
#: PostgreSQL (RDS User Guide, reference/mssql/rds_postgres_roles.csv). rds_replication is
#: never needed by a plan; a postgresql plan needs none of them.
RDS_ROLES: tuple[str, ...] = ("rds_ad", "rds_iam", "rds_password", "rds_superuser")

#: Object kind → (GRANT object type, privileges PUBLIC holds by default).
PUBLIC_DEFAULTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "function": ("FUNCTION", ("EXECUTE",)),
    "procedure": ("PROCEDURE", ("EXECUTE",)),
    "type": ("TYPE", ("USAGE",)),
}

#: PostgreSQL's own order of privileges, used wherever privileges are listed.
PRIVILEGE_ORDER: tuple[str, ...] = (
    "SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER", "MAINTAIN",
    "USAGE", "CREATE", "CONNECT", "TEMPORARY", "EXECUTE", "SET", "ALTER SYSTEM",
)  # fmt: skip


def privilege_rank(privilege: str) -> int:
    """Position of a privilege in PostgreSQL's order (unknown ones last, alphabetically)."""
    name = normalize_privilege(privilege)
    return PRIVILEGE_ORDER.index(name) if name in PRIVILEGE_ORDER else len(PRIVILEGE_ORDER)


@functools.cache  # a handful of distinct spellings, asked once per grant
def normalize_privilege(privilege: str) -> str:
    """Upper-case, with ``TEMP`` spelled ``TEMPORARY`` as the catalogs report it."""
    name = " ".join(privilege.upper().split())
    return "TEMPORARY" if name == "TEMP" else name


def created_roles(plan: MigrationPlan) -> tuple[str, ...]:
    """Names of the roles the scripts create (every role except predefined ones), sorted."""
    return tuple(sorted(r.name for r in plan.roles if r.kind != RoleKind.PREDEFINED))


#: The facts of a server principal: a role made of a login or a server role is in every part
#: of a per-database plan (each is the server part with one database).
_SERVER_PRINCIPALS = ("server/login:", "server/server_role:")


def shared_roles(plan: MigrationPlan) -> frozenset[str]:
    """The created roles of one part of ``plan --per-database`` that the other parts have too:
    those made of a login or a server role. None for a whole plan."""
    if plan.part_of is None:
        return frozenset()
    return frozenset(
        r.name
        for r in plan.roles
        if r.kind != RoleKind.PREDEFINED and any(f.startswith(_SERVER_PRINCIPALS) for f in r.facts)
    )


def live_memberships(
    plan: MigrationPlan, live: MigrationPlan, wanted: set[tuple[str, str]]
) -> set[tuple[str, str]]:
    """The (role, member) memberships of ``live`` that compare against the plan's ``wanted``
    ones: those of the roles the plan creates, but on a part of a per-database plan not a
    shared role's membership in a role the part does not know (another part's)."""
    members, shared = set(created_roles(plan)), shared_roles(plan)
    known = {r.name for r in plan.roles} | {role for role, _ in wanted}
    return {
        (m.role, m.member)
        for m in live.memberships
        if m.member in members and (m.member not in shared or m.role in known)
    }


def dropped_roles(plan: MigrationPlan, shared: frozenset[str] | None = None) -> tuple[str, ...]:
    """The created roles ``rollback.sql`` drops: all of them, but on a part of a per-database
    plan not those the other parts share (dropping them there would fail while another part
    is applied, after ``DROP OWNED`` had taken their privileges on the other databases).
    ``shared``: :func:`shared_roles`, when already worked out."""
    shared = shared_roles(plan) if shared is None else shared
    return tuple(r for r in created_roles(plan) if r not in shared)


def memberships(plan: MigrationPlan) -> tuple[PgMembership, ...]:
    """The plan's memberships plus the ``rds_iam`` / ``rds_ad`` ones its logins imply on its
    target (none on plain PostgreSQL)."""
    explicit = {m.key: m for m in plan.memberships}
    for role in plan.roles:
        granted = auth_role(plan.target, role.auth)
        if granted is None:
            continue
        implied = PgMembership(
            role=granted, member=role.name, facts=role.facts, comment=f"{role.auth} login"
        )
        explicit.setdefault(implied.key, implied)
    return tuple(explicit[k] for k in sorted(explicit))


def script_databases(plan: MigrationPlan, granted_in: Iterable[str] | None = None) -> list[str]:
    """Every database the scripts work in (each has a section of its own), sorted.
    ``granted_in``: the databases of the plan's grants, when already known (a pass over the
    grants of a large plan is costly, :class:`pg_emit.render_grants.PrivilegeClauses`)."""
    names = {d.name for d in plan.databases} | {s.database for s in plan.schemas}
    names |= {o.database for o in plan.objects}
    names |= {g.database for g in plan.grants} if granted_in is None else set(granted_in)
    names |= {r.database for r in plan.revokes} | {d.database for d in plan.default_privileges}
    names |= {d.database for d in plan.default_revokes}
    return sorted(names)


def owner_roles(plan: MigrationPlan) -> tuple[str, ...]:
    """Every role that owns a database, schema or object in the plan, sorted."""
    owners = {d.owner for d in plan.databases} | {s.owner for s in plan.schemas}
    return tuple(sorted(owners | {o.owner for o in plan.objects}))


def planned_owner_roles(plan: MigrationPlan) -> list[str]:
    """The owner roles that are plan roles (not an outside owner such as the applier): 02
    makes a non-superuser applier a member of each, so what they own it may hand over."""
    names = {r.name for r in plan.roles}  # one pass, not one scan of the roles per owner
    return [o for o in owner_roles(plan) if o in names]


def applier_roles(plan: MigrationPlan) -> list[str]:
    """The plan roles a non-superuser applier must be a member of, sorted: the owner roles
    (:func:`planned_owner_roles`) and the other roles whose default privileges the scripts
    change, such as a role given CREATE on a schema, whose routines created later 06 keeps
    from PUBLIC. ``ALTER DEFAULT PRIVILEGES FOR ROLE`` asks for membership (PostgreSQL 15) or
    the role's privileges (16+); 02 grants each to the applier."""
    creators = {d.owner for d in plan.default_privileges} | {d.owner for d in plan.default_revokes}
    # one pass over the roles, not one scan per creator (1,008 of 3,011 roles at bench scale M)
    kinds = {r.name: r.kind for r in plan.roles}
    planned = {o for o in creators if o in kinds and kinds[o] != RoleKind.PREDEFINED}
    return sorted(set(planned_owner_roles(plan)) | planned)


def _revoked(plan: MigrationPlan) -> set[str]:
    return {_revoke_as_grant(r).key for r in plan.revokes}


def _revoke_as_grant(revoke: PgRevoke) -> PgGrant:
    return PgGrant(
        database=revoke.database,
        object_type=revoke.object_type,
        schema_name=revoke.schema_name,
        name=revoke.name,
        signature=revoke.signature,
        privilege=normalize_privilege(revoke.privilege),
        grantee=revoke.grantee,
    )


def _public_candidates(plan: MigrationPlan) -> Iterator[PgGrant]:
    for db in plan.databases:
        for privilege in ("CONNECT", "TEMPORARY"):
            yield PgGrant(
                database=db.name, object_type="DATABASE", name=db.name,
                privilege=privilege, grantee="PUBLIC",
            )  # fmt: skip
    for schema in plan.schemas:
        if schema.name == "public":
            yield PgGrant(
                database=schema.database, object_type="SCHEMA", name="public",
                privilege="USAGE", grantee="PUBLIC",
            )  # fmt: skip
    for obj in plan.objects:
        object_type, privileges = PUBLIC_DEFAULTS.get(obj.kind, ("", ()))
        for privilege in privileges:
            yield PgGrant(
                database=obj.database, object_type=object_type,
                schema_name=obj.schema_name, name=obj.name, signature=obj.signature,
                privilege=privilege, grantee="PUBLIC",
            )  # fmt: skip


def public_defaults(plan: MigrationPlan) -> tuple[PgGrant, ...]:
    """PUBLIC's default privileges on the plan's securables that the plan does not revoke."""
    revoked = _revoked(plan)
    return tuple(g for g in _public_candidates(plan) if g.key not in revoked)


def revokes_as_grants(plan: MigrationPlan) -> tuple[PgGrant, ...]:
    """The plan's revokes in grant shape (to compare against ACL entries)."""
    return tuple(_revoke_as_grant(r) for r in plan.revokes)
