"""What a source owner keeps of its ownership (DESIGN §3.3, "Ownership" and "Over-grants").

Databases, schemas and objects are owned by NOLOGIN owner roles (:mod:`mapper.translate.objects`),
never by the principal that owned them in SQL Server, which would therefore lose what it could
do as owner. Owning is an over-grant like db_owner (finding GB016: an owner is never denied and
may alter, drop and grant what it owns), so the policy decides what the plan emits, per rule:

* *downscope* (the default): the former owner's role gets DML and EXECUTE on what it owned —
  SELECT, INSERT, UPDATE, DELETE on tables, views and sequences, EXECUTE on routines; for a
  schema per object plus default privileges — and no DDL or ownership. A database's owner login
  (dbo) gets the database's downscoped db_owner role. The fact is ``downscoped``; the finding
  names the owner role that holds the full rights and how to give them.
* *faithful* (``[overgrants] modes = {GB016 = "faithful"}``, or GB016 accepted for the owner):
  the former owner's role becomes a member of its owner role (a database owner login: of the
  database's owner role). The fact is ``mapped``.

Either way a database's owner login also gets what every user of the database gets
(:func:`_enter`): it enters the database as dbo in SQL Server, always, while in PostgreSQL only
its owner role owns the database, so without its own CONNECT (TEMPORARY follows it) it could
not connect once hardening revokes CONNECT from PUBLIC; where ``public`` is a role of its own
(:mod:`mapper.translate.public`) it becomes a member, as dbo is of public.

In schema mode every source database shares one target database, which no source's dbo may own
(its owner could rename or drop every other source with it): a NOLOGIN owner role of its own
owns it (:func:`_share_target_database`, named ``<target>_owner`` unless a source's role has
that name), and each source's owner role gets CREATE on it (dbo may create schemas), which the
database fact's disposition names.

The owner roles hold the full rights, as in SQL Server, where CONTROL on a container covers its
contents: the database's owner role (``dbo``) is a member of every other owner role of its
database, and a schema's owner role a member of the owner role of each object in the schema that
has an owner of its own (unless that would be circular: the fact then says so). No module reaches
through these memberships: a view or routine runs as its owner role only where every object it
touches has its owner, or where SQL Server ran it as that owner too
(:mod:`mapper.translate.module_security`).

Owners are never denied in SQL Server. This runs after DENY restructuring, so no DENY takes an
owner's privileges away; a member of an owning role that restructuring moved to a derived role
(which no longer inherits the owning role) gets the owner's privileges, or membership, directly
(:mod:`mapper.translate.owner_members` finds them). Only a DENY covering CONNECT reaches an
owner, as SQL Server checks CONNECT before ownership (:mod:`mapper.translate.deny_shut`): an
owner it shuts out of the database keeps none of its rights there (its owner role still holds
them).

An owner without a PostgreSQL role (excluded by policy, like ``sa``, or not migrated) gets
nothing: the fact is ``excluded`` with the exclusion's reason, or ``approximated`` with GB016.

An owner the snapshot does not hold at all (a partial export: ``CREATE SCHEMA s AUTHORIZATION
[nobody]`` without ``nobody``) is left out by the engine; the schema, object or role is planned
as dbo's (its owner role is the database's, :func:`mapper.translate.objects.owner_role`) and
the fact is ``approximated`` with finding GB046 (:func:`_unknown_owner`; a role's:
:func:`role_owner_unknown`): the item exists, only its owner is a guess.
"""

from __future__ import annotations

from mapper import findings
from mapper.graph import UnknownPrincipal
from mapper.plan import Disposition, FactDisposition, PgDatabase, PgGrant, PgMembership, RoleKind
from mapper.policy import OvergrantMode
from mapper.privileges import lookup
from mapper.translate.advice_sql import grant_role
from mapper.translate.dispositions import unknown_finding
from mapper.translate.fixed import EQUIVALENT, fixed_role
from mapper.translate.grant_stamps import Stamps, expand_keyed
from mapper.translate.grants import Target
from mapper.translate.items import Item, copy_with
from mapper.translate.objects import owner_role, schema_owner
from mapper.translate.owner_members import Inheritors, roles_above
from mapper.translate.public import join_public
from mapper.translate.server_wide import connect_grants, named
from mapper.translate.state import SERVER, Owned, PlanState, fact_key
from mssql_extract.snapshot import ApplicationRole, Database, DatabaseRole, User, fold

RULE = "GB016"
#: What a downscoped owner keeps: the downscoped db_owner's DML and EXECUTE.
OWNER_PRIVILEGES = EQUIVALENT["db_owner"]


def plan_ownership(state: PlanState) -> None:
    """Owner roles' containment, what each former owner keeps, and the ownership dispositions."""
    shared = _share_target_database(state)
    inheritors = Inheritors(state)
    held: dict[str, list[str]] = {}  # fact → containment memberships
    circular: dict[str, str] = {}  # object fact → why its schema's owner role cannot hold it
    for owned in state.owned:  # dbo's owner role holds every other owner role of its database
        dbo = owner_role(state, owned.db, "dbo")
        if owned.owner_role != dbo:
            membership = PgMembership(role=owned.owner_role, member=dbo,
                                      comment="dbo controls everything in its database")  # fmt: skip
            held.setdefault(owned.fact, []).append(state.add(membership, owned.fact)[0])
    for owned in state.owned:  # a schema's owner role holds its individually owned objects
        if owned.kind != "object":
            continue
        holder = owner_role(state, owned.db, schema_owner(owned.db, owned.schema or "dbo"))
        if holder in (owned.owner_role, owner_role(state, owned.db, "dbo")):
            continue
        if holder in roles_above(state, owned.owner_role):
            circular[owned.fact] = (
                f"{holder!r} (owner of schema [{owned.schema}]) cannot also be a member of "
                f"{owned.owner_role!r}: the membership would be circular"
            )
            continue
        membership = PgMembership(role=owned.owner_role, member=holder,
                                  comment="the schema's owner controls its objects")  # fmt: skip
        held.setdefault(owned.fact, []).append(state.add(membership, owned.fact)[0])
    for owned in sorted(state.owned, key=lambda o: o.fact):
        contained = [owned.item, *held.get(owned.fact, ())]
        if owned.kind == "database":
            _database(state, owned, contained, shared.get(owned.item))
        else:
            _carry(state, owned, contained, inheritors, circular.get(owned.fact))


def _what(owned: Owned) -> str:
    if owned.kind == "database":
        return f"DATABASE [{owned.db.name}]"
    if owned.kind == "schema":
        return f"SCHEMA [{owned.schema}] in [{owned.db.name}]"
    return f"OBJECT [{owned.schema}].[{owned.name}] in [{owned.db.name}]"


def _faithful(state: PlanState, owner: str) -> bool:
    overgrants = state.policy.overgrants
    accepted = overgrants.acceptance(RULE, owner) is not None
    return accepted or overgrants.mode(RULE) == OvergrantMode.FAITHFUL


def _finding(state: PlanState, owned: Owned, owner: str, action: str) -> str:
    finding = findings.make(
        RULE, f"[{owner}] owns {_what(owned)}", action, principal=owner,
        securable=_what(owned), source_ref=owned.ref,
    )  # fmt: skip
    return state.finding(finding)


def _dispose(
    state: PlanState, owned: Owned, disposition: Disposition, items: list[str],
    found: list[str], reason: str,
) -> None:  # fmt: skip
    state.dispose(owned.fact, owned.kind, owned.ref, disposition, items=items,
                  findings=[*found, *owned.findings], reason=reason)  # fmt: skip


def _database(
    state: PlanState, owned: Owned, contained: list[str], shared: str | None
) -> None:  # fmt: skip
    """The owner login is dbo: the database's owner role, or its downscoped db_owner role, and
    what every user of the database gets (:func:`_enter`). ``shared``: in schema mode, the
    owner role of the target database every source shares (:func:`_share_target_database`)."""
    login, fact = owned.owner, owned.fact
    create, note = _shared_note(state, owned, shared)
    contained = [*contained, *create]
    if login is None:
        holds = "holds dbo's rights" if shared else "owns it"
        _dispose(state, owned, Disposition.MAPPED, contained, [],
                 f"owner unknown; {owned.owner_role!r} {holds}{note}")  # fmt: skip
        return
    role = state.role_of(SERVER, login)
    if role is None:
        known = next((lg for lg in state.snapshot.logins if fold(lg.name) == fold(login)), None)
        source = state.dispositions.get(fact_key(SERVER, known.key)) if known else None
        _not_carried(state, owned, login, source, contained,
                     f"no role gets dbo's rights; grant {owned.owner_role!r} (all of them) or "
                     f"the database's db_owner role (DML and EXECUTE) to the role that should{note}")  # fmt: skip
        return
    if _faithful(state, login):
        item: PgMembership = PgMembership(role=owned.owner_role, member=role)
        action = f"Made {role!r} a member of owner role {owned.owner_role!r} (dbo's full rights)."
        disposition = Disposition.MAPPED
    else:
        reduced = fixed_role(state, owned.db, "db_owner", fact)
        assert reduced is not None  # db_owner always has an equivalent
        item = PgMembership(role=reduced, member=role)
        action = (
            f"Owned by {owned.owner_role!r}, which holds dbo's full rights; {role!r} got "
            f"{reduced!r} (DML and EXECUTE on every object, no DDL or ownership). For the full "
            f"rights: {grant_role(owned.owner_role, role)}, or [overgrants] modes = "
            '{GB016 = "faithful"}.'
        )
        disposition = Disposition.DOWNSCOPED
    key, _ = state.add(item, fact)
    entry, said = _enter(state, owned, role)
    action += said[:-1] + note + "."
    found = _finding(state, owned, login, action)
    _dispose(state, owned, disposition, [*contained, key, *entry], [found], action)


def _enter(state: PlanState, owned: Owned, role: str) -> tuple[list[str], str]:
    """What every user of the database gets, for its owner login's role (item keys, and the
    words for the action): the login enters the database as dbo, so it gets CONNECT on the
    target database (TEMPORARY follows: :func:`mapper.translate.hardening.plan_temporary`) and,
    where ``public`` is a role of its own, membership in it (dbo is a member of public). Its
    owner role owns the database only in database mode, and the downscoped owner is no member
    of it: without this the owner login could not connect to its own database."""
    keys, _ = state.add_all(connect_grants(state, [owned.db], role), owned.fact)
    public = join_public(state, owned.db, role, owned.fact)
    gets = ["CONNECT"]
    if state.policy.hardening.revoke_public_defaults:  # else PUBLIC keeps TEMPORARY
        gets.append("TEMPORARY")
    if public:
        gets.append(f"membership in {state.role_of(owned.db.name, 'public')!r}")
    said = (
        f" {role!r} enters {named([owned.db], state)} as dbo, with what every user of the "
        f"database gets: {', '.join(gets[:-1])}{' and ' if len(gets) > 1 else ''}{gets[-1]}."
    )
    return [*keys, *public], said


def _share_target_database(state: PlanState) -> dict[str, str]:
    """Schema mode: the one target database every source database goes into → an owner role
    of its own (returned: the database item's key → that role).

    No source database's dbo owns it: each dbo owns its own database in SQL Server, and the
    owner of the shared PostgreSQL database could rename or drop it, holding every other
    source database. The role is NOLOGIN and held by nobody the plan names (the scripts make
    the applying user a member of every owner role); each source's own owner role gets CREATE
    on the database instead (:func:`_shared_note`): dbo may create schemas in its database.
    """
    if state.policy.database_mode != "schema":
        return {}
    shared: dict[str, str] = {}
    for key in sorted({o.item for o in state.owned if o.kind == "database"}):
        database = state.items[key]
        assert isinstance(database, PgDatabase)
        name = state.names.derived(f"{database.name}_owner",
                                   f"owner of the shared target database [{database.name}]")  # fmt: skip
        spec = state.role(
            name, RoleKind.OWNER, source=f"target database {database.name} (schema mode)",
            comment="owns the database every source database shares; no source dbo owns it",
        )  # fmt: skip
        spec.facts.update(state.facts_in(key))
        state.items[key] = copy_with(database, owner=name, source_database=None)
        shared[key] = name
    return shared


def _shared_note(state: PlanState, owned: Owned, shared: str | None) -> tuple[list[str], str]:
    """In schema mode (``shared``: the target database's owner role), CREATE on that database
    for the source's owner role (its key) and the words saying who owns the database; else
    nothing."""
    if shared is None:
        return [], ""
    target = state.target_db(owned.db)
    create = PgGrant(database=target, object_type="DATABASE", name=target, privilege="CREATE",
                     grantee=owned.owner_role,
                     comment="dbo may create schemas in its database")  # fmt: skip
    note = (
        f"; {target} holds every source database (schema mode) and is owned by {shared!r}, "
        f"not by [{owned.db.name}]'s dbo: {owned.owner_role!r} got CREATE on it"
    )
    return [state.add(create, owned.fact)[0]], note


def _carry(
    state: PlanState, owned: Owned, contained: list[str], inheritors: Inheritors,
    circular: str | None,
) -> None:  # fmt: skip
    """A schema or an individually owned object: what its former owner keeps."""
    db, owner = owned.db, owned.owner or "dbo"
    if fold(owner) == "dbo":  # dbo's role is the owner role itself
        reason = f"owned by dbo → {owned.owner_role!r}"
        if circular is None:
            _dispose(state, owned, Disposition.MAPPED, contained, [], reason)
            return
        reason += f"; approximated: {circular}"
        found = _finding(state, owned, owner, reason[0].upper() + reason[1:] + ".")
        _dispose(state, owned, Disposition.APPROXIMATED, contained, [found], reason)
        return
    unknown = state.engine.unknown(db.name, owned.fact.removeprefix(f"{db.name}/"))  # the row key
    if unknown is not None:
        found = _unknown_owner(state, owned, unknown)
        _dispose(state, owned, Disposition.APPROXIMATED, contained, [found],
                 f"owned by [{owner}], whom the snapshot does not hold: {owned.owner_role!r} "
                 "(dbo's) owns it")  # fmt: skip
        return
    role = state.role_of(db.name, owner)
    if role is None or role == "PUBLIC":
        source = _principal_disposition(state, db, owner)
        _not_carried(state, owned, owner, source, contained,
                     f"no role gets the owner's rights; {owned.owner_role!r} holds them")  # fmt: skip
        return
    if (role, db.name) in state.shut_out:
        _dispose(state, owned, Disposition.MAPPED, contained, [],
                 f"owned by {owned.owner_role!r}; [{owner}] gets none of its rights: a DENY "
                 f"covering CONNECT shuts it out of [{db.name}], which SQL Server checks before "
                 "ownership")  # fmt: skip
        return
    lost = inheritors.lost(db, owner, role)
    grantees = [role, *(r for r in lost if (r, db.name) not in state.shut_out)]
    faithful = _faithful(state, owner)
    if faithful:
        items: list[Item] = [PgMembership(role=owned.owner_role, member=g) for g in grantees]
        keys, _ = state.add_all(items, owned.fact)
    else:
        keyed = _rights(state, owned, grantees)
        keys, _ = state.add_keyed(keyed, owned.fact)
        items = [item for _, item in keyed]
    if faithful:
        action = f"Made {role!r} a member of owner role {owned.owner_role!r} (the full rights)."
    else:
        granted = sorted({str(getattr(i, "privilege", "")) for i in items} - {""})
        action = (
            f"Owned by {owned.owner_role!r}, which holds the owner's full rights; {role!r} got "
            f"{', '.join(granted) or 'nothing'} on it, no DDL or ownership. For the full "
            f"rights: {grant_role(owned.owner_role, role)}, or [overgrants] modes = "
            '{GB016 = "faithful"}.'
        )
    if len(grantees) > 1:
        action += (
            f" The same for {', '.join(grantees[1:])}: members of [{owner}] that DENY "
            "restructuring moved to derived roles (owners are never denied)."
        )
    disposition = Disposition.MAPPED if faithful else Disposition.DOWNSCOPED
    if circular is not None:
        action += f" Approximated: {circular}."
        disposition = Disposition.APPROXIMATED
    found = _finding(state, owned, owner, action)
    _dispose(state, owned, disposition, [*contained, *keys], [found], action)


def _unknown_owner(state: PlanState, owned: Owned, unknown: UnknownPrincipal) -> str:
    """GB046 for a schema or object whose owner the snapshot does not hold; its key."""
    owner = unknown.names[0][1]
    on = f"SCHEMA::[{owned.schema}]"
    if owned.kind == "object":
        on = f"OBJECT::[{owned.schema}].[{owned.name}]"
    action = (
        f"Owned by {owned.owner_role!r}, dbo's owner role, as if dbo owned it: no role of the "
        f"plan stands for [{owner}], so none gets the owner's rights."
    )
    statement = f"ALTER AUTHORIZATION ON {on} TO [{owner}] in [{owned.db.name}]"
    return unknown_finding(state, unknown, statement, action, securable=_what(owned),
                           ref=owned.ref)  # fmt: skip


def role_owner_unknown(state: PlanState, db: Database, role: DatabaseRole) -> str | None:
    """GB046 for a database role whose owner the snapshot does not hold; its key (None: the
    owner is known, or there is none). PostgreSQL roles have no owner: the role is planned like
    any other, as if dbo owned it."""
    unknown = state.engine.unknown(db.name, role.key)
    if unknown is None:
        return None
    owner = unknown.names[0][1]
    action = (
        "Planned as if dbo owned it (PostgreSQL roles have no owner): no role of the plan stands "
        f"for [{owner}], so none may manage the role's members as its owner could."
    )
    statement = f"ALTER AUTHORIZATION ON ROLE::[{role.name}] TO [{owner}] in [{db.name}]"
    what, ref = f"ROLE [{role.name}] in [{db.name}]", str(role.owner_ref or role.source_ref)
    return unknown_finding(state, unknown, statement, action, securable=what, ref=ref)


def _rights(state: PlanState, owned: Owned, grantees: list[str]) -> list[tuple[str, Item]]:
    """The downscoped owner's DML and EXECUTE on a schema's objects or on one object, for each
    of ``grantees`` in turn, with their keys.

    Expanded once and copied per grantee, as the permission rows are
    (:func:`~mapper.translate.grant_stamps.expand_keyed`): the items
    :func:`~mapper.translate.grants.expand` gives each grantee, in the same order. Nothing an
    expansion reads changes until the items are added, after every grantee's.
    """
    if owned.kind == "schema":
        target = Target("SCHEMA", object_name=owned.schema)
    else:
        target = Target("OBJECT", owned.schema, owned.name)
    rows = [lookup(target.securable_class, permission) for permission in OWNER_PRIVILEGES]
    stamps, keyed = Stamps(), list[tuple[str, Item]]()
    for grantee in grantees:
        for row in rows:
            keyed += expand_keyed(state, owned.db, grantee, target, row, stamps) or []
    return keyed


def _not_carried(
    state: PlanState, owned: Owned, owner: str, source: FactDisposition | None,
    contained: list[str], consequence: str,
) -> None:  # fmt: skip
    """The owner has no PostgreSQL role: excluded (with the exclusion's reason) or approximated."""
    text = f"owned by [{owner}] → {owned.owner_role!r}; [{owner}]"
    if source is not None and source.disposition == Disposition.EXCLUDED:
        text += f" is excluded ({source.reason or 'by policy'}): {consequence}"
        _dispose(state, owned, Disposition.EXCLUDED, contained, [], text)
        return
    text += f" has no PostgreSQL role: {consequence}"
    found = _finding(state, owned, owner, f"Not carried: {text}.")
    _dispose(state, owned, Disposition.APPROXIMATED, contained, [found], text)


def _principal_disposition(state: PlanState, db: Database, name: str) -> FactDisposition | None:
    principals: tuple[User | DatabaseRole | ApplicationRole, ...] = (
        *db.users, *db.roles, *db.application_roles,
    )  # fmt: skip
    found = next((p for p in principals if fold(p.name) == fold(name)), None)
    return state.dispositions.get(fact_key(db.name, found.key)) if found else None
