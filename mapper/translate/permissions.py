"""Permission rows (GRANT / DENY) → grants, over-grants or DENY restructuring.

Creating objects needs two SQL Server permissions ("CREATE TABLE (Transact-SQL)", Permissions:
CREATE TABLE in the database *and* ALTER on the schema; likewise views, procedures, functions
and types), and PostgreSQL has one: CREATE on the schema. It is granted on each schema where the
engine allows both to the row's grantee and both come from grants the plan carries — the
grantee's own rows or its roles' (``public`` included), not only from db_owner, db_ddladmin,
sysadmin, CONTROL or ownership, whose DDL the over-grant rules decide (GB001, GB002, GB003,
GB016; GB043 for db_ddladmin: its members get no CREATE). A ``GRANT ALTER ON SCHEMA::s`` row
maps to CREATE on s; a database row (CREATE TABLE …, ALTER ANY SCHEMA, ALTER) maps to CREATE on
the schemas where ALTER is implied and no row of the grantee's own names the schema. All of
them are ``approximated`` (GB040): PostgreSQL's CREATE allows every kind of object. ALTER on a
schema, ALTER ANY SCHEMA and ALTER on the database also imply ALTER on the objects they cover,
which allows TRUNCATE TABLE and creating triggers: with or without CREATE, they give TRUNCATE
and TRIGGER on those tables and TRIGGER on those views, current and future
(:data:`mapper.privileges.ALTERED`). ALTER ANY SCHEMA and ALTER on the database imply CREATE
SCHEMA too, so they also give CREATE on the database (:data:`mapper.privileges.SCHEMA_CREATOR`).

A row naming a grantee the snapshot does not hold (a partial export) is ``unresolved`` with
finding GB046 and no plan item, like a GRANT on a securable it lacks (GB042): a GRANT has no
role to go to, and a DENY restricts no principal the plan knows (:func:`_unknown_grantee`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from functools import partial

from grantbridge.errors import GrantbridgeError
from mapper import findings
from mapper.effective import Securable
from mapper.permission_index import state_text
from mapper.permissions import CATALOG
from mapper.plan import Disposition
from mapper.privileges import (
    ALTER_IN_SCHEMA_NOTE,
    ALTERED,
    CREATE_IN_SCHEMA,
    CREATE_ON_SCHEMA,
    CREATOR_OWNS_NOTE,
    SCHEMA_ALTER_ALONE,
    PrivilegeRow,
    lookup,
)
from mapper.translate.deny import Deny
from mapper.translate.deny_rows import deny_connect_sql, deny_visibility
from mapper.translate.dispositions import dispose_unknown
from mapper.translate.fixed import becomes, fixed_role, server_row_items
from mapper.translate.grant_findings import GRANTED, IMPLIED, grant_findings, nothing
from mapper.translate.grant_stamps import Stamps, expand_keyed
from mapper.translate.grants import ON_CATALOG, Target, on_catalog
from mapper.translate.items import Item
from mapper.translate.objects import schemas_of
from mapper.translate.overgrants import permission_overgrant
from mapper.translate.state import SERVER, PlanState, fact_key
from mssql_extract.snapshot import Database, Permission, PermissionState, fold

#: Broad securables first, so a narrower grant the plan already holds is disposed ``implied``.
_CLASS_ORDER = {"SERVER": 0, "DATABASE": 1, "SCHEMA": 2, "OBJECT": 3}


def _in_order(rows: Iterable[Permission]) -> list[tuple[str, Permission]]:
    """The rows with their keys, broad securables first, then by key (a row's key is worked
    out once here: it was asked for three times per row, 10% of the rows' time at bench S)."""
    keyed = [(perm.key, perm) for perm in rows]
    keyed.sort(key=lambda row: (
        _CLASS_ORDER.get(row[1].securable_class, 4), row[1].column_name is not None, row[0]
    ))  # fmt: skip
    return keyed


def _carried(securable_class: str, permission: str) -> tuple[tuple[str, str], ...]:
    """The (class, permission) pairs implying a permission that the plan carries as grants:
    sys.fn_builtin_permissions' on the schema and the database, without the over-grants
    (CONTROL) and the server's permissions (administration stays with the RDS master user)."""
    return tuple(
        (cls, permission) for cls, permission in CATALOG.implied_by(securable_class, permission)
        if cls in ("SCHEMA", "DATABASE") and lookup(cls, permission).outcome != "overgrant"
    )  # fmt: skip


#: ALTER on a schema: ALTER on it, ALTER ANY SCHEMA or ALTER on the database.
_ALTER_SOURCES = _carried("SCHEMA", "ALTER")
#: Each CREATE permission: itself or ALTER on the database.
_CREATE_SOURCES = {p: _carried("DATABASE", p) for p in CREATE_IN_SCHEMA}
#: Database permissions whose row becomes CREATE on the schemas where ALTER is implied.
SCHEMA_CREATORS = frozenset(CREATE_IN_SCHEMA) | {p for c, p in _ALTER_SOURCES if c == "DATABASE"}
#: A database row that lets its grantee create objects in schemas (with the other half): the
#: mapping of ALTER on each of those schemas.
SCHEMA_CREATION = PrivilegeRow(
    "SCHEMA", "ALTER", "approximated", CREATE_ON_SCHEMA,
    note="CREATE on each schema where the grantee may also create objects in SQL Server: CREATE "
    "TABLE/VIEW/PROCEDURE/FUNCTION/TYPE in the database with ALTER on the schema, here implied "
    "by ALTER ANY SCHEMA or ALTER on the database. PostgreSQL's CREATE on a schema allows every "
    "kind of object; altering and dropping other owners' objects needs ownership. "
    + CREATOR_OWNS_NOTE,
)  # fmt: skip
#: ALTER on a schema whose grantee may create objects only through an over-grant.
SCHEMA_ALTER_OVERGRANT = PrivilegeRow(
    "SCHEMA", "ALTER", "approximated", ALTERED,
    note="ALTER on a schema whose grantee may create objects in the database only through "
    "db_owner, db_ddladmin, sysadmin or CONTROL: no CREATE on the schema is granted, as the plan "
    "does not carry their DDL (see their findings). " + ALTER_IN_SCHEMA_NOTE,
)  # fmt: skip


def plan_permissions(state: PlanState, db: Database | None, denies: list[Deny]) -> None:
    """Every permission row of a database (or of the server when ``db`` is None)."""
    rows = db.permissions if db else state.snapshot.server_permissions
    scope = db.name if db else SERVER
    stamps = Stamps()  # the rows' expansions, grantee aside (mapper.translate.grant_stamps)
    for key, perm in _in_order(rows):
        fact, ref = fact_key(scope, key), str(perm.source_ref)
        target = stamps.target(perm)
        if _unknown_grantee(state, db, perm, key, fact):
            continue
        if perm.state == PermissionState.DENY:
            if db is None and perm.permission == "CONNECT SQL":
                deny_connect_sql(state, perm, fact)
            elif not deny_visibility(state, db, scope, perm, fact, _where(perm)):
                denies.append(
                    Deny(fact, "permission", ref, db, perm.grantee, target, (perm.permission,))
                )
            continue
        role = _grantee(state, db, scope, perm.grantee, fact)
        if role is None:
            state.dispose(fact, "permission", ref, Disposition.EXCLUDED,
                          reason=f"the grantee [{perm.grantee}] is not migrated")  # fmt: skip
        elif (mapping := lookup(perm.securable_class, perm.permission)).outcome == "overgrant":
            denied = partial(_denied_by, state, db, perm, stamps)  # asked of a few only
            permission_overgrant(state, db, perm, role, fact, denied)
        else:
            _plan_grant(state, db, perm, mapping, role, target, fact, ref, stamps)


def _unknown_grantee(
    state: PlanState, db: Database | None, perm: Permission, key: str, fact: str
) -> bool:
    """Dispose of a row whose grantee the snapshot does not hold (the engine left it out);
    False when the grantee is known. ``key``: the row's key."""
    unknown = state.engine.unknown(db.name if db else None, key)
    if unknown is None:
        return False
    where = _where(perm)
    if perm.state == PermissionState.DENY:
        action = (
            f"Nothing denied: [{perm.grantee}] is not in the snapshot, so the DENY restricts no "
            "principal the plan knows (a membership in it is unresolved too)."
        )
    else:
        action = f"Nothing granted: the plan has no role for [{perm.grantee}]."
    statement = f"{state_text(perm)} {perm.permission} ON {where} TO [{perm.grantee}]"
    dispose_unknown(state, fact, "permission", unknown, statement, action, securable=where,
                    ref=str(perm.source_ref))  # fmt: skip
    return True


def _where(perm: Permission) -> str:
    """The securable of a row as findings name it (``OBJECT dbo Orders``, ``… (id)``)."""
    where = " ".join(p for p in (perm.securable_class, perm.schema_name, perm.object_name) if p)
    return where + (f" ({perm.column_name})" if perm.column_name else "")


def _grantee(
    state: PlanState, db: Database | None, scope: str, grantee: str, fact: str
) -> str | None:
    if db is not None:
        role = fixed_role(state, db, grantee, fact)
        if role is not None:
            return role
    return state.role_of(scope, grantee)


def _plan_grant(
    state: PlanState, db: Database | None, perm: Permission, mapping: PrivilegeRow, role: str,
    target: Target, fact: str, ref: str, stamps: Stamps,
) -> None:  # fmt: skip
    """A GRANT row; ``mapping``: its row of the mapping table, ``ref``: its source reference
    (both worked out by the caller: once per row)."""
    denied = _denied_by(state, db, perm, stamps)
    if denied:
        state.dispose(fact, "permission", ref, Disposition.NOT_APPLICABLE,
                      reason=f"overridden in SQL Server: {denied}")  # fmt: skip
        return
    row, parts = _row(state, db, perm, mapping, target)
    if row.attribute:
        _plan_attribute(state, perm, role, row, fact)
        return
    if row.role and role == "PUBLIC":  # GRANT pg_read_all_stats TO PUBLIC is not PostgreSQL
        reason = (f"PUBLIC cannot be a member of {row.role} in PostgreSQL: grant it to the "
                  "login roles that need it")  # fmt: skip
        found = grant_findings(state, None, perm, role, perm.securable_class, nothing(reason))
        state.dispose(fact, "permission", ref, Disposition.NOT_APPLICABLE, findings=found,
                      reason=reason)  # fmt: skip
        return
    items = _expand(state, db, role, parts, stamps)
    where = " ".join(p for p in (perm.securable_class, perm.schema_name, perm.object_name) if p)
    if items is None:
        key = state.finding(findings.make(
            "GB042", f"GRANT {perm.permission} ON {where} TO [{perm.grantee}]",
            "Nothing granted: the securable is not in the snapshot.",
            principal=perm.grantee, securable=where, source_ref=ref,
        ))  # fmt: skip
        state.dispose(fact, "permission", ref, Disposition.UNRESOLVED, findings=[key],
                      reason="the securable is not in the snapshot")  # fmt: skip
        return
    if row.outcome == "not_applicable":
        reason = row.note or "no PostgreSQL equivalent needed"
        found = grant_findings(state, db, perm, role, where, nothing(reason))
        state.dispose(fact, "permission", ref, Disposition.NOT_APPLICABLE, findings=found,
                      reason=reason)  # fmt: skip
        return
    found = []
    if row.outcome == "approximated":
        found.append(state.finding(findings.make(
            "GB040", f"{perm.permission} ON {where} TO [{perm.grantee}]", row.note or "Approximated.",
            principal=perm.grantee, securable=where, source_ref=ref,
        )))  # fmt: skip
    _record_grant(state, db, perm, role, where, fact, ref, items, row, found)


def _record_grant(
    state: PlanState, db: Database | None, perm: Permission, role: str, where: str, fact: str,
    ref: str, items: list[tuple[str, Item]], row: PrivilegeRow, found: list[str],
) -> None:  # fmt: skip
    """Add a GRANT row's items and dispose of it as :func:`record` does, its grantee's findings
    saying what came of it: new items (mapped or approximated), none new (implied), none.
    ``items``: each with its key."""
    keys, fresh = state.add_keyed(items, fact)
    approximated = row.outcome == "approximated"
    disposition = Disposition.APPROXIMATED if approximated else Disposition.MAPPED
    reason = row.note if approximated else ""
    if not keys:
        if not reason:
            catalog = on_catalog(perm.securable_class, perm.schema_name, perm.object_name)
            reason = ON_CATALOG if catalog else "grants nothing on the target"
        found += grant_findings(state, db, perm, role, where, nothing(reason))
        state.dispose(fact, "permission", ref, Disposition.NOT_APPLICABLE, findings=found,
                      reason=reason)  # fmt: skip
        return
    outcome = GRANTED
    if not fresh:
        outcome = IMPLIED
        if disposition == Disposition.MAPPED:
            disposition, reason = Disposition.IMPLIED, "the plan already grants this"
    found += grant_findings(state, db, perm, role, where, outcome)
    state.dispose(fact, "permission", ref, disposition, items=keys, findings=found, reason=reason)


def _plan_attribute(
    state: PlanState, perm: Permission, role: str, row: PrivilegeRow, fact: str
) -> None:
    """A SERVER row that sets a role attribute (CREATE ANY DATABASE → CREATEDB): the fact maps
    to the role, or is implied when the role has the attribute already (no plan item carries
    it). PUBLIC cannot hold an attribute: nothing for a grant to public."""
    ref, where = str(perm.source_ref), perm.securable_class
    keys, fresh = server_row_items(state, role, row, fact)
    if not keys:
        reason = f"{role} cannot hold the {row.attribute} attribute"
        found = grant_findings(state, None, perm, role, where, nothing(reason))
        state.dispose(fact, "permission", ref, Disposition.NOT_APPLICABLE, findings=found,
                      reason=reason)  # fmt: skip
        return
    disposition, reason, outcome = Disposition.MAPPED, becomes(row, role), GRANTED
    if not fresh:
        disposition, reason = Disposition.IMPLIED, f"{reason}: the plan already grants this"
        outcome = IMPLIED
    found = grant_findings(state, None, perm, role, where, outcome)
    state.dispose(fact, "permission", ref, disposition, items=keys, findings=found, reason=reason)


def _row(
    state: PlanState, db: Database | None, perm: Permission, row: PrivilegeRow, target: Target
) -> tuple[PrivilegeRow, list[tuple[PrivilegeRow, Target]]]:
    """The mapping row of a GRANT (its outcome and note) and the rows to expand on what, with
    the two halves of creating objects worked out (the module docstring). ``row``: the
    mapping table's row of the permission."""
    if db is None:
        return row, [(row, target)]
    if row.securable_class == "SCHEMA" and row.permission == "ALTER":
        if _creates(state, db, perm.grantee):
            return row, [(row, target)]
        overgrant = _creates_at_all(state, db, perm.grantee)
        alone = SCHEMA_ALTER_OVERGRANT if overgrant else SCHEMA_ALTER_ALONE
        return alone, [(alone, target)]
    if row.securable_class == "DATABASE" and row.permission in SCHEMA_CREATORS:
        schemas = _creatable_schemas(state, db, perm.grantee)
        creation = [(SCHEMA_CREATION, Target("SCHEMA", object_name=s)) for s in schemas]
        if creation and row.privileges:  # ALTER ANY SCHEMA, ALTER: ALTER on every object too
            return replace(row, note=f"{row.note} {CREATOR_OWNS_NOTE}"), [(row, target), *creation]
        if creation:
            return SCHEMA_CREATION, creation
    return row, [(row, target)]


def _expand(
    state: PlanState, db: Database | None, role: str, parts: list[tuple[PrivilegeRow, Target]],
    stamps: Stamps,
) -> list[tuple[str, Item]] | None:  # fmt: skip
    """:func:`~mapper.translate.grants.expand` of each row on its target, each item with its
    key (None: the one securable is not in the snapshot)."""
    if len(parts) == 1:
        return expand_keyed(state, db, role, parts[0][1], parts[0][0], stamps)
    return [
        pair for row, on in parts for pair in expand_keyed(state, db, role, on, row, stamps) or []
    ]


def _creates(state: PlanState, db: Database, grantee: str) -> bool:
    """Whether the grantee may create objects in the database through grants the plan carries
    (with ALTER on a schema, in it): a CREATE permission the engine allows, granted by a row of
    the grantee or of one of its roles (CREATE … or ALTER on the database)."""
    principals = _principals(state, db, grantee)
    return any(
        _holds(state, db, principals, _CREATE_SOURCES[p], None)
        and state.engine.allows(db.name, grantee, Securable("DATABASE"), p)
        for p in CREATE_IN_SCHEMA
    )


def _creates_at_all(state: PlanState, db: Database, grantee: str) -> bool:
    """Whether the engine lets the grantee create objects in the database, by any means."""
    return any(
        state.engine.allows(db.name, grantee, Securable("DATABASE"), p) for p in CREATE_IN_SCHEMA
    )


def _creatable_schemas(state: PlanState, db: Database, grantee: str) -> list[str]:
    """The schemas where the grantee may create objects through grants the plan carries
    (:func:`_creates`, and ALTER on the schema allowed and granted to it or one of its roles),
    without those a GRANT ALTER ON SCHEMA row of its own maps already."""
    if not _creates(state, db, grantee):
        return []
    principals = _principals(state, db, grantee)
    own = {
        name for cls, _, who, name in _creation_rows(state, db)
        if cls == "SCHEMA" and who == fold(grantee)
    }  # fmt: skip
    return [
        schema for schema in schemas_of(state, db)
        if fold(schema) not in own
        and _holds(state, db, principals, _ALTER_SOURCES, schema)
        and state.engine.allows(db.name, grantee, Securable("SCHEMA", name=schema), "ALTER")
    ]  # fmt: skip


def _principals(state: PlanState, db: Database, grantee: str) -> frozenset[str]:
    """The grantee and its roles in the database (folded; public and fixed roles included)."""
    try:
        roles = state.engine.memberships(db.name, grantee)
    except GrantbridgeError:
        return frozenset({fold(grantee)})
    return frozenset({fold(grantee), *(fold(r) for r in roles)})


def _holds(
    state: PlanState, db: Database, principals: frozenset[str],
    pairs: tuple[tuple[str, str], ...], schema: str | None,
) -> bool:  # fmt: skip
    """Whether a GRANT row of one of the principals is one of the pairs (a SCHEMA pair: on
    ``schema``). Fixed roles hold no rows: their permissions never count here."""
    rows = _creation_rows(state, db)
    return any(
        (cls, permission, who, fold(schema or "") if cls == "SCHEMA" else None) in rows
        for cls, permission in pairs for who in principals
    )  # fmt: skip


def _creation_rows(state: PlanState, db: Database) -> frozenset[tuple[str, str, str, str | None]]:
    """The database's GRANT rows of a pair that lets a principal create in a schema, once."""
    rows = state.creation_rows.get(db.key)
    if rows is None:
        pairs = set(_ALTER_SOURCES).union(*_CREATE_SOURCES.values())
        rows = state.creation_rows[db.key] = frozenset(
            (p.securable_class, p.permission, fold(p.grantee),
             fold(p.object_name or "") if p.securable_class == "SCHEMA" else None)
            for p in db.permissions
            if p.state != PermissionState.DENY and p.column_name is None
            and (p.securable_class, p.permission) in pairs
        )  # fmt: skip
    return rows


def _denied_by(
    state: PlanState, db: Database | None, perm: Permission, stamps: Stamps
) -> str | None:
    """The DENY that overrides a GRANT in SQL Server, if any (from the semantics engine)."""
    if perm.securable_class in ("SERVER", "LOGIN", "SERVER ROLE", "ENDPOINT") and db:
        return None
    try:
        decision = state.engine.refusal(
            db.name if db else None, perm.grantee, stamps.securable(perm), perm.permission
        )
    except GrantbridgeError:
        return None
    return None if decision is None else decision.reason
