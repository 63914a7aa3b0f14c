"""``03_ownership.sql`` … ``06_hardening.sql``: per-database ownership, GRANTs, defaults, REVOKEs.

Grants are stored expanded in the plan (one privilege, one object, one grantee); here they are
grouped back. A GRANT gives one privilege set to all its grantees, so each object's grants are
split into as few (privileges, grantees) pairs as the simpler of two splits allows: one pair per
distinct privilege set of its grantees, or one pair per privilege (each naming every grantee
that has it). What PostgreSQL spends on a GRANT is mostly per statement and per object
statement (it rewrites the object's ACL and its dependencies each time), so fewer statements
per object is what makes the script apply fast (issue 7). Objects of one type that share a
pair are then named by one statement, at most :data:`MAX_OBJECTS` at a time. When such a group
covers every table (or sequence, function, procedure) the plan knows in a schema, there are at
least two, and SQL Server granted each of them through the whole schema or database (a
``GRANT … ON SCHEMA::`` or database-level fact behind every grant), it becomes ``ON ALL TABLES
IN SCHEMA``: that also reaches tables only the target has, as the source grant would have. Grants
that were made object by object stay listed, so a table the conversion added gets nothing from
them. Every statement is preceded by the facts it came from.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from mapper.plan import MigrationPlan, PgDefaultRevoke, PgGrant, PgObject
from mapper.quoting import quote_ident, quote_role, routine_keyword, securable_sql
from pg_emit import intent
from pg_emit.grant_groups import Held, Securable, group_grants, held_grants, hold, sort_key
from pg_emit.script import Statement, after, facts_note, listed

#: GRANT object type → (plan object kinds it covers, ``ALL … IN SCHEMA`` keyword).
ALL_IN_SCHEMA: dict[str, tuple[frozenset[str], str]] = {
    "TABLE": (frozenset({"table", "view"}), "TABLES"),
    "SEQUENCE": (frozenset({"sequence"}), "SEQUENCES"),
    "FUNCTION": (frozenset({"function"}), "FUNCTIONS"),
    "PROCEDURE": (frozenset({"procedure"}), "PROCEDURES"),
}

#: Plan object kind → the ALTER statement that changes its owner.
ALTER_KIND: dict[str, str] = {
    "table": "TABLE", "view": "VIEW", "sequence": "SEQUENCE",
    "function": "FUNCTION", "procedure": "PROCEDURE", "type": "TYPE",
}  # fmt: skip


def privileges_sql(privileges: Iterable[str]) -> str:
    """Privileges in PostgreSQL's own order, comma-separated."""
    return ", ".join(sorted(set(privileges), key=lambda p: (intent.privilege_rank(p), p)))


def grantees_sql(grantees: Iterable[str]) -> str:
    """Grantees sorted, PUBLIC as the keyword (unquoted), others quoted."""
    return listed([quote_role(g) for g in sorted(set(grantees))])


def _securable(grant: PgGrant) -> Securable:
    return (grant.object_type, grant.schema_name, grant.name, grant.signature)


#: Objects named by one GRANT at most, so that a statement stays reviewable in a diff.
MAX_OBJECTS = 100


class _SchemaContents:
    """Per object type: schema → the names of its objects of that type in one database.

    Built once per type and rendering, not once per group of grants (that scanned every object
    of the plan for each group: the quadratic part of rendering at scale).
    """

    def __init__(self, plan: MigrationPlan, database: str) -> None:
        self._plan, self._database = plan, database
        self._by_type: dict[str, dict[str, set[str]]] = {}

    def of(self, object_type: str) -> dict[str, set[str]]:
        found = self._by_type.get(object_type)
        if found is None:
            kinds, _ = ALL_IN_SCHEMA[object_type]
            found = self._by_type[object_type] = defaultdict(set)
            for obj in self._plan.objects:
                if obj.database == self._database and obj.kind in kinds:
                    found[obj.schema_name].add(f"{obj.name}{obj.signature or ''}")
        return found


def _all_in_schema(
    contents: _SchemaContents, object_type: str, securables: list[Securable], wide: set[Securable]
) -> tuple[list[str], list[Securable]]:
    """Split securables into whole schemas (``ALL … IN SCHEMA``) and the remaining objects.

    A schema is whole when the securables are every object of the type the plan knows in it (at
    least two), each granted through a schema- or database-wide source grant (in ``wide``).
    """
    if object_type not in ALL_IN_SCHEMA:
        return [], securables
    if object_type == "PROCEDURE" and any(s[3] is None for s in securables):
        return [], securables  # ALL PROCEDURES would miss one the conversion made a function
    by_schema = contents.of(object_type)
    wanted: dict[str, set[str]] = defaultdict(set)
    narrow: set[str] = set()
    for securable in securables:
        _, schema, name, signature = securable
        wanted[schema or ""].add(f"{name}{signature or ''}")
        if securable not in wide:
            narrow.add(schema or "")
    whole = sorted(
        s
        for s, names in wanted.items()
        if len(names) >= 2 and names == by_schema.get(s) and s not in narrow
    )
    rest = [s for s in securables if (s[1] or "") not in whole]
    return whole, rest


@dataclass(frozen=True)
class Clause:
    """One grouped grant without its verb: ``<privileges> ON <on> TO|FROM <grantees>``.

    04 renders a clause as a GRANT and ``rollback.sql`` the same clause as a REVOKE, so the
    grouping (about half of rendering's time at scale) is worked out once for both.
    """

    privileges: str
    on: str
    grantees: str
    notes: tuple[str, ...]
    #: What the text says, for the record 04 writes before its grants to PUBLIC
    #: (:mod:`pg_emit.render_hardening`): the object kind after ON (``FUNCTION``, ``ROUTINE`` …;
    #: ``FUNCTIONS`` … for ``ALL … IN SCHEMA``), the objects named (none for ``ALL … IN
    #: SCHEMA``, whose schema is ``in_schema``), the privileges and the grantees.
    kind: str = ""
    objects: tuple[Securable, ...] = ()
    in_schema: str | None = None
    privilege_names: tuple[str, ...] = ()
    grantee_names: tuple[str, ...] = ()

    def statement(self, verb: str = "GRANT", suffix: str = "") -> Statement:
        preposition = "TO" if verb == "GRANT" else "FROM"
        sql = f"{verb} {self.privileges} ON {self.on} {after(preposition, self.grantees)}{suffix}"
        return Statement(sql, self.notes)

    def without(self, grantee: str) -> Clause | None:
        """The clause for its other grantees; None when ``grantee`` is the only one."""
        others = tuple(g for g in self.grantee_names if g != grantee)
        if not others:
            return None
        return replace(self, grantees=grantees_sql(others), grantee_names=others)


def grant_clauses(plan: MigrationPlan, database: str, grants: Sequence[PgGrant]) -> list[Clause]:
    """Grouped clauses for whole-object grants of one database (see the module docstring)."""
    return held_clauses(plan, database, held_grants(grants))


def held_clauses(plan: MigrationPlan, database: str, held: dict[Securable, Held]) -> list[Clause]:
    """:func:`grant_clauses` of grants :func:`pg_emit.grant_groups.hold` has gathered."""
    clauses = []
    contents = _SchemaContents(plan, database)
    groups = group_grants(held)
    # a few privilege sets recur in thousands of groups (8,981 at bench scale M), and each
    # grantee and object in many (a bench scale L part: 304,151 grantees named in 23,244
    # groups, 4,524 distinct): each spelled and quoted once
    spelled = {p: (privileges_sql(p), tuple(sorted(p))) for p in {p for _, p, _ in groups}}
    quoted = {g: quote_role(g) for g in {g for _, _, grantees in groups for g in grantees}}
    named = {s: securable_sql(*s) for s in {s for items in groups.values() for s, _, _ in items}}
    for (object_type, privileges, grantees), items in sorted(
        groups.items(), key=lambda kv: (kv[0][0], spelled[kv[0][1]][1], kv[0][2])
    ):
        facts_of = {securable: facts for securable, facts, _ in items}  # at most once each
        wide = {securable for securable, _, is_wide in items if is_wide}
        whole, rest = _all_in_schema(contents, object_type, list(facts_of), wide)
        privileges_text, privilege_names = spelled[privileges]
        grantees_text = listed([quoted[g] for g in grantees])  # grantees_sql: sorted, distinct
        for schema in whole:
            keyword = ALL_IN_SCHEMA[object_type][1]
            facts = [f for s, fs, _ in items if (s[1] or "") == schema for f in fs]
            why = (
                f"all {keyword.lower()} of schema {schema}: SQL Server granted the whole schema "
                f"or database, which also covers {keyword.lower()} only the target has"
            )
            on = f"ALL {keyword} IN SCHEMA {quote_ident(schema)}"
            clauses.append(
                Clause(privileges_text, on, grantees_text, (_facts(facts), why), kind=keyword,
                       in_schema=schema, privilege_names=privilege_names, grantee_names=grantees)
            )  # fmt: skip
        for keyword, same in _by_keyword(rest):
            for start in range(0, len(same), MAX_OBJECTS):
                chunk = same[start : start + MAX_OBJECTS]
                on = after(keyword, listed([named[s] for s in chunk]))
                notes = (_facts([f for s in chunk for f in facts_of[s]]),)
                clauses.append(
                    Clause(privileges_text, on, grantees_text, notes, kind=keyword,
                           objects=tuple(chunk), privilege_names=privilege_names,
                           grantee_names=grantees)
                )  # fmt: skip
    return clauses


def grant_statements(
    plan: MigrationPlan, database: str, grants: Sequence[PgGrant], verb: str = "GRANT"
) -> list[Statement]:
    """Grouped ``GRANT`` (or ``REVOKE``) statements for whole-object grants of one database."""
    return [clause.statement(verb) for clause in grant_clauses(plan, database, grants)]


def _by_keyword(securables: list[Securable]) -> list[tuple[str, list[Securable]]]:
    """Securables split by the keyword that names them (see :func:`routine_keyword`)."""
    split: dict[str, list[Securable]] = defaultdict(list)
    for securable in securables:
        split[routine_keyword(securable[0], securable[3])].append(securable)
    return sorted(split.items())


def _facts(facts: list[str]) -> str:
    return facts_note(facts)


def column_clauses(grants: Sequence[PgGrant]) -> list[Clause]:
    """``SELECT (a, b), UPDATE (c) ON TABLE t TO …`` clauses, grouped by table and column spec."""
    spec: dict[tuple[Securable, str], dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    facts: dict[tuple[Securable, str], list[str]] = defaultdict(list)
    for grant in grants:
        privilege = intent.normalize_privilege(grant.privilege)
        spec[_securable(grant), grant.grantee][privilege].update(grant.columns)
        facts[_securable(grant), grant.grantee].extend(grant.facts)
    grouped: dict[tuple[Securable, str], list[str]] = defaultdict(list)
    for (securable, grantee), columns in spec.items():
        text = ", ".join(
            f"{p} ({', '.join(quote_ident(c) for c in sorted(cols))})"
            for p, cols in sorted(columns.items(), key=lambda kv: intent.privilege_rank(kv[0]))
        )
        grouped[securable, text].append(grantee)
    return [
        Clause(
            text,
            f"TABLE {securable_sql(*securable)}",
            grantees_sql(grantees),
            (_facts([f for g in grantees for f in facts[securable, g]]),),
            "TABLE",
            (securable,),
            privilege_names=tuple(sorted(spec[securable, grantees[0]])),
            grantee_names=tuple(sorted(set(grantees))),
        )
        for (securable, text), grantees in sorted(
            grouped.items(), key=lambda kv: (sort_key(kv[0][0]), kv[0][1])
        )
    ]


def column_statements(grants: Sequence[PgGrant], verb: str = "GRANT") -> list[Statement]:
    """``GRANT SELECT (a, b), UPDATE (c) ON TABLE t TO …`` grouped by table and column spec."""
    return [clause.statement(verb) for clause in column_clauses(grants)]


class PrivilegeClauses:
    """04's clauses of one plan, per database, worked out once per rendering.

    Per database: (grant option, clauses), the whole-object clauses before the column ones.
    ``04_privileges.sql`` renders them as GRANTs, ``rollback.sql`` as REVOKEs (a REVOKE takes
    the grant option with the privilege).
    """

    def __init__(self, plan: MigrationPlan) -> None:
        self._plan = plan
        self._by_database: dict[str, list[tuple[bool, list[Clause]]]] = {}
        # (database, grant option) → whole-object grants (as grant_groups.hold gathers them),
        # column grants; database → grantees
        self._held: dict[tuple[str, bool], dict[Securable, Held]] = defaultdict(dict)
        self._columns: dict[tuple[str, bool], list[PgGrant]] = defaultdict(list)
        self._grantees: dict[str, set[str]] | None = None

    def _sorted_out(self) -> dict[str, set[str]]:
        """Each database's grantees, its grants sorted out, in one pass over the plan's grants.

        Each pass over them costs: at scale the plan's objects lie far apart in memory, and
        after planning a bench scale L part, a pass that only split its 345,396 grants by
        database and kind took 0.58 s (there were three: one to split them, one to group
        them, one for their grantees).
        """
        if self._grantees is None:
            grantees, columns, held = defaultdict(set), self._columns, self._held
            for grant in self._plan.grants:
                grantees[grant.database].add(grant.grantee)
                if grant.columns:
                    columns[grant.database, grant.grant_option].append(grant)
                else:
                    hold(held[grant.database, grant.grant_option], grant)
            self._grantees = grantees
        return self._grantees

    def databases(self) -> set[str]:
        """The databases the plan grants something in."""
        return set(self._sorted_out())

    def grantees(self, database: str) -> set[str]:
        """The roles the plan grants something to in one database (PUBLIC too)."""
        return self._sorted_out().get(database, set())

    def of(self, database: str) -> list[tuple[bool, list[Clause]]]:
        found = self._by_database.get(database)
        if found is None:
            self._sorted_out()
            found = self._by_database[database] = []
            for grant_option in (False, True):
                key = (database, grant_option)
                clauses = held_clauses(self._plan, database, self._held.get(key, {}))
                clauses += column_clauses(self._columns.get(key, []))
                found.append((grant_option, clauses))
        return found


def privileges_statements(
    plan: MigrationPlan, database: str, clauses: PrivilegeClauses | None = None
) -> list[Statement]:
    """Every GRANT of one database: whole objects, columns, then the grant-option ones."""
    statements: list[Statement] = []
    for grant_option, group in (clauses or PrivilegeClauses(plan)).of(database):
        suffix = " WITH GRANT OPTION" if grant_option else ""
        statements += [clause.statement("GRANT", suffix) for clause in group]
    return statements


def ownership_statement(obj: PgObject) -> Statement:
    """``ALTER TABLE s.t OWNER TO o`` (or VIEW, SEQUENCE, FUNCTION …) for one object."""
    kind = routine_keyword(ALTER_KIND[obj.kind], obj.signature)
    target = securable_sql(kind, obj.schema_name, obj.name, obj.signature)
    sql = f"ALTER {kind} {target} OWNER TO {quote_ident(obj.owner)}"
    return Statement(sql, (_facts(list(obj.facts)),))


def default_revoke_sql(item: PgDefaultRevoke, *, undo: bool = False) -> str:
    """``ALTER DEFAULT PRIVILEGES FOR ROLE o REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC`` (global:
    no ``IN SCHEMA``); ``undo`` gives the privilege back (``GRANT … TO``), for ``rollback.sql``."""
    verb, preposition = ("GRANT", "TO") if undo else ("REVOKE", "FROM")
    return (
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {quote_ident(item.owner)} {verb} "
        f"{intent.normalize_privilege(item.privilege)} ON {item.object_type} {preposition} "
        f"{grantees_sql([item.grantee])}"
    )
