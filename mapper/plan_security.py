"""Plan items for security settings beyond privileges: routines that run as their owner
(SECURITY DEFINER), views that check their caller (``security_invoker``), row-level security
and its policies, and the server parameters a hardened target needs.
"""

from __future__ import annotations

from typing import Literal

from mapper.plan_base import PlanModel

RoutineKind = Literal["function", "procedure"]
PolicyCommand = Literal["ALL", "SELECT", "INSERT", "UPDATE", "DELETE"]


class PgRoutineSecurity(PlanModel):
    """A routine that must run with its owner's privileges (SQL Server EXECUTE AS OWNER, or
    access that relied on ownership chaining where every object the routine touches is its
    owner's): ``ALTER … SECURITY DEFINER SET search_path``.

    ``owner`` is the NOLOGIN owner role (also in ``objects``); ``callers`` are the roles granted
    EXECUTE (the grants themselves are in ``grants``; EXECUTE is revoked from PUBLIC in
    ``revokes``).
    """

    database: str
    schema_name: str
    name: str
    kind: RoutineKind
    signature: str | None = None  # None: named without its arguments (see PgObject)
    owner: str
    security_definer: bool = True
    search_path: tuple[str, ...] = ()
    callers: tuple[str, ...] = ()
    facts: tuple[str, ...] = ()
    comment: str = ""

    @property
    def key(self) -> str:
        return f"routine:{self.database}.{self.schema_name}.{self.name}{self.signature or ''}"


class PgViewSecurity(PlanModel):
    """A view that must check its caller's privileges, not its owner's, on the tables it reads:
    ``ALTER VIEW … SET (security_invoker = true)`` (PostgreSQL 15 or later).

    A PostgreSQL view reads its tables with its owner's privileges, as a SQL Server view does
    only where the ownership chain is intact (the same owner); where SQL Server checked the
    caller (a table of another owner), so must PostgreSQL (:mod:`mapper.translate.module_security`).
    """

    database: str
    schema_name: str
    name: str
    security_invoker: bool = True
    facts: tuple[str, ...] = ()
    comment: str = ""

    @property
    def key(self) -> str:
        return f"view:{self.database}.{self.schema_name}.{self.name}"


class PgPolicy(PlanModel):
    """One ``CREATE POLICY`` on a table; ``using`` / ``with_check`` are PostgreSQL expressions."""

    name: str
    command: PolicyCommand = "ALL"
    permissive: bool = True
    using: str | None = None
    with_check: str | None = None


class PgColumnType(PlanModel):
    """A column type the policies rely on (``verify`` gives its stub column this type)."""

    name: str
    data_type: str


class PgRowSecurity(PlanModel):
    """Row-level security of one table: ENABLE / FORCE and its policies (in apply order)."""

    database: str
    schema_name: str
    table_name: str
    enable: bool = True
    force: bool = True
    policies: tuple[PgPolicy, ...] = ()
    column_types: tuple[PgColumnType, ...] = ()
    facts: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return f"rls:{self.database}.{self.schema_name}.{self.table_name}"


class PgParameter(PlanModel):
    """A setting the hardened target needs (``parameters.json``): of the RDS / Aurora DB
    parameter group, or of plain PostgreSQL's ``postgresql.conf``."""

    name: str
    value: str
    reason: str
    facts: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return f"parameter:{self.name}"
