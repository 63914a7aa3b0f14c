"""DENY rows the planner disposes of itself, before DENY restructuring (:mod:`mapper.translate.
deny`) sees the rest: DENY CONNECT SQL, which makes the logins it bars NOLOGIN, and DENYs of
metadata visibility (VIEW DEFINITION, VIEW ANY DATABASE …), which PostgreSQL cannot carry
(finding GB022). Split out of :mod:`mapper.translate.permissions` for length.
"""

from __future__ import annotations

from grantbridge.errors import GrantbridgeError
from mapper import findings
from mapper.effective import Securable
from mapper.plan import Disposition
from mapper.privileges import lookup
from mapper.translate.grants import on_catalog
from mapper.translate.state import SERVER, PlanState
from mapper.visibility_notes import CATALOG_SHOWN
from mssql_extract.snapshot import Database, Permission


def deny_connect_sql(state: PlanState, perm: Permission, fact: str) -> None:
    """DENY CONNECT SQL: the logins it bars from logging in have NOLOGIN roles
    (:func:`mapper.translate.principals.barred_from_logging_in`); the fact points at them."""
    barred = [
        role for login in state.snapshot.logins
        if (role := state.role_of(SERVER, login.name)) is not None
        and _denied_by_row(state, login.name, perm)
    ]  # fmt: skip
    ref = str(perm.source_ref)
    if not barred:
        state.dispose(fact, "permission", ref, Disposition.NOT_APPLICABLE,
                      reason="it bars no migrated login (sysadmin members are exempt)")  # fmt: skip
        return
    state.dispose(fact, "permission", ref, Disposition.MAPPED,
                  items=[f"role:{role}" for role in barred],
                  reason="the logins it bars from logging in have NOLOGIN roles")  # fmt: skip


def deny_visibility(
    state: PlanState, db: Database | None, scope: str, perm: Permission, fact: str, where: str
) -> bool:
    """A DENY of metadata visibility (VIEW DEFINITION, VIEW ANY DATABASE …: rows with
    ``shown``): PostgreSQL shows that metadata to every role, so nothing can carry it; it is
    ``approximated`` with finding GB022 (False: not such a DENY, or one for DENY restructuring
    to dispose of, as it does DENYs to principals without a role). A DENY to dbo or a sysadmin
    member hides nothing in SQL Server either: ``not_applicable``. DENY SELECT on SQL Server's
    catalog views (sys, INFORMATION_SCHEMA) is one: PostgreSQL's catalog answers every role."""
    shown = lookup(perm.securable_class, perm.permission).shown
    if perm.permission == "SELECT" and on_catalog(
        perm.securable_class, perm.schema_name, perm.object_name
    ):
        shown = CATALOG_SHOWN
    if not shown or state.role_of(scope, perm.grantee) is None:
        return False
    ref = str(perm.source_ref)
    if _never_denied(state, db, perm.grantee):
        state.dispose(fact, "permission", ref, Disposition.NOT_APPLICABLE,
                      reason=f"[{perm.grantee}] is a sysadmin member or dbo: SQL Server applies "
                      "no DENY to it")  # fmt: skip
        return True
    reason = f"PostgreSQL shows every role {shown}"
    finding = findings.make(
        "GB022", f"DENY {perm.permission} ON {where} TO [{perm.grantee}]",
        f"Not carried: {reason}, [{perm.grantee}] included; it has no per-role catalog "
        "visibility.",
        principal=perm.grantee, securable=where, source_ref=ref,
    )  # fmt: skip
    state.dispose(fact, "permission", ref, Disposition.APPROXIMATED,
                  findings=[state.finding(finding)], reason=f"not carried: {reason} (GB022)")  # fmt: skip
    return True


def _never_denied(state: PlanState, db: Database | None, principal: str) -> bool:
    try:
        return state.engine.is_never_denied(db.name if db else None, principal)
    except GrantbridgeError:
        return False


def _denied_by_row(state: PlanState, login: str, perm: Permission) -> bool:
    """Whether this DENY CONNECT SQL row is what refuses the login CONNECT SQL."""
    try:
        decision = state.engine.refusal(None, login, Securable("SERVER"), "CONNECT SQL")
    except GrantbridgeError:
        return False
    return decision is not None and decision.deny is not None and decision.deny.key == perm.key
