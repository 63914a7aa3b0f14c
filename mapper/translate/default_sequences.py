"""USAGE on the sequences column defaults call, for the roles the plan lets INSERT (DESIGN §3.3,
"What PostgreSQL needs that SQL Server does not").

A table's ``DEFAULT (NEXT VALUE FOR s.seq)`` becomes ``DEFAULT nextval('s.seq')``, and
PostgreSQL runs a default as the inserting role, which needs USAGE (or UPDATE) on the sequence
("Sequence Manipulation Functions"; ownership plays no part). SQL Server checks the sequence
as it checks any object called through an ownership chain ("NEXT VALUE FOR (Transact-SQL)",
Security, Ownership Chaining: "If the default constraint has the same owner as the sequence
object, no permissions are required on the sequence object when the default constraint is
called"; a default constraint is owned by its table's owner), and a chain skips the check
altogether, a DENY included ("Ownership Chains": "permissions on the referenced object are not
evaluated"). The snapshot carries each table's sequence defaults (``DbObject.sequence_defaults``)
from every source; ``plan --target`` reads the same from the converted target
(:func:`mapper.target.grant_default_sequences`, which gives nothing more where this pass did).

=================================  ==============================  ================================
table and sequence                 SQL Server checks on the        the plan
                                   sequence when the default runs
=================================  ==============================  ================================
same owner (the chain is intact)   nothing, not even a DENY        USAGE to each INSERT grantee,
                                                                   with the INSERT's facts; GB040
different owners (chain broken)    UPDATE, as ``NEXT VALUE FOR``   nothing added: the inserter's
                                   does                            own UPDATE became USAGE
sequence not in the snapshot, or   (unknown)                       nothing granted; GB042 names
a name alone several schemas hold                                  the INSERT grantees
=================================  ==============================  ================================

USAGE also lets the grantee call ``nextval`` itself, which SQL Server allowed only with UPDATE:
GB040 says so, and names each DENY that covers UPDATE on the sequence (on it, its schema, the
database, CONTROL SERVER), which is therefore not kept (faithful to the default, which the DENY
never stopped; the alternative, a SECURITY DEFINER function as the default, is a change to the
converted table, not to its privileges). Runs after
:func:`~mapper.translate.implied.prune_implied`: a role inheriting INSERT inherits the USAGE too.

INSERT through a view is an INSERT on its base table for the default: SQL Server checks nothing
on the table where the view's owner owns it (the chain), nor on the sequence; PostgreSQL inserts
into the table as the view's owner but still runs nextval as the inserting role. So the view's
INSERT grantees get the same, with one GB040 per view, where the view's base table is known
(:func:`_views_over`); a view without its body in the snapshot (GB309) gets nothing.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from mapper import findings
from mapper.module_findings import ObjectIndex, module_chain
from mapper.modules import analyze_object
from mapper.permissions import CATALOG
from mapper.plan import PgGrant, PgObject
from mapper.target import Where, sequence_finding
from mapper.translate.items import copy_with
from mapper.translate.objects import pg_object, schema_owner
from mapper.translate.state import PlanState
from mssql_extract.snapshot import (
    Database,
    DbObject,
    ObjectKind,
    PermissionState,
    SequenceDefault,
    fold,
)

#: (class, permission) pairs whose DENY keeps a principal from calling NEXT VALUE FOR on a sequence
#: itself: UPDATE on it and every pair that covers it, CONTROL on it, UPDATE and CONTROL on its
#: schema and on the database, CONTROL SERVER (reference/mssql/builtin_permissions_sql2022.csv,
#: OBJECT/UPDATE and up; "NEXT VALUE FOR (Transact-SQL)", Permissions: UPDATE on the sequence).
_NEXT_VALUE_DENIED = frozenset(CATALOG.implied_by("OBJECT", "UPDATE", grant=False))
#: Sequence privileges that let a role call nextval: a grantee holding one needs nothing more.
_NEXTVAL = ("USAGE", "UPDATE")
#: What a USAGE grant made here says about itself (in plan.json).
_WITH_INSERT = "USAGE goes with INSERT: the column default of {table} calls nextval"


def plan_default_sequences(state: PlanState) -> None:
    """USAGE on each sequence a table's defaults call, for every grantee of INSERT on the table,
    or on a view over it (:func:`_views_over`), whose owner also owns the sequence; GB042 for a
    sequence the snapshot does not have."""
    tables = [(db, obj) for db in state.snapshot.databases for obj in db.objects
              if obj.sequence_defaults and obj.kind == ObjectKind.TABLE]  # fmt: skip
    if not tables:
        return
    inserts = _inserts(state)
    held = _held(state)
    server = _server_denies(state)
    catalogs: dict[str, _Sequences] = {}
    views: dict[str, dict[str, list[tuple[DbObject, PgObject]]]] = {}
    for db, table in tables:
        sequences = catalogs.get(db.key) or catalogs.setdefault(db.key, _Sequences(db, server))
        target = pg_object(state, db, table)
        if target is None:
            continue
        if db.key not in views:
            views[db.key] = _views_over(state, db, inserts, {t.key for d, t in tables if d is db})
        routes = [(table, target), *views[db.key].get(table.key, ())]
        for through, where in routes:  # the table itself, then each view over it
            granted = inserts.get(_where(where))
            if granted:
                route = _Route(table, target, through, where, granted)
                _plan_route(state, db, sequences, route, held)


@dataclass(frozen=True)
class _Route:
    """INSERT grants on ``table`` (the PostgreSQL ``target``) or on a view over it: ``through``
    is the table or the view the grants are on, ``where`` its PostgreSQL object."""

    table: DbObject
    target: PgObject
    through: DbObject
    where: PgObject
    granted: list[tuple[str, PgGrant]]

    @property
    def view(self) -> str:
        """``schema.name`` of the view the grants are on, "" for the table's own grants."""
        return "" if self.through is self.table else f"{self.where.schema_name}.{self.where.name}"


def _plan_route(
    state: PlanState, db: Database, sequences: _Sequences, route: _Route, held: set[str]
) -> None:
    usages: list[PgGrant] = []
    denied: list[str] = []
    for default in route.table.sequence_defaults:
        sequence = sequences.find(default)
        if isinstance(sequence, str):
            _not_found(state, route, default, sequence)
        elif _chained(db, route.table, sequence):
            # USAGE even to a grantee DENIED UPDATE on the sequence (or its schema, database):
            # the default is called through the table's ownership chain, and "If both objects
            # have the same owner, permissions on the referenced object are not evaluated"
            # ("Ownership Chains", https://learn.microsoft.com/sql/relational-databases/
            # security/ownership-chains), as "NEXT VALUE FOR (Transact-SQL)" says of a default
            # ("no permissions are required on the sequence object"): SQL Server inserts for
            # it. Leaving it out would refuse what the server allows; giving it lets a direct
            # nextval through, which the DENY stopped. GB040 names each such DENY.
            made = _granted(state, db, route.target, sequence, route.granted, held)
            usages += made
            denied += sequences.denied(sequence) if made else []
    if usages:
        _found(state, route, usages, sorted(set(denied)))


def _views_over(
    state: PlanState, db: Database, inserts: dict[Where, list[tuple[str, PgGrant]]],
    tables: set[str],
) -> dict[str, list[tuple[DbObject, PgObject]]]:  # fmt: skip
    """Table key → the views granted INSERT over it, in key order, where the view's body is in
    the snapshot, it reads that one table (or a view that does: :func:`_table_under`) and
    nothing else of the database, and SQL Server
    checks nothing on the table (:class:`~mapper.module_findings.ModuleChain`: every reference
    the view's owner's, no dynamic SQL, nothing unknown). PostgreSQL inserts into such a view's
    table as the view's owner, yet runs the table's defaults, nextval included, as the inserting
    role (checked on PostgreSQL 15: "permission denied for sequence seq" for a role holding
    INSERT on the view only). A view without its body (GB309) is not looked into."""
    found: dict[str, list[tuple[DbObject, PgObject]]] = defaultdict(list)
    index: ObjectIndex | None = None
    for view in sorted(db.objects, key=lambda o: o.key):
        if view.kind != ObjectKind.VIEW or not view.definition:
            continue
        target = pg_object(state, db, view)
        if target is None or not inserts.get(_where(target)):
            continue
        index = index or ObjectIndex(db)
        base = _table_under(db, view, index)
        if base is not None and base.key in tables:
            found[base.key].append((view, target))
    return found


def _table_under(db: Database, view: DbObject, index: ObjectIndex) -> DbObject | None:
    """The one object ``view`` reads through an intact chain, followed through views that do
    the same (a view over a view over the table: PostgreSQL inserts through each as its owner,
    and runs the table's defaults as the inserting role all the same); None where a view of
    the way has no body, a broken chain, more than one object, or comes round again."""
    seen = {view.key}
    while True:
        chain = module_chain(db, view, analyze_object(view), index)
        read = {(fold(link.schema_name), fold(link.name)) for link in chain.intact
                if link.access == "SELECT"}  # fmt: skip
        if not chain.owner_safe or len(read) != 1:
            return None
        ((schema, name),) = read
        base = index.by_key.get(f"object:{schema}.{name}")
        if base is None or base.kind != ObjectKind.VIEW:
            return base
        if base.key in seen or not base.definition:
            return None
        seen.add(base.key)
        view = base


def views_over_tables(state: PlanState) -> dict[Where, Where]:
    """PostgreSQL view → the table an INSERT into it reaches, for each view granted INSERT that
    :func:`_views_over` finds over any table of the snapshot, defaults or not: ``plan --target``
    (:func:`mapper.target.grant_default_sequences`) reads the defaults from the target, which
    may have some the snapshot does not (a serial column, an extractor that reads none)."""
    inserts = _inserts(state)
    found: dict[Where, Where] = {}
    for db in state.snapshot.databases:
        tables = {o.key: o for o in db.objects if o.kind == ObjectKind.TABLE}
        for key, views in _views_over(state, db, inserts, set(tables)).items():
            table = pg_object(state, db, tables[key])
            if table is None:
                continue
            for _, view in views:
                found[_where(view)] = _where(table)
    return found


def sequence_denies(state: PlanState) -> dict[Where, list[str]]:
    """PostgreSQL sequence → the DENYs that cover UPDATE on its SQL Server sequence, for the
    GB040 of ``plan --target`` (:func:`mapper.target.grant_default_sequences`)."""
    server = _server_denies(state)
    found: dict[Where, list[str]] = {}
    for db in state.snapshot.databases:
        sequences = _Sequences(db, server)
        for sequence in (o for named in sequences.by_name.values() for o in named):
            denied, target = sequences.denied(sequence), pg_object(state, db, sequence)
            if denied and target is not None:
                found[_where(target)] = denied
    return found


def _where(item: PgObject | PgGrant) -> Where:
    return (item.database, item.schema_name, item.name)


def _inserts(state: PlanState) -> dict[Where, list[tuple[str, PgGrant]]]:
    """Table → the INSERT grants on it (table or column), with their keys, in key order."""
    found: dict[Where, list[tuple[str, PgGrant]]] = defaultdict(list)
    for key, item in state.items.items():
        if (isinstance(item, PgGrant) and item.privilege == "INSERT"
                and item.object_type == "TABLE"):  # fmt: skip
            found[_where(item)].append((key, item))
    return {where: sorted(grants) for where, grants in found.items()}


class _Sequences:
    """A database's sequences by folded name, and the DENYs that keep someone from calling NEXT
    VALUE FOR on one, built once per database (each table with defaults asks)."""

    def __init__(self, db: Database, server: list[str]) -> None:
        self.db = db
        self.by_name: dict[str, list[DbObject]] = defaultdict(list)
        for obj in db.objects:
            if obj.kind == ObjectKind.SEQUENCE:
                self.by_name[fold(obj.name)].append(obj)
        #: (folded schema, folded name), (folded schema,) or () for the database and the server
        #: → ``DENY UPDATE ON OBJECT::[s].[q] TO [x]``, each with its securable
        self.denies: dict[tuple[str, ...], list[str]] = defaultdict(list)
        self.denies[()] += server
        for p in db.permissions:
            if (p.state != PermissionState.DENY or p.column_name
                    or (p.securable_class, p.permission) not in _NEXT_VALUE_DENIED):  # fmt: skip
                continue
            where: tuple[str, ...]
            if p.securable_class == "OBJECT":
                where = (fold(p.schema_name or ""), fold(p.object_name or ""))
                what = f"OBJECT::[{p.schema_name}].[{p.object_name}]"
            elif p.securable_class == "SCHEMA":
                where, what = (fold(p.object_name or ""),), f"SCHEMA::[{p.object_name}]"
            else:
                where, what = (), f"DATABASE::[{db.name}]"
            self.denies[where].append(f"DENY {p.permission} ON {what} TO [{p.grantee}]")

    def find(self, default: SequenceDefault) -> DbObject | str:
        """The snapshot's sequence a default calls, or why it is not known. A name alone is
        looked up in the default schema of whoever ran the DDL, then dbo ("Name resolution,
        default schema, implicit schema", Part III, https://learn.microsoft.com/archive/blogs/
        sqlprogrammability/name-resolution-default-schema-implicit-schema-part-iii), so it is
        known only where one sequence has that name."""
        parts = default.sequence_parts
        if len(parts) == 3 and parts[0] and fold(parts[0]) != fold(self.db.name):
            return "a sequence of another database"
        named = self.by_name.get(fold(parts[-1]), [])
        if len(parts) >= 2 and parts[-2]:
            named = [o for o in named if fold(o.schema_name) == fold(parts[-2])]
        if len(named) == 1:
            return named[0]
        if not named:
            return "the snapshot has no such sequence"
        held = ", ".join(sorted(f"{o.schema_name}.{o.name}" for o in named))
        return f"named without its schema, it may be any of {held}"

    def denied(self, sequence: DbObject) -> list[str]:
        """Each DENY that keeps someone from calling NEXT VALUE FOR on ``sequence`` itself: on
        it, its schema, the database or the server, to anyone (whoever it names, or a member of
        it, may hold the USAGE given here)."""
        schema = fold(sequence.schema_name)
        return [
            *self.denies.get((schema, fold(sequence.name)), ()),
            *self.denies.get((schema,), ()),
            *self.denies.get((), ()),
        ]


def _server_denies(state: PlanState) -> list[str]:
    """``DENY CONTROL SERVER TO [login]``: it covers UPDATE on every sequence of the server."""
    return [f"DENY {p.permission} TO [{p.grantee}]" for p in state.snapshot.server_permissions
            if p.state == PermissionState.DENY
            and (p.securable_class, p.permission) in _NEXT_VALUE_DENIED]  # fmt: skip


def _owner(db: Database, obj: DbObject) -> str:
    return fold(obj.owner or schema_owner(db, obj.schema_name))


def _chained(db: Database, table: DbObject, sequence: DbObject) -> bool:
    """Whether SQL Server skips the check on the sequence: its owner owns the table (and so the
    default constraint, which has no owner of its own)."""
    return _owner(db, table) == _owner(db, sequence)


def _held(state: PlanState) -> set[str]:
    """Keys of the sequence grants that let their grantee call nextval, before this pass."""
    return {key for key, item in state.items.items()
            if isinstance(item, PgGrant) and item.object_type == "SEQUENCE"
            and item.privilege in _NEXTVAL and not item.columns}  # fmt: skip


def _granted(
    state: PlanState, db: Database, table: PgObject, sequence: DbObject,
    granted: list[tuple[str, PgGrant]], held: set[str],
) -> list[PgGrant]:  # fmt: skip
    """USAGE on the sequence for each INSERT grantee that cannot call nextval already, with the
    INSERT grant's facts, and listed beside it in their dispositions."""
    target = pg_object(state, db, sequence)
    if target is None:
        return []
    made: list[PgGrant] = []
    comment = _WITH_INSERT.format(table=f"{table.schema_name}.{table.name}")
    for key, insert in granted:
        usage = PgGrant(database=target.database, object_type="SEQUENCE",
                        schema_name=target.schema_name, name=target.name, privilege="USAGE",
                        grantee=insert.grantee, comment=comment)  # fmt: skip
        if any(copy_with(usage, privilege=p).key in held for p in _NEXTVAL):
            continue
        for fact in state.facts_of(key):
            state.add(usage, fact)
            _listed(state, fact, key, usage.key)
        made.append(usage)
    return made


def _listed(state: PlanState, fact: str, insert: str, item: str = "", finding: str = "") -> None:
    """``item`` and ``finding`` beside the INSERT grant ``insert`` in ``fact``'s disposition."""
    disposition = state.dispositions.get(fact)
    if disposition is None or insert not in disposition.items:
        return
    items = tuple(sorted({*disposition.items, *([item] if item else [])}))
    found = tuple(sorted({*disposition.findings, *([finding] if finding else [])}))
    state.dispositions[fact] = copy_with(disposition, items=items, findings=found)


def _found(state: PlanState, route: _Route, usages: list[PgGrant], denied: list[str]) -> None:
    """The table's (or view's) GB040, beside its INSERT grants in their facts' dispositions."""
    finding = sequence_finding(_where(route.target), usages, denied=denied,
                               source_ref=str(route.through.source_ref), view=route.view)  # fmt: skip
    key = state.finding(finding)
    grantees = {usage.grantee for usage in usages}
    for insert, grant in route.granted:
        for fact in state.facts_of(insert) if grant.grantee in grantees else ():
            _listed(state, fact, insert, finding=key)


def _not_found(state: PlanState, route: _Route, default: SequenceDefault, why: str) -> None:
    """GB042: nothing granted on a sequence the snapshot does not tell, beside the INSERTs."""
    grantees = ", ".join(sorted({g.grantee for _, g in route.granted}))
    table = route.table
    where = f"{table.schema_name}.{table.name}"
    on = f"view {route.view} (over {where})" if route.view else where
    finding = findings.make(
        "GB042",
        f"the default of column {where}.{default.column} calls NEXT VALUE FOR "
        f"{default.sequence}: {why}",
        f"Nothing granted on it: {grantees}, granted INSERT on {on}, need USAGE on its "
        "converted sequence to insert rows that take the default (PostgreSQL runs nextval as "
        "the inserting role). Grant it after apply, or plan with --target, which reads the "
        "defaults of the converted tables.",
        securable=f"SEQUENCE {default.sequence}", source_ref=str(route.through.source_ref),
    )  # fmt: skip
    key = state.finding(finding)
    for insert, _ in route.granted:
        for fact in state.facts_of(insert):
            _listed(state, fact, insert, finding=key)
