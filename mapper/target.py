"""A plan resolved against the target's catalog (DESIGN §3.3, "Securables"): ``plan --target``.

``grantbridge inspect`` reads a live PostgreSQL — the database the conversion (AWS SCT, pgloader,
by hand) produced — into the plan's own model. Given that catalog, the plan's objects resolve
against the objects that really exist:

* **Routines.** SQL Server's permission model does not say what argument types a conversion
  gave a routine, nor whether a procedure stayed a procedure, so the planner names routines
  alone (``signature`` None). :func:`bind_signatures` gives each one the signature (and, for a
  procedure, the kind) of the one target routine of that schema and name. ``verify`` and
  ``drift`` run the same binding on what they read back (``pg_emit.verify``, ``pg_emit.drift``).
* **Sequences called by column defaults.** ``DEFAULT nextval('s.orders_id_seq'::regclass)``
  runs as the inserting role: :func:`grant_default_sequences` gives each INSERT grantee USAGE
  on the sequence (GB040), which SQL Server never asked for; a grantee of INSERT on a view
  over the table too, where the snapshot shows the view's chain to it intact.
* **Objects the target lacks.** A GRANT on them would stop the apply (``ON_ERROR_STOP``), so
  the items on them (the object and its owner, grants, revokes, SECURITY DEFINER,
  security_invoker, row-level security) leave the plan, each object with finding GB042. A fact that became nothing else is
  ``unresolved``; one that still has other items keeps its disposition and gains the finding.
  Only databases the catalog covers are checked (``inspect`` may have read a subset).

Names are compared exactly, as the plan spells them after the naming policy (folded to lower
case by default): a target that kept mixed-case names needs the naming policy that matches.
When the target has a missing object under another case, its GB042 names it and that setting.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from mapper import findings
from mapper.plan import (
    Disposition,
    FactDisposition,
    Finding,
    MigrationPlan,
    PgGrant,
    PgObject,
)
from mapper.policy import Policy

#: Plan object kinds and grant object types that are routines.
ROUTINE_KINDS = frozenset({"function", "procedure"})
ROUTINE_TYPES = frozenset({"FUNCTION", "PROCEDURE"})

Where = tuple[str, str | None, str]  # database, schema, name
Route = tuple[Where, str]  # a table, and "schema.name" of the view over it INSERT is on, or ""
Live = tuple[str, str]  # kind ("function" / "procedure"), signature


def live_signatures(objects: Iterable[PgObject]) -> dict[Where, Live]:
    """(database, schema, name) → (kind, signature), for the routines unique by name there."""
    found: dict[Where, set[Live]] = defaultdict(set)
    for obj in objects:
        if obj.kind in ROUTINE_KINDS and obj.signature is not None:
            found[obj.database, obj.schema_name, obj.name].add((obj.kind, obj.signature))
    return {where: next(iter(live)) for where, live in found.items() if len(live) == 1}


def bind_signatures(plan: MigrationPlan, live: Iterable[PgObject]) -> MigrationPlan:
    """``plan`` with each routine named alone bound to the live signature (and, for a
    procedure, the live kind: a conversion may have made it a function). None found, several
    (overloads), or a source function that is a live procedure: the item stays as it is."""
    signatures = live_signatures(live)
    if not signatures:
        return plan

    def bound(item: Any, kind: str | None, field: str) -> Any:
        if kind not in ROUTINE_KINDS or item.signature is not None:
            return item
        found = signatures.get((item.database, item.schema_name, item.name))
        if found is None or (kind == "function" and found[0] != "function"):
            return item
        live_kind = found[0].upper() if field == "object_type" else found[0]
        return item.model_copy(update={"signature": found[1], field: live_kind})

    def kind_of(object_type: str) -> str | None:
        return object_type.lower() if object_type in ROUTINE_TYPES else None

    return plan.model_copy(
        update={
            "objects": tuple(bound(o, o.kind, "kind") for o in plan.objects),
            "grants": tuple(bound(g, kind_of(g.object_type), "object_type") for g in plan.grants),
            "revokes": tuple(bound(r, kind_of(r.object_type), "object_type") for r in plan.revokes),
            "routine_security": tuple(bound(r, r.kind, "kind") for r in plan.routine_security),
        }
    )


def _named(item: Any) -> Where:
    return (item.database, item.schema_name, item.name)


def _table(item: Any) -> Where:
    return (item.database, item.schema_name, item.table_name)


#: Plan fields whose items sit on one object, and how each names its object.
_ON_OBJECT: dict[str, Callable[[Any], Where]] = {
    "objects": _named, "grants": _named, "revokes": _named, "routine_security": _named,
    "view_security": _named, "row_security": _table,
}  # fmt: skip
#: Grant object types that are not objects of a schema.
_NOT_OBJECTS = frozenset({"DATABASE", "SCHEMA", "PARAMETER", "LANGUAGE", "FOREIGN SERVER"})


def resolve_against_target(
    plan: MigrationPlan, target: MigrationPlan, policy: Policy,
    views: Mapping[Where, Where] | None = None, denies: Mapping[Where, list[str]] | None = None,
) -> MigrationPlan:  # fmt: skip
    """``plan`` bound to the target's routines, without the items on objects it lacks, and with
    USAGE on the sequences the column defaults of its tables call, for INSERT on them or on the
    ``views`` over them (view → table), naming the ``denies`` on them
    (:func:`grant_default_sequences`)."""
    plan = bind_signatures(plan, target.objects)
    plan = without_missing(plan, target, policy)
    return _sorted(grant_default_sequences(plan, target, policy, views, denies))


def without_missing(plan: MigrationPlan, target: MigrationPlan, policy: Policy) -> MigrationPlan:
    """``plan`` without the items on the objects of covered databases the target lacks (GB042)."""
    covered = {d.name for d in target.databases} | {o.database for o in target.objects}
    present = {(o.database, o.schema_name, o.name) for o in target.objects}
    missing = {
        (o.database, o.schema_name, o.name): o
        for o in plan.objects
        if o.database in covered and (o.database, o.schema_name, o.name) not in present
    }
    if not missing:
        return plan
    # a target that kept the source's case: "Sales"."Orders" where the plan says sales.orders
    by_case = {_folded(o.database, o.schema_name, o.name): o for o in target.objects}
    found = {where: _finding(obj, policy, by_case.get(_folded(*where)))
             for where, obj in missing.items()}  # fmt: skip
    update: dict[str, Any] = {}
    dropped: dict[str, str] = {}  # item key → finding key
    for field, where_of in _ON_OBJECT.items():
        kept = []
        for item in getattr(plan, field):
            where = where_of(item)
            if where in found and getattr(item, "object_type", "") not in _NOT_OBJECTS:
                dropped[item.key] = found[where].key
            else:
                kept.append(item)
        update[field] = tuple(kept)
    update["findings"] = plan.findings + tuple(found.values())
    update["dispositions"] = tuple(_disposed(d, dropped) for d in plan.dispositions)
    return plan.model_copy(update=update)


def _folded(database: str, schema: str, name: str) -> Where:
    return (database, schema.casefold(), name.casefold())


def _finding(obj: PgObject, policy: Policy, other_case: PgObject | None = None) -> Finding:
    where = f"{obj.schema_name}.{obj.name}"
    evidence = f"{obj.kind} {where} is not in database {obj.database} of the target catalog"
    action = (
        "Nothing granted on it, and it is not re-owned: a statement on it would stop the apply."
    )
    if other_case is not None:  # names are compared exactly, after the naming policy
        evidence += f"; the target has {other_case.schema_name}.{other_case.name}"
        action += (
            ' The target kept the source\'s case: plan with fold_case = "preserve" in the'
            " policy's [naming] table (or fold the target's names) so that names match."
        )
    finding = findings.make(
        "GB042", evidence, action,
        securable=f"{obj.kind.upper()} {where}", source_ref=f"{obj.database}:{where}",
    )  # fmt: skip
    return _with_acceptance(finding, policy)


def _disposed(disposition: FactDisposition, dropped: dict[str, str]) -> FactDisposition:
    """A fact's disposition once the items on missing objects are gone."""
    lost = [key for key in disposition.items if key in dropped]
    if not lost:
        return disposition
    items = tuple(key for key in disposition.items if key not in dropped)
    update: dict[str, Any] = {
        "items": items,
        "findings": tuple(sorted({*disposition.findings, *(dropped[k] for k in lost)})),
    }
    if not items:
        update |= {"disposition": Disposition.UNRESOLVED,
                   "reason": "its object is not in the target catalog (GB042)"}  # fmt: skip
    return disposition.model_copy(update=update)


#: Sequence privileges that let a role call nextval: either makes a USAGE grant redundant.
_NEXTVAL = frozenset({"USAGE", "UPDATE"})


def grant_default_sequences(
    plan: MigrationPlan, target: MigrationPlan, policy: Policy,
    views: Mapping[Where, Where] | None = None, denies: Mapping[Where, list[str]] | None = None,
) -> MigrationPlan:  # fmt: skip
    """``plan`` with USAGE on each sequence a table's column default calls, for every grantee
    the plan gives INSERT on that table or on a view of ``views`` over it (view → table: the
    planner's :func:`mapper.translate.default_sequences.views_over_tables`, the views whose
    chain to the table is intact), and a GB040 finding per table and per view, which names the
    snapshot's DENYs on the sequences granted (``denies``, sequence → the DENYs that cover UPDATE
    on it: :func:`mapper.translate.default_sequences.sequence_denies`).

    PostgreSQL evaluates ``DEFAULT nextval('s.orders_id_seq'::regclass)`` (a serial column, or a
    converted ``DEFAULT (NEXT VALUE FOR s.seq)``) as the inserting role, which needs USAGE (or
    UPDATE) on the sequence; SQL Server needed no permission on a sequence that had the same
    owner as the default constraint ("NEXT VALUE FOR (Transact-SQL)", Permissions). Members of
    the INSERT grantee inherit the grant, as they inherit INSERT. A sequence of the plan whose
    owner is not the table's gets nothing: SQL Server checked the inserting user's own UPDATE on
    it (the chain is broken), which the plan maps to USAGE where it was granted
    (:mod:`mapper.translate.default_sequences`, which gives the same USAGE from the snapshot's
    defaults, so that nothing is added here twice). Identity columns call no
    sequence as the inserting role: ``inspect`` does not record them. A sequence the plan does
    not have (a serial's own) joins ``objects`` as the target has it, owned by the table's owner
    (``ALTER TABLE … OWNER`` moves a serial's sequence along), so scripts and ``verify`` have it.
    """
    called = {_named(o): o.default_sequences for o in target.objects if o.default_sequences}
    tables = {_named(o): o for o in plan.objects if o.kind in ("table", "view")}
    over = views or {}

    def reached(insert: PgGrant) -> list[Route]:
        """The table an INSERT grant is on, and the one under the view it is on."""
        where = _named(insert)
        found = [(where, "")] if where in tables else []
        if where in over and where in tables:
            found.append((over[where], f"{insert.schema_name}.{insert.name}"))
        return [(table, view) for table, view in found if table in called and table in tables]

    inserts = [(g, route) for g in plan.grants if g.object_type == "TABLE"
               and g.privilege == "INSERT" for route in reached(g)]  # fmt: skip
    if not inserts:
        return plan
    sequences = _sequences(plan, target)
    planned = {o.key for o in plan.objects}
    held = {(_named(g), g.grantee) for g in plan.grants
            if g.object_type == "SEQUENCE" and g.privilege in _NEXTVAL and not g.columns}  # fmt: skip
    added: dict[str, PgGrant] = {}
    objects: dict[str, PgObject] = {}
    per_table: dict[Route, list[PgGrant]] = defaultdict(list)
    for insert, route in inserts:
        table = tables[route[0]]
        for name in called[route[0]]:
            sequence = sequences.get((insert.database, name))
            if sequence is None or (_named(sequence), insert.grantee) in held:
                continue  # not in the catalog read, or the grantee may call nextval already
            if sequence.key in planned and sequence.owner != table.owner:
                continue  # SQL Server checked the inserter's own UPDATE: mapped as USAGE if held
            if sequence.key not in planned and _adoptable(sequence, table, target):
                objects.setdefault(sequence.key, _adopted(sequence, table))
            grant = _usage(sequence, insert)  # with this INSERT's facts: its route's GB040
            per_table[route].append(grant)
            added[grant.key] = _usage(sequence, insert, added.get(grant.key))  # every INSERT's
    if not added:
        return plan
    denied = denies or {}
    found = {(where, view): _with_acceptance(sequence_finding(
                 where, grants, view=view, source_ref=f"{where[0]}:{view}" if view else None,
                 denied=[d for g in grants for d in denied.get(_named(g), ())],
             ), policy) for (where, view), grants in per_table.items()}  # fmt: skip
    return plan.model_copy(update={
        "objects": plan.objects + tuple(objects.values()),
        "grants": plan.grants + tuple(added.values()),
        "findings": plan.findings + tuple(f for f in found.values()
                                          if f.key not in {x.key for x in plan.findings}),
        "dispositions": _with_usage(plan.dispositions, per_table, found),
    })  # fmt: skip


def _sequences(plan: MigrationPlan, target: MigrationPlan) -> dict[tuple[str, str], PgObject]:
    """(database, "schema.name") → sequence, the plan's own before the target's."""
    return {
        (o.database, f"{o.schema_name}.{o.name}"): o
        for o in (*target.objects, *plan.objects)
        if o.kind == "sequence"
    }


def _adoptable(sequence: PgObject, table: PgObject, target: MigrationPlan) -> bool:
    """False for a sequence that may be linked to the table (``OWNED BY``: same owner on the
    target) and whose ``ALTER SEQUENCE … OWNER`` would run before the table's (03 follows the
    order of ``objects``): PostgreSQL refuses to re-own a linked sequence by itself. Such a
    sequence is granted on as the target has it, and the table's re-owning moves it along."""
    if sequence.key > table.key:  # a serial's own: <table>_<column>_seq
        return True
    owners = {o.key: o.owner for o in target.objects}
    return owners.get(sequence.key) != owners.get(table.key)


def _adopted(sequence: PgObject, table: PgObject) -> PgObject:
    """A target sequence the plan did not have, owned by the table whose default calls it."""
    return PgObject(database=sequence.database, schema_name=sequence.schema_name,
                    name=sequence.name, kind="sequence", owner=table.owner, facts=table.facts)  # fmt: skip


def _usage(sequence: PgObject, insert: PgGrant, before: PgGrant | None = None) -> PgGrant:
    """USAGE on ``sequence`` to the INSERT grantee, with the INSERT grant's facts (and those of
    ``before``, the same USAGE from another INSERT grant: table and column INSERT, say)."""
    facts = tuple(sorted({*insert.facts, *(before.facts if before else ())}))
    return PgGrant(database=sequence.database, object_type="SEQUENCE",
                   schema_name=sequence.schema_name, name=sequence.name, privilege="USAGE",
                   grantee=insert.grantee, facts=facts)  # fmt: skip


def sequence_finding(
    table: Where, grants: list[PgGrant], *, source_ref: str | None = None, view: str = "",
    denied: Iterable[str] = (),
) -> Finding:  # fmt: skip
    """GB040 for the USAGE grants made on the sequences a table's defaults call (here, and by
    :mod:`mapper.translate.default_sequences` from the snapshot, which gives its own
    ``source_ref``: where SQL Server's table is defined, or the ``view`` (``schema.name``) over
    the table the grantees insert through, and where that view is defined), naming each DENY of
    ``denied`` (``DENY UPDATE ON SCHEMA::[s] TO [x]``), which the USAGE does not keep."""
    database, schema, name = table
    where = f"{schema}.{name}"
    used = sorted({f"{g.schema_name}.{g.name}" for g in grants})
    through = f", an INSERT through view {view} too" if view else ""
    evidence = (
        f"USAGE on sequence {', '.join(used)}: the column default of {where} calls nextval as "
        f"the inserting role{through}; USAGE also lets that role call nextval directly"
    )
    granted = f"view {view} over {where}" if view else where
    chained = ", nor on the table, owned by the view's owner" if view else ""
    action = (
        f"Granted USAGE on {', '.join(used)} to {', '.join(sorted({g.grantee for g in grants}))}"
        f", the roles granted INSERT on {granted} (SQL Server needed no permission on a sequence "
        f"owned by the table's owner{chained})."
    )
    if named := sorted(set(denied)):
        evidence += (
            f"; not kept: {', '.join(named)}. Each stopped a direct NEXT VALUE FOR in SQL "
            "Server, never the default (the ownership chain skips the check on the sequence, a "
            "DENY included), so USAGE is granted all the same, and USAGE cannot tell the "
            "default from a direct call: a role a DENY names that holds the USAGE, or inherits "
            "it, may call nextval itself"
        )
        action += (
            " To keep a DENY, give the column a default that calls a SECURITY DEFINER function "
            "of the sequence's owner instead, and revoke the USAGE."
        )
    return findings.make(
        "GB040", evidence, action, securable=f"VIEW {view}" if view else f"TABLE {where}",
        source_ref=source_ref or f"{database}:{where}",
    )  # fmt: skip


def _with_usage(
    dispositions: tuple[FactDisposition, ...],
    per_table: dict[Route, list[PgGrant]],
    found: dict[Route, Finding],
) -> tuple[FactDisposition, ...]:
    """Each INSERT fact also became the USAGE grants made for it, with the table's GB040."""
    items: dict[str, set[str]] = defaultdict(set)
    raised: dict[str, set[str]] = defaultdict(set)
    for where, grants in per_table.items():
        for grant in grants:
            for fact in grant.facts:
                items[fact].add(grant.key)
                raised[fact].add(found[where].key)
    return tuple(
        d.model_copy(update={"items": tuple(sorted({*d.items, *items[d.fact]})),
                             "findings": tuple(sorted({*d.findings, *raised[d.fact]}))})
        if d.fact in items else d
        for d in dispositions
    )  # fmt: skip


def _sorted(plan: MigrationPlan) -> MigrationPlan:
    """Re-validated, so every collection is sorted by key again (binding changes keys)."""
    return MigrationPlan.model_validate(
        {name: getattr(plan, name) for name in MigrationPlan.model_fields}
    )


def _with_acceptance(finding: Finding, policy: Policy) -> Finding:
    """The finding, marked accepted when the policy accepts it (as the planner's are)."""
    accepted = policy.overgrants.acceptance(finding.rule_id, finding.principal)
    if accepted is None:
        return finding
    return finding.model_copy(update={"accepted": True, "accepted_reason": accepted.reason})
