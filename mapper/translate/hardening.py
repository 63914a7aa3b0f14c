"""PUBLIC hardening (DESIGN §3.3): revoke what PostgreSQL gives PUBLIC and SQL Server does not.

PostgreSQL grants PUBLIC ``CONNECT`` and ``TEMPORARY`` on every database, ``EXECUTE`` on every
function and procedure and ``USAGE`` on every type and domain (PostgreSQL docs §5.8 table 5.2,
reference/mssql/pg_object_privileges.csv);
before PostgreSQL 15 PUBLIC may also CREATE in schema ``public``. SQL Server gives none of these
to ``public``. On by default; ``[hardening] revoke_public_defaults = false`` turns it off.

TEMPORARY goes with CONNECT. SQL Server's public has no CONNECT on a user database, but "Any user
can create temporary objects in tempdb" ("tempdb database", Permissions; MicrosoftDocs sql-docs
docs/relational-databases/databases/tempdb-database.md, read at treytMSFT/sql-docs @ 027cd4d,
ms.date 2023-11-22), so a converted ``#temp`` table (``CREATE TEMP TABLE``) must keep working for
every role that may connect. PUBLIC loses both; every grantee of CONNECT on a database gets
TEMPORARY there too, as its own plan item with the CONNECT grant's facts (the renderer groups
them: ``GRANT CONNECT, TEMPORARY ON DATABASE … TO …``), and is listed beside CONNECT in their
dispositions. A source grant of CONNECT to public does not keep PUBLIC's: public then becomes a
role of its own (:func:`mapper.translate.public.public_keeps_connect`), which gets both.
Keeping TEMPORARY on PUBLIC (CONNECT gates it) would be as tight, but then the plan would not
say who may create temporary tables; a role given CONNECT by hand later needs TEMPORARY too.

Off, PUBLIC keeps CONNECT on every database, so every database's ``public`` becomes a role of
its own (:mod:`mapper.translate.public`): PUBLIC would reach logins without a user there.

EXECUTE is revoked twice over: on each migrated routine, and for routines created *later*, by
``ALTER DEFAULT PRIVILEGES FOR ROLE <creator> REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC`` (ON
FUNCTIONS covers procedures). Only the global form removes a built-in default: "default
privileges that are specified per-schema are added to whatever the global default privileges
are" (ALTER DEFAULT PRIVILEGES, Notes). The creators are the roles that own a target database or
schema, those the plan sets default privileges for, and those it gives CREATE on a schema with
every role inheriting it (they own what they create, where SQL Server gives it to the schema's
owner: :func:`_schema_creators`). A non-superuser applier joins each of them in 02 (``FOR ROLE``
asks for it: :func:`pg_emit.intent.applier_roles`).

This is the planner's last pass over grants, so it first completes the server-wide grants
(:func:`mapper.translate.server_wide.plan_server_wide`: CONNECT ANY DATABASE, SELECT ALL USER
SECURABLES), whatever the policy: their CONNECT must exist before TEMPORARY follows it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mapper.plan import (
    Disposition,
    PgDatabase,
    PgDefaultPrivilege,
    PgDefaultRevoke,
    PgGrant,
    PgObject,
    PgRevoke,
    PgSchema,
    RoleKind,
)
from mapper.privileges import lookup
from mapper.translate.items import copy_with
from mapper.translate.server_wide import plan_server_wide
from mapper.translate.state import SERVER, PlanState, fact_key
from mssql_extract.snapshot import Database, PermissionState

_DEFAULTS = "PostgreSQL default for PUBLIC; SQL Server's public has no such permission"
_FUTURE = (
    "PostgreSQL default for PUBLIC on every routine this role creates later; SQL Server's "
    "public has no such permission"
)
_TEMPORARY = (
    "PostgreSQL default for PUBLIC; granted with CONNECT instead: SQL Server lets every user "
    "create temporary objects in tempdb"
)
_WITH_CONNECT = "TEMPORARY goes with CONNECT: any SQL Server user may use tempdb"
#: "CREATE TYPE (Transact-SQL)", Permissions: public is "not automatically granted REFERENCES
#: permission on types that are created by using CREATE TYPE"; PostgreSQL gives PUBLIC USAGE on
#: every type and domain (reference/mssql/pg_object_privileges.csv: TYPE, DOMAIN default U).
_TYPES = (
    "PostgreSQL default for PUBLIC (use the type in tables and functions); SQL Server's public "
    "has no REFERENCES on a user-defined type"
)
#: Dispositions of a source permission that the plan grants.
_GRANTED = (Disposition.MAPPED, Disposition.IMPLIED, Disposition.APPROXIMATED)


def plan_hardening(state: PlanState) -> None:
    """Revokes from PUBLIC for every target database, routine and future routine."""
    plan_server_wide(state)
    if not state.policy.hardening.revoke_public_defaults:
        return
    found = _Found.of(state)
    plan_temporary(state, found.connects)
    for db in state.snapshot.databases:
        fact, name = fact_key(SERVER, db.key), state.target_db(db)
        for privilege, reason in (("CONNECT", _DEFAULTS), ("TEMPORARY", _TEMPORARY)):
            public = PgGrant(database=name, object_type="DATABASE", name=name,
                             privilege=privilege, grantee="PUBLIC")  # fmt: skip
            if public.key in state.items:
                continue  # the plan grants it to PUBLIC: keep it
            state.add(PgRevoke(database=name, object_type="DATABASE", name=name,
                               privilege=privilege, grantee="PUBLIC", reason=reason), fact)  # fmt: skip
        state.add(PgRevoke(database=name, object_type="SCHEMA", name="public", privilege="CREATE",
                           grantee="PUBLIC", reason="PUBLIC may create in schema public before PostgreSQL 15"), fact)  # fmt: skip
    for key in sorted(found.objects):
        obj, facts = found.objects[key], state.facts_of(key)
        if obj.kind == "type":
            revoke = PgRevoke(
                database=obj.database, object_type="TYPE", schema_name=obj.schema_name,
                name=obj.name, privilege="USAGE", grantee="PUBLIC", reason=_TYPES,
            )  # fmt: skip
            if not _granted_to_public(state, revoke):
                for fact in facts:
                    state.add(revoke, fact)
            continue
        if obj.kind in ("function", "procedure"):
            revoke = PgRevoke(
                database=obj.database, object_type="FUNCTION" if obj.kind == "function" else "PROCEDURE",
                schema_name=obj.schema_name, name=obj.name, signature=obj.signature,
                privilege="EXECUTE", grantee="PUBLIC", reason=_DEFAULTS,
            )  # fmt: skip
            if _granted_to_public(state, revoke):
                continue  # the source grants EXECUTE to public: the plan keeps that grant
            for fact in facts:
                state.add(revoke, fact)
    plan_future_routines(state, found)


@dataclass
class _Found:
    """The plan items hardening reads, each kind in the plan's order: gathered in one pass over
    every item (a million grants at bench M), not one per kind. Hardening adds TEMPORARY grants
    and revokes, none of these kinds, so the one pass holds throughout."""

    connects: list[tuple[str, PgGrant]] = field(default_factory=list)  # CONNECT on a database
    creates: list[tuple[str, PgGrant]] = field(default_factory=list)  # CREATE on a schema
    objects: dict[str, PgObject] = field(default_factory=dict)
    #: (key, item) of the databases, schemas and default privileges: their owners create
    owners: list[tuple[str, PgDatabase | PgSchema | PgDefaultPrivilege]] = field(
        default_factory=list
    )

    @classmethod
    def of(cls, state: PlanState) -> _Found:
        found = cls()
        for key, item in state.items.items():
            if isinstance(item, PgGrant):  # most items, asked first
                if item.object_type == "DATABASE" and item.privilege == "CONNECT":
                    found.connects.append((key, item))
                elif item.object_type == "SCHEMA" and item.privilege == "CREATE":
                    found.creates.append((key, item))
            elif isinstance(item, PgObject):
                found.objects[key] = item
            elif isinstance(item, PgDatabase | PgSchema | PgDefaultPrivilege):
                found.owners.append((key, item))
        return found


def plan_temporary(state: PlanState, connects: list[tuple[str, PgGrant]]) -> None:
    """TEMPORARY on a database for each grantee of CONNECT there (PUBLIC included), with the
    CONNECT grant's facts, and listed beside it in their dispositions. ``connects``: the
    plan's CONNECT grants with their keys (:class:`_Found`)."""
    for key, connect in connects:
        temporary = PgGrant(database=connect.database, object_type="DATABASE", name=connect.name,
                            privilege="TEMPORARY", grantee=connect.grantee, comment=_WITH_CONNECT)  # fmt: skip
        for fact in state.facts_of(key):
            state.add(temporary, fact)
            disposition = state.dispositions.get(fact)
            if disposition is not None and key in disposition.items:
                items = tuple(sorted({*disposition.items, temporary.key}))
                state.dispositions[fact] = copy_with(disposition, items=items)


def _granted_to_public(state: PlanState, revoke: PgRevoke) -> bool:
    grant = PgGrant(
        database=revoke.database, object_type=revoke.object_type, schema_name=revoke.schema_name,
        name=revoke.name, signature=revoke.signature, privilege=revoke.privilege, grantee="PUBLIC",
    )  # fmt: skip
    return grant.key in state.items


def plan_future_routines(state: PlanState, found: _Found) -> None:
    """A global ``REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC`` default per creator and database.

    One item per (target database, role), attributed to the database's facts and to those of
    the schemas the role owns there. A database whose source grants ``public`` EXECUTE on the
    whole database keeps PUBLIC's default: SQL Server's public may run routines created later
    anywhere in it (as :func:`_granted_to_public` keeps a routine's grant).
    """
    public_wide = _executable_by_public(state)
    facts: dict[str, set[str]] = {}  # target database → its facts
    for db in state.snapshot.databases:
        facts.setdefault(state.target_db(db), set()).add(fact_key(SERVER, db.key))
    for (database, owner), owned in sorted(_creators(state, found).items()):
        if database in public_wide or _future_granted_to_public(state, database, owner):
            continue
        revoke = PgDefaultRevoke(database=database, owner=owner, reason=_FUTURE)
        for fact in sorted(facts.get(database, set()) | owned):
            state.add(revoke, fact)


def _creators(state: PlanState, found: _Found) -> dict[tuple[str, str], set[str]]:
    """(target database, role) → facts, for each role that creates objects in a database: the
    owners of the database and of its schemas (schema facts), the roles the plan sets default
    privileges for (they are schema owners in SQL Server's sense), and the roles it gives
    CREATE on a schema (:func:`_schema_creators`)."""
    creators: dict[tuple[str, str], set[str]] = {}
    for key, item in found.owners:
        if isinstance(item, PgDatabase):
            creators.setdefault((item.name, item.owner), set())
        elif isinstance(item, PgSchema):
            creators.setdefault((item.database, item.owner), set()).update(state.facts_in(key))
        else:
            creators.setdefault((item.database, item.owner), set())
    for pair, facts in _schema_creators(state, found.creates).items():
        creators.setdefault(pair, set()).update(facts)
    return creators


def _schema_creators(
    state: PlanState, grants: list[tuple[str, PgGrant]]
) -> dict[tuple[str, str], set[str]]:
    """The roles that own what they create with a CREATE on a schema the plan grants, with the
    grant's facts: its grantee, and every role inheriting it.

    In SQL Server the schema's owner owns what a grantee of CREATE TABLE … and ALTER on the
    schema creates there; in PostgreSQL the creating role does, and "new object permissions are
    only affected by the default privileges of the current role, and are not inherited from any
    roles in which the current role is a member" (ALTER DEFAULT PRIVILEGES, Description): a
    member inheriting the grantee's CREATE creates as itself, so it needs its own revoke. PUBLIC
    (every role, present and future) and roles the plan does not create are left out.
    """
    creators: dict[tuple[str, str], set[str]] = {}
    if not grants:
        return creators
    inheritors: dict[str, set[str]] = {}
    for membership in state.memberships():
        if membership.inherit:
            inheritors.setdefault(membership.role, set()).add(membership.member)
    for key, grant in grants:
        seen, todo = set(), [grant.grantee]
        while todo:
            role = todo.pop()
            spec = state.roles.get(role)
            if role in seen or spec is None or spec.kind == RoleKind.PREDEFINED:
                continue
            seen.add(role)
            todo.extend(inheritors.get(role, ()))
        for role in seen:
            creators.setdefault((grant.database, role), set()).update(state.facts_in(key))
    return creators


def _future_granted_to_public(state: PlanState, database: str, owner: str) -> bool:
    """Does the plan itself give PUBLIC EXECUTE on every routine ``owner`` creates later?"""
    return any(
        PgDefaultPrivilege(database=database, owner=owner, object_type=object_type,
                           privilege="EXECUTE", grantee="PUBLIC").key in state.items
        for object_type in ("FUNCTIONS", "ROUTINES")
    )  # fmt: skip


def _executable_by_public(state: PlanState) -> set[str]:
    """Target databases whose source grants public EXECUTE on every routine, present and future
    (``GRANT EXECUTE TO public`` in the database), where the plan kept that grant."""
    return {
        state.target_db(db) for db in state.snapshot.databases if _public_executes_all(state, db)
    }


def _public_executes_all(state: PlanState, db: Database) -> bool:
    """A database-wide grant to public that gives EXECUTE on routines, and that the plan kept."""
    for perm in db.permissions:
        if perm.securable_class != "DATABASE" or perm.state == PermissionState.DENY:
            continue
        routines = lookup("DATABASE", perm.permission).privileges.get("function", ())
        disposition = state.dispositions.get(fact_key(db.name, perm.key))
        if (
            "EXECUTE" in routines
            and state.role_of(db.name, perm.grantee) == "PUBLIC"
            and disposition is not None
            and disposition.disposition in _GRANTED
        ):
            return True
    return False
