"""The ``MigrationPlan``: what the target PostgreSQL should look like, and why.

This is the contract between ``mapper`` and ``pg_emit`` (DESIGN §1, §4). ``pg_emit`` renders it
into scripts, applies it, reads a server back into the same shapes (``inspect``) and compares.
It never needs the snapshot: everything the emitter and the verifier need is here, including
the target objects that ``verify`` builds as stubs on an empty server.

Names in the plan are *PostgreSQL* names (already folded and templated by the policy), unquoted;
the emitter quotes them. Grants are stored expanded per object, so that the intent is explicit
and reviewable; the emitter groups them back (``ON ALL TABLES IN SCHEMA``, many grantees in one
statement) when it renders. Every item carries ``facts``: the keys of the snapshot facts it came
from, so each line of every output can be traced to its source.

The item kinds live in modules of their own: :mod:`mapper.plan_base` (the base model, sorted
collections, :func:`~mapper.plan_base.trusted`), :mod:`mapper.plan_roles` (roles, memberships,
databases, schemas, objects, IAM policies), :mod:`mapper.plan_privileges` (grants, revokes,
default privileges), :mod:`mapper.plan_security` (routine, view and row-level security,
parameters) and :mod:`mapper.plan_findings` (findings, dispositions). This module is the
document and the entry point: every item kind is importable from here, as callers have always
imported them (``__all__``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError

from grantbridge.collector import collector_paused
from grantbridge.errors import InputError, Location
from grantbridge.json_chunks import json_chunks
from grantbridge.json_input import loads
from grantbridge.validated import as_text, validated_in_one_pass
from mapper.plan_base import PlanModel, SortedTuple, sorted_unique, trusted
from mapper.plan_findings import Disposition, FactDisposition, Finding, Severity
from mapper.plan_privileges import (
    DefaultObjectType,
    GrantObjectType,
    PgDefaultPrivilege,
    PgDefaultRevoke,
    PgGrant,
    PgRevoke,
)
from mapper.plan_roles import (
    AuthMethod,
    IamPolicy,
    PgDatabase,
    PgMembership,
    PgObject,
    PgObjectKind,
    PgRole,
    PgSchema,
    RoleKind,
)
from mapper.plan_security import (
    PgColumnType,
    PgParameter,
    PgPolicy,
    PgRoutineSecurity,
    PgRowSecurity,
    PgViewSecurity,
    PolicyCommand,
    RoutineKind,
)

__all__ = [
    "PLAN_SCHEMA_VERSION",
    "AuthMethod",
    "DefaultObjectType",
    "Disposition",
    "FactDisposition",
    "Finding",
    "GrantObjectType",
    "IamPolicy",
    "MigrationPlan",
    "PgColumnType",
    "PgDatabase",
    "PgDefaultPrivilege",
    "PgDefaultRevoke",
    "PgGrant",
    "PgMembership",
    "PgObject",
    "PgObjectKind",
    "PgParameter",
    "PgPolicy",
    "PgRevoke",
    "PgRole",
    "PgRoutineSecurity",
    "PgRowSecurity",
    "PgSchema",
    "PgViewSecurity",
    "PlanModel",
    "PolicyCommand",
    "RoleKind",
    "RoutineKind",
    "Severity",
    "SortedTuple",
    "sorted_unique",
    "trusted",
]

PLAN_SCHEMA_VERSION = 1


class MigrationPlan(PlanModel):
    """The whole target: databases, roles, memberships, objects, privileges, and the findings."""

    schema_version: Literal[1] = 1
    fingerprint: str  # sha256 of the canonical snapshot JSON and policy JSON
    target: Literal["aurora", "rds", "postgresql"] = "aurora"
    database_mode: Literal["database", "schema"] = "database"
    #: Set on one part of ``plan --per-database`` (the server part with one database): how
    #: many databases the whole estate has. Its rollback leaves the roles every part shares
    #: (:func:`pg_emit.intent.shared_roles`). Left out of the JSON of a whole plan.
    part_of: int | None = Field(default=None, exclude_if=lambda value: value is None)
    databases: SortedTuple[PgDatabase] = ()
    roles: SortedTuple[PgRole] = ()
    memberships: SortedTuple[PgMembership] = ()
    schemas: SortedTuple[PgSchema] = ()
    objects: SortedTuple[PgObject] = ()
    grants: SortedTuple[PgGrant] = ()
    revokes: SortedTuple[PgRevoke] = ()
    default_privileges: SortedTuple[PgDefaultPrivilege] = ()
    default_revokes: SortedTuple[PgDefaultRevoke] = ()
    findings: SortedTuple[Finding] = ()
    dispositions: SortedTuple[FactDisposition] = ()
    iam_policies: SortedTuple[IamPolicy] = ()
    routine_security: SortedTuple[PgRoutineSecurity] = ()
    view_security: SortedTuple[PgViewSecurity] = ()
    row_security: SortedTuple[PgRowSecurity] = ()
    parameters: SortedTuple[PgParameter] = ()

    def to_json(self) -> str:
        """Serialise canonically (stable key order, two-space indent, trailing newline)."""
        return self.model_dump_json(indent=2) + "\n"

    def json_chunks(self) -> Iterator[str]:
        """:meth:`to_json`'s text in pieces that join byte-identical to it (a plan's text is
        several times its snapshot's size: :mod:`grantbridge.json_chunks`)."""
        yield from json_chunks(self)
        yield "\n"

    def write_json(self, path: Path) -> None:
        """Write :meth:`to_json`'s text to ``path`` without holding all of it in memory."""
        with Path(path).open("w", encoding="utf-8") as out:
            out.writelines(self.json_chunks())

    @classmethod
    def from_json(cls, text: str | bytes, *, origin: str = "plan.json") -> MigrationPlan:
        """Load and validate a saved plan; any problem is an :class:`InputError`.

        As :meth:`mssql_extract.snapshot.SecuritySnapshot.from_json` does: parsed and validated
        in one pass by pydantic-core with the cyclic collector paused (a plan holds millions of
        small objects at scale: bench S, 0.46–0.71 s → 0.14–0.18 s), and read again the slow
        way only to locate a problem.
        """
        with collector_paused():
            found = validated_in_one_pass(cls, text)
            return found or cls._from_text(as_text(text, origin, "the plan"), origin)

    @classmethod
    def _from_text(cls, text: str, origin: str) -> MigrationPlan:
        data: Any = loads(text, origin)
        if not isinstance(data, dict) or data.get("schema_version") != PLAN_SCHEMA_VERSION:
            version = data.get("schema_version") if isinstance(data, dict) else None
            raise InputError(
                f"unsupported plan schema_version {version!r} (this grantbridge reads "
                f"{PLAN_SCHEMA_VERSION})",
                Location(origin, key="schema_version"),
            )
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise InputError(
                f"invalid plan: {first['msg']} at {where}", Location(origin, key=where)
            ) from None

    def role(self, name: str) -> PgRole | None:
        return next((r for r in self.roles if r.name == name), None)
