"""Permission rows (GRANT / DENY) → grants, over-grants or DENY restructuring."""

from __future__ import annotations

from grantbridge.errors import GrantbridgeError
from mapper import findings
from mapper.effective import Securable
from mapper.plan import Disposition
from mapper.privileges import CREATE_IN_SCHEMA, SCHEMA_ALTER_ALONE, lookup
from mapper.translate.deny import Deny
from mapper.translate.fixed import fixed_role
from mapper.translate.grants import Target, expand, grant_option_finding, record
from mapper.translate.guest import guest_finding
from mapper.translate.overgrants import permission_overgrant
from mapper.translate.state import SERVER, PlanState, fact_key
from mssql_extract.snapshot import Database, Permission, PermissionState, fold

#: Broad securables first, so a narrower grant the plan already holds is disposed ``implied``.
_CLASS_ORDER = {"SERVER": 0, "DATABASE": 1, "SCHEMA": 2, "OBJECT": 3}


def _order(perm: Permission) -> tuple[int, bool, str]:
    return (_CLASS_ORDER.get(perm.securable_class, 4), perm.column_name is not None, perm.key)


def plan_permissions(state: PlanState, db: Database | None, denies: list[Deny]) -> None:
    """Every permission row of a database (or of the server when ``db`` is None)."""
    rows = db.permissions if db else state.snapshot.server_permissions
    scope = db.name if db else SERVER
    for perm in sorted(rows, key=_order):
        fact, ref = fact_key(scope, perm.key), str(perm.source_ref)
        target = Target(perm.securable_class, perm.schema_name, perm.object_name, perm.column_name)
        if perm.state == PermissionState.DENY:
            denies.append(
                Deny(fact, "permission", ref, db, perm.grantee, target, (perm.permission,))
            )
            continue
        role = _grantee(state, db, scope, perm.grantee, fact)
        if role is None:
            state.dispose(fact, "permission", ref, Disposition.EXCLUDED,
                          reason=f"the grantee [{perm.grantee}] is not migrated")  # fmt: skip
        elif lookup(perm.securable_class, perm.permission).outcome == "overgrant":
            permission_overgrant(state, db, perm, role, fact)
        else:
            _plan_grant(state, db, perm, role, target, fact)


def _grantee(
    state: PlanState, db: Database | None, scope: str, grantee: str, fact: str
) -> str | None:
    if db is not None:
        role = fixed_role(state, db, grantee, fact)
        if role is not None:
            return role
    return state.role_of(scope, grantee)


def _plan_grant(
    state: PlanState, db: Database | None, perm: Permission, role: str, target: Target, fact: str
) -> None:
    ref = str(perm.source_ref)
    denied = _denied_by(state, db, perm)
    if denied:
        state.dispose(fact, "permission", ref, Disposition.NOT_APPLICABLE,
                      reason=f"overridden in SQL Server: {denied}")  # fmt: skip
        return
    row = lookup(perm.securable_class, perm.permission)
    if (
        row.securable_class == "SCHEMA"
        and row.permission == "ALTER"
        and not _creates(state, db, perm)
    ):
        row = SCHEMA_ALTER_ALONE
    items = expand(state, db, role, target, row)
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
    found = _grant_findings(state, db, perm, role, where)
    if row.outcome == "not_applicable":
        state.dispose(fact, "permission", ref, Disposition.NOT_APPLICABLE, findings=found,
                      reason=row.note or "no PostgreSQL equivalent needed")  # fmt: skip
        return
    disposition = Disposition.MAPPED
    if row.outcome == "approximated":
        disposition = Disposition.APPROXIMATED
        found.append(state.finding(findings.make(
            "GB040", f"{perm.permission} ON {where} TO [{perm.grantee}]", row.note or "Approximated.",
            principal=perm.grantee, securable=where, source_ref=ref,
        )))  # fmt: skip
    reason = row.note if disposition == Disposition.APPROXIMATED else ""
    record(state, fact, "permission", ref, items, disposition=disposition, found=found,
           reason=reason)  # fmt: skip


def _creates(state: PlanState, db: Database | None, perm: Permission) -> bool:
    """Whether the grantee may create objects in the database (with ALTER on a schema, in it)."""
    if db is None:
        return False
    try:
        return any(
            state.engine.explain(db.name, perm.grantee, Securable("DATABASE"), p).allowed
            for p in CREATE_IN_SCHEMA
        )
    except GrantbridgeError:
        return False


def _grant_findings(
    state: PlanState, db: Database | None, perm: Permission, role: str, where: str
) -> list[str]:
    ref = str(perm.source_ref)
    found: list[str] = []
    evidence = f"GRANT {perm.permission} ON {where} TO [{perm.grantee}]"
    if perm.state == PermissionState.GRANT_WITH_GRANT_OPTION:
        found.append(grant_option_finding(state, perm.grantee, where, ref))
    if db is not None and fold(perm.grantee) == "guest":
        found.append(guest_finding(state, db, evidence, ref, where))
    elif role == "PUBLIC":
        found.append(state.finding(findings.make(
            "GB008", evidence, "Granted to PUBLIC, as in the source.", principal=perm.grantee,
            securable=where, source_ref=ref,
        )))  # fmt: skip
    return found


def _denied_by(state: PlanState, db: Database | None, perm: Permission) -> str | None:
    """The DENY that overrides a GRANT in SQL Server, if any (from the semantics engine)."""
    if perm.securable_class in ("SERVER", "LOGIN", "SERVER ROLE", "ENDPOINT") and db:
        return None
    try:
        decision = state.engine.refusal(
            db.name if db else None, perm.grantee, Securable.of(perm), perm.permission
        )
    except GrantbridgeError:
        return None
    return None if decision is None else decision.reason
