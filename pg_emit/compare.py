"""Compare a plan (the intent) with a live state read by ``inspect`` — both ways.

The unit of comparison is a *fact*: one ACL entry (securable, column, privilege, grantee, grant
option), one membership, one owner, one default ACL entry, one global default revoke from
PUBLIC, one role, its LOGIN, one role attribute (:data:`ROLE_ATTRIBUTES`). Intended facts are
the plan's items plus what PostgreSQL gives by default and the plan keeps (``intent``). The live side is restricted to the plan's scope — its databases,
schemas and objects, and for memberships and default ACLs its roles — because a server holds
more than any one plan.

Ignored on purpose (documented): an owner's implicit rights (not grants), memberships whose
member is not a plan role (PostgreSQL 16 records the creating role as an admin member of every
role it creates; the RDS master user also joins owner roles, see 02_memberships.sql), and the
LOGIN and attributes of predefined roles and of the role the comparison connects as.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from mapper.plan import MigrationPlan, PgGrant, RoleKind
from pg_emit import intent


@dataclass(frozen=True, order=True)
class Mismatch:
    """One difference: ``missing`` (planned, not on the server) or ``extra`` (the reverse)."""

    kind: str  # acl, membership, owner, default_acl, role, effective
    database: str
    subject: str
    status: str  # missing | extra | different
    detail: str = ""


def in_order(mismatches: Iterable[Mismatch]) -> list[Mismatch]:
    """``sorted(mismatches)``, each one's field tuple made once: the dataclass's own ``<`` builds
    two tuples per comparison, and an empty target's drift has 1.5 million mismatches at bench
    scale M (sorting them took 90 of its 205 s)."""
    return sorted(mismatches, key=astuple_fields)


def astuple_fields(mismatch: Mismatch) -> tuple[str, str, str, str, str]:
    """The fields in declaration order: what ``order=True`` compares."""
    return (mismatch.kind, mismatch.database, mismatch.subject, mismatch.status, mismatch.detail)


#: Detail of a missing predefined role: the scripts never create one, the target must have it.
PREDEFINED_MISSING = "predefined role: not created by the scripts, absent on the target"


def _securable(grant: PgGrant) -> str:
    path = ".".join(p for p in (grant.schema_name, grant.name) if p)
    return f"{grant.object_type} {path}{grant.signature or ''}"


def acl_facts(grants: Iterable[PgGrant]) -> dict[tuple[str, str], PgGrant]:
    """(database, "securable[col] PRIV → grantee") for each grant, expanded per column.

    Each value is the grant with one column (or none) and its privilege normalized. A grant
    already so (most are) is its own value: a ``model_copy`` of every grant cost 3.2 million
    copies on an empty target's drift at bench scale M.
    """
    facts: dict[tuple[str, str], PgGrant] = {}
    for grant in grants:
        privilege = intent.normalize_privilege(grant.privilege)
        option = " WITH GRANT OPTION" if grant.grant_option else ""
        securable = _securable(grant)
        as_is = privilege == grant.privilege and (
            not grant.columns or (len(grant.columns) == 1 and bool(grant.columns[0]))
        )
        for column in grant.columns or (None,):
            col = f" ({column})" if column else ""
            text = f"{securable}{col} {privilege} to {grant.grantee}{option}"
            facts[grant.database, text] = (
                grant
                if as_is
                else grant.model_copy(
                    update={"columns": (column,) if column else (), "privilege": privilege}
                )
            )
    return facts


def scope(plan: MigrationPlan) -> set[tuple[str, str]]:
    """(database, securable) pairs the plan speaks about."""
    result = {(d.name, f"DATABASE {d.name}") for d in plan.databases}
    result |= {(s.database, f"SCHEMA {s.name}") for s in plan.schemas}
    for obj in plan.objects:
        object_type = {"table": "TABLE", "view": "TABLE"}.get(obj.kind, obj.kind.upper())
        result.add(
            (obj.database, f"{object_type} {obj.schema_name}.{obj.name}{obj.signature or ''}")
        )
    result |= {(g.database, _securable(g)) for g in plan.grants}
    return result


def intended_grants(plan: MigrationPlan) -> tuple[PgGrant, ...]:
    """Plan grants plus PostgreSQL's PUBLIC defaults the plan keeps."""
    return plan.grants + intent.public_defaults(plan)


def compare_acls(plan: MigrationPlan, live: MigrationPlan) -> list[Mismatch]:
    """ACL entries, both ways, within the plan's scope.

    A parameter's grants (``GRANT SET ON PARAMETER``) are the cluster's, not a database's:
    roles of other databases and applications may hold them, so on a parameter only the plan's
    own roles' and PUBLIC's entries are compared (drift reported every other role's as extra).
    """
    wanted = acl_facts(intended_grants(plan))
    in_scope = scope(plan)
    databases = {db for db, _ in in_scope}
    ours = {*intent.created_roles(plan), "PUBLIC"}
    actual = {
        k: g for k, g in acl_facts(live.grants).items()
        if g.database in databases and (g.database, _securable(g)) in in_scope
        and (g.object_type != "PARAMETER" or g.grantee in ours)
    }  # fmt: skip
    result = [Mismatch("acl", db, text, "missing") for db, text in wanted.keys() - actual.keys()]
    result += [Mismatch("acl", db, text, "extra") for db, text in actual.keys() - wanted.keys()]
    return result


def compare_owners(plan: MigrationPlan, live: MigrationPlan) -> list[Mismatch]:
    """Owners of the plan's databases, schemas and objects."""

    def owners(p: MigrationPlan) -> dict[tuple[str, str], str]:
        found = {(d.name, f"DATABASE {d.name}"): d.owner for d in p.databases}
        found |= {(s.database, f"SCHEMA {s.name}"): s.owner for s in p.schemas}
        found |= {(o.database, f"{o.kind} {o.schema_name}.{o.name}{o.signature or ''}"): o.owner
                  for o in p.objects}  # fmt: skip
        return found

    actual = owners(live)
    return [
        Mismatch("owner", db, subject, "missing" if (db, subject) not in actual else "different",
                 f"planned {owner}, found {actual.get((db, subject), 'nothing')}")
        for (db, subject), owner in sorted(owners(plan).items())
        if actual.get((db, subject)) != owner
    ]  # fmt: skip


def compare_memberships(plan: MigrationPlan, live: MigrationPlan) -> list[Mismatch]:
    """Memberships of plan roles, both ways (see the module docstring for what is ignored)."""
    wanted = {(m.role, m.member) for m in intent.memberships(plan)}
    actual = intent.live_memberships(plan, live, wanted)
    result = [Mismatch("membership", "", f"{m} in {r}", "missing") for r, m in wanted - actual]
    return result + [Mismatch("membership", "", f"{m} in {r}", "extra") for r, m in actual - wanted]


def both_ways(
    kind: str, wanted: set[tuple[str, str]], actual: set[tuple[str, str]]
) -> list[Mismatch]:
    """(database, text) facts the plan wants and the server lacks, then the reverse."""
    result = [Mismatch(kind, db, text, "missing") for db, text in wanted - actual]
    return result + [Mismatch(kind, db, text, "extra") for db, text in actual - wanted]


def compare_defaults(plan: MigrationPlan, live: MigrationPlan) -> list[Mismatch]:
    """Default ACLs set for plan roles, both ways."""
    roles = set(intent.created_roles(plan))
    databases = {d.name for d in plan.databases}

    def facts(p: MigrationPlan, restrict: bool) -> set[tuple[str, str]]:
        return {
            (d.database, f"for {d.owner} in {d.schema_name or '*'}: {d.privilege.upper()} on "
                         f"{d.object_type} to {d.grantee}")
            for d in p.default_privileges
            if not restrict or (d.owner in roles and d.database in databases)
        }  # fmt: skip

    return both_ways("default_acl", facts(plan, False), facts(live, True))


def compare_default_revokes(plan: MigrationPlan, live: MigrationPlan) -> list[Mismatch]:
    """Global default-privilege revokes from PUBLIC (06), both ways, for plan roles in the
    plan's databases (a global default ACL is per database, like every default ACL)."""
    roles = set(intent.created_roles(plan))
    databases = {d.name for d in plan.databases}

    def facts(p: MigrationPlan, restrict: bool) -> set[tuple[str, str]]:
        return {
            (d.database, f"for {d.owner} in *: {intent.normalize_privilege(d.privilege)} on "
                         f"{d.object_type} revoked from {d.grantee}")
            for d in p.default_revokes
            if d.database in databases and (not restrict or d.owner in roles)
        }  # fmt: skip

    return both_ways("default_acl", facts(plan, False), facts(live, True))


#: Role attributes compared both ways besides LOGIN, as ``inspect`` reads them: each keyword a
#: role holds when it differs from PostgreSQL's default, and the keyword that puts the default
#: back (``drift``). A plan naming a default (INHERIT, NOSUPERUSER, CONNECTION LIMIT -1 …) asks
#: for nothing. PASSWORD and VALID UNTIL are no plan's business (passwords never travel).
#: Source: PostgreSQL 15, CREATE ROLE.
ROLE_ATTRIBUTES: dict[str, str] = {
    "SUPERUSER": "NOSUPERUSER",
    "CREATEDB": "NOCREATEDB",
    "CREATEROLE": "NOCREATEROLE",
    "REPLICATION": "NOREPLICATION",
    "BYPASSRLS": "NOBYPASSRLS",
    "NOINHERIT": "INHERIT",
    "CONNECTION LIMIT": "CONNECTION LIMIT -1",
}


def attribute_name(attribute: str) -> str:
    """The attribute an option sets: ``CONNECTION LIMIT 5`` → ``CONNECTION LIMIT``."""
    return "CONNECTION LIMIT" if attribute.startswith("CONNECTION LIMIT ") else attribute


def role_attributes(attributes: Iterable[str]) -> frozenset[str]:
    """The attributes among CREATE ROLE options that differ from the defaults, spelled as
    ``inspect`` reads them (upper case, single spaces)."""
    spelled = {" ".join(a.upper().split()) for a in attributes}
    defaults = set(ROLE_ATTRIBUTES.values())
    return frozenset(
        a for a in spelled if a not in defaults and attribute_name(a) in ROLE_ATTRIBUTES
    )


@dataclass(frozen=True)
class RoleChange:
    """How a plan role on the server differs from the plan in LOGIN and attributes."""

    name: str
    login: bool | None  # the planned LOGIN (True) or NOLOGIN (False) the role lacks; None: same
    missing: frozenset[str]  # planned attributes the role lacks
    extra: frozenset[str]  # attributes the role holds that the plan does not give


def role_changes(
    plan: MigrationPlan, live: MigrationPlan, applier: str | None = None
) -> list[RoleChange]:
    """Plan roles on the server whose LOGIN or attributes differ from the plan, by name.

    Left out: predefined roles (the scripts never create them; they are the platform's, as
    ``rds_superuser`` is) and ``applier``, the role verify or drift connects as — its
    attributes are what lets it apply, and taking them away (NOSUPERUSER, NOLOGIN) would lock
    the person applying out.
    """
    actual = {r.name: r for r in live.roles}
    result = []
    for role in sorted(plan.roles, key=lambda r: r.name):
        found = actual.get(role.name)
        if found is None or role.kind == RoleKind.PREDEFINED or role.name == applier:
            continue
        wanted, held = role_attributes(role.attributes), role_attributes(found.attributes)
        login = role.login if found.login != role.login else None
        if login is not None or wanted != held:
            result.append(RoleChange(role.name, login, wanted - held, held - wanted))
    return result


def compare_roles(
    plan: MigrationPlan, live: MigrationPlan, applier: str | None = None
) -> list[Mismatch]:
    """Every planned role exists (predefined ones too), with the planned LOGIN and attributes
    (:func:`role_changes`): an attribute the plan does not give is ``extra``, one it gives that
    the role lacks is ``missing``."""
    existing = {r.name for r in live.roles}
    result = [
        # a predefined role is never created: it must exist on the target already
        Mismatch("role", "", role.name, "missing",
                 PREDEFINED_MISSING if role.kind == RoleKind.PREDEFINED else "")
        for role in plan.roles if role.name not in existing
    ]  # fmt: skip
    for change in role_changes(plan, live, applier):
        if change.login is not None:
            detail = f"planned {'LOGIN' if change.login else 'NOLOGIN'}"
            result.append(Mismatch("role", "", change.name, "different", detail))
        for status, attributes in (("missing", change.missing), ("extra", change.extra)):
            result += [Mismatch("role", "", change.name, status, f"attribute {a}")
                       for a in sorted(attributes)]  # fmt: skip
    return result


def compare_cluster(
    plan: MigrationPlan, live: MigrationPlan, applier: str | None = None
) -> list[Mismatch]:
    """Roles and memberships, unsorted: cluster-wide in PostgreSQL, so the same from every
    database's connection. verify and drift compare them once, not once per database (at bench
    scale M: 408k memberships, ten databases)."""
    return compare_roles(plan, live, applier) + compare_memberships(plan, live)


#: The per-database comparisons: what a database's connection sees of it alone.
DATABASE_CHECKS = (compare_owners, compare_acls, compare_defaults, compare_default_revokes)


def compare_database(plan: MigrationPlan, live: MigrationPlan) -> list[Mismatch]:
    """Owners, ACL entries and default ACLs, unsorted (see :data:`DATABASE_CHECKS`)."""
    return [m for check in DATABASE_CHECKS for m in check(plan, live)]


def compare(
    plan: MigrationPlan, live: MigrationPlan, *, applier: str | None = None
) -> list[Mismatch]:
    """Every difference between the plan and the live state, sorted.

    ``applier``: the role the comparison connects as, whose LOGIN and attributes are not
    compared (:func:`role_changes`).
    """
    return in_order(set(compare_cluster(plan, live, applier) + compare_database(plan, live)))
