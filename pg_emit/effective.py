"""Effective privileges: what PostgreSQL answers (``has_*_privilege``) vs what the plan means.

For every plan role (superusers excluded: they pass every check) and every privilege that
applies to each plan securable, the server is asked in set-based queries (the candidates
travel as a JSON array, in batches); the plan's answer is: a grant to the role, to a role it inherits from through the
intended memberships, or to PUBLIC — or ownership of the securable by any of those (an owner
holds every privilege implicitly), or membership in a predefined role that holds the privilege
on every securable of its kind (``pg_read_all_data``, ``pg_write_all_data``). Both directions
are reported.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import psycopg

from mapper.plan import MigrationPlan
from pg_emit import intent
from pg_emit.compare import Mismatch, intended_grants
from pg_emit.quoting import quote_qualified

#: securable kind → (privileges checked, SQL expression answering for role ``r``).
CHECKS: dict[str, tuple[tuple[str, ...], str]] = {
    "DATABASE": (("CONNECT", "CREATE", "TEMPORARY"), "has_database_privilege(c.r, c.target, c.p)"),
    "SCHEMA": (("USAGE", "CREATE"), "has_schema_privilege(c.r, c.target, c.p)"),
    "TABLE": (("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER"),
              "has_table_privilege(c.r, c.target, c.p)"),
    "COLUMN": (("SELECT", "INSERT", "UPDATE", "REFERENCES"),
               "has_column_privilege(c.r, c.target, c.col, c.p)"),
    "SEQUENCE": (("USAGE", "SELECT", "UPDATE"), "has_sequence_privilege(c.r, c.target, c.p)"),
    "FUNCTION": (("EXECUTE",), "has_function_privilege(c.r, c.target, c.p)"),
    "PROCEDURE": (("EXECUTE",), "has_function_privilege(c.r, c.target, c.p)"),
    "TYPE": (("USAGE",), "has_type_privilege(c.r, c.target, c.p)"),
}  # fmt: skip

#: Predefined roles that hold privileges on every securable of a kind without any ACL entry
#: (PostgreSQL 14+, documentation §22.5 "Predefined Roles"; copied in
#: reference/mssql/pg_predefined_roles.csv): kind → privileges. The other predefined roles
#: (pg_read_all_stats, pg_signal_backend …) give no privilege on a plan securable.
PREDEFINED_PRIVILEGES: dict[str, dict[str, frozenset[str]]] = {
    "pg_read_all_data": {"SCHEMA": frozenset({"USAGE"}), "TABLE": frozenset({"SELECT"}),
                         "COLUMN": frozenset({"SELECT"}), "SEQUENCE": frozenset({"SELECT"})},
    "pg_write_all_data": {"SCHEMA": frozenset({"USAGE"}),
                          "TABLE": frozenset({"INSERT", "UPDATE", "DELETE"}),
                          "COLUMN": frozenset({"INSERT", "UPDATE"}),
                          "SEQUENCE": frozenset({"UPDATE"})},
}  # fmt: skip

QUERY = (
    "SELECT c.i, CASE c.k "
    + " ".join(f"WHEN '{kind}' THEN {expr}" for kind, (_, expr) in CHECKS.items())
    + " END FROM jsonb_to_recordset(%s::jsonb) AS c(i int, k text, r text, target text, col text, p text)"
)

Item = tuple[str, str, str | None, str]  # kind, target (SQL text), column, label


def _securables(plan: MigrationPlan, database: str) -> Iterator[tuple[Item, str]]:
    """(kind, target, column, label) and the owner, for every plan securable of a database."""
    for db in plan.databases:
        if db.name == database:
            yield ("DATABASE", db.name, None, f"DATABASE {db.name}"), db.owner
    for schema in plan.schemas:
        if schema.database == database:
            yield ("SCHEMA", schema.name, None, f"SCHEMA {schema.name}"), schema.owner
    for obj in plan.objects:
        if obj.database != database:
            continue
        kind = "TABLE" if obj.kind in ("table", "view") else obj.kind.upper()
        target = quote_qualified(obj.schema_name, obj.name) + (obj.signature or "")
        label = f"{kind} {obj.schema_name}.{obj.name}{obj.signature or ''}"
        yield (kind, target, None, label), obj.owner
        if kind == "TABLE":
            for column in obj.columns:
                yield ("COLUMN", target, column, f"{label} ({column})"), obj.owner


def _closure(plan: MigrationPlan) -> dict[str, set[str]]:
    parents: dict[str, set[str]] = defaultdict(set)
    for m in intent.memberships(plan):
        if m.inherit:
            parents[m.member].add(m.role)
    closure: dict[str, set[str]] = {}
    for role in intent.created_roles(plan):
        seen, todo = {role, "PUBLIC"}, [role]
        while todo:
            for parent in parents[todo.pop()] - seen:
                seen.add(parent)
                todo.append(parent)
        closure[role] = seen
    return closure


def _granted(plan: MigrationPlan, database: str) -> set[tuple[str, str | None, str, str]]:
    """(label without column, column, privilege, grantee) the plan intends, per column too."""
    result = set()
    for g in intended_grants(plan):
        if g.database != database:
            continue
        kind = "TABLE" if g.object_type == "TABLE" else g.object_type
        path = ".".join(p for p in (g.schema_name, g.name) if p)
        label = f"{kind} {path}{g.signature or ''}"
        for column in g.columns or (None,):
            result.add((label, column, intent.normalize_privilege(g.privilege), g.grantee))
    return result


def expected(plan: MigrationPlan, database: str, role: str, item: Item, owner: str, privilege: str,
             granted: set[tuple[str, str | None, str, str]], closure: set[str]) -> bool:  # fmt: skip
    """The plan's answer for one (role, securable, privilege)."""
    kind, _, column, label = item
    if owner in closure:
        return True
    if any(privilege in PREDEFINED_PRIVILEGES.get(r, {}).get(kind, ()) for r in closure):
        return True
    table_label = label.rsplit(" (", 1)[0] if kind == "COLUMN" else label
    for grantee in closure:
        if (table_label, None, privilege, grantee) in granted:
            return True
        if column is not None and (table_label, column, privilege, grantee) in granted:
            return True
    return False


#: Candidates per query: one query for everything sent millions of rows as one JSON value at
#: scale S and the server's backend died; batches keep each query's memory bounded.
BATCH = 50_000


def check_effective(
    conn: psycopg.Connection[Any], plan: MigrationPlan, database: str
) -> list[Mismatch]:
    """Ask the server about every (plan role, securable, privilege); report disagreements.

    Candidates go in batches of :data:`BATCH` (whole roles at a time), each one query.
    """
    superusers = {
        r[0] for r in conn.execute("SELECT rolname FROM pg_roles WHERE rolsuper").fetchall()
    }
    closures = {r: c for r, c in _closure(plan).items() if r not in superusers}
    items = list(_securables(plan, database))
    granted = _granted(plan, database)
    result: list[Mismatch] = []
    candidates: list[dict[str, str | int | None]] = []
    meta: list[tuple[str, Item, str, str]] = []

    def flush() -> None:
        if not candidates:
            return
        answers = dict(conn.execute(QUERY.encode(), [json.dumps(candidates)]).fetchall())
        for index, (role, item, owner, privilege) in enumerate(meta):
            want = expected(plan, database, role, item, owner, privilege, granted, closures[role])
            if bool(answers[index]) != want:
                status = "missing" if want else "extra"
                result.append(
                    Mismatch("effective", database, f"{role}: {privilege} on {item[3]}", status)
                )
        candidates.clear()
        meta.clear()

    for role in sorted(closures):
        for item, owner in items:
            for privilege in CHECKS[item[0]][0]:
                candidates.append({"i": len(meta), "k": item[0], "r": role, "target": item[1],
                                   "col": item[2], "p": privilege})  # fmt: skip
                meta.append((role, item, owner, privilege))
        if len(candidates) >= BATCH:
            flush()
    flush()
    return result
