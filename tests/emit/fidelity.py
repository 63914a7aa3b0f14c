"""End-to-end fidelity: PostgreSQL's answers against SQL Server's effective answers.

For every database principal that has a PostgreSQL role, every object and every privilege both
sides know (``PAIRS``), SQL Server's answer is :meth:`EffectivePermissions.explain` on the
snapshot and PostgreSQL's is ``has_*_privilege`` on the applied plan (one set-based query per
database). A disagreement is an *exception* when a fact that bears on the check has a
disposition of kind downscoped, approximated, not_applicable or excluded; otherwise it is a real
*mismatch*. When SQL Server allows, those facts are the ones its decision went through (the
principals and memberships on its path, the GRANT, and — for an owner — the schema or object
whose ownership allowed it); when it denies, the facts of the principal's security context (the
principal, its login, its memberships, server memberships of the login, permissions of any of
them on the object or a container).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg

from mapper.effective import Decision, EffectivePermissions, Securable
from mapper.plan import Disposition, MigrationPlan, PgObject
from mapper.quoting import quote_qualified
from mapper.translate.guest import guest_fact
from mssql_extract.snapshot import (
    Database,
    DbObject,
    Keyed,
    Permission,
    PermissionState,
    SecuritySnapshot,
    fold,
)
from pg_emit.effective import QUERY

EXCEPTION_KINDS = frozenset({Disposition.DOWNSCOPED, Disposition.APPROXIMATED,
                             Disposition.NOT_APPLICABLE, Disposition.EXCLUDED})  # fmt: skip

#: SQL Server object kind → (PostgreSQL check kind, ((SQL Server permission, PG privilege) …),
#: column pairs). Only pairs whose meaning is the same on both sides (mapper/privileges.py):
#: TRUNCATE TABLE and CREATE TRIGGER need ALTER on the table ("TRUNCATE TABLE (Transact-SQL)",
#: "CREATE TRIGGER (Transact-SQL)", Permissions), PostgreSQL's TRUNCATE and TRIGGER.
_TABLE = (("SELECT", "SELECT"), ("INSERT", "INSERT"), ("UPDATE", "UPDATE"), ("DELETE", "DELETE"),
          ("REFERENCES", "REFERENCES"), ("ALTER", "TRIGGER"))  # fmt: skip
PAIRS: dict[str, tuple[str, tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]]] = {
    "TABLE": ("TABLE", (*_TABLE, ("ALTER", "TRUNCATE")),
              (("SELECT", "SELECT"), ("UPDATE", "UPDATE"), ("REFERENCES", "REFERENCES"))),
    "VIEW": ("TABLE", _TABLE,
             (("SELECT", "SELECT"), ("UPDATE", "UPDATE"), ("REFERENCES", "REFERENCES"))),
    "PROCEDURE": ("PROCEDURE", (("EXECUTE", "EXECUTE"),), ()),
    "SCALAR_FUNCTION": ("FUNCTION", (("EXECUTE", "EXECUTE"),), ()),
    "TABLE_FUNCTION": ("FUNCTION", (("SELECT", "EXECUTE"),), ()),
    # NEXT VALUE FOR needs UPDATE in SQL Server, nextval USAGE in PostgreSQL (UPDATE: setval too)
    "SEQUENCE": ("SEQUENCE", (("SELECT", "SELECT"), ("UPDATE", "USAGE")), ()),
}  # fmt: skip


@dataclass(frozen=True, order=True)
class Check:
    """One (principal, securable, privilege) asked of both sides."""

    database: str  # source database
    principal: str
    role: str  # PostgreSQL role ("public" = PUBLIC)
    securable: Securable
    permission: str  # SQL Server
    kind: str  # PostgreSQL check kind (pg_emit.effective.CHECKS)
    target: str
    column: str | None
    privilege: str  # PostgreSQL

    def label(self) -> str:
        """``Sales: sales_app SELECT on sales.Orders (Amount)``."""
        column = f" ({self.securable.column})" if self.securable.column else ""
        name = f"{self.securable.schema_name}.{self.securable.name}{column}"
        return f"{self.database}: {self.principal} {self.permission} on {name}"


@dataclass(frozen=True)
class Outcome:
    """A disagreement: SQL Server's answer, PostgreSQL's, and the dispositions explaining it."""

    check: Check
    sql_server: bool
    postgres: bool
    reason: str
    explained_by: tuple[tuple[str, str], ...]  # (disposition kind, fact)


def principal_roles(plan: MigrationPlan, db: Database) -> dict[str, str]:
    """Principal that can act (user, application role, public, dbo, guest) → its PostgreSQL role.

    Database roles are asked through their members: SQL Server never evaluates a role as a
    security context of its own (a role is not even a member of ``public``), PostgreSQL does.
    """
    by_fact = {fact: role.name for role in plan.roles for fact in role.facts}
    # public is PUBLIC, or the database's own public role where the plan needs one
    # (mapper.translate.public.plan_public)
    source = f"role [{db.name}].[public]"
    result = {"public": next((r.name for r in plan.roles if r.source == source), "public")}
    target = next(d for d in plan.databases if d.source_database == db.name)
    result["dbo"] = target.owner
    for principal in (*db.users, *db.application_roles):
        role = by_fact.get(f"{db.name}/{principal.key}")
        if role is not None:
            result[principal.name] = role
    if db.guest_enabled:  # guest's role is made for the fact that enables guest
        result["guest"] = by_fact[guest_fact(db)]
    return result


def _objects(plan: MigrationPlan, db: Database) -> Iterator[tuple[DbObject, PgObject]]:
    by_fact = {fact: obj for obj in plan.objects for fact in obj.facts}
    for obj in db.objects:
        target = by_fact.get(f"{db.name}/{obj.key}")
        if target is not None and obj.kind.value in PAIRS:
            yield obj, target


def checks(plan: MigrationPlan, db: Database) -> list[Check]:
    """Every check of one database, in a stable order."""
    roles = principal_roles(plan, db)
    result = []
    for obj, target in _objects(plan, db):
        kind, pairs, column_pairs = PAIRS[obj.kind.value]
        # a routine the plan names alone is a stub without arguments on the verify target
        routine = target.kind in ("function", "procedure")
        sql = quote_qualified(target.schema_name, target.name) + (
            target.signature or ("()" if routine else "")
        )
        columns = dict(zip(obj.columns, target.columns, strict=False))
        for principal, role in sorted(roles.items()):
            for permission, privilege in pairs:
                securable = Securable("OBJECT", obj.schema_name, obj.name)
                result.append(Check(db.name, principal, role, securable, permission, kind, sql,
                                    None, privilege))  # fmt: skip
            for column, pg_column in columns.items():
                for permission, privilege in column_pairs:
                    securable = Securable("OBJECT", obj.schema_name, obj.name, column)
                    result.append(Check(db.name, principal, role, securable, permission,
                                        "COLUMN", sql, pg_column, privilege))  # fmt: skip
    return result


def postgres_answers(conn: psycopg.Connection[Any], items: list[Check]) -> list[bool]:
    """``has_*_privilege`` for every check, in one query."""
    candidates = [
        {"i": i, "k": c.kind, "r": c.role, "target": c.target, "col": c.column, "p": c.privilege}
        for i, c in enumerate(items)
    ]
    rows = dict(conn.execute(QUERY.encode(), [json.dumps(candidates)]).fetchall())
    return [bool(rows[i]) for i in range(len(items))]


class Explainer:
    """Which exception dispositions bear on a check (see the module docstring)."""

    def __init__(self, snapshot: SecuritySnapshot, plan: MigrationPlan) -> None:
        self.snapshot = snapshot
        self.engine = EffectivePermissions(snapshot)
        self.kinds = {d.fact: d.disposition for d in plan.dispositions}

    def _logins(self, db: Database, context: set[str]) -> set[str]:
        logins = {fold(u.login) for u in db.users if u.login and fold(u.name) in context}
        for login in set(logins):
            logins |= {fold(r) for r in self.engine.memberships(None, login)}
        return logins

    def _facts(self, check: Check, db: Database) -> Iterator[str]:
        """Facts of the principal's security context that can change the check's answer."""
        roles = {fold(r) for r in self.engine.memberships(db.name, check.principal)}
        context = ({fold(check.principal)} | roles) - {"public"}  # public is PUBLIC: no cause
        logins = self._logins(db, context)
        principals = (*db.users, *db.roles, *db.application_roles)
        yield from (f"{db.name}/{p.key}" for p in principals if fold(p.name) in context)
        yield from (f"{db.name}/{m.key}" for m in db.memberships if fold(m.member) in context)
        yield from (f"server/login:{login}" for login in logins)
        servers = self.snapshot.server_memberships
        yield from (f"server/{m.key}" for m in servers if fold(m.member) in logins)
        covering = {("OBJECT", check.permission), *self.engine.covering("OBJECT", check.permission)}
        for scope, rows, grantees in ((db.name, db.permissions, context | {"public"}),
                                      ("server", self.snapshot.server_permissions, logins)):  # fmt: skip
            yield from (
                f"{scope}/{p.key}" for p in rows
                if fold(p.grantee) in grantees and (p.securable_class, p.permission) in covering
                and _contains(p, check.securable)
            )  # fmt: skip

    def _column_denies(self, check: Check, db: Database) -> Iterator[str]:
        """Column DENYs on the checked table that reach the principal.

        SQL Server keeps the table-level permission beside a column DENY; PostgreSQL's
        table-level answer is false once the table grant became column grants, so these facts
        can explain a table-level disagreement.
        """
        roles = {fold(r) for r in self.engine.memberships(db.name, check.principal)}
        context = {fold(check.principal)} | roles
        table = (fold(check.securable.schema_name or ""), fold(check.securable.name or ""))
        yield from (
            f"{db.name}/{p.key}" for p in db.permissions
            if p.state == PermissionState.DENY and p.column_name is not None
            and p.permission == check.permission and fold(p.grantee) in context
            and (fold(p.schema_name or ""), fold(p.object_name or "")) == table
        )  # fmt: skip

    def explain(self, check: Check, postgres: bool) -> Outcome | None:
        """None when both sides agree, else the disagreement and what explains it."""
        decision = self.engine.explain(check.database, check.principal, check.securable,
                                       check.permission)  # fmt: skip
        if decision.allowed == postgres:
            return None
        db = self.snapshot.database(check.database)
        assert db is not None
        facts = _path_facts(db, decision) if decision.allowed else set(self._facts(check, db))
        if decision.allowed and check.securable.column is None:
            facts |= set(self._column_denies(check, db))
        relevant = sorted(
            {(kind.value, fact) for fact in facts
             if (kind := self.kinds.get(fact)) in EXCEPTION_KINDS}
        )  # fmt: skip
        return Outcome(check, decision.allowed, postgres, decision.reason, tuple(relevant))


#: Decision path labels ("user x", "server role y" …) → scope of the principal.
_LABELS = {"user ": "db", "role ": "db", "app role ": "db", "login ": "server",
           "server role ": "server"}  # fmt: skip
_FACT_KINDS = {"user ": "user", "role ": "role", "app role ": "app_role", "login ": "login",
               "server role ": "server_role"}  # fmt: skip


def _path_facts(db: Database, decision: Decision) -> set[str]:
    """Facts SQL Server's ALLOW went through: principals, memberships, the grant, dbo's owner."""
    steps = []
    for label in decision.path:
        prefix = max((p for p in _LABELS if label.startswith(p)), key=len, default=None)
        if prefix is not None:
            scope = db.name if _LABELS[prefix] == "db" else "server"
            steps.append((scope, _FACT_KINDS[prefix], fold(label[len(prefix) :])))
    facts = {f"{scope}/{kind}:{name}" for scope, kind, name in steps}
    for (scope, _, member), (scope2, _, role) in itertools.pairwise(steps):
        if scope == scope2:
            facts.add(f"{scope}/member:{role}<-{member}")
    if decision.grant is not None:
        facts |= {f"{db.name}/{decision.grant.key}", f"server/{decision.grant.key}"}
    if "dbo (the database owner)" in decision.reason and db.owner:
        facts.add(f"server/login:{fold(db.owner)}")  # dbo is the owner's login in its database
    if decision.owned is not None:  # allowed as owner: the fact that made it the owner
        facts.add(_ownership_fact(db, decision.owned))
    return facts


def _ownership_fact(db: Database, owned: Securable) -> str:
    """The schema, or the object with an owner of its own, that ``owned`` names."""
    if owned.securable_class == "SCHEMA":
        keyed: Keyed | None = next((s for s in db.schemas if fold(s.name) == owned.name), None)
    else:
        keyed = next((o for o in db.objects if o.owner and (fold(o.schema_name), fold(o.name))
                      == (owned.schema_name, owned.name)), None)  # fmt: skip
    assert keyed is not None, f"{owned} is owned but not in the snapshot"
    return f"{db.name}/{keyed.key}"


def _contains(permission: Permission, securable: Securable) -> bool:
    """The permission's securable is the checked object (or its column), or a container."""
    if permission.securable_class in ("DATABASE", "SERVER"):
        return True
    schema = fold(securable.schema_name or "")
    if permission.securable_class == "SCHEMA":
        return fold(permission.object_name or "") == schema
    same = (fold(permission.schema_name or ""), fold(permission.object_name or "")) == (
        schema,
        fold(securable.name or ""),
    )
    return same and permission.column_name in (None, securable.column)
